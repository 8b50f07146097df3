"""Logins of the review page: server-side sessions behind an opaque cookie, and CSRF tokens.

A session lives in this process only (a restart logs everyone out, which is acceptable for a
staff page and keeps secrets out of cookies). The cookie carries a random token; the server
keeps only its SHA-256, so a lookup reveals nothing through timing and a memory dump holds no
usable token. Every session has its own CSRF token, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from worker.review.users import check_password, read_users

COOKIE = "review_session"
LOGIN_COOKIE = "review_login"
# A working day: staff log in in the morning; a forgotten browser does not stay logged in.
IDLE_SECONDS = 8 * 3600


@dataclass
class StaffSession:
    """One logged-in member of staff."""

    user: str
    csrf: str
    seen: float = field(default_factory=time.monotonic)


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def new_token() -> str:
    """A random token for a cookie or a form."""
    return secrets.token_urlsafe(32)


class Sessions:
    """The logged-in sessions of this process, checked against the users file on every use so
    that removing a line from it ends that person's sessions at once."""

    def __init__(self, users_file: Path) -> None:
        self.users_file = users_file
        self._by_digest: dict[str, StaffSession] = {}

    def login(self, name: str, password: str) -> str | None:
        """A new session's cookie token for a right name and password, else None."""
        stored = read_users(self.users_file).get(name)
        if not check_password(password, stored) or stored is None:
            return None
        self._forget_idle()
        token = new_token()
        self._by_digest[_digest(token)] = StaffSession(name, new_token())
        return token

    def get(self, token: str | None) -> StaffSession | None:
        """The live session of a cookie token, or None (unknown, expired, user removed)."""
        if not token:
            return None
        digest = _digest(token)
        session = self._by_digest.get(digest)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.seen > IDLE_SECONDS or session.user not in read_users(self.users_file):
            del self._by_digest[digest]
            return None
        session.seen = now
        return session

    def _forget_idle(self) -> None:
        # Sessions left without a logout would otherwise pile up until a restart.
        cutoff = time.monotonic() - IDLE_SECONDS
        for digest in [d for d, s in self._by_digest.items() if s.seen < cutoff]:
            del self._by_digest[digest]

    def logout(self, token: str | None) -> None:
        """Ends the session of a cookie token, if any."""
        if token:
            self._by_digest.pop(_digest(token), None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
