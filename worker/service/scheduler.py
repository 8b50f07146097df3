"""`privacy-worker run`: the jobs on a schedule (APScheduler 3), until SIGTERM.

Each job is one bounded round and never raises: a failed round is logged and counted, and
the next one tries again. SIGTERM or SIGINT lets the message in hand finish, then the worker
exits. With `imap_idle`, a thread waits in IMAP IDLE and starts a poll as soon as mail comes."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from types import FrameType

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from worker.intake.idle import IdleWatch
from worker.service.jobs import Worker, responsive_threads
from worker.service.metrics import Metrics

log = logging.getLogger("worker.service")

POLL_JOB = "poll"
SEND_JOB = "send"


def run_forever(worker: Worker, heartbeat: Path) -> int:
    """Runs until a signal; returns the exit code."""
    settings = worker.settings
    responsive_threads()  # a poll and a send run at once
    metrics = Metrics(worker.engine)
    if settings.metrics_listen:
        metrics.serve(settings.metrics_listen)
    scheduler = BackgroundScheduler(
        timezone=dt.UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    start = dt.datetime.now(dt.UTC)

    def replies_waiting() -> None:
        # New cases may have queued replies: they go now, while the poll goes on, not at the
        # next send round. A send round in hand sees `worker.queued` and goes on itself.
        if not worker.sending.locked():
            _soon(scheduler, SEND_JOB)

    def poll() -> None:
        stored = worker.poll(replies_waiting)
        for message in stored:
            outcome = "duplicate" if message.duplicate_of else "taken-in"
            metrics.messages.labels(outcome).inc()
        metrics.last_poll = time.time()
        heartbeat.parent.mkdir(parents=True, exist_ok=True)
        heartbeat.touch()

    def send() -> None:
        metrics.sent.inc(worker.send())

    jobs: list[tuple[str, Callable[[], None], dict[str, object]]] = [
        (POLL_JOB, poll, {"trigger": "interval", "seconds": settings.poll_seconds}),
        # Two at once, so that a start asked for while a round ends is not skipped; the
        # worker's lock runs them one after the other.
        (
            SEND_JOB,
            send,
            {"trigger": "interval", "seconds": settings.poll_seconds, "max_instances": 2},
        ),
        ("housekeeping", worker.housekeeping, {"trigger": "cron", "hour": 3, "minute": 17}),
    ]
    for name, job, trigger in jobs:
        scheduler.add_job(
            _guarded(name, job, metrics, worker.stopping),
            id=name,
            next_run_time=start,
            **trigger,
        )
    watch = _idle(worker, scheduler)

    def stop(signum: int, _: FrameType | None) -> None:
        # Only the flag: the main thread does the stopping (a second signal is harmless).
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("running: poll and send every %d s", settings.poll_seconds)
    scheduler.start()
    worker.stopping.wait()
    log.info("stopping: finishing the message in hand")
    if watch is not None:
        watch.stop()
    # No new rounds; then the rounds in hand, which see the flag between messages, end under
    # their locks. (shutdown(wait=True) would hold the scheduler's lock that a job in hand may
    # need to schedule the send round: a deadlock.)
    scheduler.shutdown(wait=False)
    with worker.polling, worker.sending:
        log.info("stopped")
    return 0


def _guarded(
    name: str, job: Callable[[], None], metrics: Metrics, stopping: threading.Event
) -> Callable[[], None]:
    def run() -> None:
        if stopping.is_set():
            return
        try:
            job()
        except Exception:  # one failed round never ends the service
            metrics.errors.labels(name).inc()
            log.exception("%s round failed; the next round tries again", name)

    return run


def _soon(scheduler: BackgroundScheduler, job: str) -> None:
    # When stopping, the job is gone; a restart polls anyway.
    with suppress(JobLookupError, SchedulerNotRunningError):
        scheduler.modify_job(job, next_run_time=dt.datetime.now(dt.UTC))


def _idle(worker: Worker, scheduler: BackgroundScheduler) -> IdleWatch | None:
    if not (worker.settings.imap_idle and worker.imap is not None):
        return None

    def new_mail() -> None:
        _soon(scheduler, POLL_JOB)

    watch = IdleWatch(worker.imap, worker.settings.imap_folder, new_mail)
    watch.start()
    return watch
