"""Leases in the store: one holder at a time, taken over when expired or its process died."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from worker.store.lease import Held, holder_name
from worker.store.models import Lease, now, open_store


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    yield engine
    engine.dispose()


def test_a_live_holder_keeps_the_lease_from_a_second_worker(engine: Engine) -> None:
    first = Held(engine, "poll inbox", holder_name())
    second = Held(engine, "poll inbox", "elsewhere:1:abcd")
    assert first.take() and first.take()  # taking it again renews it
    assert not second.take()
    first.release()
    assert second.take() and not first.take()


def test_an_expired_lease_is_taken_over(engine: Engine) -> None:
    assert Held(engine, "outbox", "otherhost:99:dead").take()
    with Session(engine) as session:
        session.execute(update(Lease).values(expires_at=now() - dt.timedelta(seconds=5)))
        session.commit()
    assert Held(engine, "outbox", holder_name()).take()


def test_a_lease_left_by_a_killed_process_on_this_machine_is_taken_at_once(
    engine: Engine,
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    namespace = holder_name().split(":")[2]
    assert Held(engine, "poll inbox", f"{socket.gethostname()}:{gone}:{namespace}:0000").take()
    assert Held(engine, "poll inbox", holder_name()).take()
    # A process on another machine, or in another container with the same host name and
    # pid, is not second-guessed.
    assert Held(engine, "outbox", f"another-host:{gone}:{namespace}:0000").take()
    assert not Held(engine, "outbox", holder_name()).take()
    assert Held(engine, "other", f"{socket.gethostname()}:{gone}:4026531999:0000").take()
    assert not Held(engine, "other", holder_name()).take()
