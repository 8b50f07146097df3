"""The lock files pin every dependency of pyproject.toml, within its range, with file hashes."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock: str) -> dict[str, tuple[str, int]]:
    """Each pinned package: its version and how many file hashes it has."""
    text = (ROOT / lock).read_text()
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if head:
            found[canonicalize_name(head[1])] = (head[2], block.count("--hash=sha256:"))
    return found


def needs(*extras: str) -> list[Requirement]:
    named = [*PROJECT["dependencies"]]
    for extra in extras:
        named += PROJECT["optional-dependencies"][extra]
    return [Requirement(line) for line in named]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", ("postgres",)), ("requirements-dev.lock", ("dev",))],
)
def test_every_dependency_is_pinned_in_range_with_hashes(lock: str, extras: tuple[str]) -> None:
    pinned = pins(lock)
    for requirement in needs(*extras):
        version, _ = pinned[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
    assert all(hashes > 0 for _, hashes in pinned.values())
    assert "setuptools" in pinned  # the build backend, for --no-build-isolation


def test_installs_check_the_hashes() -> None:
    assert "--require-hashes -r requirements-dev.lock" in (ROOT / "dev").read_text()
    assert "--require-hashes -r requirements.lock" in (ROOT / "Dockerfile").read_text()
