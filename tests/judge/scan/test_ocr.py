"""Levelling and tesseract reading on generated documents (real OCR, no mocks)."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from tests.judge.scan.test_generator import GENERATE
from worker.judge.scan.ocr import Deadline, OcrTimeout, bands, read_mrz_band
from worker.judge.scan.orient import level_angle, turn

PERSON = GENERATE.Person(
    "VOORBEELD", "MARIA", "850310", "F", GENERATE.make_bsn(random.Random(7)), "SPECI2021"
)


def gray(page: object) -> np.ndarray:
    return cv2.cvtColor(np.asarray(page.image), cv2.COLOR_RGB2GRAY)  # type: ignore[attr-defined]


@pytest.mark.parametrize("tilt", [0.0, 7.0, -12.0])
def test_skew_of_a_phone_photo_is_found(tilt: float) -> None:
    page = gray(GENERATE.passport(PERSON))
    tilted = turn(page, tilt).gray
    # Turning back by the angle found levels the page to within a degree.
    assert abs(((level_angle(tilted) + tilt) + 90) % 180 - 90) < 1.0


def test_a_page_on_its_side_is_turned_a_quarter() -> None:
    page = np.ascontiguousarray(np.rot90(gray(GENERATE.id_card(PERSON))))
    assert abs(abs(level_angle(page)) - 90) < 1.0


def test_passport_mrz_band_is_found_and_read() -> None:
    page = gray(GENERATE.passport(PERSON))
    readings = [read_mrz_band(page, band, Deadline.after(30))[0] for band in bands(page)[:3]]
    [mrz] = [m for found in readings for m in found]
    assert mrz.format == "TD3" and mrz.bsn == PERSON.bsn
    assert mrz.checks_passed >= 3  # an I read as 1 in the number may cost a check or two


def test_blacked_out_mrz_is_not_read() -> None:
    page = GENERATE.passport(PERSON)
    GENERATE.redact(page, "full")
    image = gray(page)
    assert not any(read_mrz_band(image, band, Deadline.after(30))[0] for band in bands(image)[:3])


def test_ocr_past_its_deadline_stops() -> None:
    with pytest.raises(OcrTimeout):
        read_mrz_band(gray(GENERATE.passport(PERSON)), (0, 0, 100, 100), Deadline.after(0))
