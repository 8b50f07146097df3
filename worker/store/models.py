"""The case store: cases, the raw messages behind them, and an audit log of every action, in
SQLAlchemy 2 (SQLite with WAL by default; any SQLAlchemy URL, PostgreSQL included).

The database is the queue: a message is stored, with its case and the server move still to do,
in one transaction before anything else happens to it; the move is marked done after it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class Case(Base):
    """One request: what it is, its state, when it is due, why it was decided so."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # open, review, ignored, closed
    language: Mapped[str] = mapped_column(String(8))
    tenant: Mapped[str | None] = mapped_column(String(128))
    requester: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    id_findings: Mapped[dict[str, object]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    messages: Mapped[list[Message]] = relationship(back_populates="case", order_by="Message.id")
    outgoing: Mapped[list[Outgoing]] = relationship(back_populates="case", order_by="Outgoing.id")


class Message(Base):
    """One fetched message: where it came from, its raw bytes, and its pending server move."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("source", "validity", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    source: Mapped[str] = mapped_column(String(512))  # a mailbox and folder
    validity: Mapped[int] = mapped_column(Integer, default=0)  # IMAP UIDVALIDITY; 0 for Maildir
    source_key: Mapped[str] = mapped_column(String(255))  # IMAP UID or Maildir key
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # None for a duplicate
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    move_to: Mapped[str | None] = mapped_column(String(64))  # folder still to move it to
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    case: Mapped[Case] = relationship(back_populates="messages")


class Outgoing(Base):
    """One mail to send: written with its case, sent later by the outbox job, exactly once."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # a template name: ack-deletion, receipt, ...
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # pending -> sending -> sent; failed after a permanent refusal or too many tries.
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    filed: Mapped[bool] = mapped_column(default=False)  # a copy is in the Sent folder
    claimed_by: Mapped[str | None] = mapped_column(String(255))  # the worker sending it
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    case: Mapped[Case] = relationship(back_populates="outgoing")


class Attempt(Base):
    """A message being decided: how many times deciding it began and never ended (the worker
    died on it). Counted up and committed before it is decided; deleted once it was."""

    __tablename__ = "attempts"

    source: Mapped[str] = mapped_column(String(512), primary_key=True)
    validity: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Lease(Base):
    """A named lock with an expiry: one worker at a time polls a mailbox or sends the outbox."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Audit(Base):
    """Who or what did what to a case, and when."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    case: Mapped[Case | None] = relationship()


def open_store(url: str) -> Engine:
    """An engine for the store, its schema brought up to date by the migrations."""
    from worker.store.migrate import upgrade

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    upgrade(engine)
    return engine


def _sqlite_pragmas(connection: object, _: object) -> None:
    # WAL lets the review page read while the worker writes; the busy timeout makes a second
    # writer wait instead of failing at once.
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def now() -> dt.datetime:
    """The time as the store keeps it: UTC, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def utc(value: dt.datetime) -> dt.datetime:
    """A time read from the store, with its zone: SQLite hands times back without one, and
    the store writes UTC only."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def audit(session: Session, case: Case | None, actor: str, action: str, detail: str) -> None:
    """Adds one audit row in the caller's transaction."""
    # By the relationship, not the id: a case not yet flushed has none.
    session.add(Audit(case=case, at=now(), actor=actor, action=action, detail=detail))


def next_reference(session: Session, prefix: str, year: int, after: str = "") -> str:
    """The next case reference of the year, e.g. PRIV-2026-000123; the one after `after`
    when that is given (drawn in this transaction and not yet flushed)."""
    stem = f"{prefix}-{year}-"
    if after.startswith(stem):
        # One drawn in this transaction is the highest this worker knows; a reference another
        # worker took meanwhile makes the INSERT fail, and the caller draws again.
        return f"{stem}{int(after.removeprefix(stem)) + 1:06d}"
    # A range, not LIKE: SQLite's LIKE cannot use the index, which made every new case scan
    # all cases.
    last = session.scalar(
        select(Case.reference)
        .where(Case.reference >= stem + "000000", Case.reference <= stem + "999999")
        .order_by(Case.reference.desc())
        .limit(1)
    )
    number = int(last.removeprefix(stem)) + 1 if last else 1
    return f"{stem}{number:06d}"
