"""Composes every outgoing mail as an EmailMessage: replies to requesters and forwards to
customers. Pure: nothing is sent or stored here; the outbox and the send job do that."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass, replace
from email.generator import Generator
from email.headerregistry import Address
from email.message import EmailMessage, Message
from functools import lru_cache
from typing import Any

from worker.mimepolicy import WRITING
from worker.reply.refusal import refusal, syntax_problem
from worker.reply.templates import (
    KINDS,
    LANGUAGES,
    ORIGINAL_SUBJECT_LIMIT,
    Rendered,
    Templates,
    load_templates,
    long_date,
    one_line,
)

__all__ = [
    "REQUESTER_KINDS",
    "ReplyFacts",
    "Templates",
    "forward",
    "load_templates",
    "message_id_for",
    "refusal",
    "reply",
]

# The kinds that answer the requester; routed-cover goes to a customer through forward().
REQUESTER_KINDS = tuple(kind for kind in KINDS if kind != "routed-cover")
_ROUTED = ("routed-requester", "routed-cover")
# RFC 5322 msg-id: printable ASCII without < > and one @ between the two parts.
_ID_PART = r"[\x21-\x3b\x3d\x3f\x41-\x7e]+"
_MSG_ID = re.compile(rf"<{_ID_PART}@{_ID_PART}>")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
# Threads of dozens of mails make References grow without bound; the root and the latest
# parents are what threading readers use (RFC 5322 section 3.6.4 allows trimming).
_MAX_REFERENCES = 20
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class ReplyFacts:
    """What any reply or forward needs to know about its case and the mail it answers."""

    reference: str
    category: str
    language: str
    due: dt.date
    requester: str
    original_subject: str
    original_message_id: str | None
    original_references: str | None
    tenant_name: str | None = None
    unredacted: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    # The day the mail arrived: the answer's time limit runs from it.
    received: dt.date | None = None

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"reply language must be one of {LANGUAGES}, not {self.language!r}")
        if not _DOT_ATOM.fullmatch(self.reference):
            raise ValueError(f"not a case reference: {self.reference!r}")


def reply(
    templates: Templates,
    kind: str,
    facts: ReplyFacts,
    *,
    sender: str,
    sender_name: str,
    message_id: str,
    date: dt.datetime | None = None,
) -> EmailMessage:
    """A reply of one kind to the requester, in the case's language, threaded to the original."""
    if kind not in REQUESTER_KINDS:
        raise ValueError(f"{kind!r} is not a reply to the requester (known: {REQUESTER_KINDS})")
    # The send job asks refusal() first and notes the reason on the case; this is the backstop
    # that makes "never answered" hold for every caller.
    refused = refusal(facts.requester, sender, templates.never_reply)
    if refused is not None:
        raise ValueError(f"no reply to {facts.requester!r}: {refused}")
    rendered = templates.render(kind, facts.language, _values(templates, facts, kind, sender))
    message = _envelope(rendered, sender, sender_name, facts.requester, message_id, date)
    # RFC 3834 section 5: a response generated automatically; receivers' responders stay quiet.
    message["Auto-Submitted"] = "auto-replied"
    message["Content-Language"] = facts.language
    _thread(message, facts.original_message_id, facts.original_references)
    message.set_content(rendered.body, charset="utf-8")
    return message


def forward(
    templates: Templates,
    facts: ReplyFacts,
    *,
    tenant_contact: str,
    tenant_language: str,
    original_raw: bytes,
    sender: str,
    sender_name: str,
    message_id: str,
    date: dt.datetime | None = None,
) -> EmailMessage:
    """The original mail, attached whole, to a customer's privacy contact with a cover note in
    the customer's language. The caller has already cut any unredacted ID copy from the bytes.
    Serialise with as_bytes(): the attachment keeps 8-bit bytes that a str cannot carry."""
    if tenant_language not in LANGUAGES:
        raise ValueError(f"tenant language must be one of {LANGUAGES}, not {tenant_language!r}")
    # The cover note's words and due date are in the customer's language, not the requester's.
    values = _values(templates, replace(facts, language=tenant_language), "routed-cover", sender)
    rendered = templates.render("routed-cover", tenant_language, values)
    message = _envelope(rendered, sender, sender_name, tenant_contact, message_id, date)
    # RFC 3834 section 5: generated, but not a response to the recipient's own mail.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = tenant_language
    message.set_content(rendered.body, charset="utf-8")
    message.make_mixed()
    attach_original(message, original_raw)
    return message


def message_id_for(reference: str, kind: str, seq: int, domain: str, token: str = "") -> str:
    """The Message-ID of the seq-th mail of a kind in a case, made once when the mail is queued
    and stored with it (a send retried after a crash is recognisably the same mail). `token`,
    random, makes it unguessable: a reply that refers to it joins the case, so a stranger who
    knows a case reference must not be able to write it."""
    left = f"{reference}.{kind}.{seq}" + (f".{token}" if token else "")
    if seq < 1 or not _DOT_ATOM.fullmatch(left):
        raise ValueError(f"cannot make a Message-ID from {reference!r}, {kind!r}, {seq!r}")
    if not _HOST.fullmatch(domain):
        raise ValueError(f"not a host name for a Message-ID: {domain!r}")
    return f"<{left}@{domain.lower()}>"


def attach_original(message: EmailMessage, raw: bytes) -> None:
    """Attaches the original mail as the bytes it is: never parsed, so that broken MIME or
    8-bit headers cannot stop the forward."""
    if b"\0" in raw or any(len(line) > 998 for line in _LINE_ENDS.split(raw)):
        # RFC 2046 allows message/rfc822 only as 7bit or 8bit text, which cannot hold these;
        # as a file it arrives intact.
        message.add_attachment(
            raw, maintype="application", subtype="octet-stream", filename="original.eml"
        )
        return
    part = EmailMessage(policy=WRITING)
    part["Content-Type"] = "message/rfc822"
    part["Content-Disposition"] = 'attachment; filename="original.eml"'
    part["Content-Transfer-Encoding"] = "7bit" if raw.isascii() else "8bit"
    part.set_payload([_Verbatim(raw)])
    message.attach(part)


class _Verbatim(Message):
    """A mail that the generator writes out as the bytes it came as, line ends made the
    policy's: its whole text is the payload of a headerless text part, and it writes no
    headers (the generator asks a message for `_write_headers` before writing its own).
    A parsed Message would be regenerated instead, which changes it and can fail on junk."""

    def __init__(self, raw: bytes) -> None:
        super().__init__(policy=WRITING)
        # Surrogates carry the 8-bit bytes, as the parser itself keeps them.
        self.set_payload(raw.decode("ascii", "surrogateescape"))

    def _write_headers(self, generator: Generator) -> None:
        pass


def _values(templates: Templates, facts: ReplyFacts, kind: str, sender: str) -> dict[str, object]:
    """The template variables; README.md, section Replies, lists them for staff."""
    if kind in _ROUTED and not facts.tenant_name:
        raise ValueError(f"{kind} needs the customer's name (tenant_name)")
    if kind == "id-resubmit" and not facts.unredacted:
        raise ValueError("id-resubmit needs the fields still readable (unredacted)")
    names = templates.field_names[facts.language]
    unknown = [field for field in facts.unredacted if field not in names]
    if unknown:
        raise ValueError(f"unknown ID fields {unknown}; known: {sorted(names)}")
    return {
        "reference": facts.reference,
        "due_date": long_date(facts.due, facts.language),
        "received_date": long_date(facts.received or facts.due, facts.language),
        "tenant_name": one_line(facts.tenant_name or "", 100),
        "fields": [names[field] for field in facts.unredacted],
        "request_types": _request_types(templates, facts),
        "original_subject": one_line(facts.original_subject, ORIGINAL_SUBJECT_LIMIT),
        "mailbox": sender,
    }


def _request_types(templates: Templates, facts: ReplyFacts) -> list[str]:
    """Human words for what was asked: the intents found, else the category, else 'other'."""
    words = templates.request_types[facts.language]
    asked = [i for i in facts.intents or (facts.category,) if i in words]
    return [words[i] for i in dict.fromkeys(asked or ["other"])]


def _envelope(
    rendered: Rendered,
    sender: str,
    sender_name: str,
    recipient: str,
    message_id: str,
    date: dt.datetime | None,
) -> EmailMessage:
    if not _MSG_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    message = EmailMessage(policy=WRITING)
    message["From"] = _from(sender_name, sender)
    message["To"] = Address(addr_spec=_checked(recipient))
    message["Subject"] = rendered.subject
    message["Date"] = email.utils.format_datetime(date or dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id
    # Exchange and Outlook honour this instead of RFC 3834: no out-of-office back to us.
    message["X-Auto-Response-Suppress"] = "All"
    return message


@lru_cache(maxsize=16)
def _from(sender_name: str, sender: str) -> Any:
    # The same for every mail: made (and its address checked) once. Header objects are
    # immutable, so one can be set on many messages.
    address = Address(display_name=one_line(sender_name, 78), addr_spec=_checked(sender))
    return WRITING.header_factory("From", address)


def _checked(address: str) -> str:
    """An address that goes into a header: refused unless it is a plain addr-spec."""
    problem = syntax_problem(address)
    if problem is not None:
        raise ValueError(f"cannot send to {address!r}: {problem}")
    return address


def _thread(message: EmailMessage, parent: str | None, references: str | None) -> None:
    """In-Reply-To and References after RFC 5322 section 3.6.4, from valid msg-ids only."""
    parent_id = _MSG_ID.search(parent or "")
    chain = list(dict.fromkeys(_MSG_ID.findall(references or "")))
    if parent_id is not None:
        message["In-Reply-To"] = parent_id.group()
        chain = [*(i for i in chain if i != parent_id.group()), parent_id.group()]
    if len(chain) > _MAX_REFERENCES:
        chain = chain[:1] + chain[-(_MAX_REFERENCES - 1) :]
    if chain:
        message["References"] = " ".join(chain)
