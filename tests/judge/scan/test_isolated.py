"""Scanning in a child process: a crash or a hang costs one file a reason, not the caller."""

from __future__ import annotations

import os
import signal
import time

from worker.judge.rules import RuleSet
from worker.judge.rules.schema import ScanWords
from worker.judge.scan.isolated import IsolatedScanner
from worker.judge.scan.scanner import ScanResult


def crash(data: bytes, words: ScanWords, limit: float) -> ScanResult:
    if data == b"crash":
        os.kill(os.getpid(), signal.SIGSEGV)  # what a C decoder falling over looks like
    if data == b"hang":
        time.sleep(600)
    return ScanResult(True, ("mrz",), (), ())


def test_a_crash_and_a_hang_become_reasons_and_the_next_file_is_scanned(rules: RuleSet) -> None:
    with IsolatedScanner(rules.id_scan, time_limit=0.5, target=crash) as scanner:
        scanner.margin = 0.5
        assert "crashed" in scanner(b"crash").unreadable[0]
        assert scanner(b"fine").unredacted == ("mrz",)
        start = time.monotonic()
        assert "did not finish" in scanner(b"hang").unreadable[0]
        assert time.monotonic() - start < 60
        assert scanner(b"fine").unredacted == ("mrz",)


def test_real_scan_in_the_child(rules: RuleSet) -> None:
    with IsolatedScanner(rules.id_scan) as scanner:
        assert "not a readable image" in scanner(b"\x00not an image").unreadable[0]
