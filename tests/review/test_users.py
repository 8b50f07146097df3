"""Staff accounts: scrypt hashes in a name:hash file, and sessions that end with the account."""

from __future__ import annotations

import io
import stat
import sys
import time
from pathlib import Path

import pytest

from worker.cli import main
from worker.errors import ConfigError
from worker.review.auth import IDLE_SECONDS, Sessions
from worker.review.users import check_password, hash_password, read_users, set_password

PASSWORD = "correct horse battery"


def test_a_hash_checks_its_own_password_only_and_is_salted() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert check_password(PASSWORD, stored)
    assert not check_password(PASSWORD + "!", stored)
    assert hash_password(PASSWORD) != stored


@pytest.mark.parametrize(
    "stored", [None, "", "plain", "md5$x$y$z$a$b", "scrypt$99999999999$8$1$AA==$AA=="]
)
def test_a_missing_or_malformed_hash_never_matches(stored: str | None) -> None:
    assert not check_password(PASSWORD, stored)


def test_set_password_writes_an_owner_only_file_and_keeps_other_users(tmp_path: Path) -> None:
    path = tmp_path / "var" / "review-users"
    set_password(path, "alice", PASSWORD)
    set_password(path, "bob", PASSWORD + "2")
    set_password(path, "alice", "another long password")
    users = read_users(path)
    assert sorted(users) == ["alice", "bob"]
    assert check_password("another long password", users["alice"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [("Alice Smith", PASSWORD, "user name"), ("alice", "short", "12 characters")],
)
def test_bad_names_and_short_passwords_are_refused(
    tmp_path: Path, name: str, password: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        set_password(tmp_path / "users", name, password)


def test_a_broken_users_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# staff\nalice:scrypt$1\nno colon here\n")
    with pytest.raises(ConfigError, match=r"users:3: expected name:hash"):
        read_users(path)


def test_the_review_user_command_reads_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users"
    monkeypatch.setenv("PRIVACY_WORKER_REVIEW_USERS_FILE", str(path))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["review-user", "carol"]) == 0
    assert "carol: password set" in capsys.readouterr().out
    assert check_password(PASSWORD, read_users(path)["carol"])


def test_a_session_ends_when_its_user_is_removed_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "users"
    set_password(path, "alice", PASSWORD)
    sessions = Sessions(path)
    assert sessions.login("alice", "wrong password!") is None
    assert sessions.login("nobody", PASSWORD) is None
    token = sessions.login("alice", PASSWORD)
    assert token is not None and (staff := sessions.get(token)) and staff.user == "alice"
    assert sessions.get(token + "x") is None
    path.write_text("")
    assert sessions.get(token) is None


def test_an_idle_session_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "users"
    set_password(path, "alice", PASSWORD)
    sessions = Sessions(path)
    token = sessions.login("alice", PASSWORD)
    assert sessions.get(token) is not None
    later = time.monotonic() + IDLE_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert sessions.get(token) is None


def test_review_refuses_to_start_without_a_staff_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRIVACY_WORKER_REVIEW_USERS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("PRIVACY_WORKER_STORE_URL", f"sqlite:///{tmp_path / 'cases.sqlite'}")
    assert main(["review", "--listen", "127.0.0.1:1"]) == 2
    assert "no review users" in capsys.readouterr().err
