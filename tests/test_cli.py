"""The classify command: one JSON line per file, whatever the file holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, make_mail
from worker.cli import main

KEYS = {
    "file",
    "category",
    "intents",
    "tenant",
    "language",
    "auto_generated",
    "needs_review",
    "reasons",
    "id_document",
    "action",
}


def run(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[int, list[dict[str, object]]]:
    code = main(
        ["classify", "--tenants", str(FIXTURES / "tenants.yaml"), "--json", *map(str, files)]
    )
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_one_line_per_file_with_every_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a.eml"
    first.write_bytes(make_mail("Graag wil ik inzage in mijn persoonsgegevens."))
    second = tmp_path / "b.eml"
    second.write_bytes(make_mail("Please delete all my personal data.", subject="Delete me"))
    code, lines = run(capsys, first, second)
    assert code == 0
    assert [line["file"] for line in lines] == [str(first), str(second)]
    assert all(set(line) >= KEYS for line in lines)
    assert lines[0]["category"] == "inspection" and lines[0]["language"] == "nl"
    assert lines[1]["category"] == "deletion" and lines[1]["language"] == "en"
    assert (lines[0]["action"], lines[1]["action"]) == ("ack-inspection", "ack-deletion")
    assert lines[0]["id_document"] == {
        "present": False,
        "unredacted": [],
        "files": [],
        "unreadable": [],
    }


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        b'Subject: =?utf-8?B?broken\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n',
        b"From: a@example.nl\nContent-Type: text/plain; charset=x-nope\n\nverwijder mij\n",
        b"Content-Type: multipart/mixed\n\nno boundary at all\n",
    ],
    ids=["empty", "binary", "broken-multipart", "unknown-charset", "multipart-without-boundary"],
)
def test_bad_input_gives_a_reviewed_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "bad.eml"
    path.write_bytes(content)
    code, [line] = run(capsys, path)
    assert code == 0
    assert set(line) >= KEYS
    assert line["needs_review"] is True
    assert line["reasons"]
    # The classifier itself must cope: the last-resort fallback does not count.
    assert not any("internal error" in reason for reason in line["reasons"])


def test_ten_megabyte_body_is_classified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.eml"
    path.write_bytes(make_mail("Verwijder al mijn gegevens.\n" + "bla " * 2_500_000))
    code, [line] = run(capsys, path)
    assert code == 0
    assert line["category"] == "deletion"
    assert any("only the start was read" in r for r in line["reasons"])


def test_unreadable_file_gives_error_and_nonzero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.eml"
    good.write_bytes(make_mail("Graag inzage in mijn gegevens."))
    code, lines = run(capsys, tmp_path / "missing.eml", good)
    assert code == 1
    assert lines[0]["file"] == str(tmp_path / "missing.eml") and "error" in lines[0]
    assert lines[1]["category"] == "inspection"


def test_check_rules_reports_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-rules", "--tenants", str(FIXTURES / "tenants.yaml")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


COMMANDS = ["classify", "scan", "run", "doctor", "health", "check-rules", "review", "review-user"]


@pytest.mark.parametrize("where", ["before", "after", "short"])
def test_config_is_read_before_or_after_the_command(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file that does not exist is an error naming it: proof that this --config was read.
    missing = str(tmp_path / "missing.toml")
    argv = {
        "before": ["--config", missing, "check-rules"],
        "after": ["check-rules", "--config", missing],
        "short": ["check-rules", "-c", missing],
    }[where]
    assert main(argv) == 2
    assert missing in capsys.readouterr().err


def test_config_after_the_command_wins_over_one_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[worker]\n")
    missing = str(tmp_path / "missing.toml")
    assert main(["--config", str(good), "check-rules", "--config", missing]) == 2
    assert missing in capsys.readouterr().err
    assert main(["--config", missing, "check-rules", "--config", str(good)]) == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shows_config_in_its_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "-c CONFIG, --config CONFIG" in capsys.readouterr().out


def test_the_same_mails_give_the_same_bytes_whatever_the_hash_seed() -> None:
    import os
    import subprocess
    import sys

    files = sorted(map(str, (FIXTURES / "mail").glob("*.eml")))
    command = [sys.executable, "-m", "worker", "classify", "--no-scan", "--json"]
    command += ["--tenants", str(FIXTURES / "tenants.yaml"), *files]
    outputs = {
        subprocess.run(
            command, capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_action_says_what_the_worker_would_do_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mails = {
        "routed.eml": make_mail(
            "Ik heb via https://acme.carerix.net gesolliciteerd, verwijder mijn gegevens."
        ),
        "question.eml": make_mail("Hebben jullie een vacature?", subject="Vraag"),
        "away.eml": make_mail("Ik ben afwezig.", subject="Afwezig").replace(
            b"Message-ID:", b"Auto-Submitted: auto-replied\nMessage-ID:"
        ),
    }
    for name, raw in mails.items():
        (tmp_path / name).write_bytes(raw)
    _, lines = run(capsys, *(tmp_path / name for name in mails))
    assert [line["action"] for line in lines] == ["forward:acme-staffing", "receipt", "none"]
