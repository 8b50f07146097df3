"""Headers.of reads the few headers a message is filed by as the standard parser would."""

from __future__ import annotations

import re
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses

from tests.conftest import FIXTURES, REAL_WORLD
from worker.intake.headers import Headers, same_organisation
from worker.store.redact import mask_numbers


def read_with_the_default_policy(raw: bytes) -> tuple[str, str, str, tuple[str, ...], str]:
    """The headers ingestion needs, as the standard parser reads them (what Headers.of did
    before it was made faster)."""
    parsed = BytesHeaderParser(policy=default).parsebytes(raw[:65536])
    refers = " ".join(str(parsed.get(h, "")) for h in ("In-Reply-To", "References"))
    first = {}
    for header in ("Reply-To", "From"):
        found = [a for _, a in getaddresses([str(parsed.get(header, ""))]) if "@" in a]
        first[header] = found[0][:320] if found else ""
    # Reply-To only in From's domain (the fixtures' are), else From.
    sender = first["From"]
    if first["Reply-To"] and same_organisation(first["Reply-To"], first["From"]):
        sender = first["Reply-To"]
    printable = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
    return (
        printable.sub(" ", str(parsed.get("Message-ID", "")).strip())[:998],
        mask_numbers(printable.sub(" ", str(parsed.get("Subject", "")))[:2000]),
        printable.sub(" ", sender),
        tuple(re.findall(r"<[^<>\s\x00-\x1f]+>", refers)),
        printable.sub(" ", " ".join(str(parsed.get("References", "")).split()))[:4000],
    )


def test_headers_are_read_as_the_standard_parser_reads_them() -> None:
    paths = sorted(FIXTURES.rglob("*.eml")) + sorted(REAL_WORLD.rglob("*.eml"))
    odd = [b"Subject: =?utf-8?q?half_=E2=80?= word\r\nFrom: =?utf-8?q?Jansen=2C_Jan?= <j@x.nl>\r\n"]
    odd.append("Subject: Grüße\r\nFrom: Jörg <jörg@example.de>\r\n\r\n".encode())
    odd.append(b"Subject: folded\r\n over\r\n\tlines\r\nReply-To: <a@b.nl>, c@d.nl\r\n\r\n")
    odd.append(b"From: x@b.nl\r\nReply-To: <a@mail.b.nl>, c@d.nl\r\n\r\n")
    odd.append(b"Message-ID: =?utf-8?q?=3C1@x=3E?=\r\nReferences: =?utf-8?q?=3Cr@x=3E?=\r\n\r\n")
    odd.append(b"From: =?utf-8?q?a=40b.c?=\r\nSubject: bare\r carriage\r\n\r\n")
    raws = [p.read_bytes() for p in paths] + odd
    assert len(raws) > 40
    for raw in raws:
        h = Headers.of(raw)
        ours = (h.message_id, h.subject, h.sender, h.refers_to, h.references)
        assert ours == read_with_the_default_policy(raw), raw[:200]


def test_a_bsn_in_the_subject_is_masked_as_it_is_read() -> None:
    headers = Headers.of(b"Subject: =?utf-8?q?BSN_111=2E222=2E333?= en 111222333\r\n\r\n")
    assert headers.subject == "BSN ***.***.*** en *********"


def test_replies_go_to_from_and_to_reply_to_only_in_from_s_domain() -> None:
    # Issue 12: a Reply-To naming a third party made the acknowledgement go there.
    def read(reply_to: str, sender: str = "Jan <jan@example.nl>") -> Headers:
        return Headers.of(f"From: {sender}\r\nReply-To: {reply_to}\r\n\r\n".encode())

    stranger = read("Victim <victim@other.nl>")
    assert (stranger.sender, stranger.author) == ("jan@example.nl", "jan@example.nl")
    assert stranger.foreign_reply_to == "victim@other.nl"
    for same in ("privacy@example.nl", "a@mail.EXAMPLE.nl", "b@example.nl."):
        assert (read(same).sender, read(same).foreign_reply_to) == (same, "")
    form = read("jan@example.nl", sender="Form <form@forms.example.nl>")
    assert form.sender == "jan@example.nl" and form.foreign_reply_to == ""
    lookalike = read("x@example.nl.evil.com")
    assert lookalike.sender == "jan@example.nl" and lookalike.foreign_reply_to
    no_from = Headers.of(b"Reply-To: a@b.nl\r\n\r\n")
    assert no_from.sender == "" and no_from.foreign_reply_to == "a@b.nl"


def test_one_organisation_is_its_registrable_domain() -> None:
    assert same_organisation("a@shop.example.co.uk", "b@example.co.uk")
    assert not same_organisation("a@one.co.uk", "b@two.co.uk")
    assert not same_organisation("a@example.nl", "b@example.com")
    assert not same_organisation("a@example.nl", "")
