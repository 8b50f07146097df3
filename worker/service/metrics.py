"""The Prometheus metrics endpoint (prometheus-client): counters kept by the jobs, and gauges
read from the store at each scrape (outbox backlog, oldest open case, overdue cases)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from worker.reply.outbox import backlog
from worker.store.housekeeping import OPEN
from worker.store.models import Case, now, utc


class Metrics:
    """The worker's metrics, in a registry of their own (no process-wide default)."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "privacy_worker_messages",
            "Messages taken in, by what they became",
            ["outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "privacy_worker_errors",
            "Job rounds that failed, by job",
            ["job"],
            registry=self.registry,
        )
        self.sent = Counter("privacy_worker_sent", "Mails sent", registry=self.registry)
        self.last_poll = 0.0
        self.registry.register(_StoreGauges(engine, self))

    def serve(self, listen: str) -> None:
        """Starts the endpoint on host:port, in a thread of its own."""
        host, _, port = listen.rpartition(":")
        start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry)


class _StoreGauges(Collector):
    """Gauges computed from the store when scraped."""

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self.engine, self.metrics = engine, metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        moment = now()
        with Session(self.engine) as session:
            waiting = backlog(session)
            oldest = session.scalar(select(func.min(Case.received_at)).where(Case.status.in_(OPEN)))
            overdue = session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.status.in_(OPEN), Case.due_at < moment)
            )
        yield GaugeMetricFamily(
            "privacy_worker_outbox_backlog", "Mails not yet sent (pending or failed)", waiting
        )
        age = (moment - utc(oldest)).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "privacy_worker_oldest_open_case_age_seconds", "Age of the oldest open case", age
        )
        yield GaugeMetricFamily(
            "privacy_worker_overdue_cases", "Open cases past their due date", overdue or 0
        )
        yield GaugeMetricFamily(
            "privacy_worker_last_poll_timestamp_seconds",
            "When the last poll ended (Unix time)",
            self.metrics.last_poll,
        )
