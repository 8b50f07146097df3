"""The whole service as a user runs it (`privacy-worker run`), against a real Dovecot and a
real SMTP server on 127.0.0.1: a mixed batch end to end, kill -9 mid-batch and a restart,
SIGTERM, IMAP IDLE, the health check and the metrics endpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, ROOT
from tests.servers import Dovecot, SmtpSink, free_port
from worker.store.models import Case, Message, Outgoing, open_store

COMMAND = [sys.executable, "-c", "from worker.cli import main; raise SystemExit(main())"]
MAILS = sorted((FIXTURES / "mail").glob("*.eml"))


def environment(tmp: Path, imap: Dovecot, smtp: SmtpSink, **more: str) -> dict[str, str]:
    settings = {
        "imap_host": "127.0.0.1",
        "imap_port": str(imap.port),
        "imap_security": "none",
        "imap_password": imap.password,
        "smtp_host": "127.0.0.1",
        "smtp_port": str(smtp.port),
        "smtp_security": "none",
        "tenants_file": str(FIXTURES / "tenants.yaml"),
        "store_url": f"sqlite:///{tmp / 'cases.sqlite'}",
        "heartbeat_file": str(tmp / "heartbeat"),
        "network_timeout": "10",
        **more,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_WORKER_")}
    return env | {f"PRIVACY_WORKER_{k.upper()}": v for k, v in settings.items()}


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def store_counts(tmp: Path) -> tuple[int, int, int, int]:
    engine = open_store(f"sqlite:///{tmp / 'cases.sqlite'}")
    with Session(engine) as session:
        counts = tuple(
            int(session.scalar(select(func.count()).select_from(t)) or 0)  # type: ignore[arg-type]
            for t in (Case, Message, Outgoing)
        )
        pending = session.scalar(select(func.count()).where(Message.move_to.is_not(None))) or 0
    engine.dispose()
    return (*counts, int(pending))  # type: ignore[return-value]


def recorded_as_sent(tmp: Path) -> set[str]:
    engine = open_store(f"sqlite:///{tmp / 'cases.sqlite'}")
    with Session(engine) as session:
        sent = set(session.scalars(select(Outgoing.message_id).where(Outgoing.status == "sent")))
    engine.dispose()
    return sent


def message_ids(smtp: SmtpSink) -> Counter[str]:
    return Counter(
        str(message_from_bytes(m, policy=default)["Message-ID"]) for m in smtp.messages()
    )


def test_a_mixed_batch_end_to_end_with_every_reply_sent_and_filed_once(
    tmp_path: Path, servers: tuple[Dovecot, SmtpSink]
) -> None:
    imap, smtp = servers
    for path in MAILS[:40]:
        imap.deliver(path.read_bytes())
    env = environment(tmp_path, imap, smtp)
    done = subprocess.run([*COMMAND, "run", "--once"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "40 message(s) taken in: 40 new case" in done.stdout
    cases, messages, outgoing, pending = store_counts(tmp_path)
    assert (cases, messages, pending) == (40, 40, 0) and outgoing > 10
    assert f"{outgoing} mail(s) sent" in done.stdout
    assert imap.folder("INBOX") == []
    moved = sum(len(imap.folder(f)) for f in ("Processed", "Review", "Ignored"))
    assert moved == 40
    assert len(smtp.messages()) == outgoing == len(imap.folder("Sent"))
    assert max(message_ids(smtp).values()) == 1
    again = subprocess.run([*COMMAND, "run", "--once"], env=env, capture_output=True, text=True)
    assert "nothing new" in again.stdout and "0 mail(s) sent" in again.stdout
    assert len(smtp.messages()) == outgoing


def test_kill_9_mid_batch_then_restart_no_loss_no_double_case_no_double_reply(
    tmp_path: Path, servers: tuple[Dovecot, SmtpSink]
) -> None:
    imap, smtp = servers
    for path in MAILS:
        imap.deliver(path.read_bytes())
    env = environment(tmp_path, imap, smtp, imap_batch="10")
    worker = subprocess.Popen([*COMMAND, "run", "--once"], env=env, stdout=subprocess.DEVNULL)
    wait_for(
        lambda: worker.poll() is not None or len(imap.folder("Processed")) >= 20, 120, "progress"
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    left = len(imap.folder("INBOX"))
    assert 0 < left < len(MAILS), "the kill must land mid-batch"
    # Replies go out while the poll runs, so the kill may land while one is being sent. The
    # one window a reply can be doubled in is between the SMTP server's "250" and the commit
    # that records it as sent (the restart finds it neither sent nor in Sent, so it sends it
    # again): at most one mail, never more.
    in_window = set(message_ids(smtp)) - recorded_as_sent(tmp_path)
    assert len(in_window) <= 1
    restarted = subprocess.run([*COMMAND, "run", "--once"], env=env, capture_output=True)
    assert restarted.returncode == 0, restarted.stderr
    cases, messages, outgoing, pending = store_counts(tmp_path)
    assert cases == messages == len(MAILS) and pending == 0
    assert imap.folder("INBOX") == []
    assert sum(len(imap.folder(f)) for f in ("Processed", "Review", "Ignored")) == len(MAILS)
    received = message_ids(smtp)
    assert len(received) == outgoing
    assert {i for i, n in received.items() if n > 1} <= in_window
    assert max(received.values()) <= 2


def test_the_service_answers_new_mail_at_once_with_idle_and_stops_on_sigterm(
    tmp_path: Path, servers: tuple[Dovecot, SmtpSink]
) -> None:
    imap, smtp = servers
    port = free_port()
    env = environment(
        tmp_path,
        imap,
        smtp,
        poll_seconds="3600",
        imap_idle="true",
        metrics_listen=f"127.0.0.1:{port}",
        log_format="json",
    )
    log_file = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [*COMMAND, "run"], env=env, stdout=subprocess.DEVNULL, stderr=log_file
    )
    try:
        wait_for(lambda: (tmp_path / "heartbeat").exists(), 60, "the first poll")
        request = (FIXTURES / "mail").glob("nl-inspection-*.eml")
        imap.deliver(next(iter(sorted(request))).read_bytes())
        # The hour between polls has not passed: only IDLE can have started this poll.
        wait_for(lambda: len(imap.folder("INBOX")) == 0, 60, "the poll IDLE starts")
        wait_for(lambda: len(smtp.messages()) == 1, 60, "the acknowledgement")
        healthy = subprocess.run([*COMMAND, "health"], env=env, capture_output=True, text=True)
        assert healthy.returncode == 0 and healthy.stdout.startswith("healthy")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
            text = page.read()
        assert b"privacy_worker_messages_total" in text
        assert b"privacy_worker_oldest_open_case_age_seconds" in text
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
        log_file.close()
    log = (tmp_path / "worker.log").read_text()
    assert code == 0, log
    assert '"logger": "worker.decide"' in log and '"message": "stopped"' in log


def test_sigterm_mid_batch_finishes_the_message_in_hand_and_loses_nothing(
    tmp_path: Path, servers: tuple[Dovecot, SmtpSink]
) -> None:
    imap, smtp = servers
    for path in MAILS:
        imap.deliver(path.read_bytes())
    env = environment(tmp_path, imap, smtp, imap_batch="5")
    worker = subprocess.Popen(
        [*COMMAND, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for(lambda: len(imap.folder("Processed")) >= 5, 120, "progress")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    cases, messages, _, pending = store_counts(tmp_path)
    assert 0 < cases < len(MAILS) and pending == 0
    assert len(imap.folder("INBOX")) == len(MAILS) - messages
    subprocess.run([*COMMAND, "run", "--once"], env=env, check=True, capture_output=True)
    cases, messages, outgoing, pending = store_counts(tmp_path)
    assert cases == messages == len(MAILS) and pending == 0
    assert max(message_ids(smtp).values()) == 1 and len(smtp.messages()) == outgoing


def test_health_fails_when_no_poll_ran(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_WORKER_")}
    env["PRIVACY_WORKER_HEARTBEAT_FILE"] = str(tmp_path / "heartbeat")
    sick = subprocess.run([*COMMAND, "health"], env=env, capture_output=True, text=True, cwd=ROOT)
    assert sick.returncode == 1 and "no poll yet" in sick.stdout


def test_replies_go_out_while_the_poll_is_still_taking_mail_in(
    tmp_path: Path, servers: tuple[Dovecot, SmtpSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_mail
    from worker.config import load_settings
    from worker.judge.rules import load_rules
    from worker.judge.tenants import load_registry
    from worker.service.jobs import Worker

    imap, smtp = servers
    request = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."
    for n in range(60):
        raw = make_mail(request, subject=f"Inzage {n}", sender=f"Persoon <p{n}@example.nl>")
        imap.deliver(raw.replace(b"<test@", b"<s%d@" % n))
    monkeypatch.setattr("worker.service.ingest.GROUP_MESSAGES", 5)
    env = environment(tmp_path, imap, smtp)
    settings = load_settings(None, environ=env)

    class Watched(Worker):
        received_by_then = -1

        def poll(self, on_stored: Callable[[], None] = lambda: None) -> list[Message]:
            stored = super().poll(on_stored)
            self.received_by_then = len(smtp.messages())
            return stored

    registry = load_registry(FIXTURES / "tenants.yaml")
    with Watched(settings, load_rules(), registry, env) as worker:
        stored, sent = worker.round()
    assert len(stored) == 60 and sent == 60
    # The first groups' replies had gone before the last group was stored.
    assert 0 < worker.received_by_then < 60
    assert len(smtp.messages()) == 60 == len(imap.folder("Sent"))
    assert max(message_ids(smtp).values()) == 1
