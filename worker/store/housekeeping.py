"""The daily job: the deadlines of open cases in the log, and retention. The privacy
statement keeps request data for three years after a case is closed; unredacted ID copies are
never kept at all (see ingest), so here only whole closed cases go."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from worker.store.models import Audit, Case, Message, Outgoing, audit, now, utc

log = logging.getLogger("worker.deadlines")

# Cases a person still owes an answer.
OPEN = ("open", "review")
# Cases that are done: closed by staff, forwarded to the customer, or machine mail.
DONE = ("closed", "forwarded", "ignored")
SOON = dt.timedelta(days=7)


def deadlines(session: Session) -> tuple[int, int]:
    """Logs how many open cases are overdue and due within a week; returns both counts."""
    moment = now()
    due = list(session.scalars(select(Case.due_at).where(Case.status.in_(OPEN))))
    overdue = sum(1 for d in due if utc(d) < moment)
    soon = sum(1 for d in due if moment <= utc(d) < moment + SOON)
    level = logging.WARNING if overdue else logging.INFO
    log.log(level, "deadlines: %d case(s) overdue, %d due within 7 days", overdue, soon)
    return overdue, soon


def purge(session: Session, retention_days: int) -> int:
    """Deletes done cases, their messages, outgoing mail and audit rows, once their retention
    has passed; one audit line without personal data says which reference went. Returns how
    many cases went."""
    limit = now() - dt.timedelta(days=retention_days)
    expired = list(
        session.scalars(
            select(Case).where(
                Case.status.in_(DONE),
                or_(Case.closed_at < limit, Case.closed_at.is_(None) & (Case.received_at < limit)),
            )
        )
    )
    for case in expired:
        # A duplicate points at its original; both belong to this case and go together.
        session.execute(update(Message).where(Message.case_id == case.id).values(duplicate_of=None))
        for table in (Message, Outgoing, Audit):
            session.execute(delete(table).where(table.case_id == case.id))
        session.delete(case)
        audit(session, None, "privacy-worker", "purged", f"{case.reference}: retention passed")
    session.commit()
    if expired:
        log.info("retention: %d closed case(s) purged", len(expired))
    return len(expired)
