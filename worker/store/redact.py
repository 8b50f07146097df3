"""Unredacted ID copies are never kept: before a message is stored, its images and PDFs are cut
out and replaced by a short note, whenever one of them showed a sensitive field or could not be
checked. It fails closed: parts are matched by type, not by name, so an unnamed or mislabelled
copy goes too; and any part named by its digest goes whatever its type (a text/plain part
holding a PNG, the zip that held the image, the HTML whose data: URI held it). And a BSN in
the text the worker stores or logs of a mail (a subject, a file name, a reason) is masked:
`mask_numbers` is the one place that does it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from email import message_from_bytes
from email.message import EmailMessage, Message

from stdnum.nl import bsn

from worker.mimepolicy import READING

NOTE = (
    "privacy-worker removed an attachment here ({content_type}): {why}. "
    "Identity documents with a visible photo, MRZ, document number or BSN are not kept.\n"
)
# The shapes a BSN is written in: nine digits together, or 3-3-3 or 4-2-3 with a space, dot
# or dash between the groups (111 222 333, 111.222.333, 1112.22.333), never part of a longer
# number.
_BSN_SHAPES = re.compile(
    r"(?<!\d)(?:\d{9}|\d{3}[ .-]\d{3}[ .-]\d{3}|\d{4}[ .-]\d{2}[ .-]\d{3})(?!\d)"
)
# Types a copy of an identity document can come as; octet-stream is what many clients send.
DOCUMENT_TYPES = ("application/pdf", "application/octet-stream")


def part_bytes(part: Message) -> bytes:
    """A leaf part's content, transfer encoding undone; never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a hostile transfer encoding: the part as it stands
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return str(raw).encode("utf-8", "replace") if isinstance(raw, str) else b""


def part_digest(part: Message) -> str:
    """The key by which a leaf part is named for cutting: the sha256 (hex) of its content."""
    return hashlib.sha256(part_bytes(part)).hexdigest()


def is_document(part: Message) -> bool:
    """An image, PDF or untyped binary leaf part: anything an ID copy could be."""
    if part.is_multipart():
        return False
    content_type = part.get_content_type()
    return content_type.startswith("image/") or content_type in DOCUMENT_TYPES


def without_documents(raw: bytes, why: str, parts: Collection[str] = ()) -> bytes:
    """The message with every image, PDF and untyped attachment, and every leaf part whose
    digest is in `parts`, replaced by a note."""
    message = message_from_bytes(raw, policy=READING)
    named = set(parts)
    for part in message.walk():
        cut = is_document(part) or (
            bool(named) and not part.is_multipart() and part_digest(part) in named
        )
        if cut and isinstance(part, EmailMessage):
            # A plain-text note in place of the file, readable as it is stored. The content
            # headers go first: a leaf that only claims to be multipart (an attached message
            # whose encoding broke its structure) is refused set_content otherwise.
            note = NOTE.format(content_type=part.get_content_type(), why=why)
            part.clear_content()
            part.set_content(note)
        elif cut:
            raise ValueError("a part of the message cannot be rewritten")
    return message.as_bytes()


def mask_numbers(text: str) -> str:
    """The text with every BSN-like number (nine digits that pass the 11-proof, in any of the
    shapes people write one) replaced by asterisks, its separators kept."""
    return _BSN_SHAPES.sub(_masked, text) if any(c.isdigit() for c in text) else text


def _masked(found: re.Match[str]) -> str:
    number = found.group()
    digits = re.sub(r"\D", "", number)
    # Only a number that passes the 11-proof: an order or phone number stays readable.
    return re.sub(r"\d", "*", number) if bsn.is_valid(digits) else number


# The headers a stand-in keeps: enough to file the case and to find the message in the mailbox.
KEPT_HEADERS = (
    b"from",
    b"reply-to",
    b"to",
    b"cc",
    b"date",
    b"subject",
    b"message-id",
    b"in-reply-to",
    b"references",
)


def by_reference(head: bytes, why: str) -> bytes:
    """A stand-in for a message whose body is not stored: its filing headers, taken from its
    header block line by line (nothing of it is parsed), and a plain-text note saying why."""
    kept: list[bytes] = []
    keep = False
    for line in head.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line:
            break  # the end of the header block
        if line[:1] not in (b" ", b"\t"):
            keep = line.split(b":", 1)[0].strip().lower() in KEPT_HEADERS
        if keep:
            kept.append(line)
    note = f"privacy-worker did not store this message: {why}.\n".encode("ascii", "replace")
    mime = b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
    return b"\n".join(kept) + b"\n" + mime + b"\n" + note
