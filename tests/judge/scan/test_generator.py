"""The synthetic ID generator: every file exists, labels are consistent, and its MRZs are valid
by this package's own (independently written) check-digit code."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import FIXTURES
from worker.judge.scan.mrz import parse_mrz


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "iddocs_generate", FIXTURES / "iddocs" / "generate.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up by name while the class is made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


GENERATE = load_generator()
PERSON = GENERATE.Person(
    "VOORBEELD", "MARIA", "850310", "F", GENERATE.make_bsn(random.Random(1)), "SPECI2021"
)


@pytest.mark.parametrize(("make", "kind"), [(GENERATE.passport, "TD3"), (GENERATE.id_card, "TD1")])
def test_document_mrz_is_valid_and_carries_the_bsn(make: object, kind: str) -> None:
    rendered = make(PERSON)  # type: ignore[operator]
    mrz = parse_mrz(list(rendered.mrz))
    assert mrz is not None and mrz.format == kind and mrz.valid
    assert mrz.bsn == PERSON.bsn and mrz.document_number == "SPECI2021"


def test_driving_licence_line_is_valid_and_holds_no_bsn() -> None:
    front, back = GENERATE.driving_licence(PERSON)
    mrz = parse_mrz(list(front.mrz))
    assert mrz is not None and mrz.format == "DL" and mrz.valid and mrz.bsn is None
    assert "bsn" in back.boxes and "bsn" not in front.boxes


def test_generated_set_matches_its_labels(tmp_path: Path) -> None:
    labels = GENERATE.generate(tmp_path)
    assert {label["file"] for label in labels} == {p.name for p in tmp_path.iterdir()} - {
        "labels.jsonl"
    }
    by_name = {label["file"]: label for label in labels}
    # The most likely real-world miss: the printed BSN blacked out, the MRZ (holding it) not.
    assert set(by_name["idcard-bsn-only-clean-300dpi.png"]["visible"]) == {
        "bsn",
        "document_number",
        "mrz",
        "photo",
    }
    assert by_name["passport-full-phone-photo.jpg"]["visible"] == []
    assert by_name["invoice.pdf"] == {
        **by_name["invoice.pdf"],
        "is_id_document": False,
        "visible": [],
    }
    assert by_name["payslip-none.pdf"]["visible"] == ["bsn"]
    assert len(labels) >= 120
