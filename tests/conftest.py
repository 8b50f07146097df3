"""Shared test fixtures: the shipped rules, the fixture tenant registry, a classifier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.judge.classify import Classifier
from worker.judge.rules import RuleSet, load_rules
from worker.judge.tenants import Registry, load_registry
from worker.store.models import open_store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
REAL_WORLD = Path(
    os.environ.get("PRIVACY_WORKER_REAL_WORLD", ROOT.parent / "shared" / "real-world")
)


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(FIXTURES / "tenants.yaml")


@pytest.fixture(scope="session")
def classifier(rules: RuleSet, registry: Registry) -> Classifier:
    return Classifier(rules, registry, "privacy@carerix.com")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Session]:
    """A session on a new SQLite case store of the test's own."""
    engine = open_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    with Session(engine) as session:
        yield session
    engine.dispose()


def count(session: Session, what: object) -> int:
    """How many rows a table (or a select) has."""
    return int(session.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]


def make_mail(
    body: str, subject: str = "Vraag", sender: str = "Jan Jansen <jan@example.nl>", **headers: str
) -> bytes:
    """A simple text/plain mail to the privacy mailbox."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "privacy@carerix.com"
    message["Subject"] = subject
    message["Message-ID"] = "<test@example.nl>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()
