"""Shared test fixtures: the shipped rules, the fixture tenant registry, a classifier."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

import pytest

from worker.classify import Classifier
from worker.rules import RuleSet, load_rules
from worker.tenants import Registry, load_registry

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
