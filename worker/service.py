"""`privacy-worker run`: one poll of the mailbox into the case store, and its summary table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from worker.classify import Classifier
from worker.config import Settings
from worker.ingest import Policy, ingest
from worker.maildir import Maildir
from worker.rules import RuleSet
from worker.scan.isolated import IsolatedScanner
from worker.store import Message, open_store
from worker.tenants import Registry


def run_once(
    settings: Settings, rules: RuleSet, registry: Registry, samples: Path | None, out: TextIO
) -> int:
    """Delivers sample mails if asked, takes every new message in, prints what it made."""
    engine = open_store(settings.store_url)
    mailbox = Maildir(settings.maildir)
    for path in sorted(samples.glob("*.eml")) if samples else []:
        mailbox.deliver(path.read_bytes())
    policy = Policy(
        settings.reference_prefix, settings.due_days, settings.replace_redacted_on_server
    )
    with IsolatedScanner(rules.id_scan) as scanner, Session(engine) as session:
        classifier = Classifier(rules, registry, settings.mailbox_address, scan=scanner)
        out.write(summary(ingest(session, mailbox, classifier, policy)))
    engine.dispose()
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
