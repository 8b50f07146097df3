"""Turns raw message bytes into a ParsedMail, never raising: problems become `problems` entries."""

from __future__ import annotations

import codecs
import email
import email.header
import email.message
import email.utils
import logging
import re
from dataclasses import dataclass, field

import mailparser

from worker.judge.htmltext import html_to_text
from worker.judge.payloads import Attachment, payloads
from worker.store.redact import part_bytes

# mail-parser logs every unhandled part type at WARNING; that is noise for a mailbox worker.
logging.getLogger("mailparser").setLevel(logging.ERROR)

log = logging.getLogger("worker.parse")

# Text beyond this is not classified; a 10 MB body is kept whole in the store, not scored whole.
MAX_TEXT_CHARS = 200_000
# The stdlib's RFC 2047 decoder is quadratic: a 1 MB subject of encoded words takes minutes.
# Longer header fields are cut before parsing (the raw message itself is not changed).
MAX_HEADER_BYTES = 16_384
MAX_HEADER_FIELDS = 1_000
_FIELD_START = re.compile(rb"^[^ \t\r\n]", re.MULTILINE)
_HREF = re.compile(
    r"""\bhref\s*=\s*["']?\s*https?://(?:[^/@"'\s>]*@)?([a-z0-9.-]+)""", re.IGNORECASE
)


@dataclass(frozen=True)
class ParsedMail:
    """What the decision needs of one message: decoded headers, body text and attachments."""

    headers: dict[str, tuple[str, ...]]
    subject: str
    sender: str
    sender_name: str
    recipients: tuple[str, ...]
    message_id: str
    text: str
    html_only: bool
    attachments: tuple[Attachment, ...]
    content_types: tuple[str, ...]
    problems: tuple[str, ...] = field(default=())
    # The hosts that the HTML body links to: a customer's carerix.net host may be in an href
    # only ("Complete your profile"), never in the text.
    link_hosts: tuple[str, ...] = field(default=())

    def header(self, name: str) -> str:
        """The first value of a header, decoded, or an empty string."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""


def decode_header(value: object) -> str:
    """Decodes RFC 2047 encoded words; undecodable parts are kept as they came."""
    text = str(value)
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return text


def parse_mail(raw: bytes) -> ParsedMail:
    """Parses raw bytes with mail-parser, falling back to the stdlib parser when it fails."""
    problems: list[str] = []
    if not raw.strip():
        return _empty(("empty message",))
    raw, guarded = _guard_headers(raw)
    problems.extend(guarded)
    try:
        parsed = mailparser.parse_from_bytes(raw)
        message: email.message.Message = parsed.message
        texts: list[str] = list(parsed.text_plain)
        htmls: list[str] = list(parsed.text_html)
        problems.extend(_defect_reasons(parsed.defects_categories))
    except Exception as err:
        log.info("mail-parser failed (%s); using the stdlib parser", err)
        problems.append(f"MIME structure could not be parsed fully ({type(err).__name__})")
        message, texts, htmls = _stdlib_parse(raw)
    # Files are found by their bytes, in every part and wrapper, not as mail-parser names them.
    attachments = payloads(message)
    if not message.keys():
        problems.append("no mail headers: not an e-mail message")
    problems.extend(_charset_problems(message))
    return _build(message, texts, htmls, attachments, problems)


def _guard_headers(raw: bytes) -> tuple[bytes, list[str]]:
    """Cuts over-long header fields and drops fields past the limit, saying so."""
    end = min((i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0), default=len(raw))
    head, body = raw[:end], raw[end:]
    if len(head) <= MAX_HEADER_BYTES:
        return raw, []
    starts = [m.start() for m in _FIELD_START.finditer(head)] or [0]
    fields = [head[a:b] for a, b in zip(starts, [*starts[1:], len(head)], strict=True)]
    problems: list[str] = []
    if len(fields) > MAX_HEADER_FIELDS:
        problems.append(f"more than {MAX_HEADER_FIELDS} header fields: the rest were not read")
        fields = fields[:MAX_HEADER_FIELDS]
    long = [f for f in fields if len(f) > MAX_HEADER_BYTES]
    if long:
        names = sorted({f.split(b":", 1)[0][:40].decode("ascii", "replace") for f in long})
        problems.append(
            f"header field longer than {MAX_HEADER_BYTES} bytes cut: {', '.join(names)}"
        )
        fields = [
            f[:MAX_HEADER_BYTES].rstrip(b"\r\n") + b"\n" if len(f) > MAX_HEADER_BYTES else f
            for f in fields
        ]
    return b"".join(fields).rstrip(b"\r\n") + body, problems


def _build(
    message: email.message.Message,
    texts: list[str],
    htmls: list[str],
    attachments: tuple[Attachment, ...],
    problems: list[str],
) -> ParsedMail:
    headers = _headers(message)
    texts = _attached_as_forwards(message, texts)
    text = "\n\n".join(t for t in texts if t.strip())
    html_only = not text.strip() and bool(htmls)
    if html_only:
        text = "\n\n".join(html_to_text(h) for h in htmls)
    if len(text) > MAX_TEXT_CHARS:
        problems.append(f"body longer than {MAX_TEXT_CHARS} characters: only the start was read")
        text = text[:MAX_TEXT_CHARS]
    name, sender = _parse_address(_first(headers, "from"), problems)
    return ParsedMail(
        headers=headers,
        subject=" ".join(_first(headers, "subject").split()),
        sender=sender.strip().lower(),
        sender_name=name,
        recipients=_addresses(headers, ("to", "cc", "delivered-to", "x-original-to")),
        message_id=_first(headers, "message-id").strip(),
        text=text,
        html_only=html_only,
        attachments=attachments,
        content_types=tuple(part.get_content_type() for part in _walk(message)),
        problems=tuple(problems),
        link_hosts=_link_hosts(htmls),
    )


def _attached_as_forwards(message: email.message.Message, texts: list[str]) -> list[str]:
    """The texts with an attached mail's (message/rfc822) text headed as a forward, its
    author and subject included: it is what the writer sends us ("see the attached mail from
    my agency"), not her own words or her signature."""
    heads: dict[str, str] = {}
    for part in _walk(message):
        if part.get_content_type() != "message/rfc822" or not part.is_multipart():
            continue
        inner = part.get_payload(0)
        if not isinstance(inner, email.message.Message):
            continue
        head = (
            f"{_FORWARD_LINE}\nFrom: {decode_header(inner.get('from', ''))}\n"
            f"Subject: {decode_header(inner.get('subject', ''))}\n\n"
        )
        for leaf in _walk(inner):
            if leaf.get_content_type() == "text/plain":
                try:
                    body = leaf.get_payload(decode=True)
                    charset = leaf.get_content_charset() or "utf-8"
                    heads[bytes(body or b"").decode(charset, "replace").strip()] = head
                except (LookupError, TypeError, ValueError):
                    continue
    if not heads:
        return texts
    return [heads.get(t.strip(), "") + t for t in texts]


_FORWARD_LINE = "---------- Forwarded message ---------"


def _link_hosts(htmls: list[str]) -> tuple[str, ...]:
    """The distinct hosts of the http(s) links in the HTML parts, in lower case (the first 200:
    a newsletter links to few hosts, a hostile mail must not make routing slow)."""
    hosts: dict[str, None] = {}
    for markup in htmls:
        for found in _HREF.finditer(markup[:MAX_TEXT_CHARS]):
            hosts[found.group(1).lower().rstrip(".")] = None
            if len(hosts) >= 200:
                return tuple(hosts)
    return tuple(hosts)


def _parse_address(value: str, problems: list[str]) -> tuple[str, str]:
    # The stdlib's address parser recurses on nested comments: "((((((a@example.nl" can
    # exhaust the stack.
    try:
        return email.utils.parseaddr(value[:2000])
    except (RecursionError, ValueError, IndexError):
        problems.append("the From address cannot be read")
        return "", ""


def _empty(problems: tuple[str, ...]) -> ParsedMail:
    return ParsedMail({}, "", "", "", (), "", "", False, (), (), problems)


# Only these can carry encoded words that matter; decoding every Received line is wasted time.
_DECODED = frozenset({"subject", "from", "to", "cc", "reply-to", "sender", "delivered-to"})


def _headers(message: email.message.Message) -> dict[str, tuple[str, ...]]:
    collected: dict[str, list[str]] = {}
    for key, value in message.items():
        name = key.strip().lower()
        collected.setdefault(name, []).append(
            decode_header(value) if name in _DECODED else str(value)
        )
    return {key: tuple(values) for key, values in collected.items()}


def _first(headers: dict[str, tuple[str, ...]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _addresses(headers: dict[str, tuple[str, ...]], names: tuple[str, ...]) -> tuple[str, ...]:
    values = [value[:20_000] for name in names for value in headers.get(name, ())]
    try:
        pairs = email.utils.getaddresses(values)
    except (RecursionError, ValueError, IndexError):
        return ()
    return tuple(addr.strip().lower() for _, addr in pairs if addr)


def _walk(message: email.message.Message) -> list[email.message.Message]:
    try:
        return list(message.walk())
    except (RecursionError, TypeError, AttributeError):
        return [message]


def _defect_reasons(categories: set[str]) -> list[str]:
    # Only defects that change what the text means are worth a person's time; a missing
    # MIME-Version or a folded header is everyday mail.
    serious = {
        "CharsetDecodeDefect",
        "StartBoundaryNotFoundDefect",
        "MultipartInvariantViolationDefect",
    }
    found = sorted(serious & set(categories))
    return [f"MIME defect: {name}" for name in found]


def _charset_problems(message: email.message.Message) -> list[str]:
    unknown: set[str] = set()
    for part in _walk(message):
        charset = part.get_content_charset()
        if charset:
            try:
                codecs.lookup(charset)
            except LookupError:
                unknown.add(charset)
    return [f"unknown charset {name!r}: the text may be garbled" for name in sorted(unknown)]


def _stdlib_parse(raw: bytes) -> tuple[email.message.Message, list[str], list[str]]:
    try:
        message = email.message_from_bytes(raw)
    except Exception:
        fallback = email.message.Message()
        return fallback, [raw.decode("utf-8", "replace")], []
    texts: list[str] = []
    htmls: list[str] = []
    for part in _walk(message):
        if part.is_multipart():
            continue
        payload = part_bytes(part)
        ctype = part.get_content_type()
        if part.get_filename() or part.get_content_disposition() == "attachment":
            continue
        if ctype == "text/html":
            htmls.append(_decode_text(payload, part.get_content_charset()))
        elif ctype.startswith("text/"):
            texts.append(_decode_text(payload, part.get_content_charset()))
    return message, texts, htmls


def _decode_text(payload: bytes, charset: str | None) -> str:
    try:
        return payload.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return payload.decode("utf-8", "replace")
