"""Faces on a document: drawn portraits from a generator written by someone who had not read
the scanner, at the size a card's photo has on a 150 dpi scan."""

from __future__ import annotations

import importlib
import random
import sys

import cv2
import numpy as np

from tests.conftest import FIXTURES
from worker.judge.scan.face import faces
from worker.judge.scan.scanner import _has_face_detail

PORTRAITS = 40


def _make_face() -> object:
    sys.path.insert(0, str(FIXTURES / "iddocs-blind"))
    try:
        return importlib.import_module("idgen.faces").make_face
    finally:
        sys.path.remove(str(FIXTURES / "iddocs-blind"))


def _card(seed: int) -> np.ndarray:
    portrait = _make_face()(random.Random(seed), w=140, h=180)[0]  # type: ignore[operator]
    gray = cv2.cvtColor(np.asarray(portrait.convert("RGB")), cv2.COLOR_RGB2GRAY)
    photo = cv2.resize(gray, (60, 77), interpolation=cv2.INTER_AREA)
    card = np.full((400, 640), 235, np.uint8)
    card[100:177, 40:100] = photo
    return cv2.GaussianBlur(card, (3, 3), 0)


def test_small_drawn_portraits_are_found() -> None:
    # OpenCV's default cascade alone finds 20 of these 40; with the second cascade, 24.
    found = 0
    for seed in range(PORTRAITS):
        card = _card(seed)
        found += any(_has_face_detail(card, box) for box in faces(card))
    assert found >= 23


def test_a_blank_card_has_no_face() -> None:
    card = _card(0)
    card[100:177, 40:100] = 235
    assert faces(card) == []
