"""mask_numbers: a BSN in text the worker stores or logs is masked, other numbers stay."""

from __future__ import annotations

import pytest

from worker.store.redact import mask_numbers


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ID kopie BSN 111222333.png", "ID kopie BSN *********.png"),
        ("bsn 111 222 333", "bsn *** *** ***"),
        ("111.222.333", "***.***.***"),
        ("1112.22.333 en 123456782", "****.**.*** en *********"),
        ("scan_111222333_voor.pdf", "scan_*********_voor.pdf"),
    ],
)
def test_a_bsn_in_any_usual_shape_is_masked(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Re: PRIV-2026-000001 inzage",  # a case reference
        "order 111222334",  # nine digits that fail the 11-proof
        "IBAN NL91ABNA0417164300, tel 0612345678",  # longer numbers
        "1111222333",  # a valid BSN inside a longer number is another number
        "",
    ],
)
def test_other_numbers_stay_readable(text: str) -> None:
    assert mask_numbers(text) == text
