"""scan over ../shared/real-world/id-images: specimen passports, ID cards and visas from outside
the team, plus non-documents. Labels say what a reader can see; `face` is our `photo`, and
`personal_number` (another country's national number) must never be called a BSN."""

from __future__ import annotations

import json
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.conftest import REAL_WORLD
from tests.judge.scan.evaluation import scan_file

pytestmark = [
    pytest.mark.realworld,
    pytest.mark.skipif(
        not (REAL_WORLD / "labels.jsonl").exists(), reason="no ../shared/real-world"
    ),
]
# Measured on the 39 files: any field 32/34, MRZ 32/34, photo 25/27 (one false: a pixelated
# photo), document number 14/29, BSN 1/1, no personal number taken for a BSN.
FLOORS = {"any": 0.94, "mrz": 0.94, "photo": 0.9, "document_number": 0.45}


@pytest.fixture(scope="module")
def measured() -> list[tuple[dict[str, object], bool, set[str]]]:
    labels = [
        label
        for label in map(json.loads, (REAL_WORLD / "labels.jsonl").read_text().splitlines())
        if label["kind"] == "id-image"
    ]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(scan_file, [str(REAL_WORLD / label["file"]) for label in labels]))
    return [
        (label, is_id, set(got)) for label, (_, is_id, got) in zip(labels, results, strict=True)
    ]


def _want(label: dict[str, object]) -> set[str]:
    visible = set(label["visible"])  # type: ignore[call-overload]
    return {"photo" if v == "face" else v for v in visible} - {"personal_number"}


def test_fields_are_found(measured: list[tuple[dict[str, object], bool, set[str]]]) -> None:
    counts: Counter[str] = Counter()
    for label, _, got in measured:
        want = _want(label)
        if want:
            counts["any"] += 1
            counts["any found"] += bool(got)
        for field in ("mrz", "photo", "document_number"):
            counts[field] += field in want
            counts[f"{field} found"] += field in want and field in got
    for name, floor in FLOORS.items():
        assert counts[f"{name} found"] / counts[name] >= floor, (name, dict(counts))


def test_no_other_countrys_number_is_a_bsn_and_negatives_stay_clean(
    measured: list[tuple[dict[str, object], bool, set[str]]],
) -> None:
    for label, is_id, got in measured:
        if "bsn" not in _want(label):
            assert "bsn" not in got, label["file"]
        if not label["is_id_document"]:
            assert not got and not is_id, label["file"]
    dutch = [got for label, _, got in measured if "bsn" in _want(label)]
    assert dutch and all("bsn" in got for got in dutch)
