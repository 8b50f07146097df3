"""Finds faces with OpenCV's bundled Haar cascade (opencv-python-headless 4.x ships it; 5.x does
not, and YuNet needs a model file no package ships)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

_CASCADE = "haarcascade_frontalface_default.xml"
# Faces are looked for on a copy this wide: an ID photo is then still 150 px or more.
_WORK_WIDTH = 1000


@lru_cache(maxsize=1)
def _detector() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / _CASCADE))  # type: ignore[attr-defined]


def faces(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) in page pixels."""
    gray = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY)
    scale = min(1.0, _WORK_WIDTH / gray.shape[1])
    small = cv2.resize(gray, None, fx=scale, fy=scale) if scale < 1 else gray
    # Plain grey first; equalised contrast helps a dim phone photo but can hide a clean face.
    for candidate in (small, cv2.equalizeHist(small)):
        found = _detector().detectMultiScale(
            candidate, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40)
        )
        if len(found):
            return [
                (int(x / scale), int(y / scale), int(w / scale), int(h / scale))
                for x, y, w, h in found
            ]
    return []
