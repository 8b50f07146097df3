"""MRZ bands read with Debian's tesseract on generated documents (real OCR, no mocks)."""

from __future__ import annotations

import random

from tests.scan.test_generator import GENERATE
from worker.scan.ocr import read_mrz

PERSON = GENERATE.Person(
    "VOORBEELD", "MARIA", "850310", "F", GENERATE.make_bsn(random.Random(7)), "SPECI2021"
)


def test_passport_mrz_and_its_bsn_are_read() -> None:
    [finding] = read_mrz(GENERATE.passport(PERSON).image)
    assert finding.mrz.format == "TD3" and finding.mrz.valid
    assert finding.mrz.bsn == PERSON.bsn


def test_upside_down_passport_is_read() -> None:
    page = GENERATE.passport(PERSON)
    [finding] = read_mrz(page.image.rotate(180))
    assert finding.mrz.bsn == PERSON.bsn


def test_blacked_out_mrz_is_not_read() -> None:
    page = GENERATE.passport(PERSON)
    GENERATE.redact(page, "full")
    assert read_mrz(page.image) == []
