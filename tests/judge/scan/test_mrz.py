"""MRZ structure and ICAO 9303 check digits, on the specimen zones printed in ICAO Doc 9303."""

from __future__ import annotations

import pytest

from worker.judge.scan.mrz import check_digit, find_mrz, parse_mrz, repair_line

TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
TD2 = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"]
TD1 = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]


def dutch_id_card(bsn: str) -> list[str]:
    """A TD1 zone of a Dutch ID card issued before August 2021: the BSN in line 1's optional data."""
    number = "SPECI2014"
    line1 = f"I<NLD{number}{check_digit(number)}{bsn}<<<<<<"
    birth, expiry = "850310", "310309"
    line2 = f"{birth}{check_digit(birth)}F{expiry}{check_digit(expiry)}NLD" + "<" * 11
    line2 += check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    return [line1, line2, "VOORBEELD<<MARIA<<<<<<<<<<<<<<"]


def test_check_digit_of_the_icao_example() -> None:
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("<<<<<<<<<<<<<<") == "0"


@pytest.mark.parametrize(
    ("lines", "kind", "number"),
    [(TD3, "TD3", "L898902C3"), (TD2, "TD2", "D23145890"), (TD1, "TD1", "D23145890")],
)
def test_icao_specimens_parse_with_every_check(lines: list[str], kind: str, number: str) -> None:
    mrz = parse_mrz(lines)
    assert mrz is not None and mrz.format == kind and mrz.valid
    assert mrz.document_number == number


def test_one_wrong_character_fails_one_check() -> None:
    broken = [TD3[0], "L898902C36UTO7408122F1204159ZE184226B<<<<<11"]
    mrz = parse_mrz(broken)
    assert mrz is not None and not mrz.valid and mrz.checks_passed == mrz.checks_total - 1


def test_ocr_reads_o_for_zero_in_dates() -> None:
    slipped = [TD3[0], "L898902C36UTO74O8122F12O4159ZE184226B<<<<<10"]
    mrz = parse_mrz(slipped)
    assert mrz is not None and mrz.checks_passed >= 4


def test_bsn_in_the_optional_data_of_a_dutch_id_card() -> None:
    mrz = parse_mrz(dutch_id_card("999999990"))
    assert mrz is not None and mrz.valid
    assert mrz.bsn == "999999990"


def test_no_bsn_when_the_optional_data_is_not_one() -> None:
    mrz = parse_mrz(TD3)
    assert mrz is not None and mrz.bsn is None


def test_find_mrz_among_other_text_lines() -> None:
    lines = ["KONINKRIJK DER NEDERLANDEN", "Naam VOORBEELD", *dutch_id_card("999999990"), "KOPIE"]
    [mrz] = find_mrz(lines)
    assert mrz.format == "TD1"


def test_lines_of_the_wrong_shape_are_no_mrz() -> None:
    assert parse_mrz(["HELLO WORLD"]) is None
    assert find_mrz(["P<UTO" + "<" * 39, "X" * 44]) == []


def test_ocr_slips_in_fillers_and_width_are_repaired() -> None:
    read = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<K<<K<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ]
    [mrz] = find_mrz(read)
    assert mrz.format == "TD3" and mrz.valid


def test_a_line_far_from_any_width_is_left_alone() -> None:
    assert repair_line("HELLO<<WORLD") == "HELLO<<WORLD"
