"""Finds every file a mail carries, by its bytes rather than its declared type or name: MIME
leaf parts that are not text (or only claim to be), images inside zip archives, `data:` URIs in
HTML or text, and uuencoded blocks in a text body. Each keeps the digest of the MIME part that
holds it, so that part can be cut whatever wrapper the file came in."""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import email.errors
import email.header
import email.message
import hashlib
import io
import quopri
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from worker.store.redact import part_bytes, part_digest

# Zip archives are opened within these bounds; beyond them an archive cannot be checked and is
# cut unseen. An honest archive of ID scans is small: a few files, a few megabytes.
MAX_ARCHIVE_BYTES = 25_000_000
MAX_MEMBERS = 100
MAX_UNCOMPRESSED = 50_000_000
MAX_DEPTH = 2
MAX_RATIO = 100
# Encoded blocks longer than this (in characters) are not decoded: no ID copy is that large.
MAX_ENCODED_CHARS = 40_000_000
# Transfer encodings under which Python's parser does not open an attached message.
_ENCODINGS = frozenset({"base64", "quoted-printable"})
# Non-text parts that carry no picture: signatures, keys and delivery reports.
_HARMLESS = frozenset(
    {
        "application/pgp-signature",
        "application/pgp-keys",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
    }
)

_DATA_URI = re.compile(
    r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[^;,\s\"'>]*)*;base64,"
    r"(?P<data>[A-Za-z0-9+/=\s]{16,})",
    re.IGNORECASE,
)
_UU = re.compile(
    r"^begin [0-7]{3,4} (?P<name>[^\r\n]+)\r?\n(?P<body>.*?)^end[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_UU_BASE64 = re.compile(
    r"^begin-base64 [0-7]{3,4} (?P<name>[^\r\n]+)\r?\n(?P<body>.*?)^====[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Attachment:
    """One file a mail carries, where it was found, and why it cannot be checked (if so)."""

    filename: str
    content_type: str
    data: bytes
    # The sha256 (hex) of the decoded MIME leaf part that holds the file: what is cut.
    part: str = ""
    problem: str = ""

    @property
    def digest(self) -> str:
        """The sha256 (hex) of the file's own bytes."""
        return hashlib.sha256(self.data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The format the bytes are in, by their magic number, of those an ID copy can come as."""
    head = data[:16]
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"GIF8"):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1"):
        return "heic"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    # A PDF reader accepts junk before the header; so must the sniffing.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    return None


def leaves(message: email.message.Message) -> list[email.message.Message]:
    """The leaf parts of a message, in order; a structure too deep to walk gives the top."""
    try:
        return [p for p in message.walk() if not p.is_multipart()]
    except (RecursionError, TypeError, AttributeError):
        return [message]


def payloads(message: email.message.Message, depth: int = 0) -> tuple[Attachment, ...]:
    """Every file in the message, wherever it hides; never raises on bad input."""
    found: list[Attachment] = []
    encoded = _in_encoded_messages(message)
    for part in leaves(message):
        try:
            if id(part) in encoded:
                found.extend(_encoded_message(part, depth))
            else:
                found.extend(_of_part(part))
        except Exception as err:  # a hostile part is a reason to cut it, never a crash
            name = str(part.get_filename() or "")[:200]
            found.append(
                Attachment(name, part.get_content_type(), b"", part_digest(part), _why(err))
            )
    return tuple(found)


def payloads_of(raw: bytes) -> tuple[Attachment, ...]:
    """`payloads` of raw message bytes."""
    return payloads(email.message_from_bytes(raw))


def _in_encoded_messages(message: email.message.Message) -> set[int]:
    """The leaves inside a message/* part sent in base64 or quoted-printable: Python's parser
    leaves such a part's text encoded, as one leaf of text that is not what it holds."""
    inside: set[int] = set()
    try:
        for part in message.walk():
            encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
            if part.get_content_maintype() == "message" and encoding in _ENCODINGS:
                inside.update(id(leaf) for leaf in leaves(part))
    except (RecursionError, TypeError, AttributeError):
        pass  # the leaves are then looked at as they stand
    return inside


def _encoded_message(leaf: email.message.Message, depth: int) -> Iterator[Attachment]:
    # The attached message is decoded and searched like the mail itself; what it holds is cut
    # by cutting this leaf (its encoded text).
    key = part_digest(leaf)
    text = str(leaf.as_string() if leaf.keys() else leaf.get_payload())
    if depth >= MAX_DEPTH or len(text) > MAX_ENCODED_CHARS:
        yield Attachment("", "message/rfc822", b"", key, "attached message nested too deep")
        return
    decoded = _base64(text) if _looks_base64(text) else quopri.decodestring(text.encode())
    inner = email.message_from_bytes(decoded)
    for found in payloads(inner, depth + 1):
        yield dataclasses.replace(found, part=key)


def _looks_base64(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9+/=\s]+", text[:4096]))


def _unreadable(ctype: str, data: bytes) -> str:
    """Why a non-text file cannot be checked, or "": its bytes are in no format the scanner
    reads (BMP, AVIF, a Word file, winmail.dat, an .eml sent as octet-stream). It fails
    closed: such a file is cut and the mail reviewed."""
    if not data or ctype in _HARMLESS or sniff(data) is not None:
        return ""
    return f"a file in a format that cannot be checked ({ctype})"


def _why(err: Exception) -> str:
    return f"cannot be unpacked ({type(err).__name__})"


def _of_part(part: email.message.Message) -> Iterator[Attachment]:
    data = part_bytes(part)
    key = hashlib.sha256(data).hexdigest()
    ctype = part.get_content_type()
    name = _name(part)
    text = _as_text(part, data) if ctype.startswith("text/") else None
    # Declared text that is not (bytes that are no mail at all) is kept as it came.
    problem = "" if ctype.startswith("text/") else _unreadable(ctype, data)
    if problem:
        yield Attachment(name, ctype, data, key, problem)
    elif text is None or name or part.get_content_disposition() == "attachment":
        yield from _file(name, ctype, data, key, 0)
    if ctype.startswith("text/") and sniff(data) is None:
        # Text in a charset it does not keep to still carries its data: URIs and blocks in ASCII.
        yield from _embedded(text if text is not None else data.decode("latin-1"), key)


def _name(part: email.message.Message) -> str:
    name = str(part.get_filename() or "")
    try:
        return str(email.header.make_header(email.header.decode_header(name)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return name


def _as_text(part: email.message.Message, data: bytes) -> str | None:
    # A part declared text that holds a file, NUL bytes or bytes its charset cannot decode is
    # not text: it is looked at as a file.
    if sniff(data) is not None or b"\x00" in data:
        return None
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return None if part.get_content_charset() else data.decode("latin-1")


def _file(name: str, ctype: str, data: bytes, key: str, depth: int) -> Iterator[Attachment]:
    yield Attachment(name, ctype, data, key)
    if sniff(data) == "zip":
        yield from _archive(name or "archive.zip", data, key, depth)


def _archive(name: str, data: bytes, key: str, depth: int) -> Iterator[Attachment]:
    def cannot(why: str) -> Attachment:
        return Attachment(name, "application/zip", b"", key, f"zip archive {why}")

    if depth >= MAX_DEPTH:
        yield cannot(f"nested more than {MAX_DEPTH} deep")
        return
    if len(data) > MAX_ARCHIVE_BYTES:
        yield cannot(f"larger than {MAX_ARCHIVE_BYTES // 1_000_000} MB")
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        yield cannot(f"cannot be opened ({type(err).__name__})")
        return
    if len(members) > MAX_MEMBERS:
        yield cannot(f"has more than {MAX_MEMBERS} files")
        return
    budget = MAX_UNCOMPRESSED
    for member in members:
        if member.flag_bits & 0x1:
            yield cannot(f"holds an encrypted file ({member.filename})")
            return
        try:
            content = _read(archive, member, budget)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as err:
            yield cannot(f"member {member.filename} cannot be read ({type(err).__name__})")
            return
        if content is None:
            yield cannot("unpacks to more than any ID copy takes: a zip bomb")
            return
        budget -= len(content)
        if sniff(content) is not None:
            yield from _file(
                f"{name}/{member.filename}", "application/octet-stream", content, key, depth + 1
            )


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int) -> bytes | None:
    # The sizes in the archive's directory can lie: reading stops at the budget, whatever they
    # claim, and a member that unpacks far beyond its packed size is a bomb.
    limit = min(budget, MAX_RATIO * max(member.compress_size, 1_000))
    with archive.open(member) as opened:
        content = opened.read(limit + 1)
    return None if len(content) > limit else content


def _embedded(text: str, key: str) -> Iterator[Attachment]:
    for index, match in enumerate(_DATA_URI.finditer(text[:MAX_ENCODED_CHARS]), 1):
        ctype = (match["type"] or "application/octet-stream").lower()
        data = _base64(match["data"])
        yield Attachment(f"data: URI {index}", ctype, data, key, "" if data else "bad base64")
    for match in _UU.finditer(text):
        yield from _file(
            match["name"].strip(), "application/octet-stream", _uudecode(match["body"]), key, 0
        )
    for match in _UU_BASE64.finditer(text):
        yield from _file(
            match["name"].strip(), "application/octet-stream", _base64(match["body"]), key, 0
        )


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()) + "==")
    except (binascii.Error, ValueError):
        return b""


def _uudecode(body: str) -> bytes:
    out: list[bytes] = []
    for line in body.splitlines():
        if not line or line in ("`", " "):
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            # Some encoders pad lines with garbage past their stated length (as Python's old
            # uu module knew): decode only the characters the length byte asks for.
            count = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
            try:
                out.append(binascii.a2b_uu(line[:count]))
            except binascii.Error:
                continue
    return b"".join(out)
