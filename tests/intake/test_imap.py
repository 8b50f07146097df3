"""Ingestion from a real Dovecot on 127.0.0.1: every message exactly once, through failures."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, count, make_mail
from tests.servers import Dovecot, dovecot_server
from worker.errors import MailboxError
from worker.intake.account import Account
from worker.intake.imap import ImapMailbox
from worker.judge.classify import Classifier
from worker.judge.decide import Decision
from worker.service.filing import Policy
from worker.service.ingest import ingest
from worker.store.models import Audit, Case, Message

REQUEST = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


def account(server: Dovecot) -> Account:
    return Account(server.host, server.port, "none", server.user, server.password, timeout=10)


def mail(n: int, body: str = REQUEST) -> bytes:
    return make_mail(body, subject=f"Inzage {n}").replace(b"<test@", f"<t{n}@".encode())


def test_a_mixed_batch_is_taken_in_once_and_moved_by_outcome(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    mails = sorted((FIXTURES / "mail").glob("*.eml"))[:12]
    for path in mails:
        dovecot.deliver(path.read_bytes())
    with ImapMailbox(account(dovecot), batch=5) as mailbox:
        stored = ingest(store, mailbox, classifier, Policy())
        assert len(stored) == 12 == count(store, Case)
        assert mailbox.waiting() == []
    folders = {name: len(dovecot.folder(name)) for name in ("Processed", "Review", "Ignored")}
    expected = {"Processed": 0, "Review": 0, "Ignored": 0}
    for message in stored:
        status = message.case.status
        expected[{"open": "Processed", "ignored": "Ignored"}.get(status, "Review")] += 1
        assert message.source.startswith("imap:") and message.validity > 0
        assert message.raw in {p.read_bytes().replace(b"\n", b"\r\n") for p in mails} | {
            p.read_bytes() for p in mails
        }
    assert folders == expected


def test_mail_a_person_already_read_is_still_taken_in_and_left_unread_otherwise(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    with dovecot.client() as client:
        client.append("INBOX", mail(1), flags=[b"\\Seen"])
        client.append("INBOX", mail(2))
    with ImapMailbox(account(dovecot)) as mailbox:
        assert len(ingest(store, mailbox, classifier, Policy())) == 2
    with dovecot.client() as client:
        client.select_folder("Processed", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
    assert sorted(b"\\Seen" in f for f in flags.values()) == [False, True]


class DroppingClassifier:
    """Classifies as usual, but the network fails after a number of messages."""

    def __init__(self, classifier: Classifier, server: Dovecot, after: int) -> None:
        self.classifier, self.server, self.left = classifier, server, after

    def classify(self, raw: bytes) -> Decision:
        self.left -= 1
        if self.left == 0:
            self.server.drop_connections()
        return self.classifier.classify(raw)


def test_a_connection_dropped_mid_batch_loses_and_doubles_nothing(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    for n in range(12):
        dovecot.deliver(mail(n))
    dropping = DroppingClassifier(classifier, dovecot, after=4)
    with ImapMailbox(account(dovecot), batch=3) as mailbox, pytest.raises(MailboxError):
        ingest(store, mailbox, dropping, Policy())  # type: ignore[arg-type]
    taken = count(store, Case)
    assert 4 <= taken < 12
    with ImapMailbox(account(dovecot), batch=3) as mailbox:
        ingest(store, mailbox, classifier, Policy())
        assert mailbox.waiting() == []
    assert count(store, Case) == 12 == count(store, Message)
    assert len(dovecot.folder("Processed")) == 12
    assert store.scalar(select(func.count()).where(Message.move_to.is_not(None))) == 0


def test_a_new_uidvalidity_rescans_without_doubling(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    for n in range(3):
        dovecot.deliver(mail(n))
    with ImapMailbox(account(dovecot)) as mailbox:
        ingest(store, mailbox, classifier, Policy())
        first = mailbox.validity
    # A person drags one back into the inbox, then the server renumbers the inbox.
    with dovecot.client() as client:
        client.select_folder("Processed")
        client.move(client.search(["ALL"])[:1], "INBOX")
    dovecot.new_uidvalidity()
    dovecot.deliver(mail(9))
    with ImapMailbox(account(dovecot)) as mailbox:
        assert mailbox.validity != first
        stored = ingest(store, mailbox, classifier, Policy())
        assert mailbox.waiting() == []
    kinds = sorted("duplicate" if m.duplicate_of else "new" for m in stored)
    assert kinds == ["duplicate", "new"] and count(store, Case) == 4
    assert len(dovecot.folder("Processed")) == 4


def test_without_move_the_worker_copies_then_expunges_by_uid(
    store: Session, classifier: Classifier
) -> None:
    # A server that offers no MOVE (RFC 6851), only UIDPLUS.
    with dovecot_server("imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS") as server:
        for n in range(3):
            server.deliver(mail(n))
        with ImapMailbox(account(server)) as mailbox:
            assert not mailbox._move
            stored = ingest(store, mailbox, classifier, Policy())
            # A move done again (a retry after a crash) copies nothing twice.
            mailbox.move(stored[0].source_key, "Processed")
            assert mailbox.waiting() == []
        assert len(server.folder("Processed")) == 3 and server.folder("INBOX") == []
    assert all(m.move_to is None for m in stored)


def test_an_unredacted_copy_is_replaced_on_the_server_once(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    from tests.judge.scan.test_classify_scan import mail_with, passport_png

    image = passport_png("none")
    dovecot.deliver(mail_with(("paspoort.png", "image/png", image)))
    with ImapMailbox(account(dovecot)) as mailbox:
        [stored] = ingest(store, mailbox, classifier, Policy())
        assert stored.case.id_findings["unredacted"]
        # Done again (a crash before the move was marked done) it changes nothing.
        mailbox.replace(stored.source_key, "Review", stored.raw or b"")
    [kept] = dovecot.folder("Review")
    assert base64.b64encode(image[:300])[:60] not in kept.replace(b"\r\n", b"")
    assert dovecot.folder("INBOX") == []


def test_idle_survives_a_dropped_connection_and_still_reports_new_mail(dovecot: Dovecot) -> None:
    import threading
    import time

    from worker.intake.idle import IdleWatch

    new_mail = threading.Event()
    watch = IdleWatch(account(dovecot), "INBOX", new_mail.set, check=1.0)
    watch.start()
    try:
        deadline = time.monotonic() + 20
        while watch.sessions < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        dovecot.drop_connections()
        while watch.sessions < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watch.sessions == 2, "IDLE must reconnect after the connection died"
        time.sleep(0.5)
        dovecot.deliver(mail(1))
        assert new_mail.wait(15)
    finally:
        watch.stop()
        watch.join(15)
    assert not watch.is_alive()


def test_a_move_the_server_refuses_waits_and_holds_up_no_other_mail(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    import os

    from tests.servers import USER

    dovecot.deliver(make_mail("Ik ben afwezig.", subject="Afwezig", Auto_Submitted="auto-replied"))
    with ImapMailbox(account(dovecot)):
        pass  # makes the folders
    # The Ignored folder refuses every message (as a full quota or a missing right would).
    for sub in ("tmp", "new", "cur"):
        path = dovecot.base / "mail" / USER / ".Ignored" / sub
        os.chown(path, 0, 0)
        path.chmod(0o555)
    with ImapMailbox(account(dovecot)) as mailbox:
        ingest(store, mailbox, classifier, Policy())
    for n in range(3):
        dovecot.deliver(mail(n))
    for _ in range(6):
        with ImapMailbox(account(dovecot)) as mailbox:
            ingest(store, mailbox, classifier, Policy())
    assert count(store, Case) == 4 and len(dovecot.folder("Processed")) == 3
    assert len(dovecot.folder("INBOX")) == 1  # only the refused one waits, still recorded
    pending = list(store.scalars(select(Message).where(Message.move_to.is_not(None))))
    assert [m.move_to for m in pending] == ["Ignored"]
    # Seven polls, five audited failures; then a person is told, once.
    failures = store.scalars(select(Audit).where(Audit.action == "move-failed"))
    assert len(list(failures)) == 5
    case = pending[0].case
    assert case.status == "review" and "refuses to move it to Ignored" in case.reasons[-1]


def test_a_folder_made_by_another_connection_at_the_same_moment_is_no_error(
    dovecot: Dovecot,
) -> None:
    from worker.intake.imap import _create

    # The poll's connection and the send job's open at once: both find "Review" missing, and
    # the second CREATE is answered NO [ALREADYEXISTS].
    with dovecot.client() as first, dovecot.client() as second:
        _create(first, "Review")
        _create(second, "Review")
        assert second.folder_exists("Review")
        # Any other refusal still counts as one.
        with pytest.raises(Exception, match=r"\[CANNOT\]"):
            _create(second, "a" * 2000)


def with_attachment(n: int, size: int, subject: str = "") -> bytes:
    """A request with a binary attachment of `size` bytes (a PNG signature, then noise)."""
    from email import message_from_bytes
    from email.message import EmailMessage
    from email.policy import default

    message = message_from_bytes(mail(n), policy=default)
    assert isinstance(message, EmailMessage)
    if subject:
        message.replace_header("Subject", subject)
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(size)
    message.add_attachment(data, maintype="application", subtype="octet-stream")
    return message.as_bytes()


def counting_reads(mailbox: ImapMailbox) -> list[int]:
    """The sizes of the literals (message bodies, headers) read from the server from now on."""
    imap = mailbox._client._imap  # type: ignore[union-attr]
    reads: list[int] = []
    read = imap.read

    def counted(size: int) -> bytes:
        reads.append(size)
        return read(size)

    imap.read = counted
    return reads


def test_a_mail_over_the_size_limit_is_a_review_case_and_is_never_fetched_whole(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    big = with_attachment(1, 3_000_000, subject="Inzage, met bijlage")
    dovecot.deliver(big)
    dovecot.deliver(mail(2))
    with ImapMailbox(account(dovecot)) as mailbox:
        reads = counting_reads(mailbox)
        stored = ingest(store, mailbox, classifier, Policy(max_message_bytes=1_000_000))
    assert len(stored) == 2 and count(store, Case) == 2
    # What came over the wire: the small mail and the big one's header block, no more.
    assert sum(reads) < len(mail(2)) + 20_000, reads
    [over] = [m for m in stored if m.case.status == "review"]
    reason = over.case.reasons[0]
    assert "over the limit of 1,000,000" in reason and "Review folder" in reason
    size = int(reason.split(" bytes")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert size > 3_000_000
    assert over.case.subject == "Inzage, met bijlage" and over.message_id == "<t1@example.nl>"
    assert over.raw is not None and len(over.raw) < 5_000 and b"iVBORw0KGgo" not in over.raw
    # Nothing is lost: the mail itself is in Review, whole and untouched.
    [kept] = dovecot.folder("Review")
    assert len(kept) > 3_000_000 and kept.replace(b"\r\n", b"\n") == big.replace(b"\r\n", b"\n")
    assert len(dovecot.folder("Processed")) == 1 and dovecot.folder("INBOX") == []


def test_bodies_are_fetched_in_batches_under_the_byte_budget_and_let_go_once_filed(
    dovecot: Dovecot, store: Session, classifier: Classifier
) -> None:
    for n in range(8):
        dovecot.deliver(with_attachment(n, 300_000))
    # A session like the service's, which keeps what it loaded after a commit.
    store = Session(store.get_bind(), expire_on_commit=False, autoflush=False)
    with ImapMailbox(account(dovecot), batch=200) as mailbox:
        fetched: list[int] = []
        fetch = mailbox.fetch

        def counted(keys: Sequence[str]) -> dict[str, bytes]:
            bodies = fetch(keys)
            fetched.append(sum(map(len, bodies.values())))
            return bodies

        mailbox.fetch = counted  # type: ignore[method-assign]
        stored = ingest(store, mailbox, classifier, Policy(batch_bytes=1_000_000))
        assert mailbox.waiting() == []
    assert len(stored) == 8 == count(store, Case)
    assert len(fetched) >= 3 and max(fetched) <= 1_000_000 and sum(fetched) > 2_400_000
    # Each body is let go once its message is filed (read from the store again if asked).
    assert all("raw" not in vars(message) for message in stored)
