"""Machine-readable zones (ICAO 9303 TD1, TD2, TD3, and the one-line MRZ of Dutch driving
licences): structure, check digits, and the document and personal numbers they carry."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from stdnum.nl import bsn

# ICAO 9303 part 3: characters count 0-9, A-Z as 10-35, the filler '<' as 0; weights 7, 3, 1.
_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")} | {"<": 0}
_WEIGHTS = (7, 3, 1)
_MRZ_CHARS = re.compile(r"^[0-9A-Z<]+$")
# OCR reads these letters where only digits may stand (dates, check digits).
_DIGIT_FOR = str.maketrans(
    {
        "O": "0",
        "Q": "0",
        "D": "0",
        "I": "1",
        "L": "1",
        "Z": "2",
        "S": "5",
        "B": "8",
        "G": "6",
        "T": "7",
    }
)
# A zone counts as an MRZ when at least this share of its check digits hold (OCR slips).
MIN_CHECK_SHARE = 0.5
# Repair tries at most this many readings of a window of lines.
MAX_COMBINATIONS = 4000


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of a field."""
    total = sum(_VALUES.get(char, 0) * _WEIGHTS[i % 3] for i, char in enumerate(field))
    return str(total % 10)


@dataclass(frozen=True)
class Mrz:
    """One machine-readable zone as read: its format, numbers, and how many checks held."""

    format: str  # TD1, TD2, TD3 or DL
    lines: tuple[str, ...]
    document_number: str
    optional_data: str
    checks_passed: int
    checks_total: int

    @property
    def valid(self) -> bool:
        """Every check digit holds."""
        return self.checks_passed == self.checks_total

    @property
    def dutch(self) -> bool:
        """Issued by the Netherlands. A Dutch nationality stands in for the issuer only when
        OCR lost the issuer or slipped on one letter of it: a Dutch national's foreign
        residence permit carries no BSN."""
        issuer = self.lines[0][2:5]
        if issuer == "NLD":
            return True
        if self.format in ("TD3", "TD2"):
            nationality = self.lines[1][10:13]
        elif self.format == "TD1":
            nationality = self.lines[1][15:18]
        else:
            return False
        slips = sum(a != b for a, b in zip(issuer.ljust(3, "<"), "NLD", strict=True))
        near = issuer.strip("<") == "" or slips <= 1
        return nationality == "NLD" and near

    @property
    def bsn(self) -> str | None:
        """A Dutch citizen service number carried in the optional data of a Dutch document; other
        countries' personal numbers can pass the 11-proof too, and are no BSN."""
        if not self.dutch:
            return None
        # The BSN stands in the first optional field only (TD1 line 1, TD3 personal number).
        field = self.optional_data[:15].translate(_DIGIT_FOR)
        runs: list[str] = re.findall(r"[0-9]{9,}", field)
        windows = [run[start : start + 9] for run in runs for start in range(len(run) - 8)]
        return next((window for window in windows if bsn.is_valid(window)), None)


def _checks(pairs: list[tuple[str, str]], may_be_empty: int | None = None) -> tuple[int, int]:
    # Only the optional personal number may be all fillers, and then its check digit may be
    # the filler too; any other empty field is a line of fillers, not a check that holds.
    passed = 0
    for index, (field, digit) in enumerate(pairs):
        if not field.strip("<"):
            passed += index == may_be_empty and digit in "<0"
        else:
            passed += check_digit(field) == digit.translate(_DIGIT_FOR)
    return passed, len(pairs)


def _two_lines(kind: str, line1: str, line2: str) -> Mrz:
    # TD3 (44 wide) and TD2 (36 wide) share line 2's layout up to the optional data; only TD3
    # gives the personal number (the Dutch BSN) a check digit of its own.
    end = len(line2) - 1
    pairs = [
        (line2[0:9], line2[9]),
        (line2[13:19].translate(_DIGIT_FOR), line2[19]),
        (line2[21:27].translate(_DIGIT_FOR), line2[27]),
    ]
    if kind == "TD3":
        pairs.append((line2[28:42], line2[42]))
    pairs.append((line2[0:10] + line2[13:20] + line2[21:end], line2[end]))
    passed, total = _checks(pairs, may_be_empty=3 if kind == "TD3" else None)
    optional = line2[28 : end - 1] if kind == "TD3" else line2[28:end]
    return Mrz(kind, (line1, line2), line2[0:9].rstrip("<"), optional, passed, total)


def _td1(line1: str, line2: str, line3: str) -> Mrz:
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    passed, total = _checks(
        [
            (line1[5:14], line1[14]),
            (line2[0:6].translate(_DIGIT_FOR), line2[6]),
            (line2[8:14].translate(_DIGIT_FOR), line2[14]),
            (composite, line2[29]),
        ]
    )
    optional = line1[15:30] + line2[18:29]
    return Mrz("TD1", (line1, line2, line3), line1[5:14].rstrip("<"), optional, passed, total)


def _driving_licence(line: str) -> Mrz:
    # ISO/IEC 18013-1 one-line MRZ as on Dutch licences: D, a digit, the issuing country, a
    # digit, the 10-character licence number, filler, and one check digit over all before it.
    # The two digits are often read as I or L.
    line = (
        line[0]
        + line[1].translate(_DIGIT_FOR)
        + line[2:5]
        + line[5].translate(_DIGIT_FOR)
        + line[6:]
    )
    passed, total = _checks([(line[:29], line[29])])
    number = line[6:16].rstrip("<")
    return Mrz("DL", (line,), number, "", passed, total)


def parse_mrz(lines: list[str]) -> Mrz | None:
    """Reads consecutive OCR lines as an MRZ; None when their shape is no MRZ at all."""
    clean = [re.sub(r"\s+", "", line).upper() for line in lines]
    if not clean or not all(_MRZ_CHARS.match(line) for line in clean):
        return None
    lengths = [len(line) for line in clean]
    if lengths == [44, 44] and clean[0][0] in "P":
        return _two_lines("TD3", *clean)
    if lengths == [36, 36] and clean[0][0] in "ACIPV":
        return _two_lines("TD2", *clean)
    if lengths == [30, 30, 30] and clean[0][0] in "ACI":
        return _td1(*clean)
    if lengths == [30] and re.match(r"^D[0-9A-Z][A-Z]{3}", clean[0]):
        return _driving_licence(clean[0])
    return None


# Tesseract reads runs of the filler '<' with an odd K, C or ( among them, and gains or loses a
# character or two on a line: lines near an MRZ width are repaired to it before parsing.
_FILLER_SLIP = re.compile(r"(?<=<)[KCX(\[{]|[KCX(\[{](?=<<)")
_WIDTHS = (44, 36, 30)


def repair_line(line: str) -> str:
    """An OCR'd line brought to an MRZ width when it is within two characters of one."""
    line = re.sub(r"\s+", "", line).upper().replace("«", "<")
    line = _FILLER_SLIP.sub("<", _FILLER_SLIP.sub("<", line))
    for width in _WIDTHS:
        if abs(len(line) - width) <= 2 and len(line) != width:
            if len(line) > width:
                # Surplus characters are usually fillers read twice: drop them from the
                # longest run of fillers.
                run = max(re.finditer(r"<+", line), key=lambda m: len(m.group(0)), default=None)
                if run is None or len(run.group(0)) <= len(line) - width:
                    return line
                cut = len(line) - width
                return line[: run.start()] + line[run.start() + cut :]
            if line.endswith("<"):
                return line + "<" * (width - len(line))
            # A line ending in a check digit lost its fillers inside: add them to the longest run.
            run = max(re.finditer(r"<+", line), key=lambda m: len(m.group(0)), default=None)
            if run is None:
                return line
            return line[: run.end()] + "<" * (width - len(line)) + line[run.end() :]
    return line


def _variants(line: str) -> list[str]:
    """Ways to read one OCR'd line: repaired as is, or with one stray character taken out."""
    clean = re.sub(r"\s+", "", line).upper().replace("«", "<")
    clean = _FILLER_SLIP.sub("<", _FILLER_SLIP.sub("<", clean))
    found = [repair_line(clean)]
    if len(clean) - 1 in _WIDTHS:
        found.extend(clean[:i] + clean[i + 1 :] for i in range(len(clean)))
    return found


def _best(lines: list[str]) -> Mrz | None:
    options = [_variants(line) for line in lines]
    if len(lines) == 2 and lines[0].strip()[:1] in ("P", "I", "A", "C", "V"):
        # Line 1 of a TD3 or TD2 is name and issuer only, and its long filler runs are what OCR
        # garbles most; line 2 carries every check digit, so it may stand with a blank line 1.
        start = lines[0].strip()[:5].upper()
        options[0] = options[0] + [start.ljust(width, "<")[:width] for width in (44, 36)]
    best: Mrz | None = None
    for combination in itertools.islice(itertools.product(*options), MAX_COMBINATIONS):
        mrz = parse_mrz(list(combination))
        if mrz and (best is None or mrz.checks_passed > best.checks_passed):
            best = mrz
    return best


def find_mrz(text_lines: list[str]) -> list[Mrz]:
    """Every MRZ in a list of OCR'd lines whose check digits mostly hold. A line one character
    too long (tesseract saw a speck) is tried with each character left out."""
    lines = [line for line in text_lines if line.strip()]
    found: list[Mrz] = []
    index = 0
    while index < len(lines):
        for size in (3, 2, 1, 0):
            if size == 0:
                # A TD3 or TD2 line 2 alone: OCR lost line 1, but line 2 has every check digit.
                mrz = _best(["P<", lines[index]])
            else:
                mrz = _best(lines[index : index + size]) if index + size <= len(lines) else None
            if mrz and mrz.checks_passed >= MIN_CHECK_SHARE * mrz.checks_total:
                found.append(mrz)
                index += max(size, 1) - 1
                break
        index += 1
    return found
