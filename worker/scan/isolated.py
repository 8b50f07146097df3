"""Scanning in a separate process: a decoder that crashes (a hostile image can make a C library
fall over) or a scan that hangs costs that one attachment a review reason, never the worker."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from worker.rules.schema import ScanWords
from worker.scan.scanner import TIME_LIMIT_SECONDS, ScanResult, scan

# The scan's own deadline covers OCR; this margin covers loading and drawing pages.
MARGIN_SECONDS = 30.0


def _scan_in_child(data: bytes, words: ScanWords, time_limit: float) -> ScanResult:
    return scan(data, words, time_limit)


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

    def __call__(self, data: bytes) -> ScanResult:
        pool = self._pool or self._start()
        future = pool.submit(self.target, data, self.words, self.time_limit)
        try:
            return future.result(timeout=self.time_limit + self.margin)
        except FutureTimeout:
            self.close(kill=True)
            return _failed(f"scan did not finish in {self.time_limit + self.margin:.0f} s")
        except BrokenProcessPool:
            self.close(kill=True)
            return _failed("the scanner process crashed on this file")

    def _start(self) -> ProcessPoolExecutor:
        # A fresh interpreter (spawn): no inherited locks or sockets of the worker.
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )
        return self._pool

    def close(self, kill: bool = False) -> None:
        """Stops the child; `kill` for one that no longer answers."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=not kill, cancel_futures=True)

    def __enter__(self) -> IsolatedScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _failed(reason: str) -> ScanResult:
    return ScanResult(False, (), (), (reason,))
