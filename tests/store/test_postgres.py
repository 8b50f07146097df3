"""The case store on a real PostgreSQL (a private cluster on 127.0.0.1): migrations, intake
exactly once with two workers, the outbox, leases and retention behave as on SQLite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.conftest import make_mail
from tests.servers import postgres_server
from worker.intake.maildir import Maildir
from worker.judge.classify import Classifier
from worker.judge.rules import RuleSet
from worker.judge.tenants import Registry
from worker.reply.compose import load_templates
from worker.reply.outbox import flush
from worker.reply.respond import Responder
from worker.reply.transports import MaildirOutbox
from worker.service.filing import Policy
from worker.service.ingest import ingest, take_in
from worker.store.housekeeping import purge
from worker.store.lease import Held, holder_name
from worker.store.models import Case, Message, Outgoing, now, open_store

REQUEST = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with postgres_server() as address:
        yield address


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = open_store(url)
    yield engine
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE audit, outbox, messages, cases, leases CASCADE"))
    engine.dispose()


def test_the_schema_is_migrated_and_a_batch_is_taken_in_and_answered_once(
    engine: Engine, tmp_path: Path, classifier: Classifier, rules: RuleSet, registry: Registry
) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    mailbox = Maildir(tmp_path / "mailbox")
    for n in range(5):
        mailbox.deliver(
            make_mail(REQUEST, sender=f"p{n}@example.nl").replace(b"<test@", f"<t{n}@".encode())
        )
    responder = Responder(
        load_templates(rules.directory), registry, "privacy@carerix.com", "Privacy", 3
    )
    outbox = MaildirOutbox(tmp_path / "sent")
    with Session(engine) as session:
        stored = ingest(session, mailbox, classifier, Policy(), responder=responder)
        assert len(stored) == 5 and flush(session, outbox, "privacy@carerix.com") == 5
        assert ingest(session, mailbox, classifier, Policy(), responder=responder) == []
        assert flush(session, outbox, "privacy@carerix.com") == 0
        assert session.scalar(select(func.count()).select_from(Outgoing)) == 5
        first = session.scalars(select(Case).order_by(Case.id)).first()
        assert first is not None and first.received_at.tzinfo is not None
    assert len(outbox.sent()) == 5


def test_a_second_worker_with_its_own_connection_loses_on_the_unique_key(
    engine: Engine, url: str, tmp_path: Path, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    key = mailbox.deliver(make_mail(REQUEST))
    raw = mailbox.fetch([key])[key]
    other = open_store(url)
    with Session(engine) as one, Session(other) as two:
        assert take_in(one, mailbox, key, raw, classifier, Policy()) is not None
        assert take_in(two, mailbox, key, raw, classifier, Policy()) is None
        assert one.scalar(select(func.count()).select_from(Message)) == 1
    other.dispose()


def test_leases_and_retention(engine: Engine, tmp_path: Path, classifier: Classifier) -> None:
    me, them = Held(engine, "poll", holder_name()), Held(engine, "poll", "elsewhere:1:x")
    assert me.take() and not them.take()
    me.release()
    assert them.take()
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(make_mail(REQUEST))
    with Session(engine) as session:
        [message] = ingest(session, mailbox, classifier, Policy())
        message.case.status = "closed"
        message.case.closed_at = now() - dt.timedelta(days=1200)
        session.commit()
        assert purge(session, 1095) == 1
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_a_header_that_decodes_to_a_nul_is_still_taken_in(
    engine: Engine, tmp_path: Path, classifier: Classifier
) -> None:
    # PostgreSQL refuses a NUL in text; a subject's encoded word can decode to one.
    raw = make_mail(REQUEST, subject="PLACEHOLDER").replace(
        b"Subject: PLACEHOLDER", b"Subject: =?utf-8?q?Inzage=00verzoek?="
    )
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(raw)
    with Session(engine) as session:
        [message] = ingest(session, mailbox, classifier, Policy())
        assert message.case.subject == "Inzage verzoek" and message.raw == raw
    assert mailbox.waiting() == []
