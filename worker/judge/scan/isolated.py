"""Scanning in a separate process: a decoder that crashes (a hostile image can make a C library
fall over) or a scan that hangs costs that one attachment a review reason, never the worker."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from worker.judge.rules.schema import ScanWords
from worker.judge.scan.scanner import TIME_LIMIT_SECONDS, ScanResult, scan

# The scan's own deadline covers OCR; this margin covers loading and drawing pages.
MARGIN_SECONDS = 30.0


def _scan_in_child(data: bytes, words: ScanWords, time_limit: float) -> ScanResult:
    return scan(data, words, time_limit)


def _child_setup(scratch: str) -> None:
    # Its own process group, so that killing it kills the tesseract it started too; its own
    # temporary folder, so that what tesseract leaves there (page images of ID copies) goes
    # with it.
    os.setsid()
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch


class IsolatedScanner:
    """Scans attachments one at a time in a child process that is replaced when it dies or
    hangs. Not thread-safe: one per worker thread."""

    def __init__(
        self,
        words: ScanWords,
        time_limit: float = TIME_LIMIT_SECONDS,
        target: Callable[[bytes, ScanWords, float], ScanResult] = _scan_in_child,
    ) -> None:
        self.words = words
        self.time_limit = time_limit
        self.target = target
        self.margin = MARGIN_SECONDS
        self._pool: ProcessPoolExecutor | None = None
        self._scratch: str | None = None

    def __call__(self, data: bytes) -> ScanResult:
        pool = self._pool or self._start()
        future = pool.submit(self.target, data, self.words, self.time_limit)
        try:
            return future.result(timeout=self.time_limit + self.margin)
        except FutureTimeout:
            self.close(kill=True)
            return ScanResult.failed(
                f"scan did not finish in {self.time_limit + self.margin:.0f} s"
            )
        except BrokenProcessPool:
            self.close(kill=True)
            return ScanResult.failed("the scanner process crashed on this file")

    def _start(self) -> ProcessPoolExecutor:
        # A fresh interpreter (spawn): no inherited locks or sockets of the worker.
        self._scratch = tempfile.mkdtemp(prefix="privacy-worker-scan-")
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_setup,
            initargs=(self._scratch,),
        )
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
