"""Prometheus metrics (prometheus-client): request latency by route, transitions by trigger and outcome,
queue depth and age of the outboxes, worker heartbeats.

Process metrics live in prometheus-client's default registry; with several server processes
(`regieflow serve --workers N`) they are written to PROMETHEUS_MULTIPROC_DIR and summed at scrape time.
The queue and heartbeat figures are read from the database at scrape time: every process sees the same."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.vocabulary import Trigger

REQUEST_SECONDS = Histogram(
    "regieflow_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TRANSITIONS = Counter(
    "regieflow_transitions",
    "Transitions asked for, by trigger and outcome (done: committed; refused: a guard or rule said no).",
    ["trigger", "outcome"],
)
_TRIGGERS = frozenset(t.value for t in Trigger)


def count_transition(trigger: str, outcome: str) -> None:
    """Count one transition; an unknown trigger is counted as `inconnu` (the label set stays bounded)."""
    TRANSITIONS.labels(trigger if trigger in _TRIGGERS else "inconnu", outcome).inc()


@dataclass(frozen=True)
class Queue:
    """A table that works as a queue: its pending rows and the time the oldest was written."""

    name: str
    table: str
    pending: str  # SQL condition of a pending row
    created: str = "created_at"


# Other concepts append their queues here at import (e.g. the e-mail outbox).
QUEUES: list[Queue] = [
    Queue("webhooks_fanout", "outbox", "dispatched_at IS NULL"),
    Queue("webhooks_deliveries", "webhook_deliveries", "status = 'pending'"),
    Queue("email", "mail_outbox", "status IN ('pending', 'sending')"),  # app/mail: waiting or being sent
]


class DatabaseCollector(Collector):
    """Figures read from the database at scrape time (the same in every process)."""

    def __init__(self, session: Session, now: float) -> None:
        self.session, self.now = session, now

    def collect(self) -> Iterator[Metric]:
        from sqlalchemy import text

        depth = GaugeMetricFamily("regieflow_queue_depth", "Rows waiting in a queue.", labels=["queue"])
        age = GaugeMetricFamily(
            "regieflow_queue_oldest_age_seconds", "Age of the oldest waiting row (0 when empty).", labels=["queue"]
        )
        for q in QUEUES:
            row = self.session.execute(
                text(f"SELECT count(*), min({q.created}) FROM {q.table} WHERE {q.pending}")
            ).one()
            depth.add_metric([q.name], float(row[0]))
            age.add_metric([q.name], max(0.0, self.now - _epoch(row[1])) if row[1] is not None else 0.0)
        yield depth
        yield age
        from app.observability.models import WorkerHeartbeat

        beat = GaugeMetricFamily(
            "regieflow_worker_last_round_timestamp_seconds",
            "When each worker process last finished a round (Unix time).",
            labels=["worker"],
        )
        rounds = GaugeMetricFamily(
            "regieflow_worker_rounds", "Rounds a worker process has finished.", labels=["worker"]
        )
        for hb in self.session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker_id)):
            beat.add_metric([hb.worker_id], _epoch(hb.last_round_at))
            rounds.add_metric([hb.worker_id], float(hb.rounds))
        yield beat
        yield rounds
        alive = self.session.scalar(select(func.count()).select_from(WorkerHeartbeat)) or 0
        yield GaugeMetricFamily("regieflow_workers_known", "Worker processes that have reported.", value=alive)


def _epoch(value: object) -> float:
    from datetime import UTC, datetime

    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):  # SQLite hands raw text to text() queries
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return 0.0


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every server process's when they run in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def exposition(session: Session, *, now: float | None = None) -> bytes:
    """The text exposition format: process metrics, then the database's figures."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(session, time.time() if now is None else now))
    return generate_latest(process_registry()) + generate_latest(database)


def samples(text: str, name: str) -> Iterable[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of `name` in an exposition (tests and the benchmark read them)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                yield dict(s.labels), s.value
