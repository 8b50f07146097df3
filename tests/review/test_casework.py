"""Staff actions on a case: each changes the case and writes its audit row, or refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import CaseworkError
from worker.judge.tenants import Registry
from worker.review import casework
from worker.store.models import Audit, Case


@pytest.fixture
def session(store: Session) -> Session:
    return store


def make_case(session: Session, status: str = "review", category: str = "inspection") -> Case:
    received = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    case = Case(
        reference="PRIV-2026-000001",
        category=category,
        status=status,
        language="nl",
        tenant=None,
        requester="jan@example.nl",
        subject="Inzage",
        reasons=["a reason"],
        id_findings={"present": False, "unredacted": [], "files": [], "unreadable": []},
        received_at=received,
        due_at=received + dt.timedelta(days=28),
    )
    session.add(case)
    session.flush()
    return case


def log(session: Session, case: Case) -> list[tuple[str, str, str]]:
    rows = session.scalars(select(Audit).where(Audit.case_id == case.id).order_by(Audit.id))
    return [(a.actor, a.action, a.detail) for a in rows]


def test_close_with_a_note_records_who_and_why(session: Session) -> None:
    case = make_case(session)
    casework.close(session, case, "alice", "  answered by phone ")
    session.commit()
    assert case.status == "closed"
    assert log(session, case) == [("alice", "closed", "review -> closed: answered by phone")]


def test_closing_a_closed_case_is_refused_and_writes_nothing(session: Session) -> None:
    case = make_case(session, status="closed")
    with pytest.raises(CaseworkError, match="already closed"):
        casework.close(session, case, "alice")
    assert log(session, case) == []


def test_reopen_sends_a_closed_or_open_case_back_to_review(session: Session) -> None:
    case = make_case(session, status="closed")
    casework.reopen(session, case, "bob")
    assert case.status == "review"
    with pytest.raises(CaseworkError, match="already in review"):
        casework.reopen(session, case, "bob")
    assert log(session, case) == [("bob", "reopened", "closed -> review")]


def test_approve_hands_a_reviewed_case_to_the_worker_and_only_from_review(
    session: Session,
) -> None:
    case = make_case(session)
    casework.approve(session, case, "alice")
    assert case.status == "open"
    with pytest.raises(CaseworkError, match="is open, not in review"):
        casework.approve(session, case, "alice")
    assert log(session, case) == [("alice", "approved", "review -> open")]


def test_set_category_takes_only_known_categories(session: Session) -> None:
    case = make_case(session)
    casework.set_category(session, case, "alice", "deletion")
    assert case.category == "deletion"
    for wrong, message in (("erasure", "unknown category"), ("deletion", "already deletion")):
        with pytest.raises(CaseworkError, match=message):
            casework.set_category(session, case, "alice", wrong)
    assert log(session, case) == [("alice", "category", "inspection -> deletion")]


def test_set_tenant_takes_only_a_registry_tenant_or_none(
    session: Session, registry: Registry
) -> None:
    case = make_case(session)
    casework.set_tenant(session, case, "alice", "acme-staffing", registry)
    assert case.tenant == "acme-staffing"
    with pytest.raises(CaseworkError, match="not in the tenant registry"):
        casework.set_tenant(session, case, "alice", "acme-staffing-bv", registry)
    casework.set_tenant(session, case, "alice", None, registry)
    assert case.tenant is None
    assert [d for _, _, d in log(session, case)] == [
        "none -> acme-staffing",
        "acme-staffing -> none",
    ]


def test_notes_are_logged_and_empty_or_huge_ones_refused(session: Session) -> None:
    case = make_case(session)
    casework.add_note(session, case, "alice", "Called the requester.")
    with pytest.raises(CaseworkError, match="empty note"):
        casework.add_note(session, case, "alice", "   ")
    with pytest.raises(CaseworkError, match="4000 characters"):
        casework.add_note(session, case, "alice", "x" * 4001)
    assert log(session, case) == [("alice", "note", "Called the requester.")]


def test_a_refused_action_in_a_transaction_rolls_back_with_nothing_half_done(
    session: Session,
) -> None:
    case = make_case(session)
    session.commit()
    with pytest.raises(CaseworkError), session.begin_nested():
        casework.close(session, case, "alice")
        casework.close(session, case, "alice")  # the second one refuses: the first is undone
    session.expire_all()
    assert case.status == "review" and log(session, case) == []
