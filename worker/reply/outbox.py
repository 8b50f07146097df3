"""The outbox: every outgoing mail is a row written with its case, sent later by this job.

A row goes pending -> sending -> sent. "sending" is committed before the mail is handed over;
"sent" is committed the moment the server has said 250, before the copy is filed in Sent
(`filed` says whether it is there; rows sent but not filed are filed from the store later).
After a crash a row still "sending" may have left only if the crash came between the 250 and
that commit, or if the link died after the data: for those the worker looks for the Message-ID
in the Sent folder (Microsoft 365 files submitted mail there itself) and sends again only when
it is not there. A server that is down pauses all waiting mail together for a minute at a time,
and once it answers the oldest goes first; a temporary refusal of one address is
retried with a growing pause; a permanent one, or a mail that could not go for days, sends its
case to review."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from worker.errors import MaybeSent, SendError
from worker.failpoints import failpoint
from worker.mimepolicy import WRITING
from worker.store.lease import dead_here
from worker.store.models import Case, Outgoing, audit, now, utc

log = logging.getLogger("worker.send")

ACTOR = "privacy-worker"
# Pauses after each failed try, then the last one again until the mail is given up.
BACKOFF_MINUTES = (1, 2, 5, 10, 15)
GIVE_UP_AFTER = dt.timedelta(days=3)
# A claim older than this is settled even when its worker cannot be known dead.
CLAIM_TIMEOUT = dt.timedelta(minutes=15)
# How long this process leaves its own "maybe sent" row before it looks for it in Sent.
OWN_CLAIM_GRACE = dt.timedelta(minutes=2)
# Rows claimed per commit.
CLAIM_BATCH = 20
# How `last_error` begins on mail waiting for a server that did not answer.
UNAVAILABLE = "server unavailable"
# How long all mail waits after the server did not answer: one connection attempt a minute
# costs nothing, and mail goes within a minute (about one poll) of the server's return. The
# growing pauses of BACKOFF_MINUTES are for a server that refuses one address.
SERVER_DOWN_MINUTES = 1


class Transport(Protocol):
    """Hands mail over (SMTP, or a local Maildir) and keeps the record of what was sent.
    `send` raises SendError for one message's refusal, OSError when the server is down."""

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None: ...

    def was_sent(self, message_id: str) -> bool: ...

    def file(self, raw: bytes, message_id: str) -> None: ...


def queue(session: Session, case: Case, kind: str, message: EmailMessage) -> Outgoing:
    """Adds one mail to the outbox in the caller's transaction (with the case, never after)."""
    stamp = now()
    row = Outgoing(
        case=case,
        kind=kind,
        # Lower case, so the daily count per address can use the index.
        recipient=parseaddr(str(message["To"]))[1].lower(),
        message_id=str(message["Message-ID"]),
        raw=message.as_bytes(policy=WRITING),
        status="pending",
        attempts=0,
        next_attempt_at=stamp,
        created_at=stamp,
        filed=False,
    )
    session.add(row)
    audit(session, case, ACTOR, "queued", f"{kind} to {row.recipient} as {row.message_id}")
    return row


def flush(
    session: Session,
    transport: Transport,
    sender: str,
    stop: Callable[[], bool] = lambda: False,
    holder: str = "",
) -> int:
    """Sends what is due as `holder`; returns how many mails left. Rows left in "sending" by a
    worker that is gone (or by this one) are settled first, by the Sent folder."""
    _settle_interrupted(session, transport, holder)
    if _server_paused(session):
        _file_unfiled(session, transport)
        return 0
    sent = 0
    due = list(
        session.scalars(
            select(Outgoing.id)
            .where(Outgoing.status == "pending", Outgoing.next_attempt_at <= now())
            .order_by(Outgoing.id)
        )
    )
    for start in range(0, len(due), CLAIM_BATCH):
        if stop():
            break
        claimed = _claim(session, due[start : start + CLAIM_BATCH], holder)
        done, stopped = _send_claimed(session, transport, sender, claimed)
        sent += done
        if stopped:
            break
    _file_unfiled(session, transport)
    return sent


def _claim(session: Session, ids: list[int], holder: str) -> list[Outgoing]:
    # Claimed only if still pending, in one update: rows a second worker claimed first are
    # not among those read back.
    stamp = now()
    session.execute(
        update(Outgoing)
        .where(Outgoing.id.in_(ids), Outgoing.status == "pending")
        .values(
            status="sending",
            attempts=Outgoing.attempts + 1,
            claimed_by=holder,
            claimed_at=stamp,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return list(
        session.scalars(
            select(Outgoing)
            .where(Outgoing.id.in_(ids), Outgoing.status == "sending")
            .where(Outgoing.claimed_by == holder, Outgoing.claimed_at == stamp)
            .order_by(Outgoing.id)
            # Each row's case is read for its audit line: all of them in one query.
            .options(selectinload(Outgoing.case))
            .execution_options(populate_existing=True)
        )
    )


def _send_claimed(
    session: Session, transport: Transport, sender: str, rows: list[Outgoing]
) -> tuple[int, bool]:
    """Sends claimed rows, each recorded as sent in a commit of its own and then filed in Sent
    (`filed` is committed with the next row, or at the end). Returns (sent, stopped).
    `stop` is not asked inside a batch: it may renew the lease through another connection,
    which SQLite would keep waiting while this transaction writes."""
    sent = 0
    for n, row in enumerate(rows):
        try:
            if _send_one(session, transport, sender, row):
                sent += 1
                # A crash before `filed` is committed leaves the row sent and unfiled: the
                # next round looks for it in Sent before filing it (_file_unfiled).
                row.filed = _file(transport, row)
        except MaybeSent:
            _unclaim(session, rows[n + 1 :])
            return sent, True  # the connection is gone; the next round settles the row
        except OSError as err:  # the server is down: every row waits
            _unclaim(session, rows[n + 1 :])
            _server_down(session, row, f"{UNAVAILABLE}: {err}")
            return sent, True
    session.commit()
    return sent, False


def _unclaim(session: Session, rows: list[Outgoing]) -> None:
    for row in rows:
        row.status, row.attempts = "pending", max(row.attempts - 1, 0)
    session.commit()


def backlog(session: Session) -> int:
    """Mails waiting to be sent."""
    count = session.scalar(
        select(func.count()).select_from(Outgoing).where(Outgoing.status != "sent")
    )
    return int(count or 0)


def _send_one(session: Session, transport: Transport, sender: str, row: Outgoing) -> bool:
    try:
        transport.send(row.raw, sender, [row.recipient])
    except MaybeSent as err:
        # The server may have taken it (the link died after the data went): the row stays
        # "sending", and the next round settles it by the Sent folder.
        log.warning("%s may have been sent: %s", row.message_id, err)
        audit(session, row.case, ACTOR, "send-unsure", f"{row.kind}: {err}")
        session.commit()
        raise
    except SendError as err:
        if err.permanent:
            _give_up(session, row, f"refused: {err}")
        else:
            _retry_later(session, row, str(err))
        return False
    # The server has taken it: recorded at once, in one small commit, so that from here on
    # a crash is settled by the store, not by a copy in Sent that may not be there yet. The
    # one window a crash can still double a mail in is from the server's 250 to this commit.
    row.status, row.sent_at, row.last_error, row.filed = "sent", now(), None, False
    audit(session, row.case, ACTOR, "sent", f"{row.kind} to {row.recipient}")
    session.commit()
    failpoint("after-accept")
    log.info("sent %s %s for %s", row.kind, row.message_id, row.case.reference)
    return True


def _settle_interrupted(session: Session, transport: Transport, holder: str) -> None:
    for row in list(session.scalars(select(Outgoing).where(Outgoing.status == "sending"))):
        if not _abandoned(row, holder):
            continue  # another worker, still alive, is sending it now
        try:
            found = transport.was_sent(row.message_id)
        except OSError as err:
            log.warning("cannot look in Sent for %s: %s", row.message_id, err)
            return  # decided at the next round; sending blind could send twice
        if found:
            row.status, row.sent_at, row.filed = "sent", now(), True
            audit(session, row.case, ACTOR, "sent", f"{row.kind}: found in Sent after a restart")
        else:
            row.status = "pending"
            audit(session, row.case, ACTOR, "resend", f"{row.kind}: not in Sent after a restart")
        session.commit()


def _abandoned(row: Outgoing, holder: str) -> bool:
    if row.claimed_by is None or dead_here(row.claimed_by):
        return True
    if row.claimed_by == holder:
        # This process's own claim: a send that may have gone (the link died after DATA).
        # Its copy may reach Sent late (Microsoft 365 files it itself): not looked for at once.
        return row.claimed_at is None or now() - utc(row.claimed_at) > OWN_CLAIM_GRACE
    # A worker elsewhere cannot be asked; a claim this old is a crash, not a slow send.
    return row.claimed_at is None or now() - utc(row.claimed_at) > CLAIM_TIMEOUT


def _file(transport: Transport, row: Outgoing) -> bool:
    try:
        transport.file(row.raw, row.message_id)
    except OSError as err:  # filed by a later round
        log.warning("cannot file %s in Sent: %s", row.message_id, err)
        return False
    return True


def _file_unfiled(session: Session, transport: Transport) -> None:
    unfiled = select(Outgoing).where(Outgoing.status == "sent", Outgoing.filed.is_(False))
    for row in list(session.scalars(unfiled)):
        try:
            if not transport.was_sent(row.message_id):
                transport.file(row.raw, row.message_id)
        except OSError as err:
            log.warning("cannot file %s in Sent: %s", row.message_id, err)
            return
        row.filed = True
        session.commit()


def _server_down(session: Session, row: Outgoing, why: str) -> None:
    """The server did not answer for `row`, the oldest mail due: it waits a minute, and every
    other waiting mail waits as long. So the server is tried again a minute later with the same
    oldest mail, one connection a minute while it is down, and once it answers the mail goes
    oldest first: none that came during the outage goes ahead of one that was already waiting."""
    _retry_later(session, row, why, SERVER_DOWN_MINUTES)
    if row.status != "pending":
        return  # given up: the next mail is tried in the next round
    session.execute(
        update(Outgoing)
        .where(Outgoing.status == "pending", Outgoing.next_attempt_at < row.next_attempt_at)
        .values(next_attempt_at=row.next_attempt_at, last_error=why)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _server_paused(session: Session) -> bool:
    # Mail queued during the pause is due at once by its own row; it still waits for the
    # server's pause, and then goes after the mail that waited longer.
    waiting = (
        select(Outgoing.id)
        .where(Outgoing.status == "pending", Outgoing.next_attempt_at > now())
        .where(Outgoing.last_error.startswith(UNAVAILABLE))
        .limit(1)
    )
    return session.scalar(waiting) is not None


def _retry_later(session: Session, row: Outgoing, why: str, pause: int | None = None) -> None:
    if now() - utc(row.created_at) > GIVE_UP_AFTER:
        _give_up(session, row, f"not sent for {GIVE_UP_AFTER.days} days: {why}")
        return
    if pause is None:
        pause = BACKOFF_MINUTES[min(max(row.attempts - 1, 0), len(BACKOFF_MINUTES) - 1)]
    row.status, row.last_error = "pending", why
    row.next_attempt_at = now() + dt.timedelta(minutes=pause)
    audit(session, row.case, ACTOR, "send-failed", f"{row.kind}: {why}; next try in {pause} min")
    session.commit()


def _give_up(session: Session, row: Outgoing, why: str) -> None:
    row.status, row.last_error = "failed", why
    row.case.status = "review"
    row.case.reasons = [*row.case.reasons, f"{row.kind} to {row.recipient} failed: {why}"]
    audit(session, row.case, ACTOR, "send-given-up", f"{row.kind}: {why}")
    session.commit()
