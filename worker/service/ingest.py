"""Ingestion, exactly once: one poll reads the new messages, decides each, has them filed a group
at a time (filing.py) and only then moves them. Every message becomes a case (or joins one) in
one transaction before the mailbox is touched; the server move is recorded in that same
transaction and marked done after it, so a restart finishes a move instead of importing the
message again."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.intake.headers import Headers
from worker.intake.mailbox import Mailbox, finish_moves, move_all
from worker.judge.classify import Classifier
from worker.judge.decide import failure
from worker.reply.respond import Responder
from worker.service.filing import Classified, Policy, keepable, store_alone, store_group
from worker.store.models import Message

# Messages stored per transaction, at most, and the most time spent deciding them first: one
# sync to disk per group, and the store is written (locked, on SQLite) only while a decided
# group is stored, never while its messages are read and OCRed.
GROUP_MESSAGES = 50
GROUP_SECONDS = 1.0


def ingest(
    session: Session,
    mailbox: Mailbox,
    classifier: Classifier,
    policy: Policy,
    stop: Callable[[], bool] = lambda: False,
    responder: Responder | None = None,
    committed: Callable[[], None] = lambda: None,
) -> list[Message]:
    """Finishes moves left by an earlier run, then takes every new message in, a batch of
    bodies at a time; returns the messages stored, each with its case. `stop` is asked between
    messages, never while a transaction writes (a SIGTERM lets the messages in hand finish);
    `committed` is called after each group of messages is committed."""
    finish_moves(session, mailbox, policy.replace_cut_on_server)
    known = set(
        session.scalars(
            select(Message.source_key).where(
                Message.source == mailbox.name, Message.validity == mailbox.validity
            )
        )
    )
    new = [key for key in mailbox.waiting() if key not in known]
    stored: list[Message] = []
    stopped = False
    for start in range(0, len(new), mailbox.batch):
        if stopped or stop():
            break
        keys = new[start : start + mailbox.batch]
        # Keys absent from the answer were moved away by someone else, or cannot be read now.
        bodies = mailbox.fetch(keys)
        taken: list[Message] = []
        group: list[Classified] = []
        began = time.monotonic()
        for key in keys:
            if key not in bodies:
                continue
            if stop():
                stopped = True
                break
            group.append(classified(key, bodies.pop(key), classifier))
            if len(group) >= GROUP_MESSAGES or time.monotonic() - began >= GROUP_SECONDS:
                taken.extend(_stored(session, mailbox, group, policy, responder, committed))
                group, began = [], time.monotonic()
        taken.extend(_stored(session, mailbox, group, policy, responder, committed))
        # Each message was committed with its pending move: now the batch is moved.
        move_all(session, mailbox, taken, policy.replace_cut_on_server)
        stored.extend(taken)
    return stored


def _stored(
    session: Session,
    mailbox: Mailbox,
    group: list[Classified],
    policy: Policy,
    responder: Responder | None,
    committed: Callable[[], None],
) -> list[Message]:
    messages = store_group(session, mailbox, group, policy, responder)
    if messages:
        committed()
    return messages


def classified(key: str, raw: bytes, classifier: Classifier) -> Classified:
    """Decides one message, without touching the store (the slow part: OCR, the rules)."""
    try:
        decision = classifier.classify(raw)
        checked = True
    except Exception as err:  # the message is kept and a person looks
        decision = failure(f"internal error while classifying: {type(err).__name__}: {err}")
        checked = False
    # The digest is of what arrived: a second delivery matches it.
    digest = hashlib.sha256(raw).hexdigest()
    kept = keepable(raw, decision, checked)
    return Classified(key, raw, decision, checked, Headers.of(raw), digest, kept)


def take_in(
    session: Session,
    mailbox: Mailbox,
    key: str,
    raw: bytes,
    classifier: Classifier,
    policy: Policy,
    responder: Responder | None = None,
) -> Message | None:
    """Stores one message and its case, and the mail it sends, in one transaction; None when
    another worker took it."""
    return store_alone(session, mailbox, classified(key, raw, classifier), policy, responder)
