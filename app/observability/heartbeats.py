"""Worker heartbeats: a row per worker process, updated at the end of each round (see /metrics)."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete

from app.core.unit_of_work import UnitOfWorkFactory
from app.observability.models import WorkerHeartbeat

FORGET_AFTER = timedelta(days=7)  # a worker silent this long is gone: its row is removed


def worker_id(started: datetime) -> str:
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{started.strftime('%Y%m%dT%H%M%SZ')}"


def beat(uows: UnitOfWorkFactory, wid: str, started: datetime, now: datetime) -> None:
    """Record that worker `wid` finished a round now (one short transaction of its own)."""
    with uows() as uow:
        row = uow.session.get(WorkerHeartbeat, wid)
        if row is None:
            uow.session.add(WorkerHeartbeat(worker_id=wid, started_at=started, last_round_at=now, rounds=1))
        else:
            row.last_round_at, row.rounds = now, row.rounds + 1
        uow.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_round_at < now - FORGET_AFTER))
        uow.commit()
