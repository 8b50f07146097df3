"""The email package's `default` and `SMTP` policies, made cheaper for a service that reads
and writes thousands of messages: the same parsing and output, fewer objects made per header.

CPython's HeaderRegistry builds a new class each time a header is read or set (a `type()`
call per header); that was a tenth of the worker's time. These registries make each class
once. The composing policy also keeps the header objects it made for the most recent values:
a header object is immutable, and most headers of our replies (From, Auto-Submitted,
MIME-Version, Content-Type, ...) are the same in every one."""

from __future__ import annotations

import email.policy
from email.headerregistry import BaseHeader, HeaderRegistry
from functools import lru_cache
from typing import Any

# Header values whose objects are kept for reuse when composing.
_KEPT_VALUES = 512


class _Registry(HeaderRegistry):
    """A HeaderRegistry that makes each header class once."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


class _KeepingRegistry(_Registry):
    """A _Registry that hands out the same header object for the same name and value."""

    def __init__(self) -> None:
        super().__init__()
        self._made = lru_cache(maxsize=_KEPT_VALUES)(super().__call__)

    def __call__(self, name: str, value: Any) -> Any:
        if type(value) is not str:
            return super().__call__(name, value)  # an Address, a header object: not kept
        return self._made(name, value)


# For reading mail (what email.policy.default does).
READING = email.policy.default.clone(header_factory=_Registry())
# For writing mail (what email.policy.SMTP does: CRLF line ends).
WRITING = email.policy.SMTP.clone(header_factory=_KeepingRegistry())
