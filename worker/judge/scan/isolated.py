"""Scanning in a separate process: a decoder that crashes (a hostile image can make a C library
fall over), a scan that hangs or a file that swells to gigabytes once decoded costs that one
attachment a review reason, never the worker; and the child never outlives the worker."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from worker.judge.rules.schema import ScanWords
from worker.judge.scan.scanner import TIME_LIMIT_SECONDS, ScanResult, scan

# The scan's own deadline covers loading and OCR; this margin covers starting the child.
MARGIN_SECONDS = 10.0
# The memory the child may take for a file: enough for a 20-page PDF and tesseract on a large
# page (their peak is about 250 MB resident), far below a bomb's gigabytes.
MEMORY_LIMIT_MB = 768
SCRATCH_PREFIX = "privacy-worker-scan-"
# How long a new child may take to start.
START_SECONDS = 60.0
# How often the child looks whether the worker that started it is still there.
WATCH_SECONDS = 0.2


def _ready() -> None:
    pass


def _scan_in_child(data: bytes, words: ScanWords, time_limit: float) -> ScanResult:
    return scan(data, words, time_limit)


def _child_setup(scratch: str, parent: int, memory_bytes: int) -> None:
    # Its own process group, so that killing it kills the tesseract it started too; its own
    # temporary folder, so that what tesseract leaves there (page images of ID copies) goes
    # with it.
    os.setsid()
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    # A bomb then ends in a MemoryError or the child's death, not in the OOM killer taking
    # the worker (and, after the restart, the same mail again). tesseract inherits the limit.
    # The budget comes on top of the address space the libraries reserve at start (about
    # 500 MB, of which 80 MB is ever touched), so that it means the same on every machine.
    limit = _address_space() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    threading.Thread(target=_watch, args=(parent,), name="scan-parent-watch", daemon=True).start()


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _watch(parent: int) -> None:
    # When the worker dies (kill -9 too) this child is handed to another parent: it then ends
    # its whole process group, tesseract included. Not PR_SET_PDEATHSIG: that fires when the
    # *thread* that started the child ends, and polls run in scheduler threads; and it would
    # not reach the tesseract a child started.
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os.killpg(0, signal.SIGKILL)


def remove_stale_scratch(folder: str | None = None) -> list[Path]:
    """Removes scratch folders of scanners whose worker is gone (killed, say); returns them."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(SCRATCH_PREFIX + "*"):
        owner = path.name.removeprefix(SCRATCH_PREFIX).partition("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class IsolatedScanner:
    """Scans attachments one at a time in a child process that is replaced when it dies or
    hangs. Not thread-safe: one per worker thread."""

    def __init__(
        self,
        words: ScanWords,
        time_limit: float = TIME_LIMIT_SECONDS,
        target: Callable[[bytes, ScanWords, float], ScanResult] = _scan_in_child,
        memory_mb: int = MEMORY_LIMIT_MB,
    ) -> None:
        self.words = words
        self.time_limit = time_limit
        self.target = target
        self.memory_mb = memory_mb
        self.margin = MARGIN_SECONDS
        self._pool: ProcessPoolExecutor | None = None
        self._scratch: str | None = None
        remove_stale_scratch()

    def __call__(self, data: bytes, seconds: float | None = None) -> ScanResult:
        """The scan of one file, in at most `seconds` (what is left of the mail's budget)."""
        wall = self.time_limit + self.margin
        if seconds is not None:
            wall = min(wall, seconds)
        try:
            pool = self._pool or self._start()
        except (FutureTimeout, BrokenProcessPool):
            self.close(kill=True)
            return ScanResult.failed("the scanner process did not start")
        future = pool.submit(self.target, data, self.words, wall - min(self.margin, wall / 2))
        try:
            return future.result(timeout=wall)
        except FutureTimeout:
            self.close(kill=True)
            return ScanResult.failed(f"scan did not finish in {wall:.0f} s")
        except BrokenProcessPool:
            self.close(kill=True)
            return ScanResult.failed(
                "the scanner process crashed on this file"
                f" (a decoder fault, or over its {self.memory_mb} MB memory limit)"
            )

    def _start(self) -> ProcessPoolExecutor:
        # The owner's pid in the name: a later start removes the folder once the owner is gone.
        self._scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        # A fresh interpreter (spawn): no inherited locks or sockets of the worker.
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_setup,
            initargs=(self._scratch, os.getpid(), self.memory_mb * 1024 * 1024),
        )
        # Started and ready before a file's clock runs: a busy machine takes seconds to start
        # an interpreter with OpenCV, and that is no fault of the file.
        self._pool.submit(_ready).result(timeout=START_SECONDS)
        return self._pool

    def close(self, kill: bool = False) -> None:
        """Stops the child; `kill` for one that no longer answers."""
        pool, self._pool = self._pool, None
        scratch, self._scratch = self._scratch, None
        if pool is not None:
            if kill:
                for process in list(getattr(pool, "_processes", {}).values()):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, signal.SIGKILL)
            pool.shutdown(wait=True, cancel_futures=True)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    def __enter__(self) -> IsolatedScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
