"""`regieflow deadlines scan`: announce each project whose deadline status moved since the last scan.

The candidates are found in SQL (today's status, from the stored deadline index, differs from the
last one announced in `projects.deadline_status`); each is then re-checked and written in its own
transaction by services.watch_deadline, under the project's row lock, so two scans running at once
announce a change once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import models as m
from app.clock import SYSTEM, Actor, Clock
from app.errors import ConcurrentUpdate
from app.repositories import status_expression
from app.services import watch_deadline
from app.uow import UnitOfWork


@dataclass
class ScanReport:
    checked: int = 0
    announced: list[tuple[uuid.UUID, str | None, str]] = field(default_factory=list)  # (project, from, to)


def candidates(session: Session, clock: Clock) -> list[uuid.UUID]:
    current = func.coalesce(status_expression(clock.today()), "")
    return list(session.scalars(select(m.Project.id).where(current != func.coalesce(m.Project.deadline_status, ""))
                                .order_by(m.Project.id)))


def scan(session_factory: sessionmaker[Session], clock: Clock, *, actor: Actor = SYSTEM) -> ScanReport:
    report = ScanReport()
    with session_factory() as session:
        ids = candidates(session, clock)
    for project_id in ids:
        report.checked += 1
        for _ in range(3):  # a concurrent change of the project: look again
            try:
                with UnitOfWork(session_factory) as uow:
                    event = watch_deadline(uow, project_id, actor=actor, clock=clock)
                break
            except ConcurrentUpdate:
                continue
        else:
            continue
        if event is not None:
            report.announced.append((project_id, event.data.get("from"), event.data["to"]))
    return report
