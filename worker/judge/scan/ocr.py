"""Tesseract, called as a subprocess with a time limit: one layout pass over a page, and a
second, MRZ-only pass over the bands where a machine-readable zone seems to be."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytesseract

from worker.errors import OcrFailed, OcrTimeout
from worker.judge.scan.mrz import Mrz, find_mrz

# Debian's tesseract uses OpenMP; on small machines several threads make it slower, not faster.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
_MRZ_CONFIG = "--psm 6 -c tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
_PAGE_CONFIG = "--psm 3"
# Bands are searched on a copy this many pixels on its longest side.
_WORK_SIZE = 1000
# Text is read best at a cap height of about 20-40 px: small pages are enlarged to this width,
# large ones reduced to it (tesseract's time grows with the pixels it is given).
_MIN_WIDTH = 1200
_MAX_WIDTH = 2000
# Enlarging a small image stops at this many pixels.
_MAX_SCALED_PIXELS = 12_000_000
# A region this dark is under a black box; text alone darkens a tenth of it or less.
COVERED_SHARE = 0.25


@dataclass(frozen=True)
class Line:
    """One line of text as tesseract read it, with its box in the pixels of the image given."""

    text: str
    bbox: tuple[int, int, int, int]
    confidence: float


@dataclass(frozen=True)
class PageText:
    """The lines of a page and how sure tesseract was of its words on average (0-100)."""

    lines: tuple[Line, ...]
    confidence: float
    words: int


@dataclass(frozen=True)
class Deadline:
    """The moment by which all OCR of one attachment must be done."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0.5:
            raise OcrTimeout("no time left for OCR")
        return left


def _scaled(gray: np.ndarray) -> tuple[np.ndarray, float]:
    height, width = gray.shape
    if width < _MIN_WIDTH:
        # Never enlarged past the pixel cap: a sliver 200 px wide and 100,000 tall stays as is.
        factor = min(_MIN_WIDTH / width, (_MAX_SCALED_PIXELS / (width * height)) ** 0.5)
        if factor <= 1:
            return gray, 1.0
        return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC), factor
    if width > _MAX_WIDTH:
        factor = _MAX_WIDTH / width
        return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), factor
    return gray, 1.0


def _tesseract(image: np.ndarray, config: str, deadline: Deadline, data: bool) -> object:
    # Handed over as an uncompressed BMP: pytesseract's own PNG encoding costs a tenth of a
    # second a call, as much as a small page's OCR.
    with tempfile.TemporaryDirectory(prefix="privacy-worker-ocr-") as folder:
        path = str(Path(folder) / "page.bmp")
        if not cv2.imwrite(path, image):
            raise OcrFailed("the image could not be handed to tesseract")
        return _run(path, config, deadline, data)


def _run(path: str, config: str, deadline: Deadline, data: bool) -> object:
    try:
        if data:
            return pytesseract.image_to_data(
                path, config=config, output_type=pytesseract.Output.DICT, timeout=deadline.left()
            )
        return pytesseract.image_to_string(path, config=config, timeout=deadline.left())
    # TesseractError is a RuntimeError too, and pytesseract reports its own timeout as a bare
    # RuntimeError: the specific one must be caught first.
    except pytesseract.TesseractError as err:
        raise OcrFailed(str(err)) from err
    except pytesseract.TesseractNotFoundError as err:
        raise OcrFailed("tesseract is not installed") from err
    except RuntimeError as err:
        raise OcrTimeout(str(err)) from err


def read_page(gray: np.ndarray, deadline: Deadline) -> PageText:
    """Every line of a level page, boxes in the pixels of `gray`."""
    image, factor = _scaled(gray)
    data = _tesseract(image, _PAGE_CONFIG, deadline, data=True)
    assert isinstance(data, dict)
    grouped: dict[tuple[int, int, int], list[int]] = {}
    for i, text in enumerate(data["text"]):
        if text.strip():
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            grouped.setdefault(key, []).append(i)
    lines = []
    confidences: list[float] = []
    for words in grouped.values():
        x0 = min(data["left"][i] for i in words)
        y0 = min(data["top"][i] for i in words)
        x1 = max(data["left"][i] + data["width"][i] for i in words)
        y1 = max(data["top"][i] + data["height"][i] for i in words)
        word_conf = [float(data["conf"][i]) for i in words]
        confidences.extend(
            c for c, i in zip(word_conf, words, strict=True) if len(data["text"][i].strip()) >= 3
        )
        box = (int(x0 / factor), int(y0 / factor), int((x1 - x0) / factor), int((y1 - y0) / factor))
        text = " ".join(data["text"][i].strip() for i in words)
        lines.append(Line(text, box, sum(word_conf) / len(word_conf)))
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return PageText(tuple(lines), mean, len(confidences))


def read_region(gray: np.ndarray, box: tuple[int, int, int, int], deadline: Deadline) -> list[str]:
    """The lines of one region, its background evened out first: a see-through box over a
    field darkens the paper around the digits, which the layout pass then skips as a picture."""
    x, y, w, h = box
    crop = gray[y : y + h, x : x + w]
    if crop.size == 0 or (crop < 60).mean() > COVERED_SHARE:
        return []  # a black box over the fields: nothing there to read
    crop, _ = _scaled(crop)
    size = max(15, (crop.shape[0] // 8) | 1)
    paper = cv2.morphologyEx(crop, cv2.MORPH_CLOSE, np.ones((size, size), np.uint8))
    even = cv2.divide(crop, paper, scale=255)
    text = _tesseract(even, "--psm 6", deadline, data=False)
    assert isinstance(text, str)
    return [line for line in text.splitlines() if line.strip()]


def read_mrz_band(
    gray: np.ndarray, band: tuple[int, int, int, int], deadline: Deadline
) -> tuple[list[Mrz], list[str]]:
    """The MRZs in one band read with the MRZ alphabet only, and the raw lines tesseract gave."""
    x, y, w, h = band
    crop = gray[max(0, y) : y + h, max(0, x) : x + w]
    if crop.size == 0:
        return [], []
    crop = _without_boxes(crop)
    if (crop < 128).mean() < 0.01:
        return [], []  # all of it under a box: nothing to read, no tesseract call
    crop, _ = _scaled(crop)
    text = _tesseract(crop, _MRZ_CONFIG, deadline, data=False)
    assert isinstance(text, str)
    lines = [line for line in text.splitlines() if line.strip()]
    return find_mrz(lines), lines


def _without_boxes(crop: np.ndarray) -> np.ndarray:
    """A band with the columns of a black box over part of it made white: tesseract reads what
    is left beside the box instead of giving up on the whole line."""
    dark = (crop < 60).mean(axis=0) > 0.6
    if not dark.any():
        return crop
    # The box's anti-aliased edges go too: a thin dark stroke is read as a character.
    edge = max(3, crop.shape[0] // 10)
    dark = np.convolve(dark.astype(np.uint8), np.ones(2 * edge + 1, np.uint8), "same") > 0
    clean = crop.copy()
    clean[:, dark] = 255
    return clean


def bands(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Wide, dense text bands (x, y, w, h) in page pixels, tallest first: where an MRZ would be
    when the layout pass did not read one."""
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
    return merge_rows(rows, gray.shape[1], gray.shape[0])


def merge_rows(
    rows: list[tuple[int, int]], width: int, height: int
) -> list[tuple[int, int, int, int]]:
    """Neighbouring rows (y, h) as one band across the full width: an MRZ is two or three lines
    across (nearly) the whole document, and no line may lose its first characters."""
    merged: list[list[int]] = []
    for y, h in sorted(rows):
        if merged and y <= merged[-1][1] + int(2.0 * h):
            merged[-1][1] = max(merged[-1][1], y + h)
        else:
            merged.append([y, y + h])
    regions = []
    for top, bottom in merged:
        pad = max(8, min(40, (bottom - top) // 2))
        top, bottom = max(0, top - pad), min(height, bottom + pad)
        regions.append((0, top, width, bottom - top))
    return sorted(regions, key=lambda r: -r[3])
