"""Housekeeping: deadlines counted, and done cases purged once their retention has passed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import make_mail
from worker.intake.maildir import Maildir
from worker.judge.classify import Classifier
from worker.service.filing import Policy
from worker.service.ingest import ingest
from worker.store.housekeeping import deadlines, purge
from worker.store.models import Audit, Case, Message, now

REQUEST = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."


def cases(store: Session, tmp_path: Path, classifier: Classifier, n: int) -> list[Case]:
    mailbox = Maildir(tmp_path / "mailbox")
    for i in range(n):
        mailbox.deliver(make_mail(REQUEST).replace(b"<test@", f"<t{i}@".encode()))
    return [m.case for m in ingest(store, mailbox, classifier, Policy())]


def test_deadlines_count_overdue_and_soon_open_cases(
    store: Session, tmp_path: Path, classifier: Classifier
) -> None:
    late, soon, _, closed = cases(store, tmp_path, classifier, 4)
    late.due_at = now() - dt.timedelta(days=1)
    soon.due_at = now() + dt.timedelta(days=3)
    closed.due_at, closed.status = now() - dt.timedelta(days=9), "closed"
    store.commit()
    assert deadlines(store) == (1, 1)


def test_retention_purges_done_cases_past_their_time_and_nothing_else(
    store: Session, tmp_path: Path, classifier: Classifier
) -> None:
    old, recent, still_open = cases(store, tmp_path, classifier, 3)
    old.status, old.closed_at = "closed", now() - dt.timedelta(days=1096)
    recent.status, recent.closed_at = "closed", now() - dt.timedelta(days=30)
    still_open.received_at = now() - dt.timedelta(days=2000)
    reference = old.reference
    store.commit()
    assert purge(store, 1095) == 1
    remaining = set(store.scalars(select(Case.reference)))
    assert reference not in remaining and len(remaining) == 2
    assert store.scalar(select(func.count()).select_from(Message)) == 2
    [gone] = store.scalars(select(Audit).where(Audit.action == "purged"))
    assert gone.case_id is None and gone.detail == f"{reference}: retention passed"
    assert "@" not in gone.detail
