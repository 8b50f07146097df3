"""Turns a page so its text lines run level: a right-angle turn and the skew of a phone photo,
found from the text itself (tesseract's own orientation detection is unreliable on ID cards).
Upside down and right way up look alike here; the OCR pass tells them apart."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Skew is searched on a copy this many pixels on its longest side.
_WORK_SIZE = 600
# Phone photos are held up to about 15 degrees off; search a little wider.
_MAX_SKEW = 20
# Below this many degrees a page is left as it is: tesseract copes and no pixel is resampled.
_MIN_TURN = 0.6
# Ink points used for the search: enough for a stable answer, few enough to be quick.
_MAX_POINTS = 30_000


@dataclass(frozen=True)
class Turned:
    """A page turned level, and the affine map from page pixels to turned pixels."""

    gray: np.ndarray
    matrix: np.ndarray  # 2 x 3
    angle: float

    def to_page(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A box (x, y, w, h) in turned pixels as the box around it in page pixels."""
        x, y, w, h = box
        back = cv2.invertAffineTransform(self.matrix)
        corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], float)
        points = corners @ back.T
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def turn(gray: np.ndarray, angle: float) -> Turned:
    """The page turned counter-clockwise by `angle` degrees, grown so no corner is cut off."""
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    flags = cv2.INTER_NEAREST if abs(angle) % 90 == 0 else cv2.INTER_CUBIC
    turned = cv2.warpAffine(
        gray, matrix, (new_w, new_h), flags=flags, borderMode=cv2.BORDER_REPLICATE
    )
    return Turned(turned, matrix, angle)


def text_ink(gray: np.ndarray) -> np.ndarray:
    """Thin dark strokes (text) as a binary mask on a small copy; photos and flat areas drop out."""
    scale = min(1.0, _WORK_SIZE / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    size = max(7, (max(small.shape) // 60) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    black = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, kernel)
    mask = cv2.threshold(black, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    # The picture's own edges come out as long level strokes: they are no text.
    mask[:size, :] = mask[-size:, :] = 0
    mask[:, :size] = mask[:, -size:] = 0
    return mask


def _line_score(ys: np.ndarray, xs: np.ndarray, angle: float) -> float:
    # Level text gives rows of ink and rows of paper: the histogram of the ink's heights, seen
    # at this angle, jumps sharply.
    theta = np.deg2rad(angle)
    rows = (ys * np.cos(theta) - xs * np.sin(theta)).astype(np.int32)
    counts = np.bincount(rows - rows.min())
    return float(np.square(np.diff(counts.astype(np.float64))).sum())


def level_angle(gray: np.ndarray) -> float:
    """The counter-clockwise turn (degrees) that makes the text lines run level."""
    mask = text_ink(gray)
    ys, xs = np.nonzero(mask)
    if len(ys) < 50:
        return 0.0
    if len(ys) > _MAX_POINTS:
        pick = np.random.default_rng(0).choice(len(ys), _MAX_POINTS, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys, xs = ys.astype(np.float64), xs.astype(np.float64)
    coarse = [
        float(a) for base in (0, 90) for a in range(base - _MAX_SKEW, base + _MAX_SKEW + 1, 2)
    ]
    best = max(coarse, key=lambda a: _line_score(ys, xs, a))
    fine = [best + step / 4 for step in range(-8, 9)]
    angle = max(fine, key=lambda a: _line_score(ys, xs, a))
    # Within a hair of a quarter turn is a quarter turn: those are lossless.
    square = 90.0 * round(angle / 90.0)
    return square if abs(angle - square) < _MIN_TURN else angle
