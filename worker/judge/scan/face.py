"""Finds faces with OpenCV's bundled Haar cascade (opencv-python-headless 4.x ships it; 5.x does
not, and YuNet needs a model file no package ships)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

_CASCADE = "haarcascade_frontalface_default.xml"
# The second opinion, asked only where the first saw no face: it finds drawn and printed faces
# the first misses, so it must see a face at more neighbouring positions before it counts one.
_SECOND = "haarcascade_frontalface_alt2.xml"
_SECOND_NEIGHBOURS = 7
_EYES = "haarcascade_eye.xml"
# Faces are looked for on a copy this wide: small copies are enlarged so a ghost image is still
# found, large ones reduced so the search stays cheap.
_WORK_WIDTH = 640
# The photo on a document is at least this share of the page's shorter side; smaller "faces"
# are the cascade seeing eyes in guilloche or lettering.
MIN_FACE_SHARE = 0.06


@lru_cache(maxsize=3)
def _detector(name: str = _CASCADE) -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))  # type: ignore[attr-defined]


def eyes(region: np.ndarray) -> int:
    """How many eyes the bundled cascade sees in a region (the upper part of a face box),
    looked for at 160 pixels wide."""
    if region.size == 0 or region.shape[1] == 0:
        return 0
    height = max(1, round(160 * region.shape[0] / region.shape[1]))
    scaled = cv2.resize(region, (160, height))
    return len(_detector(_EYES).detectMultiScale(scaled, 1.1, 3, minSize=(12, 12)))


def faces(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) in the pixels of `gray`, an upright page."""
    scale = _WORK_WIDTH / gray.shape[1]
    small = cv2.resize(
        gray,
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    side = max(24, int(MIN_FACE_SHARE * min(small.shape)))
    # No equalised copy: on the blind generator's copies it found no face the plain grey missed
    # and added false ones, at twice the time of a plain search.
    for cascade, neighbours in ((_CASCADE, 5), (_SECOND, _SECOND_NEIGHBOURS)):
        found = _detector(cascade).detectMultiScale(
            small, scaleFactor=1.1, minNeighbors=neighbours, minSize=(side, side)
        )
        if len(found):
            return [
                (int(x / scale), int(y / scale), int(w / scale), int(h / scale))
                for x, y, w, h in found
            ]
    return []
