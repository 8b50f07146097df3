"""The cheaper email policies read and write exactly what the standard ones do."""

from __future__ import annotations

import email.policy
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage

from tests.conftest import FIXTURES
from worker.mimepolicy import READING, WRITING


def compose(policy: email.policy.EmailPolicy, subject: str, to: str) -> bytes:
    message = EmailMessage(policy=policy)
    message["From"] = Address(display_name="Privacy Cärerix", addr_spec="privacy@carerix.com")
    message["To"] = to
    message["Subject"] = subject
    message["Auto-Submitted"] = "auto-replied"
    message["References"] = " ".join(f"<{n}@example.nl>" for n in range(12))
    message.set_content("Geachte heer, uw verzoek is ontvangen. Ünïcode.\n", charset="utf-8")
    return message.as_bytes()


def test_composed_mail_is_byte_for_byte_what_the_smtp_policy_writes() -> None:
    cases = [
        ("Uw verzoek PRIV-2026-000001", "jan@example.nl"),
        ("Re: Ënquête über «persoonsgegevens» " + "lang " * 30, "Piet <piet@example.nl>"),
        ("Uw verzoek PRIV-2026-000001", "jan@example.nl"),  # the same values again: reused
    ]
    for subject, to in cases:
        assert compose(WRITING, subject, to) == compose(email.policy.SMTP, subject, to)


def test_a_reused_header_is_not_shared_state_between_messages() -> None:
    first = EmailMessage(policy=WRITING)
    second = EmailMessage(policy=WRITING)
    first["Subject"] = second["Subject"] = "Uw verzoek"
    first.replace_header("Subject", "Anders")
    assert str(second["Subject"]) == "Uw verzoek" and str(first["Subject"]) == "Anders"


def test_mail_is_read_as_the_default_policy_reads_it() -> None:
    mails = sorted((FIXTURES / "mail").glob("*.eml"))
    assert mails
    for path in mails:
        raw = path.read_bytes()
        ours = message_from_bytes(raw, policy=READING)
        theirs = message_from_bytes(raw, policy=email.policy.default)
        assert [(k, str(v)) for k, v in ours.items()] == [(k, str(v)) for k, v in theirs.items()]
        assert ours.as_bytes() == theirs.as_bytes()
