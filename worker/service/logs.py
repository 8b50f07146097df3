"""Logging: one JSON object per line for a log collector, or plain text for a terminal.
Loggers are named by concern (worker.fetch, worker.decide, worker.send, ...). Nothing logged
carries a BSN, MRZ or document number: findings are logged by kind only."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

# The attributes every LogRecord has; anything else was passed with extra= and is logged too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup(log_format: str, level: int = logging.INFO) -> None:
    """Sends the worker's logs to stderr in the chosen format (once per process)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("worker")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
