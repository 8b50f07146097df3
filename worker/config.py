"""Settings: one TOML file, then environment variables, validated once and passed down frozen."""

from __future__ import annotations

import os
import ssl
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from worker.errors import ConfigError

CONFIG_ENV = "PRIVACY_WORKER_CONFIG"
ENV_PREFIX = "PRIVACY_WORKER_"
# Secrets, read only from the environment, never from the file.
SECRETS = ("IMAP_PASSWORD", "SMTP_PASSWORD", "M365_CLIENT_SECRET")
LOOPBACK = ("127.0.0.1", "::1", "localhost")

Security = Literal["tls", "starttls", "none"]


class Settings(BaseModel):
    """Deployment settings. Policy lives in rules/; secrets only in the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mailbox_address: str = Field(
        default="privacy@carerix.com",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="the privacy mailbox's own address: mail from it is never answered",
    )
    rules_dir: Path | None = Field(
        default=None,
        description="folder of rule YAML files; empty: the rules shipped with the code",
    )
    tenants_file: Path | None = Field(
        default=None, description="tenant registry YAML; empty: rules_dir/tenants.yaml"
    )
    store_url: str = Field(
        default="sqlite:///var/cases.sqlite",
        description="SQLAlchemy URL of the case store (SQLite file, or postgresql://...)",
    )
    maildir: Path = Field(
        default=Path("var/mailbox"),
        description="the mailbox as a local Maildir (the embedded default, no server needed)",
    )
    reference_prefix: str = Field(
        default="PRIV", pattern=r"^[A-Z]{2,8}$", description="case references: PRIV-2026-000123"
    )
    replace_redacted_on_server: bool = Field(
        default=True,
        description="put a message whose ID copies were cut back in the mailbox without them",
    )
    due_days: int = Field(
        default=28, ge=1, le=90, description="days from receipt to the answer's due date"
    )
    imap_host: str = Field(
        default="", description="IMAP server of the mailbox; empty: the local Maildir"
    )
    imap_port: int = Field(default=0, ge=0, le=65535, description="0: 993 for tls, else 143")
    imap_security: Security = Field(
        default="tls", description="tls, starttls, or none (only to a server on loopback)"
    )
    imap_user: str = Field(default="", description="IMAP login; empty: mailbox_address")
    imap_folder: str = Field(default="INBOX", description="the folder new mail arrives in")
    sent_folder: str = Field(default="Sent", description="IMAP folder sent mail is filed in")
    imap_batch: int = Field(default=200, ge=1, le=5000, description="bodies fetched at a time")
    max_message_bytes: int = Field(
        default=50_000_000,
        ge=100_000,
        description="a mail bigger than this is not read: a case in review keeps its headers",
    )
    poll_batch_bytes: int = Field(
        default=64_000_000,
        ge=1_000_000,
        description="message bodies fetched at a time, at most, in bytes",
    )
    imap_idle: bool = Field(
        default=False, description="wait with IMAP IDLE between polls, to react at once"
    )
    auth: Literal["password", "m365-oauth"] = Field(
        default="password",
        description="password, or m365-oauth: XOAUTH2 with Microsoft 365 app-only credentials",
    )
    m365_tenant_id: str = Field(default="", description="Entra ID tenant of the app (m365-oauth)")
    m365_client_id: str = Field(default="", description="application (client) id (m365-oauth)")
    m365_authority: str = Field(
        default="https://login.microsoftonline.com",
        pattern=r"^https://[^\s/]+/?$",
        description="Entra ID sign-in host (m365-oauth): another one for a national cloud",
    )
    m365_scope: str = Field(
        default="https://outlook.office365.com/.default",
        description="the scope asked for (m365-oauth): another one for a national cloud",
    )
    smtp_host: str = Field(
        default="", description="SMTP server for outgoing mail; empty: the local Maildir outbox"
    )
    smtp_port: int = Field(
        default=0, ge=0, le=65535, description="0: 465 for tls, 587 for starttls, else 25"
    )
    smtp_security: Security = Field(
        default="starttls", description="tls, starttls, or none (only to a server on loopback)"
    )
    smtp_user: str = Field(default="", description="SMTP login; empty: the IMAP login")
    tls_ca_file: str = Field(
        default="",
        description="PEM file of the CA certificates IMAP and SMTP servers are checked against "
        "(a company's own CA); empty: the system's",
    )
    outbox_maildir: Path = Field(
        default=Path("var/sent"),
        description="without smtp_host, outgoing mail is delivered to this local Maildir",
    )
    network_timeout: float = Field(
        default=60.0, gt=0, le=600, description="seconds before a silent server counts as down"
    )
    poll_seconds: int = Field(default=60, ge=5, le=3600, description="seconds between polls")
    scan_seconds_per_mail: float = Field(
        default=120.0,
        ge=10,
        le=3600,
        description="seconds the ID-copy scan of all attachments of one mail may take",
    )
    scan_memory_mb: int = Field(
        default=768, ge=256, le=16384, description="memory the ID-copy scan may take per file"
    )
    sender_name: str = Field(
        default="Privacy Carerix",
        pattern=r"^[^\r\n]{1,80}$",
        description="the display name on every mail the worker sends",
    )
    max_replies_per_day: int = Field(
        default=3, ge=0, le=100, description="automatic replies to one address in 24 hours"
    )
    retention_days: int = Field(
        default=1095, ge=30, description="closed cases are purged this many days after closing"
    )
    heartbeat_file: Path = Field(
        default=Path("var/heartbeat"),
        description="touched after every poll; `privacy-worker health` reads its age",
    )
    metrics_listen: str = Field(
        default="", description="host:port of the Prometheus metrics endpoint; empty: off"
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per log line; text: for a terminal"
    )
    review_users_file: Path = Field(
        default=Path("var/review-users"),
        description="review page staff accounts: name:hash lines (privacy-worker review-user)",
    )
    review_listen: str = Field(
        default="127.0.0.1:8025",
        pattern=r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$",
        description="host:port the review page listens on (keep it on loopback behind a proxy)",
    )

    @field_validator("tls_ca_file")
    @classmethod
    def _ca_file_loads(cls, value: str) -> str:
        # A missing or broken CA file would otherwise fail only at the first connection.
        if value:
            try:
                ssl.create_default_context(cafile=value)
            except (OSError, ssl.SSLError) as err:
                raise ValueError(f"cannot load the CA certificates in {value}: {err}") from err
        return value

    @model_validator(mode="after")
    def _plain_text_only_on_loopback(self) -> Settings:
        # Passwords and personal data never cross a network in the clear.
        for kind in ("imap", "smtp"):
            host = getattr(self, f"{kind}_host")
            if host and getattr(self, f"{kind}_security") == "none" and host not in LOOPBACK:
                raise ValueError(f"{kind}_security = none is only allowed for a loopback host")
        return self

    @property
    def login(self) -> str:
        """The IMAP login name."""
        return self.imap_user or self.mailbox_address


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Reads the file (if any), lets PRIVACY_WORKER_<KEY> variables override it, validates."""
    environ = dict(os.environ) if environ is None else environ
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    values: dict[str, Any] = _read_toml(path) if path is not None else {}
    for key in Settings.model_fields:
        env_value = environ.get(ENV_PREFIX + key.upper())
        if env_value is not None:
            values[key] = env_value
    try:
        return Settings.model_validate(values)
    except ValidationError as err:
        where = path or "environment"
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"{where}: {problems}") from err


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read configuration: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err
    section = data.get("worker", {})
    secrets = (
        sorted(k for k in section if k.upper() in SECRETS) if isinstance(section, dict) else []
    )
    if secrets:
        raise ConfigError(
            f"{path}: {', '.join(secrets)} must not be in a file; set "
            + ", ".join(ENV_PREFIX + k.upper() for k in secrets)
            + " in the environment"
        )
    unknown = sorted(set(data) - {"worker"})
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; expected [worker]")
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [worker] must be a table")
    return dict(section)
