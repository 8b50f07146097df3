"""`privacy-worker doctor`: one line per check, every check run, exit 1 when one fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.cli import main


def doctor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], **env: str
) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PRIVACY_WORKER_CONFIG", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(f"PRIVACY_WORKER_{key.upper()}", value)
    code = main(["doctor"])
    return code, capsys.readouterr().out.splitlines()


def test_a_fresh_machine_with_the_defaults_is_healthy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = doctor(monkeypatch, tmp_path, capsys)
    assert code == 0
    assert [line.split(":")[0] for line in lines] == [
        "ok    rules",
        "ok    tesseract",
        "ok    store",
        "ok    mailbox",
        "ok    outgoing",
    ]
    assert "(schema 0004)" in lines[2] and (tmp_path / "var" / "cases.sqlite").exists()


def test_each_problem_is_a_clear_line_and_the_other_checks_still_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = doctor(
        monkeypatch,
        tmp_path,
        capsys,
        store_url="postgresql+nosuchdriver://worker@127.0.0.1:1/cases",
        rules_dir=str(tmp_path / "no-rules"),
    )
    assert code == 1
    assert lines[0].startswith("FAIL  rules:") and "rules directory not found" in lines[0]
    assert lines[1].startswith("ok    tesseract")
    assert lines[2].startswith("FAIL  store:")
    assert lines[3].startswith("ok    mailbox")


def test_imap_and_smtp_servers_are_checked_with_a_login(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.servers import PASSWORD, dovecot_server, smtp_server

    with dovecot_server() as imap, smtp_server() as (smtp, _):
        imap.deliver(b"Subject: hallo\r\n\r\nhallo\r\n")
        settings = {"imap_host": "127.0.0.1", "imap_port": str(imap.port), "imap_security": "none"}
        settings |= {"smtp_host": "127.0.0.1", "smtp_port": str(smtp.port), "smtp_security": "none"}
        code, lines = doctor(monkeypatch, tmp_path, capsys, imap_password=PASSWORD, **settings)
        assert code == 0, lines
        assert "IMAP privacy@carerix.com@127.0.0.1" in lines[3] and "1 message(s)" in lines[3]
        assert lines[4].startswith("ok    outgoing: SMTP")
        code, lines = doctor(monkeypatch, tmp_path, capsys, imap_password="wrong", **settings)
    assert code == 1
    assert lines[3].startswith("FAIL  mailbox: MailboxError: IMAP 127.0.0.1:")
    assert "authentication failed" in lines[3].lower()


def test_a_server_that_is_down_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.servers import free_port

    port = str(free_port())
    code, lines = doctor(
        monkeypatch, tmp_path, capsys, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"
    )
    assert code == 1
    assert lines[4].startswith(f"FAIL  outgoing: OSError: SMTP 127.0.0.1:{port}:")
    assert "refused" in lines[4].lower()
