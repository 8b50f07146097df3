"""`privacy-worker scan` on generated documents: what a reader can see is what it reports."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from PIL import Image

from tests.scan.test_generator import GENERATE
from worker.cli import main

PERSON = GENERATE.Person(
    "STAAL", "ANNA", "820312", "F", GENERATE.make_bsn(random.Random(3)), "SPECI2019"
)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def scan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, **files: bytes
) -> dict[str, dict[str, object]]:
    paths = []
    for name, data in files.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(data)
        paths.append(str(path))
    assert main(["scan", "--json", *paths]) == 0
    return {
        Path(line["file"]).stem: line
        for line in map(json.loads, capsys.readouterr().out.splitlines())
    }


def test_unredacted_and_redacted_passport(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    open_page = GENERATE.passport(PERSON)
    closed_page = GENERATE.passport(PERSON)
    GENERATE.redact(closed_page, "full")
    result = scan(
        capsys,
        tmp_path,
        open=png(open_page.image),
        closed=png(closed_page.image),
        portrait=png(GENERATE.portrait().image),
        noise=b"\x00garbage",
    )
    assert result["open"]["is_id_document"] is True
    assert set(result["open"]["unredacted"]) == {"bsn", "mrz", "document_number", "photo"}
    assert result["closed"]["unredacted"] == []
    assert result["portrait"]["is_id_document"] is False and result["portrait"]["unredacted"] == []
    assert result["noise"]["unreadable"]
    # Findings keep position and kind, never the number itself.
    assert PERSON.bsn not in json.dumps(result)
