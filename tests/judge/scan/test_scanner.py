"""`privacy-worker scan` on generated documents: what a reader can see is what it reports."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from PIL import Image

from tests.judge.scan.test_generator import GENERATE
from worker.cli import main
from worker.judge.rules import RuleSet
from worker.judge.scan.scanner import scan as scan_bytes

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


def hostile_files() -> dict[str, bytes]:
    sliver = io.BytesIO()
    Image.new("RGB", (4, 20_000), "white").save(sliver, "PNG")
    tiff = io.BytesIO()
    Image.new("RGB", (300, 200), "gray").save(tiff, "TIFF")
    return {"sliver": sliver.getvalue(), "truncated-tiff": tiff.getvalue()[:400]}


@pytest.mark.parametrize("name", ["sliver", "truncated-tiff"])
def test_hostile_images_give_a_reason_not_an_exception(rules: RuleSet, name: str) -> None:
    result = scan_bytes(hostile_files()[name], rules.id_scan)
    assert result.unredacted == () and result.unreadable


def test_a_payment_qr_code_on_an_invoice_is_no_bsn(rules: RuleSet) -> None:
    import cv2
    import numpy as np

    page = GENERATE.invoice(random.Random(5)).image
    code = cv2.QRCodeEncoder.create().encode("BETAAL 999990019 EUR 121,00")  # type: ignore[attr-defined]
    page.paste(Image.fromarray(cv2.resize(np.asarray(code), None, fx=8, fy=8)), (700, 300))
    result = scan_bytes(png(page), rules.id_scan)
    assert result.unredacted == () and not result.is_id_document


def test_a_covered_copy_is_still_an_identity_document_and_a_payslip_is_not(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Issue 14: a copy with photo, numbers and MRZ boxed (as the privacy statement asks) was
    # not recognised as an ID; its title, issuer and field labels say what it is. A payslip's
    # BSN is a personal number on a file that is no ID copy, reported apart.
    closed = GENERATE.passport(PERSON)
    GENERATE.redact(closed, "full")
    result = scan(
        capsys, tmp_path, closed=png(closed.image), payslip=png(GENERATE.payslip(PERSON).image)
    )
    assert result["closed"]["is_id_document"] is True
    assert result["closed"]["unredacted"] == []
    assert result["payslip"]["is_id_document"] is False
    assert result["payslip"]["unredacted"] == []
    assert result["payslip"]["personal_numbers"] == ["bsn"]
