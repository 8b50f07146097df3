"""Fields in read text: labels, cross-checks with the MRZ, MRZ pieces, QR codes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from worker.judge.rules import RuleSet
from worker.judge.scan import fields
from worker.judge.scan.fields import ScanPatterns
from worker.judge.scan.ocr import Line

# 11-proof valid, and one that fails it.
BSN, NOT_BSN = "999990019", "999990018"


@pytest.fixture(scope="module")
def patterns(rules: RuleSet) -> ScanPatterns:
    return ScanPatterns.compile(rules.id_scan)


def lines(*texts: str) -> list[Line]:
    return [Line(text, (0, 40 * i, 400, 30), 90.0) for i, text in enumerate(texts)]


@pytest.mark.parametrize(
    "texts",
    [
        ("BSN", BSN),
        ("Burgerservicenummer", "9999.90.019"),
        ("KONINKRIJK DER NEDERLANDEN", "Persoonsnummer / Personal no.", "— 9999 90 019"),
        ("4d. BSN: 999990019",),
        ("sofinummer 999990019",),
    ],
)
def test_labelled_bsn(patterns: ScanPatterns, texts: tuple[str, ...]) -> None:
    assert [f.kind for f in fields.labelled_bsn(lines(*texts), patterns)] == ["bsn"]


@pytest.mark.parametrize(
    "texts",
    [
        ("Factuurnummer", BSN),  # an invoice number that happens to pass the 11-proof
        ("BSN", NOT_BSN),
        ("BSN", "9999900191"),  # ten digits: part of a longer number
        ("Totaal", "EUR 999990019"),
        ("Jobsnummer 999990019",),  # "bsn" inside another word
        # Other countries print their own number after "Personal No.": no BSN there.
        ("REPUBLIC OF UTOPIA  PASSPORT", "Personal No.", BSN),
    ],
)
def test_no_bsn(patterns: ScanPatterns, texts: tuple[str, ...]) -> None:
    assert fields.labelled_bsn(lines(*texts), patterns) == []


def test_document_number_after_its_label(patterns: ScanPatterns) -> None:
    found = fields.printed_document_number(
        lines("Documentnummer / Document no.", "_ +SPECI2021"), patterns, []
    )
    assert [f.kind for f in found] == ["document_number"]
    assert fields.printed_document_number(lines("Documentnummer", "Nederland"), patterns, []) == []
    # The Dutch three-language label, other labels in capitals between it and the number.
    three = lines("Documentnummer/Document no./No du document", "SPECI2014")
    assert len(fields.printed_document_number(three, patterns, [])) == 1


def test_document_number_confirmed_by_the_mrz_in_any_layout(patterns: ScanPatterns) -> None:
    # A licence prints its number after "5."; the MRZ says which token it is (one slip allowed).
    text = lines("5.", "CUVV6KWB2O", "D1NLD1CUVV6KWB20<<<<<<<<<<<<<3")
    assert len(fields.printed_document_number(text, patterns, ["CUVV6KWB20"])) == 1
    assert fields.printed_document_number(text[:1] + text[2:], patterns, ["CUVV6KWB20"]) == []


def test_unanswered_labels(patterns: ScanPatterns) -> None:
    text = lines("BSN", "Documentnummer", "XY12345Z6")
    assert [line.text for line in fields.unanswered_labels(text, patterns)] == ["BSN"]


def test_mrz_pieces_and_the_bsn_in_them(patterns: ScanPatterns) -> None:
    pieces = fields.mrz_fragments(lines("3103094999990019<<<<<48", "<<<<<<<<<<<<", "Naam"))
    assert [p.text for p in pieces] == ["3103094999990019<<<<<48"]
    assert len(fields.fragment_bsn(pieces, "PASPOORT NEDERLAND", patterns)) == 1
    # Another country's personal number can pass the 11-proof: only a Dutch document has a BSN.
    assert fields.fragment_bsn(pieces, "REPUBLIK ÖSTERREICH", patterns) == []


def qr(payload: str) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(payload)  # type: ignore[attr-defined]
    code = cv2.resize(code, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    return cv2.copyMakeBorder(code, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)


def test_qr_code_with_a_bsn() -> None:
    assert [f.kind for f in fields.qr_bsn(qr(f"NLD;{BSN};SPECI2021"))] == ["bsn"]
    assert fields.qr_bsn(qr(f"NLD;{NOT_BSN}")) == []
    assert fields.qr_bsn(np.full((200, 200), 255, np.uint8)) == []


@pytest.mark.parametrize(
    "texts",
    [
        # A KopieID copy: everything sensitive covered, the layout still readable.
        ("KONINKRIJK DER NEDERLANDEN", "PASPOORT PASSPORT", "16 MRT/MAR 1990", "03 JUL/JUL 2035"),
        ("IDENTITEITSKAART IDENTITY CARD", "Geslacht / Sex", "Geboortedatum / Date of birth"),
        # A driving licence front by its numbered fields, and a back by its category dates.
        ("1. VOS", "2. Lucas Jeroen", "3. 05.06.1995 Leeuwarden", "4a. 27.12.2023 4c. Arnhem"),
        ("AM 16.02.2019 16.02.2029", "B 16.02.2019 16.02.2029", "A2 16.02.2019 16.02.2029"),
        # A card's back with no issuer and no document word: labels of issue among others.
        ("Datum van afgifte", "Date of issue", "Lengte / Height", "Geboorteplaats", "Utrecht"),
        ("Geburtsort", "Behörde", "Größe 180 cm", "Augenfarbe"),
    ],
)
def test_an_identity_document_is_known_by_its_layout(
    patterns: ScanPatterns, texts: tuple[str, ...]
) -> None:
    worded = any(patterns.document_words.search(t) for t in texts)
    assert fields.layout(lines(*texts), patterns).looks_like_id(worded)


@pytest.mark.parametrize(
    "texts",
    [
        ("Factuur 2024-0113", "Datum 12.03.2024", "Vervaldatum 12.04.2024"),
        ("Stuur ons een kopie van uw paspoort.", "Met vriendelijke groet"),
        ("Loonstrook maart 2024", "BSN 999990019", "Periode 01.03.2024 - 31.03.2024"),
        # A CV asks for birth date and place, nationality and sex, never for a date of issue.
        (
            "Curriculum vitae",
            "Geboortedatum 12.03.1990",
            "Geboorteplaats Utrecht",
            "Nationaliteit Nederlandse",
            "Geslacht M",
            "Lengte 1,80 m",
        ),
        # One label of issue among fewer than three labels.
        ("Datum van afgifte 12.03.2019", "Geboorteplaats Utrecht"),
    ],
)
def test_other_papers_are_not_identity_documents(
    patterns: ScanPatterns, texts: tuple[str, ...]
) -> None:
    worded = any(patterns.document_words.search(t) for t in texts)
    assert not fields.layout(lines(*texts), patterns).looks_like_id(worded)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("QCKUJ2Y56 09.01.2031", True),  # Dutch identity card
        ("HPGYKJ4RO 28.03.2026", True),  # its check digit read as the letter O
        ("T22000129 BERLIN", True),  # German identity card
        ("12AB34567", True),  # French passport
        ("590-2232819-33", True),  # Belgian identity card
        ("PERSONALAUSWEIS", False),
        ("RIJBEWIJS", False),
        ("06.01.2031", False),
    ],
)
def test_document_numbers_by_their_shape(patterns: ScanPatterns, text: str, found: bool) -> None:
    assert bool(fields.shaped_document_number(lines(text), patterns)) is found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"4236966470 {BSN}", True),  # a licence's back: card number and BSN on one line
        (f"{BSN[:4]} {BSN[4:6]} {BSN[6:]}", True),  # one number split by OCR
        (BSN, True),
        (f"4236966470 {NOT_BSN}", False),
        (f"12{BSN}", False),  # nine digits inside a longer number are no BSN
    ],
)
def test_a_bsn_without_its_label(text: str, found: bool) -> None:
    assert bool(fields.lone_bsn(lines(text))) is found
