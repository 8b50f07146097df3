"""Scans one attachment: is it an identity document, and which sensitive fields can be read?

Per page: level the text (right-angle turns and phone-photo skew), read it once with tesseract's
layout pass, and look in those lines for an MRZ, labelled numbers and document words. Only where
an MRZ seems to be but did not parse is that band read again with the MRZ alphabet. Faces are
looked for on the levelled page; a QR code is decoded where there is one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from worker.errors import OcrFailed, OcrTimeout
from worker.judge.rules.schema import ScanWords
from worker.judge.scan import fields
from worker.judge.scan.face import eyes, faces
from worker.judge.scan.fields import Field, ScanPatterns
from worker.judge.scan.load import Page, load
from worker.judge.scan.mrz import Mrz, find_mrz
from worker.judge.scan.ocr import (
    Deadline,
    Line,
    PageText,
    bands,
    read_mrz_band,
    read_page,
    read_region,
)
from worker.judge.scan.orient import Turned, level_angle, text_ink, turn

# A face taking more of the picture than this is a portrait, not the photo on a document.
MAX_ID_PHOTO_SHARE = 0.08
# Loading and OCR of one attachment must finish in this many seconds; what is left unread is
# reported.
TIME_LIMIT_SECONDS = 60.0
# A page with less text ink than this share of its pixels is a photo, not a document: no OCR.
MIN_INK_SHARE = 0.002
# Below this mean word confidence the page may be upside down: it is read turned round too.
_UPRIGHT_CONFIDENCE = 70
ORDER = ("bsn", "mrz", "document_number", "photo")
# MRZ-alphabet reads of a page at most: the band the layout pass pointed at, then one more.
MAX_MRZ_READS = 2


@dataclass(frozen=True)
class Finding:
    """One sensitive field seen: what, where, how sure. Never the value itself."""

    kind: str
    page: int
    bbox: tuple[int, int, int, int]
    confidence: float
    source: str = "page"


@dataclass(frozen=True)
class ScanResult:
    """What `scan` reports for one file."""

    is_id_document: bool
    unredacted: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    unreadable: tuple[str, ...] = field(default=())
    # Numbers read on a file that is no identity document (a payslip's or tax letter's BSN):
    # not an unredacted ID copy, but just as much a reason not to keep the file.
    personal_numbers: tuple[str, ...] = ()

    @classmethod
    def failed(cls, reason: str) -> ScanResult:
        """The result for a file that could not be scanned at all."""
        return cls(False, (), (), (reason,))


@dataclass
class _PageScan:
    found: list[Finding]
    is_id: bool
    photos: list[Finding]
    lines: list[Line]
    to_page: Callable[[tuple[int, int, int, int]], tuple[int, int, int, int]]


def scan(data: bytes, words: ScanWords, time_limit: float = TIME_LIMIT_SECONDS) -> ScanResult:
    """Scans image or PDF bytes; problems become `unreadable` reasons, never exceptions."""
    # The limit counts from here: drawing a file's pages takes its share of the time too.
    deadline = Deadline.after(time_limit)
    patterns = ScanPatterns.compile(words)
    loaded = load(data)
    findings: list[Finding] = []
    photos: list[Finding] = []
    problems = list(loaded.unreadable)
    is_id = False
    # Each page's number and source with what was read on it (not its pixels).
    pages: list[tuple[int, str, _PageScan]] = []
    for page in loaded.pages:
        try:
            result = _scan_page(page, patterns, deadline)
        except OcrTimeout:
            problems.append(f"OCR took longer than {time_limit:.0f} s: page {page.number} unread")
            break
        except OcrFailed as err:
            problems.append(f"OCR failed on page {page.number}: {err}")
            continue
        except Exception as err:  # OpenCV on a hostile page: that page is a reason, not a crash
            problems.append(f"page {page.number} cannot be read ({type(err).__name__}: {err})")
            continue
        findings.extend(result.found)
        photos.extend(result.photos)
        is_id = is_id or result.is_id
        pages.append((page.number, page.source, result))
    if not is_id and len(pages) > 1:
        # The two sides of a card on two pages: neither alone may show enough of the layout.
        is_id, extra = _as_one_document(pages, patterns, findings)
        findings.extend(extra)
    layer = _text_layer(loaded.text, patterns)
    findings.extend(layer)
    is_id = is_id or any(f.kind == "mrz" for f in layer)
    if is_id:
        # A face is an unredacted photo only on an identity document.
        findings.extend(photos)
    kinds = tuple(k for k in ORDER if k in {f.kind for f in findings})
    unique = tuple(dict.fromkeys(findings))  # one band read twice is one finding
    if not is_id:
        return ScanResult(False, (), unique, tuple(problems), kinds)
    return ScanResult(True, kinds, unique, tuple(problems))


def _as_one_document(
    pages: list[tuple[int, str, _PageScan]], patterns: ScanPatterns, found: list[Finding]
) -> tuple[bool, list[Finding]]:
    """Whether the pages together look like one identity document, and then the shaped fields
    on any of them."""
    everything = [line for _, _, result in pages for line in result.lines]
    shape = fields.layout(everything, patterns)
    worded = any(patterns.document_words.search(line.text) for line in everything)
    if not shape.looks_like_id(worded):
        return False, []
    extra: list[Finding] = []
    for number, source, result in pages:
        for f in _shaped_fields(result.lines, patterns, found + extra, shape.licence):
            box = result.to_page(f.bbox)
            extra.append(Finding(f.kind, number, box, f.confidence, source))
    return True, extra


def _upright_text(
    gray: np.ndarray, patterns: ScanPatterns, deadline: Deadline
) -> tuple[Turned, PageText]:
    turned = turn(gray, level_angle(gray))
    text = read_page(turned.gray, deadline)
    # Upside down, a page reads as noise: many unsure words, but no MRZ, no label, no
    # document word. A page that gave any of those is the right way up, and one that gave
    # hardly a word (a photo) has no text either way: neither is read a second time.
    meaningful = any(
        fields.mrz_like(line.text)
        or patterns.document_words.search(line.text)
        or patterns.bsn_label.search(line.text)
        or patterns.document_label.search(line.text)
        for line in text.lines
    )
    if not meaningful and text.words >= 3 and text.confidence < _UPRIGHT_CONFIDENCE:
        around = turn(gray, turned.angle + 180)
        other = read_page(around.gray, deadline)
        if other.confidence * min(other.words, 20) > text.confidence * min(text.words, 20):
            return around, other
    return turned, text


def _scan_page(page: Page, patterns: ScanPatterns, deadline: Deadline) -> _PageScan:
    gray = cv2.cvtColor(np.asarray(page.image), cv2.COLOR_RGB2GRAY)
    ink = text_ink(gray)
    if cv2.countNonZero(ink) < MIN_INK_SHARE * ink.size:
        return _PageScan([], False, [], [], lambda box: box)
    turned, text = _upright_text(gray, patterns, deadline)
    lines = list(text.lines)
    page_text = "\n".join(line.text for line in lines)

    def at(kind: str, box: tuple[int, int, int, int], confidence: float) -> Finding:
        return Finding(kind, page.number, turned.to_page(box), confidence, page.source)

    def each(found: list[Field]) -> list[Finding]:
        return [at(f.kind, f.bbox, f.confidence) for f in found]

    found: list[Finding] = []
    mrzs, fragments = _mrz(turned.gray, lines, patterns, page_text, deadline)
    for mrz, box in mrzs:
        confidence = mrz.checks_passed / mrz.checks_total
        found.append(at("mrz", box, confidence))
        if mrz.bsn:
            found.append(at("bsn", box, confidence))
    if not mrzs and fragments:
        found.extend(at("mrz", line.bbox, 0.5) for line in fragments)
        found.extend(each(fields.fragment_bsn(fragments, page_text, patterns)))
    lines.extend(_reread_labels(turned.gray, lines, patterns, deadline))
    found.extend(each(fields.labelled_bsn(lines, patterns)))
    numbers = [mrz.document_number for mrz, _ in mrzs]
    found.extend(each(fields.printed_document_number(lines, patterns, numbers)))
    worded = bool(patterns.document_words.search(page_text))
    has_mrz = any(f.kind == "mrz" for f in found)
    shape = fields.layout(lines, patterns)
    shaped = shape.looks_like_id(worded)
    if has_mrz or shaped:
        found.extend(each(_shaped_fields(lines, patterns, found, shape.licence)))
    if worded or has_mrz or patterns.dutch.search(page_text):
        # Only on a document: an invoice's payment QR code may hold nine digits as well. Its
        # box is in the pixels of the image it was found on (a thumbnail, say).
        source = "qr" if page.source == "page" else page.source
        found.extend(
            Finding(f.kind, page.number, f.bbox, f.confidence, source) for f in fields.qr_bsn(gray)
        )
    # A face matters only on an identity document: no MRZ and no document words, no search.
    photos = (
        [at("photo", box, 0.8) for box in _document_photos(turned.gray, list(text.lines))]
        if has_mrz or worded or shaped
        else []
    )
    labelled = any(f.kind in ("bsn", "document_number") for f in found)
    is_id = has_mrz or shaped or (worded and (bool(photos) or labelled))
    return _PageScan(found, is_id, photos, lines, turned.to_page)


def _shaped_fields(
    lines: list[Line], patterns: ScanPatterns, found: list[Finding], licence: bool
) -> list[Field]:
    """On an identity document, its number and BSN need no readable label: their shapes say
    it (a BSN only on a Dutch one, or a licence, whose back may not say Nederland)."""
    shaped: list[Field] = []
    if not any(f.kind == "document_number" for f in found):
        shaped.extend(fields.shaped_document_number(lines, patterns))
    text = "\n".join(line.text for line in lines)
    dutch = licence or patterns.dutch.search(text) or patterns.licence.search(text)
    if dutch and not any(f.kind == "bsn" for f in found):
        shaped.extend(fields.lone_bsn(lines))
    return shaped


def _mrz(
    gray: np.ndarray,
    lines: list[Line],
    patterns: ScanPatterns,
    page_text: str,
    deadline: Deadline,
) -> tuple[list[tuple[Mrz, tuple[int, int, int, int]]], list[Line]]:
    """MRZs read on the page (each with its band), or else the MRZ pieces left readable."""
    zone = [line for line in lines if fields.mrz_like(line.text)]
    from_layout = find_mrz([line.text for line in zone])
    if from_layout:
        return [(mrz, _union(zone)) for mrz in from_layout], []
    candidates = [_band_around(zone, gray.shape[1])] if zone else []
    if zone or patterns.document_words.search(page_text) or not lines:
        # Also where the layout pass read nothing MRZ-like on what may be a document: wide
        # text bands shaped the way an MRZ is, the tallest first; two reads at most a page.
        candidates = (candidates + bands(gray))[:MAX_MRZ_READS]
    pieces = list(fields.mrz_fragments(zone))
    for band in candidates:
        found, raw = read_mrz_band(gray, band, deadline)
        if found:
            return [(mrz, band) for mrz in found], []
        pieces.extend(fields.mrz_fragments([Line(text, band, 0.0) for text in raw]))
    return [], pieces


def _union(lines: list[Line]) -> tuple[int, int, int, int]:
    x0 = min(line.bbox[0] for line in lines)
    y0 = min(line.bbox[1] for line in lines)
    x1 = max(line.bbox[0] + line.bbox[2] for line in lines)
    y1 = max(line.bbox[1] + line.bbox[3] for line in lines)
    return x0, y0, x1 - x0, y1 - y0


def _band_around(zone: list[Line], width: int) -> tuple[int, int, int, int]:
    # The whole width: a line the layout pass cut short must not lose its first characters.
    _, y, _, h = _union(zone)
    line_height = max(line.bbox[3] for line in zone)
    pad = line_height
    return 0, max(0, y - pad), width, h + 2 * pad


def _reread_labels(
    gray: np.ndarray, lines: list[Line], patterns: ScanPatterns, deadline: Deadline
) -> list[Line]:
    """The region after labels whose number the layout pass did not give, read once more."""
    labels = fields.unanswered_labels(lines, patterns)
    if not labels:
        return []
    height, width = gray.shape
    boxes = [
        (
            max(0, x - h),
            y,
            min(width, x + max(w, 14 * h)) - max(0, x - h),
            min(height, y + 4 * h) - y,
        )
        for x, y, w, h in (line.bbox for line in labels)
    ]
    region = _union([Line("", box, 0.0) for box in boxes])
    return [Line(text, region, 0.0) for text in read_region(gray, region, deadline)]


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, width) * max(0, height)


def _document_photos(gray: np.ndarray, lines: list[Line]) -> list[tuple[int, int, int, int]]:
    # A photo holds no printed text: a "face" on a line of text is the cascade seeing eyes in
    # letters or guilloche.
    area = gray.shape[0] * gray.shape[1]
    text = [line.bbox for line in lines if len(line.text.replace(" ", "")) >= 3]
    return [
        b
        for b in faces(gray)
        if b[2] * b[3] <= MAX_ID_PHOTO_SHARE * area
        and not any(_overlap(b, t) > 0.2 * b[2] * b[3] for t in text)
        and _has_face_detail(gray, b)
    ]


# A face box from the cascade is a face only with eyes in its upper part, or with the shading of
# one: the inside of a big watermark letter ("KOPIE"), a box drawn over the photo or a
# pixelated photo is flat. (Measured on the blind generator's dev set: 9 of 11 false faces go,
# 2 of 30 real ones are lost.)
MIN_FACE_CONTRAST = 19.0
MAX_FLAT_NEIGHBOURS = 0.5


def _has_face_detail(gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    if eyes(gray[y : y + h * 6 // 10, x : x + w]):
        return True
    inner = gray[y + h // 5 : y + h - h // 5, x + w // 5 : x + w - w // 5].astype(np.int16)
    if inner.size < 16:
        return False
    flat = float(np.mean(np.abs(np.diff(inner, axis=1)) <= 1))
    return float(inner.std()) >= MIN_FACE_CONTRAST and flat <= MAX_FLAT_NEIGHBOURS


def _text_layer(text: str, patterns: ScanPatterns) -> list[Finding]:
    # A text layer is what a recipient can copy out, even under a black box drawn on top.
    lines = [Line(line, (0, 0, 0, 0), 100.0) for line in text.splitlines() if line.strip()]
    found = [
        Finding("bsn", 0, (0, 0, 0, 0), 1.0, "text-layer")
        for _ in fields.labelled_bsn(lines, patterns)
    ]
    for mrz in find_mrz([line for line in text.splitlines() if fields.mrz_like(line)]):
        found.append(Finding("mrz", 0, (0, 0, 0, 0), 1.0, "text-layer"))
        if mrz.bsn:
            found.append(Finding("bsn", 0, (0, 0, 0, 0), 1.0, "text-layer"))
    return found


def scan_json(result: ScanResult, file: str) -> dict[str, Any]:
    """The JSON object `scan --json` prints for one file."""
    return {
        "file": file,
        "is_id_document": result.is_id_document,
        "unredacted": list(result.unredacted),
        "personal_numbers": list(result.personal_numbers),
        "findings": [
            {
                "kind": f.kind,
                "page": f.page,
                "bbox": list(f.bbox),
                "confidence": round(f.confidence, 2),
                "source": f.source,
            }
            for f in result.findings
        ],
        "unreadable": list(result.unreadable),
    }
