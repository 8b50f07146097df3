"""Splits a mail body into zones (new text, signature, quoted reply, forwarded mail); folds text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|antw|sv|vs|odp|r)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
# A subject that a person forwarding a mail gives it ("Fwd:", Dutch "Doorst:", German "WG:").
FORWARD_PREFIX = re.compile(r"^\s*(?:fwd?|fw|wg|doorst|tr|rv|enc)\s*:", re.IGNORECASE)
ZONES = ("subject", "new", "signature", "quoted", "forwarded")


def _fold_table() -> dict[int, str]:
    # Accents are folded with one C-level str.translate per text; NFKD on every message would
    # cost more than the rest of the decision.
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if base and base != char and base.isascii():
            table[code] = base
    table.update({ord("ß"): "ss", ord("ø"): "o", ord("Ø"): "O", ord("đ"): "d", ord("ł"): "l"})
    for quote in "\u2018\u2019\u201a\u201b\u00b4\u0060":
        table[ord(quote)] = "'"
    for quote in "\u201c\u201d\u201e\u201f\u00ab\u00bb":
        table[ord(quote)] = '"'
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2212":
        table[ord(dash)] = "-"
    table[0xA0] = " "
    table[0xAD] = ""
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Accent-folded text with its case kept and typographic quotes made plain."""
    return text.translate(_FOLD)


def normalize(text: str) -> str:
    """Lower-cased, accent-folded text with runs of white space made one space, in which
    phrases can run on: an address or link is one dotless word, and the dots of "a.u.b.",
    "i.p.v." or "e.g." are dropped, so none of them ends a sentence ("kunnen jullie
    oud@example.nl verwijderen en vervangen door ...")."""
    text = " ".join(fold(text).lower().split())
    if "@" in text:
        text = _ADDRESS.sub("xaddressx", text)
    if "." in text:
        text = _LINK.sub("xlinkx", text)
        text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    return text


_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LINK = re.compile(
    r"(?:https?://|www\.)\S+|\b(?:[a-z0-9-]+\.)+(?:nl|com|net|org|be|de|eu|io|example|info|uk"
    r"|fr|pl|ro|es|it|pt)\b(?:/\S*)?"
)
# Two or more single letters each followed by a dot: "a.u.b.", "i.p.v.", "b.v.", "e.g.".
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")


@dataclass(frozen=True)
class StructureMarkers:
    """Compiled patterns that recognise reply headers, forward markers and signature starts."""

    reply: re.Pattern[str]
    forward: re.Pattern[str]
    signature: re.Pattern[str]


@dataclass(frozen=True)
class Zones:
    """The text of each zone of one mail, as written (not yet normalised)."""

    subject: str
    new: str
    signature: str
    quoted: str
    forwarded: str

    def get(self, zone: str) -> str:
        """The text of a zone by name."""
        text: str = getattr(self, zone)
        return text


def compile_markers(reply: list[str], forward: list[str], signature: list[str]) -> StructureMarkers:
    """Compiles marker pattern lists (each matched at the start of a line)."""

    def join(patterns: list[str]) -> re.Pattern[str]:
        body = "|".join(f"(?:{p})" for p in patterns) or r"(?!x)x"
        return re.compile(rf"^[ \t]*(?:{body})", re.IGNORECASE | re.MULTILINE)

    return StructureMarkers(join(reply), join(forward), join(signature))


def split_zones(subject: str, body: str, markers: StructureMarkers) -> Zones:
    """Splits a body at the first reply header or forward marker, then splits off the signature."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    start, end, kind = _first_boundary(body, markers)
    head = body[:start]
    quoted_lines: list[str] = []
    forwarded = ""
    if kind == "forward":
        forwarded = body[start:]
    elif kind == "reply":
        head, quoted_lines = _split_reply_tail(head, body[start:end], body[end:])
    new_lines: list[str] = []
    for line in head.split("\n"):
        (quoted_lines if line.lstrip().startswith(">") else new_lines).append(line)
    new, signature = _split_signature("\n".join(new_lines), markers)
    quoted = "\n".join(quoted_lines)
    # The subject of a reply or forward was written by the earlier mail's author (often us):
    # it weighs as the quoted or forwarded text does.
    if _REPLY_PREFIX.match(subject):
        subject, quoted = "", f"{subject}\n{quoted}"
    elif FORWARD_PREFIX.match(subject):
        subject, forwarded = "", f"{subject}\n{forwarded}"
    return Zones(subject, new, signature, quoted, forwarded)


def _first_boundary(body: str, markers: StructureMarkers) -> tuple[int, int, str]:
    found = [
        (match.start(), match.end(), kind)
        for kind, pattern in (("reply", markers.reply), ("forward", markers.forward))
        if (match := pattern.search(body))
    ]
    return min(found) if found else (len(body), len(body), "")


def _split_reply_tail(head: str, header: str, rest: str) -> tuple[str, list[str]]:
    # Bottom-posters quote with '>' and write below the quote: after a reply header whose
    # quote is '>'-marked, only the '>' lines are the old message.
    lines = rest.split("\n")
    following = [line for line in lines if line.strip()]
    if following and following[0].lstrip().startswith(">"):
        old = [line for line in lines if line.lstrip().startswith(">")]
        newer = [line for line in lines if not line.lstrip().startswith(">")]
        return head + "\n" + "\n".join(newer), [header, *old]
    return head, [header, *lines]


def _split_signature(text: str, markers: StructureMarkers) -> tuple[str, str]:
    match = markers.signature.search(text)
    if not match or not text[: match.start()].strip():
        return text, ""
    return text[: match.start()], text[match.start() :]
