"""The worker's jobs, each one bounded round: poll the mailbox, send the outbox, housekeeping.
`run --once` runs a poll and a send; `run` schedules them (worker/service/scheduler.py)."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from worker.config import Settings
from worker.intake.account import imap_account, smtp_account
from worker.intake.imap import ImapMailbox
from worker.intake.mailbox import Mailbox
from worker.intake.maildir import Maildir
from worker.judge.classify import Classifier
from worker.judge.rules import RuleSet
from worker.judge.scan.isolated import IsolatedScanner
from worker.judge.tenants import Registry
from worker.reply.outbox import Transport, flush
from worker.reply.respond import Responder
from worker.reply.transports import MaildirOutbox, SmtpTransport
from worker.service.filing import Policy
from worker.service.ingest import ingest
from worker.store.housekeeping import deadlines, purge
from worker.store.lease import Held, holder_name
from worker.store.models import Message, open_store

log = logging.getLogger("worker.service")

# How long a lease lasts without renewal; a poll renews it between messages.
LEASE_SECONDS = 300
# How long a thread may keep the interpreter while another waits for it (Python's is 0.005).
SWITCH_SECONDS = 0.0005


class Worker:
    """Everything the jobs share: the store, the classifier (and its OCR child), the accounts."""

    def __init__(
        self,
        settings: Settings,
        rules: RuleSet,
        registry: Registry,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.settings = settings
        self.imap = imap_account(settings, environ)
        self.smtp = smtp_account(settings, environ)
        self.engine = open_store(settings.store_url)
        self.scanner = IsolatedScanner(rules.id_scan, memory_mb=settings.scan_memory_mb)
        self.classifier = Classifier(
            rules,
            registry,
            settings.mailbox_address,
            scan=self.scanner,
            scan_seconds=settings.scan_seconds_per_mail,
        )
        self.policy = Policy(
            settings.reference_prefix,
            settings.due_days,
            settings.replace_redacted_on_server,
            settings.max_message_bytes,
            settings.poll_batch_bytes,
        )
        self.responder = Responder.from_settings(settings, rules.directory, registry)
        self.stopping = threading.Event()
        self.holder = holder_name()
        # A poll and a send may run at once (each has its own session and connections), never
        # two polls or two sends; housekeeping runs alone.
        self.polling = threading.Lock()
        self.sending = threading.Lock()
        # Set when a poll stored mail to send: a send round in hand goes on with it.
        self.queued = threading.Event()

    def close(self) -> None:
        self.scanner.close()
        self.engine.dispose()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def mailbox_name(self) -> str:
        if self.imap is None:
            return Maildir(self.settings.maildir).name
        return ImapMailbox(self.imap, self.settings.imap_folder).name

    def poll(self, on_stored: Callable[[], None] = lambda: None) -> list[Message]:
        """One poll, under the mailbox's lease; another live worker's lease means skip.
        `on_stored` is called after each group of messages is committed (replies may wait)."""
        lease = Held(self.engine, f"poll {self.mailbox_name()}", self.holder, LEASE_SECONDS)

        def committed() -> None:
            self.queued.set()
            on_stored()

        with self.polling:
            if not lease.take():
                log.warning("another worker holds the mailbox; this poll is skipped")
                return []
            try:
                with self._mailbox() as mailbox, self._session() as session:
                    stored = ingest(
                        session,
                        mailbox,
                        self.classifier,
                        self.policy,
                        _go_on(self, lease),
                        self.responder,
                        committed,
                    )
                    # Read what the summary needs while the session is open.
                    for message in stored:
                        _ = message.case.messages, message.case.reference
                    session.expunge_all()
                    return stored
            finally:
                lease.release()

    def send(self) -> int:
        """A round of the outbox under its lease, going on (on the same connections) while a
        poll stores more mail meanwhile; returns how many mails were sent."""
        sent = 0
        while True:
            sent += self._send_while_queued()
            # Asked again once the lock is free: a poll that stored mail just before saw the
            # round still running and left that mail to it.
            if not self.queued.is_set() or self.stopping.is_set():
                return sent

    def _send_while_queued(self) -> int:
        with self.sending:
            self.queued.clear()
            lease = Held(self.engine, "outbox", self.holder, LEASE_SECONDS)
            if not lease.take():
                return 0
            try:
                with self._transport() as transport, self._session() as session:
                    sent, renewed = 0, time.monotonic()
                    while True:
                        sent += flush(
                            session,
                            transport,
                            self.settings.mailbox_address,
                            _go_on(self, lease),
                            self.holder,
                        )
                        if not self.queued.is_set() or self.stopping.is_set():
                            return sent
                        self.queued.clear()
                        # Renewed now and then, as this may go on long (not each time round:
                        # it waits for the poll's write to the store).
                        if time.monotonic() - renewed > LEASE_SECONDS / 5:
                            if not lease.take():
                                log.error("lease outbox lost to another worker; sending stops")
                                return sent
                            renewed = time.monotonic()
            finally:
                lease.release()

    def round(self) -> tuple[list[Message], int]:
        """A poll, the outbox sent alongside it (a group's replies go once it is stored, while
        the next is read), then the rest of the outbox: `run --once`. Returns what was stored
        and how many mails were sent."""
        sent = 0
        polled = threading.Event()
        responsive_threads()

        def send_alongside() -> None:
            nonlocal sent
            while not polled.is_set():
                if self.queued.wait(timeout=1.0) and not polled.is_set():
                    try:
                        sent += self.send()
                    except Exception:  # the send after the poll tries again, and says why
                        log.exception("sending alongside the poll failed")
                        return

        sender = threading.Thread(target=send_alongside, name="send-alongside", daemon=True)
        sender.start()
        try:
            stored = self.poll()
        finally:
            polled.set()
            self.queued.set()
            sender.join()
        return stored, sent + self.send()

    def housekeeping(self) -> None:
        """The daily job: deadlines in the log, closed cases past retention purged."""
        with self.polling, self.sending, Session(self.engine) as session:
            deadlines(session)
            purge(session, self.settings.retention_days)

    def _session(self) -> Session:
        # Objects are not expired at each commit: a round commits per message, and expiring
        # (and reloading) everything it touched so far made a backlog quadratic. Only this
        # worker writes these rows while it holds the lease. No autoflush: every query of a
        # message's transaction reads rows committed before it (tests/service/test_ingest.py and
        # tests/service/test_jobs.py run the same steps with autoflush on), and flushing before
        # each of them cost a quarter of the poll.
        return Session(self.engine, expire_on_commit=False, autoflush=False)

    @contextmanager
    def _mailbox(self) -> Iterator[Mailbox]:
        if self.imap is None:
            yield Maildir(self.settings.maildir)
            return
        with ImapMailbox(self.imap, self.settings.imap_folder, self.settings.imap_batch) as box:
            yield box

    @contextmanager
    def _transport(self) -> Iterator[Transport]:
        if self.smtp is None:
            yield MaildirOutbox(self.settings.outbox_maildir)
            return
        with ExitStack() as stack:
            sent = stack.enter_context(ImapMailbox(self.imap)) if self.imap else None
            yield stack.enter_context(SmtpTransport(self.smtp, sent))


def responsive_threads() -> None:
    """The interpreter hands a thread that waited for a server the lock sooner (Python's
    default lets the poll's CPU-bound thread keep it for 5 ms at a time, and a reply takes
    six round trips): with a poll and a send at once, 2,000 messages went in about 27 s
    instead of 30 (docs/BENCHMARKS.md)."""
    sys.setswitchinterval(SWITCH_SECONDS)


def _go_on(worker: Worker, lease: Held) -> Callable[[], bool]:
    asked = 0

    def stop() -> bool:
        # Asked between messages: a SIGTERM ends the round after the message in hand, and the
        # lease is renewed now and then so a long backlog (or a slow server) keeps it.
        nonlocal asked
        asked += 1
        if asked % 10 == 0 and not lease.take():
            log.error("lease %s lost to another worker; this round stops", lease.name)
            return True
        return worker.stopping.is_set()

    return stop


def run_once(
    settings: Settings, rules: RuleSet, registry: Registry, samples: Path | None, out: TextIO
) -> int:
    """Delivers sample mails if asked, one poll and one round of the outbox, then a table."""
    for path in sorted(samples.glob("*.eml")) if samples else []:
        Maildir(settings.maildir).deliver(path.read_bytes())
    with Worker(settings, rules, registry) as worker:
        stored, sent = worker.round()
    out.write(summary(stored))
    out.write(f"{sent} mail(s) sent\n")
    return 0


def summary(messages: Iterable[Message]) -> str:
    """A plain table of the messages taken in: the case each made or joined, and its state."""
    rows = [("reference", "message", "status", "category", "lang", "tenant", "due", "subject")]
    counts: Counter[str] = Counter()
    for message in messages:
        case = message.case
        kind = (
            "duplicate"
            if message.duplicate_of
            else "new case"
            if case.messages[0].id == message.id
            else "follow-up"
        )
        counts[kind] += 1
        rows.append(
            (
                case.reference,
                kind,
                case.status,
                case.category,
                case.language,
                case.tenant or "-",
                case.due_at.date().isoformat(),
                (case.subject or "(no subject)")[:44],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    totals = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing new"
    return "\n".join(lines) + f"\n{len(rows) - 1} message(s) taken in: {totals}\n"
