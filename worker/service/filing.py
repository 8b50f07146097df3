"""Filing decided messages: a group of them in one transaction, each as a new case (with the
mail it sends), a follow-up joining its case, or a duplicate; a message that cannot be filed
so still becomes a case in review."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.failpoints import failpoint
from worker.intake.headers import Headers
from worker.intake.mailbox import ACTOR, Mailbox
from worker.judge.decide import Decision, failure
from worker.judge.payloads import payloads_of, sniff
from worker.reply.respond import Original, Responder
from worker.store.models import Case, Message, Outgoing, audit, next_reference, now
from worker.store.redact import mask_numbers, without_documents

log = logging.getLogger("worker.decide")

# The reason a case gets when its flagged files could not be cut: the mailbox still holds the
# message whole, so no mail may tell the requester the copy was deleted.
NOT_CUT = (
    "ID copy or unchecked file could not be cut out: only the case was stored, the mailbox "
    "still holds the message; delete it there by hand"
)
# How often a new case draws its reference again after a clash with another worker's.
REFERENCE_TRIES = 3


@dataclass(frozen=True)
class Policy:
    """What ingestion needs of the settings."""

    reference_prefix: str = "PRIV"
    due_days: int = 28
    # A message whose ID copies were cut is put back on the server without them.
    replace_cut_on_server: bool = True
    # A message bigger than this is not read: a case in review keeps its headers only.
    max_message_bytes: int = 50_000_000
    # The bodies one fetch brings, at most, in bytes (a message alone may exceed it).
    batch_bytes: int = 64_000_000


@dataclass(frozen=True)
class Classified:
    """A message read and decided, not yet stored: what storing it needs."""

    key: str
    raw: bytes
    decision: Decision
    checked: bool  # False: the classifier failed, its attachments were not looked at
    headers: Headers
    digest: str
    kept: bytes | None


def store_group(
    session: Session,
    mailbox: Mailbox,
    group: list[Classified],
    policy: Policy,
    responder: Responder | None = None,
) -> list[Message]:
    """Stores decided messages, their cases and their mail in one transaction: one commit
    (one sync to disk) for the group instead of one per message, and one flush of batched
    INSERTs. A message whose lookups (a duplicate, a follow-up, the next reference, the day's
    replies to an address) could find one stored before it in the group is recorded after a
    flush, so it sees that one. When any message fails, nothing of the group stays and each
    is stored again on its own, the failing one as a case in review."""
    if not group:
        return []
    try:
        messages = []
        pending, seen = _Pending(), _Seen.read(session, group)
        for item in group:
            if pending.touched_by(item, policy):
                session.flush()
                pending = _Pending()
            message = _record(
                session, mailbox, item, policy, responder, pending.last_reference, seen
            )
            pending.add(message)
            seen.add(message)
            messages.append(message)
        session.commit()
    except Exception as err:
        session.rollback()
        log.warning(
            "%d message(s) not stored together (%s); one at a time", len(group), described(err)
        )
        messages = [
            m for item in group if (m := store_alone(session, mailbox, item, policy, responder))
        ]
    failpoint("after-commit")
    for message in messages:
        _log_disposition(message)
    return messages


@dataclass
class _Seen:
    """For a group: the Message-IDs a stored message already has, and the addresses that had
    automatic mail in the last day, read once for the group and grown by its own messages.
    A duplicate lookup, or a count of the day's replies, that cannot find anything is skipped."""

    message_ids: set[str]
    recipients: set[str]

    @classmethod
    def read(cls, session: Session, group: list[Classified]) -> _Seen:
        ids = {item.headers.message_id for item in group}
        senders = {item.headers.sender.lower() for item in group}
        stored = session.scalars(
            select(Message.message_id).where(
                Message.message_id.in_(ids), Message.duplicate_of.is_(None)
            )
        )
        since = now() - dt.timedelta(days=1)
        replied = session.scalars(
            select(Outgoing.recipient).where(
                Outgoing.recipient.in_(senders), Outgoing.created_at >= since
            )
        )
        return cls(set(stored), set(replied))

    def add(self, message: Message) -> None:
        self.message_ids.add(message.message_id)
        if inspect(message.case).pending:  # only a new case queues mail here
            self.recipients.update(row.recipient for row in message.case.outgoing)


@dataclass
class _Pending:
    """What a group added since its last flush, by the keys through which a later message's
    lookups would find it: the queries of `_record` see only flushed rows."""

    copies: set[tuple[str, str]] = field(default_factory=set)  # (Message-ID, digest)
    message_ids: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)
    recipients: set[str] = field(default_factory=set)  # of the mail its new cases queued
    last_reference: str = ""  # the highest reference its new cases drew

    def touched_by(self, item: Classified, policy: Policy) -> bool:
        headers = item.headers
        return (
            (headers.message_id, item.digest) in self.copies
            or not self.message_ids.isdisjoint(headers.refers_to)
            or not self.references.isdisjoint(_subject_references(headers.subject, policy))
            or headers.sender.lower() in self.recipients
        )

    def add(self, message: Message) -> None:
        self.copies.add((message.message_id, message.content_hash))
        self.message_ids.add(message.message_id)
        case = message.case
        if inspect(case).pending:  # a new case: it, and the mail it queued, are not flushed
            self.references.add(case.reference)
            self.last_reference = max(self.last_reference, case.reference)
            self.recipients.update(row.recipient for row in case.outgoing)
            # A reply to the mail it queued joins it too.
            self.message_ids.update(row.message_id for row in case.outgoing)


def store_alone(
    session: Session,
    mailbox: Mailbox,
    item: Classified,
    policy: Policy,
    responder: Responder | None,
) -> Message | None:
    """One message in a transaction of its own; a case in review when that fails."""
    try:
        for attempt in range(REFERENCE_TRIES):
            try:
                message = _record(session, mailbox, item, policy, responder)
                session.commit()
                return message
            except IntegrityError:
                session.rollback()
                if _known(session, mailbox, item.key):
                    return None  # the same key was stored meanwhile: that worker has it
                # Else a case reference clashed with one drawn at the same moment by a worker
                # on another mailbox: draw again, then store it as failed.
                if attempt == REFERENCE_TRIES - 1:
                    raise
        raise AssertionError("unreachable")
    except Exception as err:  # one bad message never blocks the ones behind it
        session.rollback()
        return _take_in_failed(session, mailbox, item.key, item.raw, err, policy)


def _log_disposition(message: Message) -> None:
    # One line per message, for a privacy officer's "why": never a number from an ID copy.
    case = message.case
    log.info(
        "%s %s: %s, %s",
        message.message_id or message.source_key,
        case.reference,
        case.status,
        case.category,
        extra={
            "message_id": message.message_id,
            "case": case.reference,
            "status": case.status,
            "category": case.category,
            "tenant": case.tenant,
            "reasons": [mask_numbers(reason) for reason in case.reasons],
            "duplicate": message.duplicate_of is not None,
        },
    )


def described(err: BaseException) -> str:
    """An error as it may be logged and stored: its type and first line, masked. A store
    error's further lines carry the statement's parameters: addresses, subjects, raw bytes."""
    first = (str(err).splitlines() or [""])[0][:300]
    return mask_numbers(f"{type(err).__name__}: {first}")


def _take_in_failed(
    session: Session, mailbox: Mailbox, key: str, raw: bytes, err: Exception, policy: Policy
) -> Message | None:
    """A case in review for a message that could not be taken in the normal way, its images and
    PDFs cut (unchecked). Tried with the message's headers, then without them (one may be what
    the store refused); None when even that fails, and the message waits for the next poll."""
    log.error("%s could not be taken in: %s", key, described(err))
    decision = failure(f"could not be taken in: {described(err)}")
    kept = keepable(raw, decision, checked=False)
    digest = hashlib.sha256(raw).hexdigest()
    for headers in (Headers.of(raw), Headers("", "(headers not stored)", "", ())):
        item = Classified(key, raw, decision, False, headers, digest, kept)
        try:
            message = _record(session, mailbox, item, policy)
            session.commit()
            return message
        except Exception as again:  # the store itself refused: try with less, or wait
            session.rollback()
            log.error("%s: not stored as a failed case either: %s", key, described(again))
    return None


def _known(session: Session, mailbox: Mailbox, key: str) -> bool:
    found = session.scalar(
        select(Message.id).where(
            Message.source == mailbox.name,
            Message.validity == mailbox.validity,
            Message.source_key == key,
        )
    )
    return found is not None


def _record(
    session: Session,
    mailbox: Mailbox,
    item: Classified,
    policy: Policy,
    responder: Responder | None = None,
    after: str = "",
    seen: _Seen | None = None,
) -> Message:
    """Adds one message, and its case or the case it joins, to the session; `after` is the
    highest case reference drawn but not yet flushed; `seen` (for a group) tells which
    lookups can be skipped."""
    key, raw, digest, headers, decision = (
        item.key,
        item.kept,
        item.digest,
        item.headers,
        item.decision,
    )
    received = now()
    message = Message(
        source=mailbox.name,
        validity=mailbox.validity,
        source_key=key,
        message_id=headers.message_id,
        content_hash=digest,
        raw=raw,
        received_at=received,
    )
    original = None
    if seen is None or headers.message_id in seen.message_ids:
        original = session.scalar(
            select(Message).where(
                Message.message_id == headers.message_id,
                Message.content_hash == digest,
                Message.duplicate_of.is_(None),
            )
        )
    if original is not None:
        # The same message again (a UIDVALIDITY change, a second delivery): no new case.
        message.case, message.raw, message.duplicate_of = original.case, None, original.id
        message.move_to = _folder(original.case.status)
        session.add(message)
        audit(session, original.case, ACTOR, "duplicate", f"message {original.id} again as {key}")
        return message
    case, others = _follow_up(session, headers, policy)
    if case is not None:
        if not decision.auto_generated:
            case.status = "review"  # a requester wrote again: a person reads it
        audit(session, case, ACTOR, "follow-up", f"joined by {headers.message_id or key}")
    else:
        decision, held = _reply_to_held(headers, _mentioned(decision, others))
        case = _new_case(session, headers, decision, policy, received, after)
        if held:
            audit(session, case, ACTOR, "no-reply", held)
        elif responder is not None:
            answered = Original(
                headers.sender, headers.subject, headers.message_id, headers.references, raw
            )
            replied = seen is None or headers.sender.lower() in seen.recipients
            responder.new_case(session, case, decision, answered, replied)
    message.case = case
    if raw is None:
        # A person must delete the message from the mailbox: even machine mail goes to review.
        audit(session, case, ACTOR, "not-kept", "its attachments could not be cut out")
        case.status, case.reasons = "review", [*case.reasons, NOT_CUT]
    ignored = decision.auto_generated and raw is not None
    message.move_to = _folder("ignored" if ignored else case.status)
    session.add(message)
    if raw is not None and (decision.id_document.unredacted or decision.id_document.unreadable):
        audit(session, case, ACTOR, "attachments-removed", "images and PDFs cut before storing")
    return message


def _reply_to_held(headers: Headers, decision: Decision) -> tuple[Decision, str]:
    """A Reply-To outside the sender's domain could make us write to a third party
    (backscatter): the case waits for a person and nothing is sent; also why, or ""."""
    if not headers.foreign_reply_to or decision.auto_generated:
        return decision, ""
    why = (
        f"Reply-To {headers.foreign_reply_to} is outside the domain of the sender "
        f"{headers.author or '(no From)'}: no automatic reply; answer the sender by hand"
    )
    reasons = (why, *decision.reasons)
    return dataclasses.replace(decision, needs_review=True, reasons=reasons), why


def keepable(raw: bytes, decision: Decision, checked: bool) -> bytes | None:
    """What of a message may be stored: all of it when its files were checked and clean;
    without them when one showed a sensitive field or could not be checked (cut whatever wraps
    it, then verified gone); nothing when they cannot be cut out."""
    document = decision.id_document
    if checked and not document.unredacted and not document.unreadable:
        return raw
    why = (
        f"it showed {', '.join(document.unredacted)}"
        if document.unredacted
        else "it could not be checked for identity data"
    )
    parts, flagged = set(document.parts), set(document.payloads)
    try:
        if not checked:
            # Nothing was looked at: every part that holds a file of any kind goes.
            found = [a for a in payloads_of(raw) if a.problem or sniff(a.data) is not None]
            parts |= {a.part for a in found}
            flagged |= {a.digest for a in found if a.data}
        kept = without_documents(raw, why, parts)
        return kept if _none_left(kept, parts, flagged) else None
    except Exception:  # cannot cut: keep nothing rather than a copy
        return None


def _none_left(kept: bytes, parts: set[str], flagged: set[str]) -> bool:
    """Whether the cut message holds none of the cut parts and flagged files, in any wrapper."""
    left = payloads_of(kept)
    return not any(a.part in parts or a.digest in flagged for a in left)


def _new_case(
    session: Session,
    headers: Headers,
    decision: Decision,
    policy: Policy,
    received: dt.datetime,
    after: str = "",
) -> Case:
    status = "ignored" if decision.auto_generated else "review" if decision.needs_review else "open"
    document = decision.id_document
    case = Case(
        reference=next_reference(session, policy.reference_prefix, received.year, after),
        category=decision.category,
        status=status,
        language=decision.language,
        tenant=decision.tenant,
        requester=headers.sender,
        # Masked here too, whatever a rule or an error message put in them.
        subject=mask_numbers(headers.subject),
        reasons=[mask_numbers(reason) for reason in decision.reasons],
        id_findings={
            "present": document.present,
            "unredacted": list(document.unredacted),
            "files": [mask_numbers(name) for name in document.files],
            "unreadable": [mask_numbers(problem) for problem in document.unreadable],
        },
        received_at=received,
        due_at=received + dt.timedelta(days=policy.due_days),
    )
    session.add(case)
    audit(session, case, ACTOR, "created", f"{status}: {decision.category}")
    return case


def _follow_up(
    session: Session, headers: Headers, policy: Policy
) -> tuple[Case | None, tuple[str, ...]]:
    """The case a message answers, else the references of other senders' cases it mentions.
    A case is joined by its requester's mail that names it, or by a reply to a message of the
    case or to mail we sent for it: a stranger who quotes a reference starts a case of his own."""
    senders = {address.lower() for address in (headers.sender, headers.author) if address}
    others: list[str] = []
    for reference in _subject_references(headers.subject, policy):
        case = session.scalar(select(Case).where(Case.reference == reference))
        if case is not None and case.requester.lower() in senders:
            return case, ()
        if case is not None:
            others.append(reference)
    if headers.refers_to:
        for rows in (Message, Outgoing):
            case = session.scalar(
                select(Case)
                .join(rows)
                .where(rows.message_id.in_(headers.refers_to))
                .order_by(Case.id.desc())
                .limit(1)
            )
            if case is not None:
                return case, ()
    return None, tuple(others)


def _mentioned(decision: Decision, others: tuple[str, ...]) -> Decision:
    """A new case that names another sender's case waits for a person, who sees which."""
    if not others:
        return decision
    why = f"mentions {', '.join(others)} of another sender: not joined to it; check who writes"
    return dataclasses.replace(decision, needs_review=True, reasons=(why, *decision.reasons))


def _subject_references(subject: str, policy: Policy) -> list[str]:
    pattern = rf"\b{re.escape(policy.reference_prefix)}-\d{{4}}-\d{{6}}\b"
    return re.findall(pattern, subject)


def _folder(status: str) -> str:
    return {"ignored": "Ignored", "open": "Processed", "forwarded": "Processed"}.get(
        status, "Review"
    )
