"""Ingestion, exactly once: one poll reads the new messages, decides each, has them filed a group
at a time (filing.py) and only then moves them. Every message becomes a case (or joins one) in
one transaction before the mailbox is touched; the server move is recorded in that same
transaction and marked done after it, so a restart finishes a move instead of importing the
message again.

Memory is bounded: sizes are read first, a message over `max_message_bytes` is never fetched
(a case in review keeps its headers only), bodies come in batches of at most `batch_bytes`,
and each is let go once filed. A message the worker died on twice is set aside unread."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import MailboxRefused
from worker.intake.headers import Headers
from worker.intake.mailbox import Mailbox, finish_moves, move_all
from worker.intake.maildir import HEAD_BYTES
from worker.judge.classify import Classifier
from worker.judge.decide import failure
from worker.reply.respond import Responder
from worker.service.filing import Classified, Policy, keepable, store_alone, store_group
from worker.store.attempts import Attempts
from worker.store.models import Message
from worker.store.redact import by_reference

# Messages stored per transaction, at most, and the most time spent deciding them first: one
# sync to disk per group (and one per message for its poison count, see Attempts), and the
# store is written (locked, on SQLite) only while a decided group is stored, never while its
# messages are read and OCRed.
GROUP_MESSAGES = 50
GROUP_SECONDS = 1.0
# Attempts at deciding a message that never ended (the worker died) before it is set aside.
POISON_ATTEMPTS = 2
IN_REVIEW = "the message itself stays in the mailbox's Review folder"


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
    # Keys without a size were moved away by someone else meanwhile.
    sizes = mailbox.sizes(new) if new else {}
    attempts = Attempts(session, mailbox.name, mailbox.validity)
    poll = _Poll(session, mailbox, classifier, policy, stop, responder, committed, attempts)
    stored: list[Message] = []
    for keys in batches([k for k in new if k in sizes], sizes, mailbox.batch, policy):
        if stop():
            break
        taken, stopped = poll.batch(keys, sizes)
        stored.extend(taken)
        if stopped:
            break
    # The counts of the last messages decided (the others went with the next attempt's).
    attempts.settle()
    session.commit()
    return stored


def batches(
    keys: Sequence[str], sizes: dict[str, int], count: int, policy: Policy
) -> Iterator[list[str]]:
    """The keys in fetch batches of at most `count` messages and `policy.batch_bytes` bytes;
    a message too big to read costs nothing (its body is never fetched)."""
    batch: list[str] = []
    total = 0
    for key in keys:
        size = 0 if sizes[key] > policy.max_message_bytes else sizes[key]
        if batch and (len(batch) >= count or total + size > policy.batch_bytes):
            yield batch
            batch, total = [], 0
        batch.append(key)
        total += size
    if batch:
        yield batch


@dataclass
class _Poll:
    """What one poll's batches share."""

    session: Session
    mailbox: Mailbox
    classifier: Classifier
    policy: Policy
    stop: Callable[[], bool]
    responder: Responder | None
    committed: Callable[[], None]
    attempts: Attempts

    def batch(self, keys: list[str], sizes: dict[str, int]) -> tuple[list[Message], bool]:
        """Fetches, decides, files and moves one batch; True when asked to stop midway."""
        limit = self.policy.max_message_bytes
        bodies = self.mailbox.fetch([k for k in keys if sizes[k] <= limit])
        taken: list[Message] = []
        group: list[Classified] = []
        began, stopped = time.monotonic(), False
        for key in keys:
            # Keys absent from the answer were moved away by someone else, or cannot be read.
            if sizes[key] <= limit and key not in bodies:
                continue
            if self.stop():
                stopped = True
                break
            group.append(self.decide(key, sizes[key], bodies.pop(key, None)))
            if len(group) >= GROUP_MESSAGES or time.monotonic() - began >= GROUP_SECONDS:
                taken.extend(self.file(group))
                group, began = [], time.monotonic()
        taken.extend(self.file(group))
        # Each message was committed with its pending move: now the batch is moved.
        move_all(self.session, self.mailbox, taken, self.policy.replace_cut_on_server)
        for message in taken:
            # Its bytes are let go (read again from the store if asked for).
            self.session.expire(message, ["raw"])
        return taken, stopped

    def decide(self, key: str, size: int, raw: bytes | None) -> Classified:
        """A message too big is not read; one the worker died on twice is not decided again."""
        if raw is None:
            try:
                head = self.mailbox.head(key)
            except MailboxRefused:  # the case is made all the same, without its headers
                head = b""
            return too_big(key, size, head, self.policy.max_message_bytes)
        before = self.attempts.begin(key)
        if before >= POISON_ATTEMPTS:
            item = set_aside(key, raw, before)
        else:
            item = classified(key, raw, self.classifier)
        self.attempts.decided(key)
        return item

    def file(self, group: list[Classified]) -> list[Message]:
        messages = store_group(self.session, self.mailbox, group, self.policy, self.responder)
        if messages:
            self.committed()
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


def too_big(key: str, size: int, head: bytes, limit: int) -> Classified:
    """A case in review for a message over the size limit, its body never read."""
    why = f"the message is {size:,} bytes, over the limit of {limit:,}: it was not read"
    return _by_reference(key, head, why)


def set_aside(key: str, raw: bytes, before: int) -> Classified:
    """A case in review for a message the worker stopped on twice while reading it: not
    decided again, its images and PDFs cut as a failed message's are; when the worker stopped
    on the cutting too, only its headers are kept."""
    why = "the worker stopped twice while reading this message"
    if before > POISON_ATTEMPTS:
        again = f"{why}, and again while cutting its attachments"
        return _by_reference(key, raw[:HEAD_BYTES], again)
    decision = failure(f"{why}: it was not read again, its attachments were not checked")
    kept = keepable(raw, decision, checked=False)
    digest = hashlib.sha256(raw).hexdigest()
    return Classified(key, raw, decision, False, Headers.of(raw), digest, kept)


def _by_reference(key: str, head: bytes, why: str) -> Classified:
    # Only a stand-in is stored. Its digest is its own, so it is never taken for a cut copy
    # put back on the server in place of the message: nothing of the message is lost.
    # The note names the message's key: two stand-ins otherwise alike (same size, headers
    # unreadable) are two messages, never one filed as the other's duplicate.
    stub = by_reference(head, f"{why}; {IN_REVIEW} (message {key})")
    decision = failure(f"{why}; only its headers are stored, {IN_REVIEW}")
    digest = hashlib.sha256(stub).hexdigest()
    return Classified(key, stub, decision, False, Headers.of(stub), digest, stub)


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
