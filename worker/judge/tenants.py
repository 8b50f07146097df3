"""The tenant registry: the Carerix customers (agencies) whose data Carerix processes."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from worker.errors import RulesError
from worker.yamlfile import load_model


class Tenant(BaseModel):
    """One customer: how to recognise it in a mail, and where its privacy requests go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
    name: str = Field(min_length=2)
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    carerix_hosts: tuple[str, ...] = ()
    privacy_contact: EmailStr
    language: str = Field(default="nl", pattern=r"^(?:nl|en)$")

    @field_validator("domains", "carerix_hosts")
    @classmethod
    def _lower_hosts(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if "." not in value or " " in value or "/" in value or "@" in value:
                raise ValueError(f"{value!r} is not a bare host name such as example.nl")
        return tuple(v.strip().lower().rstrip(".") for v in values)


class Registry(BaseModel):
    """The whole registry file: `tenants:` and a list of customers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: tuple[Tenant, ...]


def load_registry(path: Path) -> Registry:
    """Loads a registry and checks that ids, hosts and domains each belong to one tenant."""
    registry = load_model(Registry, path)
    owners: dict[str, str] = {}
    for tenant in registry.tenants:
        for key in (
            f"id {tenant.id}",
            *(f"host {h}" for h in tenant.carerix_hosts),
            *(f"domain {d}" for d in tenant.domains),
        ):
            if key in owners:
                raise RulesError(
                    str(path), None, f"{key} belongs to both {owners[key]} and {tenant.id}"
                )
            owners[key] = tenant.id
    return registry
