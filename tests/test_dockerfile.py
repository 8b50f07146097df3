"""The Dockerfile, read as text (no Docker engine runs on these machines): slim base, Debian's
tesseract with Dutch and English, a non-root user, a healthcheck, and sources that exist."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_the_image_is_slim_and_has_tesseract_with_dutch_and_english() -> None:
    [base] = instructions("FROM")
    assert re.fullmatch(r"python:3\.1[1-9]-slim-\w+", base)
    installs = " ".join(instructions("RUN"))
    for package in ("tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-nld"):
        assert f" {package} " in f" {installs} "
    assert "--no-install-recommends" in installs and "rm -rf /var/lib/apt/lists" in installs


def test_the_service_runs_as_its_own_user_with_a_healthcheck() -> None:
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")
    [health] = instructions("HEALTHCHECK")
    assert '"privacy-worker", "health"' in health
    assert instructions("CMD") == ['["privacy-worker", "run"]']


def test_every_copied_source_is_in_the_repository() -> None:
    for copy in instructions("COPY"):
        *sources, _ = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), source
