"""`privacy-worker doctor`: checks, with a clear line each, that everything the worker needs is
there and reachable: rules, tesseract and its languages, the case store, the mailbox (Maildir
or IMAP) and the way out (local outbox or SMTP)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from typing import TextIO

from sqlalchemy import text

from worker.config import Settings
from worker.intake.account import imap_account, smtp_account
from worker.intake.maildir import Maildir
from worker.judge.rules import RuleSet, load_rules
from worker.reply.transports import MaildirOutbox, SmtpTransport

# tesseract must read these: Dutch and English letters and forms.
LANGUAGES = ("eng", "nld")


def doctor(settings: Settings, out: TextIO, environ: Mapping[str, str] | None = None) -> int:
    """Runs every check; 0 when all pass, 1 when any fails."""
    environ = os.environ if environ is None else environ
    checks: list[tuple[str, Callable[[], str]]] = [
        ("rules", lambda: _rules(settings)),
        ("tesseract", _tesseract),
        ("store", lambda: _store(settings)),
        ("mailbox", lambda: _mailbox(settings, environ)),
        ("outgoing", lambda: _outgoing(settings, environ)),
    ]
    failed = False
    for name, check in checks:
        try:
            out.write(f"ok    {name}: {check()}\n")
        except Exception as err:  # every problem is a line, never a traceback
            failed = True
            out.write(f"FAIL  {name}: {type(err).__name__}: {err}\n")
    return 1 if failed else 0


def _rules(settings: Settings) -> str:
    rules: RuleSet = load_rules(settings.rules_dir)
    return f"{len(rules.phrases)} phrase rules, {len(rules.headers)} header rules"


def _tesseract() -> str:
    found = subprocess.run(
        ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    missing = [language for language in LANGUAGES if language not in found]
    if missing:
        raise RuntimeError(f"language data missing: {', '.join(missing)} (tesseract-ocr-*)")
    return f"languages {', '.join(LANGUAGES)} present"


def _store(settings: Settings) -> str:
    from worker.store.models import open_store

    try:
        engine = open_store(settings.store_url)
    except ModuleNotFoundError as err:
        raise RuntimeError(
            f"no database driver for {settings.store_url.split(':')[0]}: {err}"
        ) from err
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    return f"{engine.url.render_as_string(hide_password=True)} (schema {revision})"


def _mailbox(settings: Settings, environ: Mapping[str, str]) -> str:
    account = imap_account(settings, environ)
    if account is not None:
        from worker.intake.imap import reachable

        return f"IMAP {reachable(account)}"
    mailbox = Maildir(settings.maildir)
    return f"Maildir {mailbox.path}, {len(mailbox.waiting())} message(s) waiting"


def _outgoing(settings: Settings, environ: Mapping[str, str]) -> str:
    account = smtp_account(settings, environ)
    if account is None:
        outbox = MaildirOutbox(settings.outbox_maildir)
        return f"local Maildir {outbox.path} (no SMTP server set)"
    with SmtpTransport(account, None) as transport:
        return f"SMTP {transport.reachable()}"
