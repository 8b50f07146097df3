"""Named points where a test can make the worker die as kill -9 would, to prove that a crash
there loses and doubles nothing. Off unless PRIVACY_WORKER_FAILPOINT names the point."""

from __future__ import annotations

import os

FAILPOINT_ENV = "PRIVACY_WORKER_FAILPOINT"


def failpoint(name: str) -> None:
    """Ends the process at once, with no clean-up, when the environment names this point."""
    if os.environ.get(FAILPOINT_ENV) == name:
        os._exit(137)
