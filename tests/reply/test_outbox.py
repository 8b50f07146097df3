"""The outbox against a real SMTP server (aiosmtpd) and a real Sent folder (Dovecot): every
mail leaves exactly once, through a server that is down and a worker that is killed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.conftest import ROOT
from tests.servers import Dovecot, dovecot_server, smtp_server
from worker.intake.account import Account
from worker.intake.imap import ImapMailbox
from worker.reply.outbox import backlog, flush, queue
from worker.reply.transports import MaildirOutbox, SmtpTransport
from worker.store.lease import holder_name
from worker.store.models import Audit, Case, Outgoing, now, open_store, utc

SENDER = "privacy@carerix.com"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cases.sqlite'}"


@pytest.fixture
def store(db: str) -> Iterator[Session]:
    engine = open_store(db)
    with Session(engine) as session:
        yield session
    engine.dispose()


def a_case(session: Session, n: int = 1) -> Case:
    stamp = now()
    case = Case(
        reference=f"PRIV-2026-{n:06d}",
        category="inspection",
        status="open",
        language="nl",
        requester=f"jan{n}@example.nl",
        subject="Inzage",
        reasons=[],
        id_findings={},
        received_at=stamp,
        due_at=stamp + dt.timedelta(days=28),
    )
    session.add(case)
    session.flush()
    return case


def reply(case: Case) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = case.requester
    message["Subject"] = f"Ontvangen [{case.reference}]"
    message["Message-ID"] = f"<{case.reference}.ack.1@carerix.com>"
    message.set_content("Wij hebben uw verzoek ontvangen.")
    return message


def smtp_account(port: int) -> Account:
    return Account("127.0.0.1", port, "none", SENDER, timeout=5)


def imap_account(server: Dovecot) -> Account:
    return Account(server.host, server.port, "none", server.user, server.password, timeout=5)


def queue_three(session: Session) -> list[Outgoing]:
    rows = [
        queue(session, case, "ack-inspection", reply(case))
        for case in (a_case(session, n) for n in range(1, 4))
    ]
    session.commit()
    return rows


def test_each_mail_is_sent_once_and_filed_in_sent(store: Session, dovecot: Dovecot) -> None:
    queue_three(store)
    with smtp_server() as (sink, _), ImapMailbox(imap_account(dovecot)) as sent:
        with SmtpTransport(smtp_account(sink.port), sent) as transport:
            assert flush(store, transport, SENDER) == 3
            assert flush(store, transport, SENDER) == 0
        assert len(sink.messages()) == 3
        assert sink.received[0][0] == SENDER and sink.received[0][1] == ["jan1@example.nl"]
    assert len(dovecot.folder("Sent")) == 3
    rows = list(store.scalars(select(Outgoing)))
    assert all(r.status == "sent" and r.filed and r.sent_at for r in rows)
    assert backlog(store) == 0


def test_smtp_down_for_an_hour_then_up_sends_each_mail_once(store: Session, tmp_path: Path) -> None:
    queue_three(store)
    with smtp_server() as (sink, controller):
        port = sink.port
        controller.stop()  # type: ignore[attr-defined]
        with SmtpTransport(smtp_account(port), None) as transport:
            assert flush(store, transport, SENDER) == 0
            assert flush(store, transport, SENDER) == 0
        waiting = list(store.scalars(select(Outgoing).order_by(Outgoing.id)))
        assert all(r.status == "pending" for r in waiting) and backlog(store) == 3
        assert all(r.last_error and "unavailable" in r.last_error for r in waiting)
        # The first round tried the oldest mail against the dead server, and every mail waits
        # out its pause; the second round, within it, tried none.
        assert all(utc(r.next_attempt_at) > now() for r in waiting)
        assert [r.attempts for r in waiting] == [1, 0, 0]
    # An hour later the server is back: every pause has passed.
    store.execute(update(Outgoing).values(next_attempt_at=now() - dt.timedelta(seconds=1)))
    store.commit()
    with smtp_server(port) as (sink, _), SmtpTransport(smtp_account(port), None) as transport:
        assert flush(store, transport, SENDER) == 3
        assert sorted(m.count(b"Message-ID") for m in sink.messages()) == [1, 1, 1]
        assert len(sink.messages()) == 3
    assert backlog(store) == 0


def pause_over(session: Session) -> None:
    session.execute(
        update(Outgoing)
        .where(Outgoing.status == "pending")
        .values(next_attempt_at=now() - dt.timedelta(seconds=1))
    )
    session.commit()


def test_after_an_outage_the_oldest_mail_goes_first_within_a_minute_of_the_return(
    store: Session,
) -> None:
    # Issue 12: mails tried while the server was down waited out their pauses after it was
    # back, while newer mail went first.
    [oldest, *_] = queue_three(store)
    with smtp_server() as (sink, controller):
        port = sink.port
        controller.stop()  # type: ignore[attr-defined]
        pauses = []
        with SmtpTransport(smtp_account(port), None) as transport:
            for _ in range(3):
                assert flush(store, transport, SENDER) == 0
                store.refresh(oldest)
                pauses.append(round((utc(oldest.next_attempt_at) - now()).total_seconds() / 60))
                pause_over(store)
        # The server was tried with the oldest mail each time, a minute apart: mail goes
        # within a minute of its return, however long it was down.
        assert pauses == [1, 1, 1] and oldest.attempts == 3
        later = a_case(store, 4)
        queue(store, later, "ack-inspection", reply(later))
        store.commit()
        with SmtpTransport(smtp_account(port), None) as transport:
            assert flush(store, transport, SENDER) == 0
    with smtp_server(port) as (sink, _), SmtpTransport(smtp_account(port), None) as transport:
        # Back within the pause: the mail that came during the outage does not go ahead.
        assert flush(store, transport, SENDER) == 0 and sink.messages() == []
        pause_over(store)
        assert flush(store, transport, SENDER) == 4
        rows = store.scalars(select(Outgoing).order_by(Outgoing.id))
        assert message_ids(sink.messages()) == [r.message_id for r in rows]
    assert backlog(store) == 0


def test_a_permanent_refusal_sends_the_case_to_review(store: Session) -> None:
    [refused, later, fine] = queue_three(store)
    refused.recipient, later.recipient = "nobody@refused.example", "busy@later.example"
    store.commit()
    with smtp_server() as (sink, _), SmtpTransport(smtp_account(sink.port), None) as transport:
        assert flush(store, transport, SENDER) == 1
        assert len(sink.messages()) == 1
    for row in (refused, later, fine):
        store.refresh(row)
    assert refused.status == "failed" and refused.case.status == "review"
    assert any("failed" in r and "550" in r for r in refused.case.reasons)
    # A temporary refusal of one address waits for its turn and holds up no other mail.
    assert later.status == "pending" and later.case.status == "open" and fine.status == "sent"


FLUSH = textwrap.dedent(
    """
    import sys
    from sqlalchemy.orm import Session
    from worker.intake.account import Account
    from worker.intake.imap import ImapMailbox
    from worker.store.lease import holder_name
    from worker.reply.outbox import flush
    from worker.store.models import open_store
    from worker.reply.transports import SmtpTransport

    url, smtp_port, imap_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    imap = Account("127.0.0.1", imap_port, "none", "privacy@carerix.com", "test-password")
    smtp = Account("127.0.0.1", smtp_port, "none", "privacy@carerix.com")
    with Session(open_store(url)) as session, ImapMailbox(imap) as sent:
        with SmtpTransport(smtp, sent) as transport:
            flush(session, transport, "privacy@carerix.com", holder=holder_name())
    """
)


def run_flush(db: str, smtp_port: int, imap_port: int, point: str = "") -> int:
    environment = {**os.environ, "PRIVACY_WORKER_FAILPOINT": point}
    done = subprocess.run(
        [sys.executable, "-c", FLUSH, db, str(smtp_port), str(imap_port)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode in (0, 137), done.stderr
    return done.returncode


def test_killed_right_after_the_server_took_a_mail_a_restart_sends_nothing_twice(
    db: str, store: Session, dovecot: Dovecot
) -> None:
    # The crash that used to double a mail: after the server's 250, before the copy in Sent.
    queue_three(store)
    with smtp_server() as (sink, _):
        assert run_flush(db, sink.port, dovecot.port, "after-accept") == 137
        assert len(sink.messages()) == 1 and dovecot.folder("Sent") == []
        store.expire_all()
        # All three were claimed together; the first is recorded as sent, not yet filed.
        rows = list(store.scalars(select(Outgoing).order_by(Outgoing.id)))
        assert [(r.status, r.filed) for r in rows] == [
            ("sent", False),
            ("sending", False),
            ("sending", False),
        ]
        assert run_flush(db, sink.port, dovecot.port) == 0
        assert sorted(message_ids(sink.messages())) == sorted(r.message_id for r in rows)
    # The first one's copy was filed from the store after the restart, once.
    assert sorted(message_ids(dovecot.folder("Sent"))) == sorted(r.message_id for r in rows)
    store.expire_all()
    assert [(r.status, r.filed) for r in store.scalars(select(Outgoing))] == [("sent", True)] * 3
    resent = [a.case_id for a in store.scalars(select(Audit).where(Audit.action == "resend"))]
    assert rows[0].case_id not in resent and len(resent) == 2


def test_a_sending_row_whose_copy_is_in_sent_is_not_sent_again(
    store: Session, dovecot: Dovecot
) -> None:
    # The worker died after the data went but before the 250 reached it, and the server filed
    # the copy itself (Microsoft 365 does): the Sent folder settles the row.
    [row, *_] = queue_three(store)
    row.status = "sending"
    store.commit()
    dovecot.deliver(row.raw, "Sent")
    with smtp_server() as (sink, _), ImapMailbox(imap_account(dovecot)) as sent:
        with SmtpTransport(smtp_account(sink.port), sent) as transport:
            assert flush(store, transport, SENDER) == 2
        assert row.message_id not in message_ids(sink.messages())
    store.refresh(row)
    assert row.status == "sent" and row.filed and len(dovecot.folder("Sent")) == 3
    details = [a.detail for a in store.scalars(select(Audit).where(Audit.action == "sent"))]
    assert "ack-inspection: found in Sent after a restart" in details


def message_ids(mails: list[bytes]) -> list[str]:
    return [str(message_from_bytes(m, policy=default)["Message-ID"]) for m in mails]


def test_a_sending_row_not_in_sent_is_sent_again(store: Session, tmp_path: Path) -> None:
    [row, *_] = queue_three(store)
    row.status = "sending"  # the worker died before the server took it
    store.commit()
    outbox = MaildirOutbox(tmp_path / "sent")
    assert flush(store, outbox, SENDER) == 3
    assert len(outbox.sent()) == 3
    details = [a.detail for a in store.scalars(select(Audit).where(Audit.action == "resend"))]
    assert details == ["ack-inspection: not in Sent after a restart"]


def test_the_local_outbox_takes_a_mail_sent_twice_once(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path / "sent")
    raw = reply_bytes()
    outbox.send(raw, SENDER, ["jan@example.nl"])
    outbox.send(raw, SENDER, ["jan@example.nl"])
    assert outbox.sent() == [raw] and outbox.was_sent("<PRIV-2026-000001.ack.1@carerix.com>")


def reply_bytes() -> bytes:
    message = EmailMessage()
    message["Message-ID"] = "<PRIV-2026-000001.ack.1@carerix.com>"
    message.set_content("x")
    return message.as_bytes()


class Counting(MaildirOutbox):
    """The local outbox, counting every hand-over (it takes a mail sent twice only once)."""

    sends: list[bytes]

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        self.sends.append(raw)
        super().send(raw, sender, recipients)


class Overlapping:
    """A transport during whose first hand-over a second worker runs a whole round of its own
    (it took the lease after the first one's expired)."""

    def __init__(self, inner: Counting, second: Session) -> None:
        self.inner, self.second, self.first = inner, second, True

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        if self.first:
            self.first = False
            flush(self.second, self.inner, SENDER, holder=holder_name())
        self.inner.send(raw, sender, recipients)

    def was_sent(self, message_id: str) -> bool:
        return self.inner.was_sent(message_id)

    def file(self, raw: bytes, message_id: str) -> None:
        self.inner.file(raw, message_id)


def test_two_workers_sending_at_once_never_send_a_row_twice(
    store: Session, db: str, tmp_path: Path
) -> None:
    queue_three(store)
    other = open_store(db)
    outbox = Counting(tmp_path / "sent")
    outbox.sends = []
    with Session(other) as second:
        flush(store, Overlapping(outbox, second), SENDER, holder=holder_name())
    other.dispose()
    # The first worker had claimed one row before the second began; the second sent the
    # other two, which the first then found claimed and skipped.
    assert len(outbox.sends) == 3 and len(outbox.sent()) == 3
    store.expire_all()
    assert [r.status for r in store.scalars(select(Outgoing))] == ["sent"] * 3


class NoSentFolder(Counting):
    """Sends, but the Sent folder refuses every copy; checks at each hand-over that every
    earlier mail is already recorded as sent in the store (a crash now would not resend)."""

    url: str

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        engine = open_store(self.url)
        with Session(engine) as look:
            statuses = [r.status for r in look.scalars(select(Outgoing).order_by(Outgoing.id))]
        engine.dispose()
        assert statuses[: len(self.sends)] == ["sent"] * len(self.sends)
        super().send(raw, sender, recipients)

    def was_sent(self, message_id: str) -> bool:
        return False

    def file(self, raw: bytes, message_id: str) -> None:
        raise OSError("Sent folder unavailable")


def test_a_mail_not_filed_in_sent_is_recorded_as_sent_at_once(
    store: Session, db: str, tmp_path: Path
) -> None:
    queue_three(store)
    outbox = NoSentFolder(tmp_path / "sent")
    outbox.sends, outbox.url = [], db
    assert flush(store, outbox, SENDER, holder=holder_name()) == 3
    rows = list(store.scalars(select(Outgoing)))
    assert [(r.status, r.filed) for r in rows] == [("sent", False)] * 3


def test_a_mail_this_worker_may_have_sent_is_not_looked_for_in_sent_at_once(
    store: Session, tmp_path: Path
) -> None:
    # The link died after DATA: the row stays "sending". Its copy may reach Sent late (Microsoft
    # 365 files it itself), so the same worker's next round, a moment later, leaves it alone.
    [row, *_] = queue_three(store)
    me = holder_name()
    row.status, row.claimed_by, row.claimed_at = "sending", me, now()
    store.commit()
    outbox = MaildirOutbox(tmp_path / "sent")
    assert flush(store, outbox, SENDER, holder=me) == 2
    store.refresh(row)
    assert row.status == "sending"
    # Minutes later it is settled by the Sent folder: not there, so it is sent.
    row.claimed_at = now() - dt.timedelta(minutes=3)
    store.commit()
    assert flush(store, outbox, SENDER, holder=me) == 1
    store.refresh(row)
    assert row.status == "sent" and len(outbox.sent()) == 3
