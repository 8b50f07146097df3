"""Sensitive fields in the text read off a page: a BSN or document number after its label, the
printed document number that an MRZ confirms, MRZ fragments left beside a partial black box, and
a QR code that carries a BSN."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from rapidfuzz.distance import Levenshtein
from stdnum.nl import bsn

from worker.judge.rules.schema import ScanWords
from worker.judge.scan.ocr import Line


def _any(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


@dataclass(frozen=True)
class ScanPatterns:
    """The `scan` words of rules/id_documents.yaml, compiled."""

    bsn: re.Pattern[str]
    bsn_on_dutch: re.Pattern[str]
    document_number: re.Pattern[str]
    document_words: re.Pattern[str]
    dutch: re.Pattern[str]
    bsn_label: re.Pattern[str]
    document_label: re.Pattern[str]
    issuer: re.Pattern[str]
    field_labels: tuple[re.Pattern[str], ...]
    issue_labels: tuple[re.Pattern[str], ...]
    number_shape: re.Pattern[str]
    licence: re.Pattern[str]
    licence_shape: re.Pattern[str]

    @classmethod
    def compile(cls, words: ScanWords) -> ScanPatterns:
        # Labels are matched in any case; the number after them, possibly on the next line with
        # other labels or OCR debris between (no digits), is 9 digits, or capitals and digits
        # standing as a word of their own. The group is named: a label may have groups too.
        bsn_after = (
            r"[^0-9\n]{0,40}\n?[^0-9\n]{0,40}(?<![0-9])(?P<number>(?:[0-9][ .]?){8}[0-9])(?![0-9])"
        )
        dutch_only = words.bsn_labels_on_dutch_documents or ["(?!)"]
        return cls(
            re.compile(rf"(?i:{_any(words.bsn_labels)}){bsn_after}"),
            re.compile(rf"(?i:{_any(dutch_only)}){bsn_after}"),
            re.compile(
                rf"(?i:{_any(words.document_number_labels)})[^0-9\n]{{0,40}}\n?[^0-9\n]{{0,40}}"
                r"(?<![A-Za-z0-9])(?P<number>(?=[A-Z]*[0-9])[A-Z0-9]{6,12})(?![A-Za-z0-9])"
            ),
            re.compile(_any(words.document_words), re.IGNORECASE),
            re.compile(_any(words.dutch_words), re.IGNORECASE),
            re.compile(_any([*words.bsn_labels, *dutch_only]), re.IGNORECASE),
            re.compile(_any(words.document_number_labels), re.IGNORECASE),
            re.compile(_any(words.issuer_words or ["(?!)"]), re.IGNORECASE),
            tuple(re.compile(p, re.IGNORECASE) for p in words.field_labels),
            tuple(re.compile(p, re.IGNORECASE) for p in words.issue_labels),
            re.compile(_any(words.document_number_shapes or ["(?!)"])),
            re.compile(_any(words.licence_words or ["(?!)"]), re.IGNORECASE),
            re.compile(_any(words.licence_number_shapes or ["(?!)"])),
        )


@dataclass(frozen=True)
class Field:
    """A field found in the lines of a page: kind, the line's box, how sure."""

    kind: str
    bbox: tuple[int, int, int, int]
    confidence: float


_NOT_MRZ = re.compile(r"[^0-9A-Z<]")


def mrz_like(text: str) -> bool:
    """A line mostly in the MRZ alphabet with the filler in it: a whole MRZ line or a piece of
    one (the layout pass reads some fillers as s, c or «)."""
    compact = re.sub(r"\s+", "", text).replace("«", "<")
    strays = len(_NOT_MRZ.findall(compact))
    return len(compact) >= 10 and strays <= 0.15 * len(compact) and compact.count("<") >= 2


def _joined(lines: Iterable[Line]) -> tuple[str, list[tuple[int, Line]]]:
    text, starts = "", []
    for line in lines:
        starts.append((len(text), line))
        text += line.text + "\n"
    return text, starts


def _line_at(starts: list[tuple[int, Line]], offset: int) -> Line:
    return next(line for start, line in reversed(starts) if start <= offset)


def labelled_bsn(lines: list[Line], patterns: ScanPatterns) -> list[Field]:
    """A 9-digit number passing the 11-proof right after a BSN label; after a label such as
    "Personal No." only on a Dutch document, since other countries print their own there."""
    text, starts = _joined(lines)
    labels = [patterns.bsn]
    if patterns.dutch.search(text):
        labels.append(patterns.bsn_on_dutch)
    return [
        Field("bsn", _line_at(starts, match.start("number")).bbox, 0.9)
        for pattern in labels
        for match in pattern.finditer(text)
        if bsn.is_valid(re.sub(r"[^0-9]", "", match.group("number")))
    ]


def unanswered_labels(lines: list[Line], patterns: ScanPatterns) -> list[Line]:
    """Lines with a BSN or document-number label whose number was not read after it."""
    text, starts = _joined(lines)
    answered = {
        _line_at(starts, m.start()).bbox
        for pattern in (patterns.bsn, patterns.bsn_on_dutch, patterns.document_number)
        for m in pattern.finditer(text)
    }
    return [
        line
        for line in lines
        if line.bbox not in answered
        and (patterns.bsn_label.search(line.text) or patterns.document_label.search(line.text))
    ]


def printed_document_number(
    lines: list[Line], patterns: ScanPatterns, mrz_numbers: Iterable[str]
) -> list[Field]:
    """The document number printed outside the MRZ: after its label, or (in any layout or
    language) a token that the MRZ's own document number confirms."""
    text, starts = _joined(line for line in lines if not mrz_like(line.text))
    found = [
        Field("document_number", _line_at(starts, match.start("number")).bbox, 0.8)
        for match in patterns.document_number.finditer(text)
    ]
    # OCR slips are forgiven in proportion: two in a number of nine or more characters, one in
    # seven or eight, none in a short one.
    wanted = [(n, 2 if len(n) >= 9 else int(len(n) >= 7)) for n in mrz_numbers if len(n) >= 6]
    for _, line in starts:
        compact = re.sub(r"[^A-Z0-9]", "", line.text.upper())
        if any(_contains(compact, n, slips) for n, slips in wanted):
            found.append(Field("document_number", line.bbox, 0.95))
    return found


def _contains(text: str, number: str, slips: int) -> bool:
    """Whether `number` stands somewhere in `text` with at most `slips` OCR edits."""
    for size in {len(number) - slips, len(number), len(number) + slips}:
        for start in range(0, len(text) - size + 1):
            if (
                Levenshtein.distance(text[start : start + size], number, score_cutoff=slips)
                <= slips
            ):
                return True
    return False


def mrz_fragments(lines: list[Line]) -> list[Line]:
    """Pieces of an MRZ that did not parse: what a box over part of the zone leaves readable.
    A piece counts when it still carries data (digits or letters), not only fillers."""
    return [
        line
        for line in lines
        if mrz_like(line.text)
        and line.text.count("<") >= 3
        and len(re.sub(r"[<\s]", "", line.text)) >= 3
    ]


def fragment_bsn(fragments: list[Line], page_text: str, patterns: ScanPatterns) -> list[Field]:
    """An 11-proof number in a piece of the MRZ of a Dutch document: its BSN."""
    if not patterns.dutch.search(page_text):
        return []
    found = []
    for line in fragments:
        for run in re.findall(r"[0-9]{9,}", line.text.replace(" ", "")):
            if any(bsn.is_valid(run[i : i + 9]) for i in range(len(run) - 8)):
                found.append(Field("bsn", line.bbox, 0.6))
                break
    return found


def qr_bsn(gray: np.ndarray) -> list[Field]:
    """A readable QR code (on the back of Dutch cards since August 2021) that holds a BSN."""
    try:
        payload, points, _ = cv2.QRCodeDetector().detectAndDecode(gray)
    except cv2.error:
        return []
    if not payload or points is None:
        return []
    for run in re.findall(r"(?<![0-9])[0-9]{9}(?![0-9])", payload):
        if bsn.is_valid(run):
            x, y, w, h = cv2.boundingRect(points.astype(np.float32).reshape(-1, 2))
            return [Field("bsn", (int(x), int(y), int(w), int(h)), 0.95)]
    return []


# Dates as identity documents print them: "02.01.2003", "22 07 2019", "16 MRT/MAR 1990".
_DATE = re.compile(
    r"\b[0-3]?[0-9][. ][01]?[0-9][. ](?:19|20)[0-9]{2}\b"
    r"|\b[0-3]?[0-9] [A-Z]{3}/[A-Z]{3} (?:19|20)[0-9]{2}\b"
)
# Letters OCR reads for a digit: a number's last character, a check digit, is always a digit.
_AS_DIGIT = str.maketrans("OQDILSBZG", "001115826")


def _readings(token: str) -> tuple[str, ...]:
    """The word as read, and with a letter at its end read as the digit it may be: only for a
    word with a digit already, so that "RIJBEWIJS" does not become a number."""
    if any(c.isdigit() for c in token[:-1]):
        return token, token[:-1] + token[-1].translate(_AS_DIGIT)
    return (token,)


# A word of capitals, digits and dashes standing on its own.
_TOKEN = re.compile(r"(?<![A-Za-z0-9-])[A-Z0-9][A-Z0-9-]{5,15}(?![A-Za-z0-9-])")


@dataclass(frozen=True)
class Layout:
    """What a page shows of an identity document's layout, whatever is covered on it."""

    issuer: bool
    labels: int
    dates: int
    licence_back: bool
    licence_fields: int = 0
    issue_labels: int = 0

    def looks_like_id(self, worded: bool) -> bool:
        """A document word with an issuer, two field labels or two dates; without one, an
        issuer with two of either, or a label of issue among three labels (a card's back); or
        a driving licence: its numbered fields ("1.", "4a.", "9.") or the table of category
        dates on its back."""
        evidence = self.issuer or self.labels >= 2 or self.dates >= 2
        strong = self.issuer and (self.labels >= 2 or self.dates >= 2)
        issued = self.issue_labels >= 1 and self.labels >= 3
        return (worded and evidence) or strong or issued or self.licence

    @property
    def licence(self) -> bool:
        """A European driving licence, by its numbered fields or the dates on its back."""
        return self.licence_back or (self.licence_fields >= 4 and self.dates >= 1)


def layout(lines: list[Line], patterns: ScanPatterns) -> Layout:
    """Issuer, printed field labels, ID-style dates, and the date table of a licence's back."""
    text = "\n".join(line.text for line in lines)
    issued = sum(1 for label in patterns.issue_labels if label.search(text))
    labels = issued + sum(1 for label in patterns.field_labels if label.search(text))
    dated = [len(_DATE.findall(line.text)) for line in lines]
    return Layout(
        bool(patterns.issuer.search(text)),
        labels,
        sum(dated),
        sum(1 for n in dated if n >= 2) >= 3 or sum(dated) >= 6,
        len(set(_LICENCE_FIELD.findall(text))),
        issued,
    )


# The numbered fields of a European driving licence: "1." name, "4a." date of issue, "9."
# categories, "12." restrictions.
_LICENCE_FIELD = re.compile(r"(?<![0-9A-Za-z.])((?:[1-9]|1[0-2]|4[a-d])\.)(?=\s|$)")


def shaped_document_number(lines: list[Line], patterns: ScanPatterns) -> list[Field]:
    """On an identity document: a word shaped like a document number of a known issuer (or,
    on a driving licence, its ten-digit number), with or without its label."""
    licence = bool(patterns.licence.search("\n".join(line.text for line in lines)))
    found = []
    for line in lines:
        if mrz_like(line.text):
            continue
        shaped = any(
            patterns.number_shape.fullmatch(word)
            for token in _TOKEN.findall(line.text)
            if not _DATE.fullmatch(token) and not bsn.is_valid(token.replace("-", ""))
            for word in _readings(token)
        )
        if shaped or (licence and patterns.licence_shape.search(line.text)):
            found.append(Field("document_number", line.bbox, 0.7))
    return found


def lone_bsn(lines: list[Line]) -> list[Field]:
    """On a Dutch identity document: a nine-digit number that passes the 11-proof, label read or
    not (the label is small, and a partial box may cover it)."""
    return [
        Field("bsn", line.bbox, 0.7)
        for line in lines
        if not mrz_like(line.text) and any(bsn.is_valid(run) for run in nine_digits(line.text))
    ]


def nine_digits(text: str) -> list[str]:
    """Nine-digit numbers in a line, also where OCR split one with spaces ("2624 14 041"), but
    never glued onto the number printed beside it (a licence's back prints its card number and
    the BSN on one line)."""
    found = []
    for group in re.findall(r"(?<![0-9])[0-9]+(?: [0-9]+)*(?![0-9])", text):
        parts = group.split(" ")
        for start in range(len(parts)):
            joined = ""
            for part in parts[start:]:
                joined += part
                if len(joined) >= 9:
                    break
            if len(joined) == 9:
                found.append(joined)
    return found
