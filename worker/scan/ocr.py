"""Finds text bands that look like a machine-readable zone and reads them with tesseract."""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import pytesseract
from PIL import Image

from worker.scan.mrz import Mrz, find_mrz

# Debian's tesseract uses OpenMP; on small machines several threads make it slower, not faster.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
_MRZ_CONFIG = "--psm 6 -c tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
# Band search runs on a copy this many pixels on its longest side.
_WORK_SIZE = 1000
OCR_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class MrzFinding:
    """An MRZ read from one band of a page, with the band in page pixels."""

    mrz: Mrz
    bbox: tuple[int, int, int, int]


def _bands(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Wide, dense text bands (x, y, w, h) in page pixels, largest first."""
    scale = min(1.0, _WORK_SIZE / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale) if scale < 1 else gray
    rect = cv2.getStructuringElement(cv2.MORPH_RECT, (13, 5))
    black = cv2.morphologyEx(cv2.GaussianBlur(small, (3, 3), 0), cv2.MORPH_BLACKHAT, rect)
    grad = np.absolute(cv2.Sobel(black, cv2.CV_32F, 1, 0, ksize=-1))
    grad = (255 * (grad - grad.min()) / (grad.max() - grad.min() + 1e-6)).astype("uint8")
    grad = cv2.morphologyEx(grad, cv2.MORPH_CLOSE, rect)
    mask = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((21, 21), np.uint8))
    mask = cv2.erode(closed, np.ones((3, 3), np.uint8), iterations=2)
    contours = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
    rows = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:8]:
        _, y, w, h = cv2.boundingRect(contour)
        if w > 4 * h and w > small.shape[1] * 0.4:
            rows.append((int(y / scale), int(h / scale)))
    return _merge_rows(rows, gray.shape[1], gray.shape[0])


def _merge_rows(
    rows: list[tuple[int, int]], width: int, height: int
) -> list[tuple[int, int, int, int]]:
    # An MRZ is two or three lines across (nearly) the whole document: neighbouring rows are
    # read together, across the full width, so no line loses its first characters.
    merged: list[list[int]] = []
    for y, h in sorted(rows):
        if merged and y <= merged[-1][1] + int(2.0 * h):
            merged[-1][1] = max(merged[-1][1], y + h)
        else:
            merged.append([y, y + h])
    regions = []
    for top, bottom in merged:
        pad = max(4, (bottom - top) // 6)
        top, bottom = max(0, top - pad), min(height, bottom + pad)
        regions.append((0, top, width, bottom - top))
    return sorted(regions, key=lambda r: -r[3])


def read_mrz(image: Image.Image) -> list[MrzFinding]:
    """Every MRZ on a page, trying the four right-angle orientations until one reads."""
    gray = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY)
    for turn in (None, cv2.ROTATE_180, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE):
        page = gray if turn is None else cv2.rotate(gray, turn)
        found = [MrzFinding(mrz, band) for band in _bands(page) for mrz in _read_band(page, band)]
        if found:
            return found
    return []


def _read_band(gray: np.ndarray, band: tuple[int, int, int, int]) -> list[Mrz]:
    x, y, w, h = band
    crop = gray[y : y + h, x : x + w]
    if crop.size == 0:
        return []
    try:
        text = pytesseract.image_to_string(crop, config=_MRZ_CONFIG, timeout=OCR_TIMEOUT_SECONDS)
    except RuntimeError:  # pytesseract's timeout
        return []
    return find_mrz(text.splitlines())
