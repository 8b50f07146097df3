"""Scans one attachment: is it an identity document, and which sensitive fields can be read?"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stdnum.nl import bsn

from worker.scan.face import faces
from worker.scan.load import Page, load
from worker.scan.ocr import read_mrz

# A BSN counts only next to a label that says what it is: a 9-digit invoice number is none.
_LABELLED_BSN = re.compile(
    r"(?i)(?:bsn|burger\s*service\s*nummer|burgerservicenummer|persoonsnummer|personal\s*no\.?|"
    r"sofi\s*-?\s*nummer)[^0-9]{0,40}((?:\d[\s.]?){8}\d)"
)
# A face taking more of the picture than this is a portrait, not the photo on a document.
MAX_ID_PHOTO_SHARE = 0.08


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


def scan(data: bytes) -> ScanResult:
    """Scans image or PDF bytes; problems become `unreadable` reasons, never exceptions."""
    loaded = load(data)
    findings: list[Finding] = []
    is_id = False
    for page in loaded.pages:
        page_findings, page_is_id = _scan_page(page)
        findings.extend(page_findings)
        is_id = is_id or page_is_id
    findings.extend(_text_layer_bsn(loaded.text))
    kinds = {f.kind for f in findings if f.kind != "photo" or is_id}
    order = ("bsn", "mrz", "document_number", "photo")
    return ScanResult(
        is_id,
        tuple(k for k in order if k in kinds),
        tuple(f for f in findings if f.kind in kinds),
        loaded.unreadable,
    )


def _scan_page(page: Page) -> tuple[list[Finding], bool]:
    found: list[Finding] = []
    for reading in read_mrz(page.image):
        share = reading.mrz.checks_passed / reading.mrz.checks_total
        found.append(Finding("mrz", page.number, reading.bbox, share, page.source))
        if reading.mrz.document_number:
            found.append(Finding("document_number", page.number, reading.bbox, share, page.source))
        if reading.mrz.bsn:
            found.append(Finding("bsn", page.number, reading.bbox, share, page.source))
    photos = _document_photos(page)
    found.extend(Finding("photo", page.number, box, 0.8, page.source) for box in photos)
    return found, bool(found) and (any(f.kind == "mrz" for f in found) or bool(photos))


def _document_photos(page: Page) -> list[tuple[int, int, int, int]]:
    area = page.image.width * page.image.height
    for turn in (0, 180, 90, 270):
        image = page.image if turn == 0 else page.image.rotate(turn, expand=True)
        boxes = faces(image)
        if boxes:
            return [b for b in boxes if b[2] * b[3] <= MAX_ID_PHOTO_SHARE * area]
    return []


def _text_layer_bsn(text: str) -> list[Finding]:
    # A text layer is what a recipient can copy out, even under a black box drawn on top.
    return [
        Finding("bsn", 0, (0, 0, 0, 0), 1.0, "text-layer")
        for match in _LABELLED_BSN.finditer(text)
        if bsn.is_valid(re.sub(r"\D", "", match.group(1)))
    ]


def scan_json(result: ScanResult, file: str) -> dict[str, Any]:
    """The JSON object `scan --json` prints for one file."""
    return {
        "file": file,
        "is_id_document": result.is_id_document,
        "unredacted": list(result.unredacted),
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
