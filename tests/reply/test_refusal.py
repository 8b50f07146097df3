"""Addresses that are never answered automatically, each with the reason staff see."""

from __future__ import annotations

import pytest

from worker.judge.rules import DEFAULT_RULES_DIR
from worker.reply.refusal import NeverReply, refusal
from worker.reply.templates import load_templates

OWN = "privacy@carerix.com"


@pytest.fixture(scope="module")
def never() -> NeverReply:
    return load_templates(DEFAULT_RULES_DIR).never_reply


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("", "no address: never answered"),
        ("   ", "no address: never answered"),
        ("jan.example.nl", "not a valid address: needs exactly one @"),
        ("jan@x@example.nl", "not a valid address: needs exactly one @"),
        ("jan @example.nl", "not a valid address: contains spaces or control characters"),
        (
            "jan@example.nl\r\nBcc: x@example.org",
            "not a valid address: contains spaces or control characters",
        ),
        ("jan@localhost", "not a valid address: the domain is not a host name such as example.nl"),
        (
            "jan@exa_mple.nl",
            "not a valid address: the domain is not a host name such as example.nl",
        ),
        (
            "jan@.example.nl",
            "not a valid address: the domain is not a host name such as example.nl",
        ),
        (
            "@example.nl",
            "not a valid address: the part before the @ is empty or longer than 64 characters",
        ),
        (
            "j" * 65 + "@example.nl",
            "not a valid address: the part before the @ is empty or longer than 64 characters",
        ),
        (
            "jan@" + "a" * 250 + ".nl",
            "not a valid address: the domain is not a host name such as example.nl",
        ),
        ("jan@" + "a" * 314 + ".nl", "not a valid address: longer than 320 characters"),
        ('"jan jansen"@example.nl', "not a valid address: contains spaces or control characters"),
        (
            '"jan"@example.nl',
            "not a valid address: the part before the @ has characters or dots that need quoting",
        ),
        (
            "jan..jansen@example.nl",
            "not a valid address: the part before the @ has characters or dots that need quoting",
        ),
        ("jöran@example.nl", "not a valid address: non-ASCII characters (answer by hand)"),
        ("privacy@carerix.com", "own address: never answered"),
        ("Privacy@Carerix.COM", "own address: never answered"),
        ("sales@carerix.com", "address at our own domain (carerix.com): never answered"),
        ("alerts@mail.carerix.com", "address at our own domain (carerix.com): never answered"),
        ("MAILER-DAEMON@mx.example.nl", "machine address (mailer-daemon): never answered"),
        ("postmaster@example.nl", "machine address (postmaster): never answered"),
        ("noreply@example.nl", "machine address (no-reply): never answered"),
        ("no_reply@example.nl", "machine address (no-reply): never answered"),
        ("No.Reply@example.nl", "machine address (no-reply): never answered"),
        ("noreply-shop@example.nl", "machine address (no-reply): never answered"),
        ("shop.noreply@example.nl", "machine address (no-reply): never answered"),
        ("noreply2@example.nl", "machine address (no-reply): never answered"),
        ("donotreply@example.nl", "machine address (do-not-reply): never answered"),
        ("do-not-reply@example.nl", "machine address (do-not-reply): never answered"),
        (
            "bounces+1234-jan=example.nl@lists.example.org",
            "machine address (bounces): never answered",
        ),
        ("notifications@example.nl", "machine address (notifications): never answered"),
        ("owner-staff@lists.example.org", "machine address (owner-*): never answered"),
        ("staff-request@lists.example.org", "machine address (*-request): never answered"),
    ],
)
def test_refused_with_reason(never: NeverReply, address: str, reason: str) -> None:
    assert refusal(address, OWN, never) == reason


@pytest.mark.parametrize(
    "address",
    [
        "jan.jansen@example.nl",
        "j.de-vries@sub.example.co.uk",
        # The +detail is the owner's own filing label, not a sign of software.
        "jan+notifications@example.nl",
        # Words that merely start like a listed one are people's.
        "noreen@example.nl",
        "bouncer@example.nl",
        "privacy@carerix.nl",
        "privacy@notcarerix.com",
        "o'brien@example.ie",
        "j" * 64 + "@example.nl",
    ],
)
def test_people_are_answered(never: NeverReply, address: str) -> None:
    assert refusal(address, OWN, never) is None
