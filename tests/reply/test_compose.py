"""Composed replies and forwards: content, threading, RFC 3834 headers, and hostile input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import shutil
from email.message import EmailMessage, Message
from pathlib import Path

import pytest

from worker.judge.rules import DEFAULT_RULES_DIR
from worker.reply.compose import (
    REQUESTER_KINDS,
    ReplyFacts,
    Templates,
    forward,
    load_templates,
    message_id_for,
    reply,
)
from worker.reply.templates import SUBJECT_LIMIT

SENDER = "privacy@carerix.com"
WHEN = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
ORIGINAL = (
    b"From: Jan Jansen <jan@example.nl>\r\nTo: privacy@carerix.com\r\n"
    b"Subject: Verwijder mijn gegevens\r\nMessage-ID: <orig-1@example.nl>\r\n"
    b"\r\nVerwijder al mijn gegevens bij Acme.\r\n"
)


@pytest.fixture(scope="module")
def templates() -> Templates:
    return load_templates(DEFAULT_RULES_DIR)


def facts(**changes: object) -> ReplyFacts:
    base = ReplyFacts(
        reference="PRIV-2026-000123",
        category="deletion",
        language="nl",
        due=dt.date(2026, 12, 29),
        requester="jan@example.nl",
        original_subject="Verwijder mijn gegevens",
        original_message_id="<orig-1@example.nl>",
        original_references="<root@example.nl> <mid@example.nl>",
        tenant_name="Acme Staffing B.V.",
        unredacted=("bsn", "mrz", "document_number", "photo"),
        intents=("deletion",),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def answer(templates: Templates, kind: str, the_facts: ReplyFacts) -> EmailMessage:
    return reply(
        templates,
        kind,
        the_facts,
        sender=SENDER,
        sender_name="Privacy Carerix",
        message_id=message_id_for(the_facts.reference, kind, 1, "carerix.com"),
        date=WHEN,
    )


def send_to_tenant(templates: Templates, raw: bytes, language: str = "en") -> EmailMessage:
    return forward(
        templates,
        facts(category="processor_routed"),
        tenant_contact="privacy@acme-staffing.example",
        tenant_language=language,
        original_raw=raw,
        sender=SENDER,
        sender_name="Privacy Carerix",
        message_id="<PRIV-2026-000123.forward.1@carerix.com>",
        date=WHEN,
    )


def wire(message: EmailMessage) -> Message:
    """What the recipient parses: the bytes as SMTP would carry them."""
    return email.message_from_bytes(
        message.as_bytes(policy=email.policy.SMTP), policy=email.policy.default
    )


def text_of(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("kind", REQUESTER_KINDS)
def test_every_kind_has_reference_due_date_and_rfc3834_headers(
    templates: Templates, kind: str, language: str
) -> None:
    parsed = wire(answer(templates, kind, facts(language=language)))
    due = "29 december 2026" if language == "nl" else "29 December 2026"
    body = text_of(parsed)
    assert "PRIV-2026-000123" in str(parsed["Subject"]) and "PRIV-2026-000123" in body
    assert due in body and "Privacy team Carerix" in body
    assert parsed["From"] == "Privacy Carerix <privacy@carerix.com>"
    assert parsed["To"] == "jan@example.nl"
    assert parsed["Message-ID"] == f"<PRIV-2026-000123.{kind}.1@carerix.com>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["Date"] == "Tue, 01 Dec 2026 09:30:00 +0000"
    # One plain text part: nothing of the original (which may hold an ID copy) goes back.
    assert not parsed.is_multipart() and parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"


def test_dutch_replies_use_dutch_month_names(templates: Templates) -> None:
    march = facts(due=dt.date(2027, 3, 5))
    assert "5 maart 2027" in text_of(wire(answer(templates, "ack-inspection", march)))
    english = dataclasses.replace(march, language="en")
    assert "5 March 2027" in text_of(wire(answer(templates, "ack-inspection", english)))


@pytest.mark.parametrize(
    ("language", "listed", "not_listed"),
    [
        ("nl", ["- het burgerservicenummer (BSN)", "- de pasfoto"], "- het documentnummer"),
        ("en", ["- the citizen service number (BSN)", "- the passport photo"], "- the document"),
    ],
)
def test_id_resubmit_lists_what_was_readable_in_words(
    templates: Templates, language: str, listed: list[str], not_listed: str
) -> None:
    the_facts = facts(language=language, unredacted=("bsn", "photo"))
    body = text_of(wire(answer(templates, "id-resubmit", the_facts)))
    lines = body.splitlines()
    assert all(item in lines for item in listed) and not_listed not in body
    assert "KopieID" in body
    assert "https://www.rijksoverheid.nl/onderwerpen/identiteitsfraude/vraag-en-antwoord/" in body


@pytest.mark.parametrize(
    ("language", "claims", "says"),
    [
        ("nl", "hebben wij die kopie verwijderd", "wij verwijderen hem ook uit onze mailbox"),
        ("en", "we have deleted that copy", "we are deleting it from our mailbox too"),
    ],
)
def test_id_resubmit_never_claims_the_mailbox_copy_is_already_gone(
    templates: Templates, language: str, claims: str, says: str
) -> None:
    # Issue 12: the reply is queued before the mailbox copy is replaced, which can fail (a
    # server without UIDPLUS, a refused replace) or be switched off: only what is certain.
    the_facts = facts(language=language, unredacted=("bsn",))
    body = " ".join(text_of(wire(answer(templates, "id-resubmit", the_facts))).split())
    assert says in body and claims not in body


def test_id_resubmit_without_fields_is_a_mistake(templates: Templates) -> None:
    with pytest.raises(ValueError, match="unredacted"):
        answer(templates, "id-resubmit", facts(unredacted=()))
    with pytest.raises(ValueError, match="unknown ID fields"):
        answer(templates, "id-resubmit", facts(unredacted=("bsn", "shoe_size")))


@pytest.mark.parametrize(
    ("language", "category_words"),
    [("nl", ["inzage", "correctie", "verwijder"]), ("en", ["view", "correct", "delete"])],
)
def test_receipt_names_no_category(
    templates: Templates, language: str, category_words: list[str]
) -> None:
    parsed = wire(answer(templates, "receipt", facts(language=language)))
    text = (str(parsed["Subject"]) + text_of(parsed)).lower()
    assert not [word for word in category_words if word in text]


@pytest.mark.parametrize(("language", "role"), [("nl", "verwerker"), ("en", "processor")])
def test_routed_requester_names_the_customer(
    templates: Templates, language: str, role: str
) -> None:
    parsed = wire(answer(templates, "routed-requester", facts(language=language)))
    assert "Acme Staffing B.V." in str(parsed["Subject"])
    assert "Acme Staffing B.V." in text_of(parsed) and role in text_of(parsed)
    with pytest.raises(ValueError, match="tenant_name"):
        answer(templates, "routed-requester", facts(tenant_name=None))


def test_threading_follows_rfc5322(templates: Templates) -> None:
    parsed = wire(answer(templates, "ack-deletion", facts()))
    assert parsed["In-Reply-To"] == "<orig-1@example.nl>"
    assert parsed["References"] == "<root@example.nl> <mid@example.nl> <orig-1@example.nl>"


def test_no_threading_headers_when_the_original_had_none(templates: Templates) -> None:
    parsed = wire(
        answer(templates, "receipt", facts(original_message_id=None, original_references=None))
    )
    assert parsed["In-Reply-To"] is None and parsed["References"] is None


def test_long_reference_chains_keep_the_root_and_the_parent(templates: Templates) -> None:
    chain = " ".join(f"<m{i}@example.nl>" for i in range(40))
    parsed = wire(answer(templates, "receipt", facts(original_references=chain)))
    ids = str(parsed["References"]).split()
    assert len(ids) == 20 and ids[0] == "<m0@example.nl>" and ids[-1] == "<orig-1@example.nl>"
    assert ids[-2] == "<m39@example.nl>"


def test_header_injection_through_mail_values_adds_no_header(
    templates: Templates, tmp_path: Path
) -> None:
    # A template that shows the original subject, as staff may write one.
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR / "templates", rules / "templates")
    shutil.copy(DEFAULT_RULES_DIR / "replies.yaml", rules / "replies.yaml")
    path = rules / "templates" / "en" / "receipt.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("We have received your email", "Re: {{ original_subject }}"))
    the_facts = facts(
        language="en",
        original_subject="Hello\r\nBcc: victim@example.org",
        original_message_id="<orig-1@example.nl>\r\nBcc: victim@example.org",
        tenant_name="Acme\r\nBcc: victim@example.org",
    )
    for kind in ("receipt", "routed-requester"):
        message = reply(
            load_templates(rules),
            kind,
            the_facts,
            sender=SENDER,
            sender_name="Privacy\r\nBcc: victim@example.org",
            message_id="<x.receipt.1@carerix.com>",
        )
        raw = message.as_bytes(policy=email.policy.SMTP)
        parsed = wire(message)
        assert parsed["Bcc"] is None and b"\r\nBcc:" not in raw
        assert parsed["In-Reply-To"] == "<orig-1@example.nl>"
    assert parsed["Subject"].startswith("Your request has been passed to Acme Bcc: victim")


def test_very_long_original_subjects_are_cut_but_keep_the_reference(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR / "templates", rules / "templates")
    shutil.copy(DEFAULT_RULES_DIR / "replies.yaml", rules / "replies.yaml")
    path = rules / "templates" / "nl" / "receipt.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Ontvangstbevestiging [", "Re: {{ original_subject }} ["))
    subject = str(
        wire(answer(load_templates(rules), "receipt", facts(original_subject="lang " * 400)))[
            "Subject"
        ]
    )
    assert len(subject) <= SUBJECT_LIMIT and "…" in subject
    assert subject.endswith("[PRIV-2026-000123]")


def test_what_is_no_address_never_reaches_a_header(
    templates: Templates,
) -> None:
    with pytest.raises(ValueError, match="not a valid address"):
        answer(templates, "receipt", facts(requester="jan@example.nl\r\nBcc: x@example.org"))
    with pytest.raises(ValueError, match="cannot send to"):
        send = dataclasses.replace(facts(), requester="jan@example.nl")
        forward(
            templates,
            send,
            tenant_contact="privacy@acme.example\r\nBcc: x@example.org",
            tenant_language="nl",
            original_raw=ORIGINAL,
            sender=SENDER,
            sender_name="Privacy Carerix",
            message_id="<PRIV-2026-000123.forward.1@carerix.com>",
        )


@pytest.mark.parametrize(
    ("requester", "reason"),
    [
        ("noreply@example.nl", "machine address (no-reply)"),
        ("privacy@carerix.com", "own address"),
    ],
)
def test_never_answered_addresses_get_no_reply_whoever_asks(
    templates: Templates, requester: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        answer(templates, "ack-deletion", facts(requester=requester))


def test_the_cover_kind_is_not_a_reply(templates: Templates) -> None:
    with pytest.raises(ValueError, match="routed-cover"):
        answer(templates, "routed-cover", facts())


@pytest.mark.parametrize(
    ("language", "greeting", "due"),
    [("en", "Dear Sir or Madam", "29 December 2026"), ("nl", "Geachte", "29 december 2026")],
)
def test_forward_attaches_the_original_with_a_cover_note_in_the_tenants_language(
    templates: Templates, language: str, greeting: str, due: str
) -> None:
    parsed = wire(send_to_tenant(templates, ORIGINAL, language))
    assert parsed["To"] == "privacy@acme-staffing.example"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert "PRIV-2026-000123" in str(parsed["Subject"])
    assert parsed["In-Reply-To"] is None
    cover = text_of(parsed)
    assert cover.startswith(greeting) and due in cover and "Acme Staffing B.V." in cover
    attached = [p for p in parsed.walk() if p.get_content_type() == "message/rfc822"]
    assert len(attached) == 1
    inner = attached[0].get_payload(0)
    assert isinstance(inner, Message) and inner["Message-ID"] == "<orig-1@example.nl>"


def test_the_cover_note_names_the_request_types(templates: Templates) -> None:
    cover = text_of(wire(send_to_tenant(templates, ORIGINAL, "en")))
    assert "The request concerns:\ndeletion of personal data." in cover
    both = dataclasses.replace(facts(), intents=("inspection", "deletion"))
    message = forward(
        templates,
        both,
        tenant_contact="privacy@acme-staffing.example",
        tenant_language="nl",
        original_raw=ORIGINAL,
        sender=SENDER,
        sender_name="Privacy Carerix",
        message_id="<PRIV-2026-000123.forward.1@carerix.com>",
    )
    assert "inzage in persoonsgegevens, verwijdering van persoonsgegevens." in text_of(
        wire(message)
    )


def test_forward_keeps_eight_bit_headers_byte_for_byte(templates: Templates) -> None:
    raw = (
        b"From: Jos\xe9 <jose@example.nl>\nSubject: Caf\xe9 \xff\xfe\n"
        b"Message-ID: <latin-1@example.nl>\nContent-Type: text/plain; charset=x-unknown\n\n"
        b"Verwijder mij \xe9\n"
    )
    message = send_to_tenant(templates, raw)
    out = message.as_bytes(policy=email.policy.SMTP)
    assert raw.replace(b"\n", b"\r\n") in out
    inner = next(p for p in wire(message).walk() if p.get_content_type() == "message/rfc822")
    assert inner["Content-Transfer-Encoding"] == "8bit"
    assert inner.get_payload(0)["Message-ID"] == "<latin-1@example.nl>"


def test_forward_of_garbage_still_parses_as_two_parts(templates: Templates) -> None:
    raw = b"this is no mail\n\x80\x81\xfe garbage\n--===============x==\n\n--\n"
    parsed = wire(send_to_tenant(templates, raw))
    types = [p.get_content_type() for p in parsed.iter_parts()]  # type: ignore[attr-defined]
    assert types == ["text/plain", "message/rfc822"]
    assert raw.replace(b"\n", b"\r\n") in send_to_tenant(templates, raw).as_bytes(
        policy=email.policy.SMTP
    )


@pytest.mark.parametrize(
    "raw", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"Subject: x\n\n" + b"y" * 2000 + b"\n"]
)
def test_bytes_no_mail_can_carry_are_attached_as_a_file(templates: Templates, raw: bytes) -> None:
    # NUL bytes and lines over 998 cannot travel as message/rfc822 (RFC 2046, RFC 5322).
    parts = list(wire(send_to_tenant(templates, raw)).iter_parts())  # type: ignore[attr-defined]
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/octet-stream"]
    assert parts[1].get_filename() == "original.eml" and parts[1].get_content() == raw


def test_message_ids_are_deterministic_and_valid() -> None:
    made = message_id_for("PRIV-2026-000123", "ack", 1, "Carerix.com")
    assert made == "<PRIV-2026-000123.ack.1@carerix.com>"
    assert made == message_id_for("PRIV-2026-000123", "ack", 1, "carerix.com")
    assert message_id_for("PRIV-2026-000123", "ack", 2, "carerix.com") != made
    parsed = email.message_from_string(f"Message-ID: {made}\n\n", policy=email.policy.default)
    assert parsed["Message-ID"] == made and not parsed["Message-ID"].defects


@pytest.mark.parametrize(
    ("reference", "kind", "seq", "domain"),
    [
        ("PRIV-2026-000123", "ack", 0, "carerix.com"),
        ("PRIV 2026", "ack", 1, "carerix.com"),
        ("PRIV-2026-000123", "a>b", 1, "carerix.com"),
        ("PRIV-2026-000123", "ack", 1, "carerix"),
        ("PRIV-2026-000123", "ack", 1, "carerix.com>\r\nBcc: x@y.nl"),
    ],
)
def test_message_id_for_refuses_what_is_no_msg_id(
    reference: str, kind: str, seq: int, domain: str
) -> None:
    with pytest.raises(ValueError):
        message_id_for(reference, kind, seq, domain)


def test_facts_refuse_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        facts(language="de")
