"""Unredacted ID copies are never kept: the attachments are cut out of a message before it is
stored, each replaced by a short note saying what was removed and why."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

NOTE = (
    "privacy-worker removed the attachment {name!r} here: it was an identity document on which "
    "{fields} could be read, and such copies are not kept.\n"
)


def without_attachments(raw: bytes, names: tuple[str, ...], fields: tuple[str, ...]) -> bytes:
    """The message with every attachment of one of these names replaced by a note. Raises
    ValueError when a named attachment cannot be found to cut (the caller must then not keep
    the message at all)."""
    message = message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    cut: set[str] = set()
    for part in message.walk():
        name = part.get_filename()
        if name in names and not part.is_multipart():
            part.set_content(NOTE.format(name=name, fields=", ".join(fields)))
            cut.add(name)
    if cut != set(names):
        raise ValueError(f"attachments not found to remove: {sorted(set(names) - cut)}")
    return message.as_bytes()
