"""What privacy staff do to a case: close, reopen, approve, recategorise, set the tenant, note,
send a reply or forward it to the customer.

Each function changes one case and adds its audit row in the caller's transaction, so the
change and the record of who made it commit together or not at all; the caller commits. The
review page calls these; the worker and the command line can call them the same way."""

from __future__ import annotations

from sqlalchemy.orm import Session

from worker.errors import CaseworkError
from worker.intake.headers import Headers
from worker.judge.decide import REQUEST_CATEGORIES
from worker.judge.tenants import Registry
from worker.reply.refusal import refusal
from worker.reply.respond import Original, Responder
from worker.store.models import Case, audit, now

CATEGORIES = ("inspection", "correction", "deletion", "processor_routed", "other")
STATUSES = ("review", "open", "forwarded", "ignored", "closed")
MAX_NOTE = 4000

# What staff can send from a case; each writes outbox rows (and an audit row) in the same
# transaction, and the send job delivers them. Nothing in this module talks SMTP.
REPLIES = {
    "ack": "acknowledge the request (its category)",
    "receipt": "neutral receipt",
    "id-resubmit": "ask for a redacted ID copy (KopieID)",
    "forward": "forward to the customer and tell the requester",
}


def close(session: Session, case: Case, actor: str, note: str = "") -> None:
    """Closes a case: it is answered or needs nothing more."""
    if case.status == "closed":
        raise CaseworkError(f"{case.reference} is already closed")
    previous, case.status, case.closed_at = case.status, "closed", now()
    audit(session, case, actor, "closed", _with_note(f"{previous} -> closed", note))


def reopen(session: Session, case: Case, actor: str, note: str = "") -> None:
    """Sends a case (back) to review: a person must look at it again."""
    if case.status == "review":
        raise CaseworkError(f"{case.reference} is already in review")
    previous, case.status, case.closed_at = case.status, "review", None
    audit(session, case, actor, "reopened", _with_note(f"{previous} -> review", note))


def approve(session: Session, case: Case, actor: str, note: str = "") -> None:
    """Marks a reviewed case to be handled automatically from here on (review -> open)."""
    if case.status != "review":
        raise CaseworkError(f"{case.reference} is {case.status}, not in review")
    case.status = "open"
    audit(session, case, actor, "approved", _with_note("review -> open", note))


def set_category(session: Session, case: Case, actor: str, category: str) -> None:
    """Corrects what the request is."""
    if category not in CATEGORIES:
        raise CaseworkError(f"unknown category {category!r}")
    if category == case.category:
        raise CaseworkError(f"{case.reference} is already {category}")
    previous, case.category = case.category, category
    audit(session, case, actor, "category", f"{previous} -> {category}")


def set_tenant(
    session: Session, case: Case, actor: str, tenant: str | None, registry: Registry
) -> None:
    """Sets the customer a case concerns (None: no customer), only ever one from the registry:
    forwarding to a customer that is not in it would be forwarding to a guess."""
    if tenant is not None and tenant not in {t.id for t in registry.tenants}:
        raise CaseworkError(f"{tenant!r} is not in the tenant registry")
    if tenant == case.tenant:
        raise CaseworkError(f"{case.reference} already has tenant {tenant or 'none'}")
    previous, case.tenant = case.tenant, tenant
    audit(session, case, actor, "tenant", f"{previous or 'none'} -> {tenant or 'none'}")


def send_reply(
    session: Session, case: Case, actor: str, choice: str, responder: Responder | None
) -> None:
    """Queues the mail staff chose for a case; the send job delivers it. Machine and broken
    addresses stay refused; the daily limit is for automatic replies, not for staff."""
    if responder is None:
        raise CaseworkError("sending is not set up for this page")
    if choice not in REPLIES:
        raise CaseworkError(f"unknown reply {choice!r}")
    first = case.messages[0] if case.messages else None
    headers = Headers.of(first.raw or b"") if first is not None else None
    mail = Original(
        case.requester,
        case.subject,
        first.message_id if first is not None else "",
        headers.references if headers is not None else "",
        first.raw if first is not None else None,
    )
    why = refusal(case.requester, responder.mailbox, responder.templates.never_reply)
    if why is not None:
        raise CaseworkError(f"no mail to {case.requester or 'this sender'}: {why}")
    for kind in _kinds(case, choice, responder, mail):
        responder.send(session, case, kind, mail)
    if choice == "forward":
        case.status, case.closed_at = "forwarded", now()
    audit(session, case, actor, "reply", f"{REPLIES[choice]} queued")


def _kinds(case: Case, choice: str, responder: Responder, mail: Original) -> tuple[str, ...]:
    if choice == "ack":
        if case.category not in REQUEST_CATEGORIES:
            raise CaseworkError(f"a {case.category} case has no acknowledgement; send a receipt")
        return (f"ack-{case.category}",)
    if choice == "forward":
        if case.category != "processor_routed" or case.tenant not in responder.tenants:
            raise CaseworkError("forwarding needs category processor_routed and a tenant")
        if mail.kept is None:
            raise CaseworkError("nothing of the mail was kept to forward; write to them by hand")
        return ("routed-cover", "routed-requester")
    return (choice,)


def add_note(session: Session, case: Case, actor: str, text: str) -> None:
    """Adds a note to the case's log."""
    text = _clean(text)
    if not text:
        raise CaseworkError("an empty note was not added")
    audit(session, case, actor, "note", text)


def _with_note(detail: str, note: str) -> str:
    note = _clean(note)
    return f"{detail}: {note}" if note else detail


def _clean(text: str) -> str:
    if len(text) > MAX_NOTE:
        raise CaseworkError(f"a note may be {MAX_NOTE} characters at most")
    return text.strip()
