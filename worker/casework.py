"""What privacy staff do to a case: close, reopen, approve, recategorise, set the tenant, note.

Each function changes one case and adds its audit row in the caller's transaction, so the
change and the record of who made it commit together or not at all; the caller commits. The
review page calls these; the worker and the command line can call them the same way."""

from __future__ import annotations

from sqlalchemy.orm import Session

from worker.errors import CaseworkError
from worker.store import Case, audit
from worker.tenants import Registry

CATEGORIES = ("inspection", "correction", "deletion", "processor_routed", "other")
STATUSES = ("review", "open", "ignored", "closed")
MAX_NOTE = 4000

# Outgoing mail goes here later: "send acknowledgement" and "forward to customer" will be
# functions of this module that write outbox rows (and an audit row) in the same transaction;
# the send job delivers them. Nothing in this module talks SMTP.


def close(session: Session, case: Case, actor: str, note: str = "") -> None:
    """Closes a case: it is answered or needs nothing more."""
    if case.status == "closed":
        raise CaseworkError(f"{case.reference} is already closed")
    previous, case.status = case.status, "closed"
    audit(session, case, actor, "closed", _with_note(f"{previous} -> closed", note))


def reopen(session: Session, case: Case, actor: str, note: str = "") -> None:
    """Sends a case (back) to review: a person must look at it again."""
    if case.status == "review":
        raise CaseworkError(f"{case.reference} is already in review")
    previous, case.status = case.status, "review"
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
