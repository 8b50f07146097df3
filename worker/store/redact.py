"""Unredacted ID copies are never kept: before a message is stored, its images and PDFs are cut
out and replaced by a short note, whenever one of them showed a sensitive field or could not be
checked. It fails closed: parts are matched by type, not by name, so an unnamed or mislabelled
copy goes too."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage, Message

from worker.mimepolicy import READING

NOTE = (
    "privacy-worker removed an attachment here ({content_type}): {why}. "
    "Identity documents with a visible photo, MRZ, document number or BSN are not kept.\n"
)
# Types a copy of an identity document can come as; octet-stream is what many clients send.
DOCUMENT_TYPES = ("application/pdf", "application/octet-stream")


def is_document(part: Message) -> bool:
    """An image, PDF or untyped binary leaf part: anything an ID copy could be."""
    if part.is_multipart():
        return False
    content_type = part.get_content_type()
    return content_type.startswith("image/") or content_type in DOCUMENT_TYPES


def without_documents(raw: bytes, why: str) -> bytes:
    """The message with every image, PDF and untyped attachment replaced by a note."""
    message = message_from_bytes(raw, policy=READING)
    for part in message.walk():
        if is_document(part) and isinstance(part, EmailMessage):
            # set_content clears the part's own content headers first: a plain-text note in
            # place of the file, readable as it is stored.
            part.set_content(NOTE.format(content_type=part.get_content_type(), why=why))
        elif is_document(part):
            raise ValueError("a part of the message cannot be rewritten")
    return message.as_bytes()


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
