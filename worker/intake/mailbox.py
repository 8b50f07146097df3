"""The mailbox as intake sees it, and the second half of intake: moving a stored message to
its folder. The move is recorded with the message and marked done only after it happened, so a
restart finishes it; one that fails waits for the next poll."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.errors import MailboxError, MailboxRefused
from worker.failpoints import failpoint
from worker.store.models import Audit, Message, audit

ACTOR = "privacy-worker"
# Failed moves of one case that are audited; the last of them sends the case to review.
MOVE_FAILURES_AUDITED = 5

log = logging.getLogger("worker.fetch")


class Mailbox(Protocol):
    """Where messages come from: a Maildir here, an IMAP folder in production. A failure of
    the mailbox itself raises OSError (MailboxError for IMAP): the poll stops there."""

    name: str
    validity: int
    # How many messages one fetch asks for.
    batch: int

    def waiting(self) -> list[str]: ...

    def sizes(self, keys: Sequence[str]) -> dict[str, int]: ...

    def fetch(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def head(self, key: str) -> bytes: ...

    def move(self, key: str, folder: str) -> None: ...

    def move_many(self, keys: Sequence[str], folder: str) -> None: ...

    def replace(self, key: str, folder: str, raw: bytes) -> None: ...


def finish_moves(session: Session, mailbox: Mailbox, replace_cut: bool) -> None:
    """Moves recorded but not done (the worker stopped between commit and move)."""
    pending = session.scalars(
        select(Message).where(
            Message.source == mailbox.name,
            Message.validity == mailbox.validity,
            Message.move_to.is_not(None),
        )
    )
    move_all(session, mailbox, list(pending), replace_cut)


def _move_failed(session: Session, message: Message, err: OSError) -> None:
    # Audited the first times; then the case goes to review once, and later failures (one
    # per poll, for as long as the server refuses) are only logged.
    failures = session.scalar(
        select(func.count())
        .select_from(Audit)
        .where(Audit.case_id == message.case_id, Audit.action == "move-failed")
    )
    log.warning("%s not moved to %s: %s", message.source_key, message.move_to, err)
    if (failures or 0) < MOVE_FAILURES_AUDITED:
        audit(session, message.case, ACTOR, "move-failed", f"{message.source_key}: {err}")
        if failures == MOVE_FAILURES_AUDITED - 1:
            message.case.status = "review"
            why = f"the mailbox refuses to move it to {message.move_to}: {err}"
            message.case.reasons = [*message.case.reasons, why[:500]]
        session.commit()


def move_all(
    session: Session, mailbox: Mailbox, messages: Sequence[Message], replace_cut: bool
) -> None:
    """Moves a batch: one command per folder, one commit for all; a message put back cut, or
    a batch the mailbox refuses, goes one by one."""
    by_folder: dict[str, list[Message]] = {}
    for message in messages:
        if message.move_to is None:
            continue
        if replace_cut and _kept(session, message)[1]:
            move(session, mailbox, message, replace_cut)
        else:
            by_folder.setdefault(message.move_to, []).append(message)
    for folder, group in by_folder.items():
        try:
            mailbox.move_many([m.source_key for m in group], folder)
        except MailboxError as err:
            if not isinstance(err, MailboxRefused):
                log.warning("moves wait for the next poll: %s", err)
                return  # the connection is gone: recorded moves wait, nothing is a failure
            _one_by_one(session, mailbox, group, replace_cut)
            continue
        except OSError:  # one file of a Maildir, say
            _one_by_one(session, mailbox, group, replace_cut)
            continue
        failpoint("after-move")
        for message in group:
            audit(session, message.case, ACTOR, "moved", f"{message.source_key} to {folder}")
            message.move_to = None
        session.commit()


def _one_by_one(
    session: Session, mailbox: Mailbox, group: list[Message], replace_cut: bool
) -> None:
    for message in group:
        move(session, mailbox, message, replace_cut)


def _kept(session: Session, message: Message) -> tuple[bytes | None, bool]:
    # A duplicate stores no bytes of its own: what was kept of its original decides.
    original = session.get(Message, message.duplicate_of) if message.duplicate_of else message
    kept = original.raw if original is not None else None
    return kept, kept is not None and hashlib.sha256(kept).hexdigest() != message.content_hash


def move(session: Session, mailbox: Mailbox, message: Message, replace_cut: bool) -> None:
    """Moves one message on the mailbox and marks it done; a move that fails stays recorded
    and is tried again at the next poll, without holding up the others."""
    folder = message.move_to
    if folder is None:
        return  # another worker finished it meanwhile
    kept, cut = _kept(session, message)
    try:
        if kept is not None and cut and replace_cut:
            # The ID copies cut from the stored message leave the mailbox as well.
            mailbox.replace(message.source_key, folder, kept)
        else:
            mailbox.move(message.source_key, folder)
    except MailboxError as err:
        if isinstance(err, MailboxRefused):
            _move_failed(session, message, err)
        else:  # the connection, not the message: no failure of its own
            log.warning("%s waits for the next poll: %s", message.source_key, err)
        return
    except OSError as err:
        _move_failed(session, message, err)
        return
    failpoint("after-move")
    audit(session, message.case, ACTOR, "moved", f"{message.source_key} to {folder}")
    message.move_to = None
    session.commit()
