"""Scanning whole folders for the detection tests: one process per core, results by file name."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from worker.judge.rules import load_rules
from worker.judge.rules.schema import ScanWords
from worker.judge.scan.scanner import scan


@cache
def _words() -> ScanWords:
    # Loading and checking every rule file takes more than a second: once per process.
    return load_rules().id_scan


def scan_file(path: str) -> tuple[str, bool, list[str]]:
    """File name, whether it is an ID document, and the fields readable on it: on an identity
    document its unredacted fields, on another file (a payslip) the personal numbers on it."""
    result = scan(Path(path).read_bytes(), _words())
    shown = result.unredacted or result.personal_numbers
    return Path(path).name, result.is_id_document, list(shown)
