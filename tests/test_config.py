"""Settings: TOML file, then environment, validated once with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.cli import main
from worker.config import Settings, load_settings
from worker.errors import ConfigError


def test_defaults_without_a_file() -> None:
    settings = load_settings(None, environ={})
    assert settings.mailbox_address == "privacy@carerix.com"
    assert settings.rules_dir is None


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "worker.toml"
    path.write_text('[worker]\nmailbox_address = "avg@example.nl"\nrules_dir = "/srv/rules"\n')
    settings = load_settings(path, environ={"PRIVACY_WORKER_MAILBOX_ADDRESS": "dpo@example.nl"})
    assert settings.mailbox_address == "dpo@example.nl"
    assert settings.rules_dir == Path("/srv/rules")


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "worker.toml"
    path.write_text('[worker]\nmailbox_address = "avg@example.nl"\n')
    assert load_settings(None, environ={"PRIVACY_WORKER_CONFIG": str(path)}).mailbox_address == (
        "avg@example.nl"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[worker]\nmailbox_adress = "x@example.nl"\n', "mailbox_adress: Extra inputs"),
        ('[worker]\nmailbox_address = "not an address"\n', "mailbox_address: String should match"),
        ("[worker\n", "invalid TOML"),
        ("[wrker]\nx = 1\n", "unknown section"),
    ],
)
def test_bad_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "worker.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_cli_reports_config_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "worker.toml"
    path.write_text("[worker]\nbogus = 1\n")
    assert main(["--config", str(path), "check-rules"]) == 2
    assert "privacy-worker: " in capsys.readouterr().err


def test_the_example_file_and_the_readme_document_every_key() -> None:
    root = Path(__file__).resolve().parents[1]
    example = load_settings(root / "config.example.toml", environ={})
    assert example == load_settings(None, environ={})  # every value shown is the default
    text = (root / "config.example.toml").read_text() + (root / "README.md").read_text()
    for key in Settings.model_fields:
        assert f"{key} =" in text or f"# {key} =" in text, key
        assert f"| `{key}` |" in text, key


def test_a_secret_in_the_file_is_refused_and_named(tmp_path: Path) -> None:
    path = tmp_path / "worker.toml"
    path.write_text('[worker]\nimap_host = "imap.example.nl"\nimap_password = "hunter2"\n')
    with pytest.raises(ConfigError, match="PRIVACY_WORKER_IMAP_PASSWORD in the environment"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("host", "allowed"), [("127.0.0.1", True), ("localhost", True), ("mail.example.nl", False)]
)
def test_plain_text_mail_servers_only_on_loopback(host: str, allowed: bool) -> None:
    environ = {"PRIVACY_WORKER_SMTP_HOST": host, "PRIVACY_WORKER_SMTP_SECURITY": "none"}
    if allowed:
        assert load_settings(None, environ=environ).smtp_host == host
    else:
        with pytest.raises(ConfigError, match="only allowed for a loopback host"):
            load_settings(None, environ=environ)


def test_an_imap_host_without_its_password_is_a_clear_error() -> None:
    from worker.intake.account import imap_account, smtp_account

    settings = load_settings(
        None,
        environ={
            "PRIVACY_WORKER_IMAP_HOST": "imap.example.nl",
            "PRIVACY_WORKER_SMTP_HOST": "smtp.example.nl",
        },
    )
    with pytest.raises(ConfigError, match="PRIVACY_WORKER_IMAP_PASSWORD is missing"):
        imap_account(settings, {})
    account = imap_account(settings, {"PRIVACY_WORKER_IMAP_PASSWORD": "s3cret"})
    assert account is not None and account.port == 993 and "s3cret" not in repr(account)
    relay = smtp_account(settings, {})
    assert relay is not None and relay.port == 587 and relay.user == "privacy@carerix.com"


def test_m365_needs_its_app_credentials() -> None:
    from worker.intake.account import imap_account

    environ = {
        "PRIVACY_WORKER_IMAP_HOST": "outlook.office365.com",
        "PRIVACY_WORKER_AUTH": "m365-oauth",
    }
    with pytest.raises(ConfigError, match="m365_tenant_id, m365_client_id"):
        imap_account(load_settings(None, environ=environ), {})
    environ |= {"PRIVACY_WORKER_M365_TENANT_ID": "t", "PRIVACY_WORKER_M365_CLIENT_ID": "c"}
    account = imap_account(
        load_settings(None, environ=environ), {"PRIVACY_WORKER_M365_CLIENT_SECRET": "x"}
    )
    assert account is not None and account.oauth is not None and account.secret == ""
