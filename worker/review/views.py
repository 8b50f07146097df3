"""What the review pages show, read from the store: the queue rows and one case in full.

Mail is shown as text only. The plain-text body is decoded from the stored raw bytes (an
HTML-only mail is turned into text first); markup is never passed to the browser as markup,
and attachments are listed by name, type and size, never opened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.judge.mail import parse_mail
from worker.store.models import Audit, Case, Message

QUEUE_STATUSES = ("review", "open")
# A case due within this many days is marked, so it is picked before it becomes overdue.
SOON_DAYS = 7


@dataclass(frozen=True)
class Row:
    """One case in the queue."""

    case: Case
    days_left: int

    @property
    def urgency(self) -> str:
        """The row's CSS class: overdue, soon (within SOON_DAYS), or nothing."""
        if self.days_left < 0:
            return "overdue"
        return "soon" if self.days_left <= SOON_DAYS else ""


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment by name, type and size only."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageView:
    """One stored message as text."""

    message: Message
    headers: dict[str, str]
    text: str
    attachments: tuple[AttachmentInfo, ...]
    note: str


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC time (SQLite gives it back without its zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def days_left(case: Case, today: dt.date) -> int:
    """Whole days until the case is due; negative once it is overdue."""
    return (utc(case.due_at).date() - today).days


def queue(session: Session, status: str | None, today: dt.date) -> list[Row]:
    """Cases of one status, or (None) those needing a person: review first, then open; each by
    due date, the earliest first."""
    statuses = (status,) if status else QUEUE_STATUSES
    cases = session.scalars(
        select(Case).where(Case.status.in_(statuses)).order_by(Case.due_at, Case.id)
    ).all()
    ordered = sorted(cases, key=lambda c: statuses.index(c.status))  # stable: due order stays
    return [Row(case, days_left(case, today)) for case in ordered]


def overdue_count(session: Session, moment: dt.datetime) -> int:
    """How many cases that still need handling are past their due date."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.status.in_(QUEUE_STATUSES), Case.due_at < moment)
        )
        or 0
    )


def case_by_reference(session: Session, reference: str) -> Case | None:
    """A case by its reference, or None."""
    return session.scalar(select(Case).where(Case.reference == reference))


def audit_log(session: Session, case: Case) -> list[Audit]:
    """The case's audit rows, oldest first."""
    return list(session.scalars(select(Audit).where(Audit.case_id == case.id).order_by(Audit.id)))


def version(session: Session, case: Case) -> int:
    """The id of the case's latest audit row: every change writes one, so a form that carries
    it can tell that the case changed after the page was shown."""
    return int(session.scalar(select(func.max(Audit.id)).where(Audit.case_id == case.id)) or 0)


def message_view(message: Message) -> MessageView:
    """A message's headers, text and attachment list, or a note saying why there is none."""
    if message.raw is None:
        why = (
            f"the same message as message {message.duplicate_of}"
            if message.duplicate_of
            else "not kept: its attachments could not be cut out"
        )
        return MessageView(message, {}, "", (), why)
    parsed = parse_mail(message.raw)
    headers = {name: parsed.header(name) for name in ("From", "To", "Date", "Subject")}
    attachments = tuple(
        AttachmentInfo(a.filename or "(no name)", a.content_type, len(a.data))
        for a in parsed.attachments
    )
    note = "HTML-only mail, shown as text" if parsed.html_only else ""
    return MessageView(message, headers, parsed.text, attachments, note)
