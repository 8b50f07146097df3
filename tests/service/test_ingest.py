"""Ingestion into the case store from a real Maildir on disk: every message exactly once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, count, make_mail
from worker.intake.maildir import Maildir
from worker.judge.classify import Classifier
from worker.judge.rules import RuleSet
from worker.judge.scan.scanner import ScanResult
from worker.judge.tenants import Registry
from worker.service.filing import Policy
from worker.service.ingest import ingest, take_in
from worker.store.models import Audit, Case, Message, open_store

REQUEST = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."


def notes(raw: bytes) -> str:
    """The text of every plain-text part, decoded."""
    message = message_from_bytes(raw, policy=default)
    return "".join(
        part.get_content() for part in message.walk() if part.get_content_type() == "text/plain"
    )


def test_a_batch_becomes_cases_and_each_message_lands_in_its_folder(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    mails = sorted((FIXTURES / "mail").glob("*.eml"))[:12]
    for path in mails:
        mailbox.deliver(path.read_bytes())
    stored = ingest(store, mailbox, classifier, Policy())
    assert len(stored) == 12 == count(store, Case) and mailbox.waiting() == []
    for message in stored:
        folder = {"open": "Processed", "ignored": "Ignored"}.get(message.case.status, "Review")
        assert message.source_key in mailbox.in_folder(folder)
        assert message.raw in {p.read_bytes() for p in mails}
        assert message.move_to is None
    assert [c.reference for c in store.scalars(select(Case).order_by(Case.id))][:2] == [
        f"PRIV-{stored[0].received_at.year}-000001",
        f"PRIV-{stored[0].received_at.year}-000002",
    ]
    case = stored[0].case
    assert (case.due_at - case.received_at).days == 28
    actions = {a.action for a in store.scalars(select(Audit).where(Audit.case_id == case.id))}
    assert {"created", "moved"} <= actions


def test_a_second_poll_and_a_second_delivery_double_nothing(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    raw = make_mail(REQUEST, subject="Inzageverzoek")
    mailbox.deliver(raw)
    ingest(store, mailbox, classifier, Policy())
    assert ingest(store, mailbox, classifier, Policy()) == []
    mailbox.deliver(raw)  # the same message again, as after a UIDVALIDITY change
    [again] = ingest(store, mailbox, classifier, Policy())
    assert again.duplicate_of is not None and again.raw is None
    assert count(store, Case) == 1 and count(store, Message) == 2


def test_a_move_left_undone_by_a_crash_is_finished_not_imported_again(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    key = mailbox.deliver(make_mail(REQUEST, subject="Inzage"))
    # The worker stopped after the commit, before the move: the message is still in the inbox.
    message = take_in(store, mailbox, key, mailbox.fetch([key])[key], classifier, Policy())
    assert message is not None and message.move_to and mailbox.waiting() == [key]
    ingest(store, mailbox, classifier, Policy())
    assert mailbox.waiting() == [] and count(store, Case) == 1 and count(store, Message) == 1


def test_a_second_worker_taking_the_same_message_gets_none(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    key = mailbox.deliver(make_mail(REQUEST))
    raw = mailbox.fetch([key])[key]
    # Both workers listed the key before either stored it; the second has its own connection.
    second = open_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    with Session(second) as other:
        assert take_in(store, mailbox, key, raw, classifier, Policy()) is not None
        assert take_in(other, mailbox, key, raw, classifier, Policy()) is None
        assert count(other, Case) == 1 == count(other, Message)
    second.dispose()


def test_follow_ups_join_their_case_and_send_it_to_review(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(make_mail(REQUEST, subject="Inzageverzoek"))
    [first] = ingest(store, mailbox, classifier, Policy())
    reference = first.case.reference
    mailbox.deliver(
        make_mail("Hierbij mijn ID, nu afgeschermd.", subject=f"Re: [{reference}] inzage")
    )
    reply = make_mail("Nog een vraag.", subject="Re: Inzageverzoek").replace(
        b"Message-ID: <test@example.nl>",
        b"Message-ID: <two@example.nl>\nIn-Reply-To: <test@example.nl>",
    )
    mailbox.deliver(reply)
    joined = ingest(store, mailbox, classifier, Policy())
    assert [m.case.reference for m in joined] == [reference, reference]
    assert first.case.status == "review" and count(store, Case) == 1


def test_bytes_that_are_no_mail_still_become_a_case_in_review(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(b"\x00\xff\xfe not a mail at all")
    [message] = ingest(store, mailbox, classifier, Policy())
    assert message.case.status == "review" and message.raw == b"\x00\xff\xfe not a mail at all"
    assert message.source_key in mailbox.in_folder("Review")


def test_kill_9_mid_batch_then_restart_loses_and_doubles_nothing(tmp_path: Path) -> None:
    mailbox = Maildir(tmp_path / "var" / "mailbox")
    mails = sorted((FIXTURES / "mail").glob("*.eml"))
    for path in mails:
        mailbox.deliver(path.read_bytes())
    command = [sys.executable, "-c", "from worker.cli import main; raise SystemExit(main())"]
    command += ["run", "--once"]
    env = dict(os.environ, PRIVACY_WORKER_CONFIG="")
    worker = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    store = tmp_path / "var" / "cases.sqlite"
    while worker.poll() is None and (not store.exists() or len(mailbox.waiting()) > 100):
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert 0 < len(mailbox.waiting()) < len(mails), "the kill must land mid-batch"
    subprocess.run(command, cwd=tmp_path, env=env, check=True, stdout=subprocess.DEVNULL)
    engine = open_store(f"sqlite:///{store}")
    with Session(engine) as session:
        assert count(session, Message) == len(mails) == count(session, Case)
        assert session.scalar(select(func.count()).where(Message.move_to.is_not(None))) == 0
    engine.dispose()
    assert mailbox.waiting() == []
    moved = sum(len(mailbox.in_folder(f)) for f in ("Processed", "Review", "Ignored"))
    assert moved == len(mails)


def test_an_unredacted_id_copy_is_cut_out_before_the_message_is_stored(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    from tests.judge.scan.test_classify_scan import mail_with, passport_png

    mailbox = Maildir(tmp_path / "mailbox")
    image = passport_png("none")
    mailbox.deliver(mail_with(("scan001.png", "image/png", image)))
    [message] = ingest(store, mailbox, classifier, Policy())
    assert message.raw is not None and "privacy-worker removed an attachment" in notes(message.raw)
    assert b"iVBORw0KGgo" not in message.raw  # base64 of the PNG signature: no image left
    assert "bsn" in message.case.id_findings["unredacted"]  # type: ignore[operator]
    actions = [
        a.action for a in store.scalars(select(Audit).where(Audit.case_id == message.case.id))
    ]
    assert "attachments-removed" in actions


def test_a_bsn_in_a_file_name_or_subject_is_neither_stored_nor_logged(
    tmp_path: Path, store: Session, classifier: Classifier, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 12: the copy itself was cut, but its name reached the log and the case.
    from tests.judge.scan.test_classify_scan import mail_with, passport_png

    mailbox = Maildir(tmp_path / "mailbox")
    raw = mail_with(
        ("ID kopie BSN 111222333.png", "image/png", passport_png("none")),
        ("bsn 111.222.333.pdf", "application/pdf", b"%PDF-1.4 broken"),
    )
    mailbox.deliver(raw.replace(b"Subject: Inzageverzoek", b"Subject: Inzage BSN 111 222 333"))
    with caplog.at_level("INFO", logger="worker"):
        [message] = ingest(store, mailbox, classifier, Policy())
    case = message.case
    assert case.subject == "Inzage BSN *** *** ***"
    assert "ID kopie BSN *********.png" in case.id_findings["files"]  # type: ignore[operator]
    assert any("bsn ***.***.***.pdf" in reason for reason in case.reasons)
    [line] = [r for r in caplog.records if r.getMessage().startswith("<scan-test@")]
    assert line.reasons == case.reasons  # type: ignore[attr-defined]
    stored = repr((case.subject, case.reasons, case.id_findings))
    for shape in ("111222333", "111 222 333", "111.222.333"):
        assert shape not in stored and shape not in caplog.text
    assert b"111222333" not in message.raw and b"111.222.333" not in message.raw  # type: ignore[operator]


def unnamed_octet_stream_copy() -> bytes:
    from tests.judge.scan.test_classify_scan import mail_with, passport_png

    return mail_with(("", "application/octet-stream", passport_png("none")))


def test_an_unnamed_copy_sent_as_octet_stream_is_found_and_cut(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(unnamed_octet_stream_copy())
    [message] = ingest(store, mailbox, classifier, Policy())
    assert message.raw is not None and b"iVBORw0KGgo" not in message.raw
    assert message.case.status == "review"


def test_attachments_that_could_not_be_checked_are_cut_too(
    tmp_path: Path, store: Session, rules: RuleSet, registry: Registry
) -> None:
    def broken_scanner(data: bytes, seconds: float) -> ScanResult:
        raise RuntimeError("the scanner fell over")

    classifier = Classifier(rules, registry, "privacy@carerix.com", scan=broken_scanner)
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(unnamed_octet_stream_copy())
    [message] = ingest(store, mailbox, classifier, Policy())
    assert message.raw is not None and b"iVBORw0KGgo" not in message.raw
    assert "could not be checked for identity data" in notes(message.raw)


class StuckMaildir(Maildir):
    """A Maildir whose first message cannot be moved (a full disk, a permission)."""

    stuck = ""

    def move(self, key: str, folder: str) -> None:
        if key == self.stuck:
            raise PermissionError(13, "Permission denied")
        super().move(key, folder)


def test_a_move_that_fails_waits_and_does_not_hold_up_the_rest(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = StuckMaildir(tmp_path / "mailbox")
    mailbox.stuck = mailbox.deliver(make_mail(REQUEST, subject="een"))
    for n in range(2):
        mailbox.deliver(make_mail(REQUEST, subject=f"twee {n}").replace(b"<test@", b"<t%d@" % n))
    assert len(ingest(store, mailbox, classifier, Policy())) == 3
    assert mailbox.waiting() == [mailbox.stuck] and count(store, Case) == 3
    ingest(store, mailbox, classifier, Policy())  # still stuck: tried again, nothing doubled
    mailbox.stuck = ""
    assert ingest(store, mailbox, classifier, Policy()) == [] and mailbox.waiting() == []
    assert count(store, Case) == 3 and count(store, Message) == 3


@pytest.mark.parametrize("point", ["after-commit", "after-move"])
def test_a_crash_at_each_step_then_a_restart_is_exactly_once(tmp_path: Path, point: str) -> None:
    mailbox = Maildir(tmp_path / "var" / "mailbox")
    for n in range(3):
        mailbox.deliver(make_mail(REQUEST, subject=f"verzoek {n}").replace(b"<test@", b"<c%d@" % n))
    command = [sys.executable, "-c", "from worker.cli import main; raise SystemExit(main())"]
    command += ["run", "--once"]
    env = dict(os.environ, PRIVACY_WORKER_CONFIG="")
    crashed = subprocess.run(
        command, cwd=tmp_path, env={**env, "PRIVACY_WORKER_FAILPOINT": point}, capture_output=True
    )
    assert crashed.returncode == 137
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    engine = open_store(f"sqlite:///{tmp_path / 'var' / 'cases.sqlite'}")
    with Session(engine) as session:
        assert count(session, Case) == 3 == count(session, Message)
        assert session.scalar(select(func.count()).where(Message.move_to.is_not(None))) == 0
    engine.dispose()
    assert mailbox.waiting() == [] and len(mailbox.in_folder("Processed")) == 3


def test_the_mailbox_keeps_the_cut_message_not_the_copy(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    raw = unnamed_octet_stream_copy()
    key = mailbox.deliver(raw)
    [message] = ingest(store, mailbox, classifier, Policy())
    [path] = (tmp_path / "mailbox" / ".Review" / "cur").iterdir()
    assert mailbox.in_folder("Review") == [key] and path.read_bytes() == message.raw
    assert b"iVBORw0KGgo" not in path.read_bytes()
    # A second delivery of it is a duplicate, and leaves the mailbox cut as well.
    mailbox.deliver(raw)
    [again] = ingest(store, mailbox, classifier, Policy())
    assert again.duplicate_of == message.id
    assert all(b"iVBORw0KGgo" not in p.read_bytes() for p in path.parent.iterdir())


def test_with_the_setting_off_the_mailbox_keeps_what_came(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(unnamed_octet_stream_copy())
    [message] = ingest(store, mailbox, classifier, Policy(replace_cut_on_server=False))
    [kept] = (tmp_path / "mailbox" / ".Review" / "cur").iterdir()
    assert b"iVBORw0KGgo" in kept.read_bytes() and b"iVBORw0KGgo" not in (message.raw or b"")


class UnreadableMaildir(Maildir):
    """A Maildir with one message that cannot be read for now (an I/O error)."""

    unreadable = ""

    def _read(self, path: Path) -> bytes:  # type: ignore[override]
        if path.name.split(":")[0] == self.unreadable:
            raise OSError(5, "Input/output error")
        return path.read_bytes()


def test_a_message_that_cannot_be_read_waits_and_the_rest_go_on(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    mailbox = UnreadableMaildir(tmp_path / "mailbox")
    mailbox.unreadable = mailbox.deliver(make_mail(REQUEST, subject="een"))
    mailbox.deliver(make_mail(REQUEST, subject="twee").replace(b"<test@", b"<t2@"))
    assert len(ingest(store, mailbox, classifier, Policy())) == 1
    assert mailbox.waiting() == [mailbox.unreadable]
    mailbox.unreadable = ""
    assert len(ingest(store, mailbox, classifier, Policy())) == 1 and count(store, Case) == 2


def test_a_reference_drawn_by_another_worker_at_the_same_moment_is_drawn_again(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    from sqlalchemy import event

    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(make_mail(REQUEST))
    other = open_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")

    done = []

    def clash(session: Session, *_: object) -> None:
        # Another worker (on another mailbox) commits the same reference just before us.
        cases = [o for o in session.new if isinstance(o, Case)]
        if done or not cases:
            return  # an earlier flush (the count of an attempt) stores no case
        done.append(True)
        [pending] = cases
        with Session(other) as second:
            stolen = Case(
                **{
                    c: getattr(pending, c)
                    for c in (
                        "reference",
                        "category",
                        "status",
                        "language",
                        "requester",
                        "subject",
                        "reasons",
                        "id_findings",
                        "received_at",
                        "due_at",
                    )
                }
            )
            second.add(stolen)
            second.commit()

    event.listen(store, "before_flush", clash)
    [message] = ingest(store, mailbox, classifier, Policy())
    other.dispose()
    assert message.case.status == "open" and message.case.reference.endswith("-000002")
    assert count(store, Case) == 2 and mailbox.waiting() == []


@pytest.mark.parametrize("second", ["the same again", "a reply", "quoting the reference"])
def test_a_message_and_the_next_one_about_it_in_one_poll_make_one_case(
    tmp_path: Path,
    store: Session,
    classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    second: str,
) -> None:
    # Both are stored in one transaction: the second must find the first, in a session that,
    # like the service's, does not flush before each query.
    monkeypatch.setattr("worker.service.ingest.GROUP_SECONDS", 600.0)
    store = Session(store.get_bind(), autoflush=False, expire_on_commit=False)
    mailbox = Maildir(tmp_path / "mailbox")
    first = make_mail(REQUEST, subject="Inzageverzoek")
    year = dt.datetime.now(dt.UTC).year
    about = {
        "the same again": first,
        "a reply": make_mail("Nog een vraag.", subject="Re: Inzageverzoek").replace(
            b"Message-ID: <test@example.nl>",
            b"Message-ID: <two@example.nl>\nIn-Reply-To: <test@example.nl>",
        ),
        "quoting the reference": make_mail(
            "Zie hierboven.", subject=f"Re: PRIV-{year}-000001", sender="JAN <Jan@Example.NL>"
        ).replace(b"<test@", b"<three@"),
    }[second]
    mailbox.deliver(first)
    mailbox.deliver(about)
    stored = ingest(store, mailbox, classifier, Policy())
    assert len(stored) == 2 and count(store, Case) == 1 and count(store, Message) == 2
    assert stored[1].case.id == stored[0].case.id and mailbox.waiting() == []
    assert (stored[1].duplicate_of is not None) == (second == "the same again")
    assert stored[0].case.status == ("open" if second == "the same again" else "review")
    assert "not stored together" not in caplog.text  # not by the one-at-a-time fallback


@pytest.mark.parametrize("together", [True, False])
def test_a_stranger_quoting_a_reference_starts_a_case_of_his_own(
    tmp_path: Path,
    store: Session,
    classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
    together: bool,
) -> None:
    # Issue 12: "Re: PRIV-2026-000001" from another sender joined that case and changed it;
    # in one group (one transaction) or in a later poll.
    monkeypatch.setattr("worker.service.ingest.GROUP_SECONDS", 600.0)
    store = Session(store.get_bind(), autoflush=False, expire_on_commit=False)
    mailbox = Maildir(tmp_path / "mailbox")
    year = dt.datetime.now(dt.UTC).year
    mailbox.deliver(make_mail(REQUEST, subject="Inzageverzoek"))
    stranger = make_mail(
        REQUEST, subject=f"Re: PRIV-{year}-000001", sender="Piet <piet@example.nl>"
    ).replace(b"<test@", b"<piet@")
    if not together:
        ingest(store, mailbox, classifier, Policy())
    mailbox.deliver(stranger)
    ingest(store, mailbox, classifier, Policy())
    first, second = store.scalars(select(Case).order_by(Case.id))
    assert first.status == "open" and [m.message_id for m in first.messages] == [
        "<test@example.nl>"
    ]
    assert second.requester == "piet@example.nl" and second.status == "review"
    assert second.reasons[0].startswith(f"mentions PRIV-{year}-000001 of another sender")
    audit = {a.action for a in store.scalars(select(Audit).where(Audit.case_id == first.id))}
    assert "follow-up" not in audit


def test_a_reply_to_a_message_of_the_case_joins_it_whoever_sends_it(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    # A colleague answering in the thread (In-Reply-To the case's message) joins the case.
    mailbox = Maildir(tmp_path / "mailbox")
    mailbox.deliver(make_mail(REQUEST, subject="Inzageverzoek"))
    [first] = ingest(store, mailbox, classifier, Policy())
    colleague = make_mail("Aanvulling.", subject="Re: iets", sender="Piet <piet@example.nl>")
    mailbox.deliver(
        colleague.replace(b"Message-ID: <test@", b"In-Reply-To: <test@example.nl>\nMessage-ID: <p@")
    )
    [joined] = ingest(store, mailbox, classifier, Policy())
    assert joined.case.id == first.case.id and count(store, Case) == 1


def test_new_cases_stored_together_each_draw_the_next_reference(
    tmp_path: Path,
    store: Session,
    classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("worker.service.ingest.GROUP_SECONDS", 600.0)
    store = Session(store.get_bind(), autoflush=False, expire_on_commit=False)
    mailbox = Maildir(tmp_path / "mailbox")
    for n in range(3):
        raw = make_mail(REQUEST, subject=f"verzoek {n}", sender=f"p{n}@example.nl")
        mailbox.deliver(raw.replace(b"<test@", b"<r%d@" % n))
    stored = ingest(store, mailbox, classifier, Policy())
    year = stored[0].received_at.year
    assert [m.case.reference for m in stored] == [f"PRIV-{year}-00000{n}" for n in (1, 2, 3)]
    assert "not stored together" not in caplog.text  # not by the one-at-a-time fallback


def test_a_message_the_store_refuses_does_not_cost_the_rest_of_its_group(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    mailbox = Maildir(tmp_path / "mailbox")
    for n in range(5):
        mailbox.deliver(make_mail(REQUEST, subject=f"verzoek {n}").replace(b"<test@", b"<g%d@" % n))

    def refuse(session: Session, *_: object) -> None:
        # The store refuses the message with this Message-ID each time it is written.
        if any(isinstance(o, Message) and o.message_id == "<g2@example.nl>" for o in session.new):
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    event.listen(store, "before_flush", refuse)
    stored = ingest(store, mailbox, classifier, Policy())
    event.remove(store, "before_flush", refuse)
    assert len(stored) == 5 == count(store, Case) == count(store, Message)
    [failed] = [m for m in stored if m.case.status == "review"]
    assert failed.message_id == "" and failed.case.subject == "(headers not stored)"
    assert any("could not be taken in" in r for r in failed.case.reasons)
    assert {m.case.subject for m in stored if m is not failed} == {
        f"verzoek {n}" for n in (0, 1, 3, 4)
    }
    assert mailbox.waiting() == [] and len(mailbox.in_folder("Processed")) == 4


# A poll in a process of its own, with a classifier that kills it (SIGKILL, as the kernel's
# out-of-memory killer would) whenever a message says "poison".
DEADLY_POLL = """
import os, signal, sys
from sqlalchemy.orm import Session
from tests.conftest import FIXTURES
from worker.intake.account import Account
from worker.intake.imap import ImapMailbox
from worker.judge.classify import Classifier
from worker.judge.rules import load_rules
from worker.judge.tenants import load_registry
from worker.service.filing import Policy
from worker.service.ingest import ingest
from worker.store.models import open_store

class Deadly:
    def __init__(self, classifier):
        self.classifier = classifier
    def classify(self, raw):
        if b"poison" in raw:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.classifier.classify(raw)

host, port, user, password, url = sys.argv[1:]
classifier = Classifier(load_rules(), load_registry(FIXTURES / "tenants.yaml"), "x@example.nl")
engine = open_store(url)
account = Account(host, int(port), "none", user, password, timeout=10)
with Session(engine, expire_on_commit=False, autoflush=False) as session:
    with ImapMailbox(account) as mailbox:
        ingest(session, mailbox, Deadly(classifier), Policy())
"""


def test_a_message_the_worker_dies_on_twice_is_set_aside_on_the_third_poll(
    tmp_path: Path,
) -> None:
    from email.message import EmailMessage

    from tests.conftest import ROOT
    from tests.servers import dovecot_server
    from worker.store.models import Attempt

    poison = EmailMessage()
    poison["From"], poison["Subject"] = "Jan <jan@example.nl>", "Inzage (poison)"
    poison["Message-ID"] = "<poison@example.nl>"
    poison.set_content(REQUEST)
    poison.add_attachment(b"\x89PNG\r\n\x1a\n" + os.urandom(2000), "image", "png")
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    with dovecot_server() as server:
        server.deliver(make_mail(REQUEST, subject="een").replace(b"<test@", b"<p1@"))
        server.deliver(poison.as_bytes())
        server.deliver(make_mail(REQUEST, subject="drie").replace(b"<test@", b"<p3@"))
        command = [sys.executable, "-c", DEADLY_POLL, server.host, str(server.port)]
        command += [server.user, server.password, url]
        codes = [subprocess.run(command, cwd=ROOT, capture_output=True) for _ in range(3)]
        assert [c.returncode for c in codes] == [-9, -9, 0], codes[-1].stderr[-2000:]
        assert len(server.folder("Review")) == 1 and len(server.folder("Processed")) == 2
        assert server.folder("INBOX") == []
    engine = open_store(url)
    with Session(engine) as session:
        cases = {c.subject: c for c in session.scalars(select(Case))}
        assert sorted(cases) == ["Inzage (poison)", "drie", "een"]
        # Only the message it died on is set aside, not the one decided before it.
        assert cases["een"].status == cases["drie"].status == "open"
        set_aside = cases["Inzage (poison)"]
        assert set_aside.status == "review"
        assert "the worker stopped twice while reading this message" in set_aside.reasons[0]
        [message] = set_aside.messages
        assert message.raw is not None and b"iVBORw0KGgo" not in message.raw
        assert "privacy-worker removed an attachment" in notes(message.raw)
        assert count(session, Attempt) == 0
    engine.dispose()


def test_a_message_the_worker_died_on_while_cutting_it_too_keeps_only_its_headers(
    tmp_path: Path, store: Session, classifier: Classifier
) -> None:
    from tests.judge.scan.test_classify_scan import mail_with, passport_png
    from worker.store.models import Attempt

    mailbox = Maildir(tmp_path / "mailbox")
    raw = mail_with(("paspoort.png", "image/png", passport_png("none")))
    key = mailbox.deliver(raw)
    # Two deaths while deciding it, a third while cutting it when it was set aside.
    now = dt.datetime.now(dt.UTC)
    store.add(Attempt(source=mailbox.name, validity=0, source_key=key, count=3, last_at=now))
    store.commit()
    [message] = ingest(store, mailbox, classifier, Policy())
    assert message.case.status == "review" and "while cutting" in message.case.reasons[0]
    assert message.raw is not None and b"iVBORw0KGgo" not in message.raw
    assert b"Content-Type: text/plain" in message.raw and len(message.raw) < 2_000
    # The mail itself stays whole in Review: the stand-in never replaces it.
    [path] = (tmp_path / "mailbox" / ".Review" / "cur").iterdir()
    assert path.read_bytes() == raw and count(store, Attempt) == 0
