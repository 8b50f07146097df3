"""Scanning in a child process: a crash, a hang or a bomb costs one file a reason, not the
caller, and the child dies with the caller."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.bench_hostile import measure
from tests.judge.scan.hostile import HOSTILE
from worker.judge.rules import RuleSet
from worker.judge.rules.schema import ScanWords
from worker.judge.scan.isolated import MEMORY_LIMIT_MB, IsolatedScanner
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


def test_a_file_gets_no_more_than_what_is_left_of_the_mails_time(rules: RuleSet) -> None:
    with IsolatedScanner(rules.id_scan, target=crash) as scanner:
        scanner(b"fine")  # the child is started, as a poll's first file starts it
        start = time.monotonic()
        assert scanner(b"hang", seconds=2).unreadable == ("scan did not finish in 2 s",)
        assert time.monotonic() - start < 10


def test_real_scan_in_the_child(rules: RuleSet) -> None:
    with IsolatedScanner(rules.id_scan) as scanner:
        assert "not a readable image" in scanner(b"\x00not an image").unreadable[0]


def busy(data: bytes, words: ScanWords, limit: float) -> ScanResult:
    # What a long OCR looks like from outside: the child waits on a program it started.
    subprocess.run(["sleep", "600"], check=False)
    return ScanResult(False, (), (), ())


_HOLDER = (
    "from worker.judge.rules import load_rules\n"
    "from worker.judge.scan.isolated import MEMORY_LIMIT_MB, IsolatedScanner\n"
    "from tests.judge.scan.test_isolated import busy\n"
    "IsolatedScanner(load_rules().id_scan, target=busy)(b'x')\n"
)


def descendants(root: int) -> dict[int, str]:
    """The processes below `root`, by pid, with their command names."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            pid = int(text.split(" ", 1)[0])
            names[pid] = text[text.index("(") + 1 : text.rindex(")")]
            parents[pid] = int(text[text.rindex(")") + 2 :].split()[1])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = names[pid]
                frontier.append(pid)
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_of_the_worker_leaves_no_scanner_process_and_the_next_start_clears_its_folder(
    rules: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = {**os.environ, "TMPDIR": str(tmp_path)}
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER], env=environ)
    try:
        deadline = time.monotonic() + 60
        while "sleep" not in descendants(holder.pid).values():
            assert time.monotonic() < deadline and holder.poll() is None, "no scan started"
            time.sleep(0.1)
        children = descendants(holder.pid)
        assert len(children) >= 2  # the pool's child and the program it runs
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [name for pid, name in children.items() if running(pid)] == []
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(f"privacy-worker-scan-{holder.pid}-")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with IsolatedScanner(rules.id_scan):
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("huge-pages.pdf", "508 x 508 cm: not drawn"),
        ("multi-frame.tif", "more than 80 megapixels"),
        ("flate-bomb.pdf", "memory limit"),
    ],
)
def test_a_hostile_file_gives_a_reason_and_the_child_stays_within_its_memory(
    name: str, reason: str, tmp_path: Path
) -> None:
    # Each of these took 3.3 to 3.4 GB before the checks and the memory limit (issue 12).
    path = tmp_path / name
    path.write_bytes(HOSTILE[name]())
    _, _, child_kb, reasons = measure(path)
    assert any(reason in r for r in reasons), reasons
    assert child_kb < (MEMORY_LIMIT_MB + 150) * 1024
