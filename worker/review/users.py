"""Staff accounts of the review page: a file of `name:hash` lines, scrypt-hashed passwords.

The file holds no plain password. A hash is `scrypt$n$r$p$salt$key` (salt and key in
base64), made with the standard library's hashlib.scrypt, so no extra dependency is needed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from worker.errors import ConfigError

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# scrypt at n=2**14, r=8, p=1 takes about 50 ms and 16 MiB: slow for a guesser, quick for a login.
_N, _R, _P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password, in the file's text form."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether a password matches a stored hash, compared in constant time. With no stored hash
    (an unknown name) a hash is computed all the same, so the time does not tell names apart."""
    try:
        scheme, n, r, p, salt, key = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        _scrypt(password, b"0" * 16, _N, _R, _P)
        return False
    return hmac.compare_digest(actual, expected)


def read_users(path: Path) -> dict[str, str]:
    """Name to hash for every account in the file; no file is no accounts."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the review users: {err.strerror}") from err
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not NAME.match(name):
            raise ConfigError(f"{path}:{number}: expected name:hash")
        users[name] = stored.strip()
    return users


def set_password(path: Path, name: str, password: str) -> None:
    """Adds an account or changes its password, writing the file anew (readable by its owner
    only) and replacing the old one in one step."""
    if not NAME.match(name):
        raise ConfigError(f"{name!r}: a user name is lower-case letters, digits, '.', '_', '-'")
    if len(password) < 12:
        raise ConfigError("a password must have 12 characters at least")
    users = read_users(path)
    users[name] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(f"{user}:{stored}\n" for user, stored in sorted(users.items()))
    os.replace(temporary, path)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
