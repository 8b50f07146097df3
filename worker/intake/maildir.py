"""A local Maildir as the mailbox: the embedded default, and what the tests use besides IMAP.

Moves are one rename(2) each, which is atomic on one file system: a message is in the inbox or
in its folder, never in both and never in neither. (The standard library's `mailbox.Maildir`
moves by copy and delete, which a crash between the two would double.)"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

FOLDERS = ("Processed", "Review", "Ignored")
# The most of a message's header block read when its body is not (a message too big).
HEAD_BYTES = 65536


class Maildir:
    """The inbox of a Maildir (new/ and cur/) and its Maildir++ folders (.Processed, ...)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"maildir:{path.resolve()}"
        self.validity = 0
        self.batch = 50
        for folder in (path, *(path / f".{name}" for name in FOLDERS)):
            for sub in ("tmp", "new", "cur"):
                (folder / sub).mkdir(parents=True, exist_ok=True)

    def waiting(self) -> list[str]:
        """The keys of the messages in the inbox, oldest delivery first."""
        found = []
        for sub in ("new", "cur"):
            with os.scandir(self.path / sub) as entries:
                for entry in entries:
                    try:
                        if entry.is_file() and not entry.name.startswith("."):
                            found.append((entry.stat().st_mtime, entry.name))
                    except FileNotFoundError:
                        continue  # a mail client moved it from new/ to cur/ meanwhile
        return [_key(name) for _, name in sorted(found)]

    def sizes(self, keys: Sequence[str]) -> dict[str, int]:
        """The sizes of these messages in bytes, from one pass over the inbox."""
        wanted, found = set(keys), {}
        for sub in ("new", "cur"):
            with os.scandir(self.path / sub) as entries:
                for entry in entries:
                    try:
                        if _key(entry.name) in wanted and entry.is_file():
                            found[_key(entry.name)] = entry.stat().st_size
                    except FileNotFoundError:
                        continue  # moved meanwhile
        return found

    def head(self, key: str) -> bytes:
        """The start of a message's header block, never the whole file."""
        path = self._find(self.path, key)
        if path is None:
            return b""
        try:
            with path.open("rb") as handle:
                start = handle.read(HEAD_BYTES)
        except OSError:  # unreadable now: the case is made without its headers
            return b""
        return start.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]

    def fetch(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The bytes of these messages; one gone from the inbox, or unreadable now (a
        permission, a disk error), is absent and waits for the next poll."""
        found = {}
        for key in keys:
            path = self._find(self.path, key)
            try:
                if path is not None:
                    found[key] = self._read(path)
            except OSError:
                continue
        return found

    @staticmethod
    def _read(path: Path) -> bytes:
        return path.read_bytes()

    def move(self, key: str, folder: str) -> None:
        """Moves a message to a folder; a message already moved (a retry) is left alone."""
        path = self._find(self.path, key)
        if path is not None:
            os.replace(path, self.path / f".{folder}" / "cur" / path.name)

    def move_many(self, keys: Sequence[str], folder: str) -> None:
        for key in keys:
            self.move(key, folder)

    def replace(self, key: str, folder: str, raw: bytes) -> None:
        """Puts `raw` in a folder in place of the message, and removes the original; done again
        after a crash it changes nothing (the original is then already gone)."""
        path = self._find(self.path, key)
        if path is None:
            return
        target = self.path / f".{folder}" / "cur" / path.name.split(":", 1)[0]
        temporary = self.path / "tmp" / f"{target.name}.replace"
        temporary.write_bytes(raw)
        os.replace(temporary, target)
        path.unlink()

    def in_folder(self, folder: str) -> list[str]:
        """The keys of the messages in one folder."""
        base = self.path / f".{folder}"
        return sorted(_key(p.name) for sub in ("new", "cur") for p in (base / sub).iterdir())

    def deliver(self, raw: bytes) -> str:
        """Delivers a message the Maildir way (write in tmp/, rename into new/)."""
        name = f"{time.time_ns()}.P{os.getpid()}.{socket.gethostname().replace('/', '_')}"
        temporary = self.path / "tmp" / name
        temporary.write_bytes(raw)
        os.replace(temporary, self.path / "new" / name)
        return name

    @staticmethod
    def _find(base: Path, key: str) -> Path | None:
        # Names are compared, not globbed: a key may hold [, * or ?.
        for sub in ("new", "cur"):
            with os.scandir(base / sub) as entries:
                for entry in entries:
                    if _key(entry.name) == key:
                        return base / sub / entry.name
        return None


def _key(name: str) -> str:
    # A Maildir file name is its key, then ":2," and the flags once a reader has seen it.
    return name.split(":", 1)[0]
