"""What a new case sends, decided once and written to the outbox with the case itself.

Never to machines: nothing for auto-generated mail, nothing to an address `refusal` rejects
(our own, a mailer-daemon, a broken one), and no more than `max_per_day` automatic replies to
one address in 24 hours (a loop with a person's auto-responder that we did not recognise ends
there). Which mail, by the case:

    unredacted ID copy                       id-resubmit (the copy is deleted; send a redacted one),
                                             only when it was cut; else nothing: a person does it
    processor_routed, tenant certain         forward to the tenant + routed-requester; forwarded
    request, nothing for a person to check   ack-<category>
    request in review                        receipt (names no category: a person decides it)
    anything else                            nothing: a person answers (processor_routed in
                                             review included: no word that could name a customer)
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.config import Settings
from worker.judge.decide import REQUEST_CATEGORIES, Decision
from worker.judge.tenants import Registry, Tenant
from worker.reply.compose import (
    ReplyFacts,
    Templates,
    forward,
    load_templates,
    message_id_for,
    refusal,
    reply,
)
from worker.reply.outbox import queue
from worker.store.models import Case, Outgoing, audit, now

ACTOR = "privacy-worker"


@dataclass(frozen=True)
class Original:
    """What a reply needs of the mail it answers."""

    sender: str
    subject: str
    message_id: str
    references: str
    kept: bytes | None  # the stored bytes (ID copies already cut); None when nothing was kept


class Responder:
    """Plans and queues the mail a case sends; shared by intake and the review page."""

    def __init__(
        self,
        templates: Templates,
        registry: Registry,
        mailbox_address: str,
        sender_name: str,
        max_per_day: int,
    ) -> None:
        self.templates = templates
        self.tenants: dict[str, Tenant] = {t.id: t for t in registry.tenants}
        self.mailbox = mailbox_address
        self.sender_name = sender_name
        self.max_per_day = max_per_day

    @classmethod
    def from_settings(cls, settings: Settings, rules_dir: Path, registry: Registry) -> Responder:
        """The responder a deployment's settings describe, its templates loaded and checked."""
        return cls(
            load_templates(rules_dir),
            registry,
            settings.mailbox_address,
            settings.sender_name,
            settings.max_replies_per_day,
        )

    def new_case(
        self,
        session: Session,
        case: Case,
        decision: Decision,
        mail: Original,
        replied_before: bool = True,
    ) -> None:
        """Queues what a new case sends, in the caller's transaction; may change its status.
        `replied_before` False says the sender had no automatic mail in the last day (the
        caller knows; the count is then not read)."""
        if decision.auto_generated:
            return
        kinds = first_reply(
            decision, self.tenants, self.templates.receipt_for, mail.kept is not None
        )
        if not kinds:
            return
        why = self.refused(session, mail.sender, replied_before)
        if why is not None:
            audit(session, case, ACTOR, "no-reply", why)
            if case.status == "open":
                case.status = "review"
            case.reasons = [*case.reasons, f"no automatic reply: {why}; answer by hand"]
            return
        for kind in kinds:
            self.send(session, case, kind, mail, decision.intents)
        if "routed-cover" in kinds:
            case.status, case.closed_at = "forwarded", now()
            audit(session, case, ACTOR, "forwarded", f"to {case.tenant}")

    def refused(self, session: Session, address: str, replied_before: bool = True) -> str | None:
        """Why this address gets no automatic mail now, or None."""
        why = refusal(address, self.mailbox, self.templates.never_reply)
        if why is not None or (not replied_before and self.max_per_day > 0):
            return why  # (none sent to it today: below any limit but 0)
        since = now() - dt.timedelta(days=1)
        sent = session.scalar(
            select(func.count())
            .select_from(Outgoing)
            .where(Outgoing.recipient == address.lower())
            .where(Outgoing.created_at >= since, Outgoing.kind != "routed-cover")
        )
        if (sent or 0) >= self.max_per_day:
            return f"{self.max_per_day} automatic replies to this address in 24 hours already"
        return None

    def send(
        self,
        session: Session,
        case: Case,
        kind: str,
        mail: Original,
        intents: tuple[str, ...] = (),
    ) -> Outgoing:
        """Composes one mail of a kind for a case and queues it."""
        tenant = self.tenants.get(case.tenant or "")
        facts = ReplyFacts(
            reference=case.reference,
            category=case.category,
            language=case.language if case.language in ("nl", "en") else "en",
            due=case.due_at.date(),
            received=case.received_at.date(),
            requester=mail.sender,
            original_subject=mail.subject,
            original_message_id=mail.message_id or None,
            original_references=mail.references or None,
            tenant_name=tenant.name if tenant else None,
            unredacted=tuple(str(f) for f in case.id_findings.get("unredacted", ()) or ()),  # type: ignore[attr-defined]
            intents=intents,
        )
        seq = 1 + sum(1 for o in case.outgoing if o.kind == kind)
        domain = self.mailbox.rpartition("@")[2]
        message_id = message_id_for(case.reference, kind, seq, domain, secrets.token_hex(8))
        if kind == "routed-cover":
            if tenant is None or mail.kept is None:
                raise ValueError(f"{case.reference}: no tenant or no stored mail to forward")
            message = forward(
                self.templates,
                facts,
                tenant_contact=str(tenant.privacy_contact),
                tenant_language=tenant.language,
                original_raw=mail.kept,
                sender=self.mailbox,
                sender_name=self.sender_name,
                message_id=message_id,
            )
        else:
            message = reply(
                self.templates,
                kind,
                facts,
                sender=self.mailbox,
                sender_name=self.sender_name,
                message_id=message_id,
            )
        return queue(session, case, kind, message)


def first_reply(
    decision: Decision, tenants: Collection[str], receipt_for: Collection[str], kept: bool = True
) -> tuple[str, ...]:
    """The kinds of mail a new case sends on its own, in order: one first reply to the person
    (and a forward to the customer), or nothing. `kept`: the message could be stored (its ID
    copies cut). Whether the address may be answered now is checked when it is sent."""
    if decision.auto_generated:
        return ()
    document = decision.id_document
    if document.present and document.unredacted:
        # The mail says the copy was deleted: only true when the stored message was cut.
        # Uncut, nothing was stored and a person deletes it from the mailbox (in review).
        return ("id-resubmit",) if kept else ()
    category, review = decision.category, decision.needs_review
    if category == "processor_routed" and not review and decision.tenant in tenants and kept:
        return ("routed-cover", "routed-requester")
    if category in REQUEST_CATEGORIES and not review:
        return (f"ack-{category}",)
    # Everyone else gets a receipt where rules/replies.yaml says so. It names no request type
    # and no customer: a processor request in review (tenant unknown or uncertain) must not
    # name the wrong one.
    receipt = {
        **dict.fromkeys(REQUEST_CATEGORIES, "request-in-review"),
        "processor_routed": "processor-routed-in-review",
    }.get(category, "other")
    return ("receipt",) if receipt in receipt_for else ()


def action(kinds: tuple[str, ...], tenant: str | None) -> str:
    """How `classify` names what the worker would do: ack-deletion, forward:TENANT, receipt,
    id-resubmit or none."""
    if "routed-cover" in kinds:
        return f"forward:{tenant}"
    return kinds[0] if kinds else "none"
