"""Settings: one TOML file, then environment variables, validated once and passed down frozen."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from worker.errors import ConfigError

CONFIG_ENV = "PRIVACY_WORKER_CONFIG"
ENV_PREFIX = "PRIVACY_WORKER_"


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
    review_users_file: Path = Field(
        default=Path("var/review-users"),
        description="review page staff accounts: name:hash lines (privacy-worker review-user)",
    )
    review_listen: str = Field(
        default="127.0.0.1:8025",
        pattern=r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$",
        description="host:port the review page listens on (keep it on loopback behind a proxy)",
    )


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
    unknown = sorted(set(data) - {"worker"})
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; expected [worker]")
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [worker] must be a table")
    return dict(section)
