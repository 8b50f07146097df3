"""What a new case sends: written with the case, sent once, never to machines, and a request
about a customer's data forwarded to that customer with the original attached."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, make_mail
from worker.intake.maildir import Maildir
from worker.judge.classify import Classifier
from worker.judge.rules import RuleSet
from worker.judge.tenants import Registry
from worker.reply.compose import load_templates
from worker.reply.outbox import flush
from worker.reply.respond import Responder
from worker.reply.templates import long_date
from worker.reply.transports import MaildirOutbox
from worker.service.filing import Policy
from worker.service.ingest import ingest
from worker.store.models import Audit, Case, Outgoing

REQUEST = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."
OWN = "privacy@carerix.com"


@pytest.fixture
def responder(rules: RuleSet, registry: Registry) -> Responder:
    return Responder(load_templates(rules.directory), registry, OWN, "Privacy Carerix", 3)


class Desk:
    """A mailbox, its store and outbox: deliver mail, poll, send, read what went out."""

    def __init__(
        self, tmp: Path, store: Session, classifier: Classifier, responder: Responder
    ) -> None:
        self.mailbox = Maildir(tmp / "mailbox")
        self.outbox = MaildirOutbox(tmp / "sent")
        self.store, self.classifier, self.responder = store, classifier, responder

    def poll(self, *mails: bytes) -> list[Case]:
        for raw in mails:
            self.mailbox.deliver(raw)
        stored = ingest(
            self.store, self.mailbox, self.classifier, Policy(), responder=self.responder
        )
        flush(self.store, self.outbox, OWN)
        return [m.case for m in stored]

    def sent(self) -> list[EmailMessage]:
        return [
            message_from_bytes(raw, policy=default)  # type: ignore[misc]
            for raw in self.outbox.sent()
        ]


@pytest.fixture
def desk(tmp_path: Path, store: Session, classifier: Classifier, responder: Responder) -> Desk:
    # A session like the service's: no flush before each query.
    service = Session(store.get_bind(), autoflush=False, expire_on_commit=False)
    return Desk(tmp_path, service, classifier, responder)


def mail(n: int, body: str = REQUEST, **headers: str) -> bytes:
    return make_mail(body, subject="Inzageverzoek", **headers).replace(
        b"<test@", f"<t{n}@".encode()
    )


def test_a_request_is_acknowledged_once_with_reference_and_due_date(desk: Desk) -> None:
    [case] = desk.poll(mail(1))
    [ack] = desk.sent()
    assert case.reference in str(ack["Subject"]) and str(ack["To"]) == "jan@example.nl"
    assert ack["Auto-Submitted"] == "auto-replied" and ack["In-Reply-To"] == "<t1@example.nl>"
    body = ack.get_content()  # type: ignore[attr-defined]
    assert case.due_at.strftime("%Y") in body and "inzage" in body.lower()
    # The requester answers, quoting the reference: the case goes to review, no new mail.
    follow_up = mail(2, "Hierbij nog mijn nieuwe adres.", In_Reply_To="<t1@example.nl>")
    assert desk.poll(follow_up)[0].id == case.id and case.status == "review"
    desk.poll()
    assert len(desk.sent()) == 1


def test_machine_mail_our_own_address_and_noreply_senders_get_nothing(desk: Desk) -> None:
    auto = mail(1, Auto_Submitted="auto-replied")
    own = make_mail(REQUEST, subject="Inzage", sender=OWN).replace(b"<test@", b"<t2@")
    broken = make_mail(REQUEST, subject="Inzage", sender="Jan <jan@intranet>")
    [machine, loop, odd] = desk.poll(auto, own, broken.replace(b"<test@", b"<t3@"))
    assert desk.sent() == []
    assert machine.status == "ignored" and loop.status == "ignored"
    # A person's request from an address that fails the basic checks: a person answers it.
    assert odd.status == "review"
    assert any(r.startswith("no automatic reply: ") for r in odd.reasons)


def test_a_form_that_names_the_person_in_reply_to_is_answered_there(desk: Desk) -> None:
    form = make_mail(
        REQUEST,
        subject="Inzage",
        sender="Webformulier <formulier@forms.example.nl>",
        Reply_To="Jan Jansen <jan@example.nl>",
    )
    [case] = desk.poll(form)
    [ack] = desk.sent()
    assert str(ack["To"]) == "jan@example.nl" and case.requester == "jan@example.nl"


def test_a_reply_to_at_another_domain_gets_no_reply_and_waits_for_a_person(
    desk: Desk,
) -> None:
    # Issue 12: an ack-deletion went to a third party named in Reply-To (backscatter).
    [case] = desk.poll(mail(1, Reply_To="Derde <derde@elders.example.com>"))
    assert desk.sent() == [] and case.status == "review" and case.requester == "jan@example.nl"
    assert "Reply-To derde@elders.example.com is outside the domain" in case.reasons[0]
    actions = [a.action for a in desk.store.scalars(select(Audit).where(Audit.case == case))]
    assert "no-reply" in actions
    # In the sender's own domain the Reply-To is answered.
    [other] = desk.poll(mail(2, Reply_To="privacy@mail.example.nl"))
    [ack] = desk.sent()
    assert str(ack["To"]) == "privacy@mail.example.nl" and other.status == "open"


def test_a_reply_to_our_acknowledgement_joins_the_case_and_a_stranger_s_does_not(
    desk: Desk,
) -> None:
    # Issue 12: only the requester, or a reply to the mail we sent for the case, joins it.
    [case] = desk.poll(mail(1))
    [ack] = desk.sent()
    answer = make_mail("Dank.", subject=str(ack["Subject"]), sender="Kantoor <kantoor@example.org>")
    answer = answer.replace(b"<test@", b"<a@").replace(
        b"Message-ID:", f"In-Reply-To: {ack['Message-ID']}\nMessage-ID:".encode()
    )
    stranger = make_mail(REQUEST, subject=f"Re: {case.reference}", sender="piet@example.com")
    joined, new = desk.poll(answer, stranger.replace(b"<test@", b"<s@"))
    assert joined.id == case.id and case.status == "review"
    assert new.id != case.id and new.requester == "piet@example.com" and new.status == "review"
    assert any(f"mentions {case.reference} of another sender" in r for r in new.reasons)
    # The stranger's own case is acknowledged to him, not the requester of the other one.
    assert [str(m["To"]) for m in desk.sent()[1:]] == ["piet@example.com"]


def test_a_stranger_cannot_forge_a_reply_to_our_acknowledgement(desk: Desk) -> None:
    # Knowing the case reference is not enough to write the Message-ID we sent for it.
    [case] = desk.poll(mail(1))
    [ack] = desk.sent()
    made = str(ack["Message-ID"])
    assert re.fullmatch(
        rf"<{case.reference}\.ack-inspection\.1\.[0-9a-f]{{16}}@carerix\.com>", made
    )
    guess = f"<{case.reference}.ack-inspection.1@carerix.com>"
    forged = make_mail(REQUEST, subject="Aanvulling", sender="piet@example.com")
    forged = forged.replace(b"<test@", b"<f@").replace(
        b"Message-ID:", f"In-Reply-To: {guess}\nMessage-ID:".encode()
    )
    [new] = desk.poll(forged)
    assert new.id != case.id and new.requester == "piet@example.com"


def test_replies_to_one_address_stop_at_the_daily_limit(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("worker.service.ingest.GROUP_SECONDS", 600.0)  # all four stored together
    cases = desk.poll(*(mail(n) for n in range(4)))
    assert len(desk.sent()) == 3
    assert cases[3].status == "review"
    assert any("3 automatic replies" in r for r in cases[3].reasons)
    reasons = [
        a.detail for a in desk.store.scalars(select(Audit).where(Audit.action == "no-reply"))
    ]
    assert len(reasons) == 1


def test_the_daily_limit_counts_the_replies_of_earlier_polls(desk: Desk) -> None:
    desk.poll(*(mail(n) for n in range(3)))
    [fourth] = desk.poll(mail(3))
    assert len(desk.sent()) == 3 and fourth.status == "review"
    assert any("3 automatic replies" in r for r in fourth.reasons)


def test_a_daily_limit_of_none_sends_no_automatic_reply(
    tmp_path: Path, store: Session, classifier: Classifier, rules: RuleSet, registry: Registry
) -> None:
    silent = Responder(load_templates(rules.directory), registry, OWN, "Privacy Carerix", 0)
    desk = Desk(tmp_path, store, classifier, silent)
    [case] = desk.poll(mail(1))
    assert desk.sent() == [] and case.status == "review"


def test_an_unredacted_copy_gets_the_kopieid_reply_and_is_not_kept(desk: Desk) -> None:
    from tests.judge.scan.test_classify_scan import mail_with, passport_png

    [case] = desk.poll(mail_with(("paspoort.png", "image/png", passport_png("none"))))
    [answer] = desk.sent()
    body = answer.get_content()  # type: ignore[attr-defined]
    assert "KopieID" in body and "BSN" in body and case.reference in str(answer["Subject"])
    assert case.status == "review"
    assert b"iVBORw0KGgo" not in (case.messages[0].raw or b"")  # no PNG kept, in any part


def test_a_request_about_a_customers_data_is_forwarded_to_that_customer(desk: Desk) -> None:
    raw = (FIXTURES / "mail" / "nl-processor-zorgselect-html.eml").read_bytes()
    [case] = desk.poll(raw)
    assert case.tenant == "zorgselect" and case.status == "forwarded" and case.closed_at
    kinds = {o.kind: o for o in desk.store.scalars(select(Outgoing))}
    assert set(kinds) == {"routed-cover", "routed-requester"}
    [cover] = [m for m in desk.sent() if m["To"] == "fg@zorgselect-uitzend.nl"]
    [attached] = [p for p in cover.iter_attachments() if p.get_content_type() == "message/rfc822"]
    original = message_from_bytes(raw, policy=default)
    assert attached.get_content()["Message-ID"] == original["Message-ID"]
    assert cover["Auto-Submitted"] == "auto-generated" and case.reference in str(cover["Subject"])
    [notice] = [m for m in desk.sent() if m is not cover and m["To"] != cover["To"]]
    assert "ZorgSelect" in notice.get_content()  # type: ignore[attr-defined]
    assert case.messages[0].source_key in desk.mailbox.in_folder("Processed")


def test_a_customer_request_with_no_known_customer_waits_for_a_person(desk: Desk) -> None:
    body = (
        "Ik heb gesolliciteerd via het uitzendbureau Nergensbekend B.V., dat Carerix gebruikt. "
        "Verwijder al mijn gegevens uit hun systeem op https://nergensbekend.carerix.net."
    )
    [case] = desk.poll(mail(1, body))
    assert case.category == "processor_routed" and case.status == "review"
    # Issue 13: the requester hears that the mail arrived, in words that name no customer.
    [receipt] = desk.sent()
    text = str(receipt["Subject"]) + receipt.get_content()  # type: ignore[attr-defined]
    assert case.reference in text and "nergensbekend" not in text.lower()
    assert str(receipt["To"]) == case.requester


def test_other_human_mail_gets_one_receipt_with_the_day_the_clock_started(desk: Desk) -> None:
    question = make_mail("Hebben jullie een vacature voor een backend developer?", subject="Vraag")
    [case] = desk.poll(question)
    assert case.category == "other"
    [receipt] = desk.sent()
    body = " ".join(receipt.get_content().split())  # type: ignore[attr-defined]
    assert case.reference in body and long_date(case.received_at.date(), "nl") in body
    assert long_date(case.due_at.date(), "nl") in body


def test_machine_mail_gets_no_receipt(desk: Desk) -> None:
    out_of_office = mail(1, "Ik ben afwesig tot maandag.").replace(
        b"Message-ID:", b"Auto-Submitted: auto-replied\nMessage-ID:"
    )
    [case] = desk.poll(out_of_office)
    assert case.status == "ignored" and desk.sent() == []
