"""`regieflow deadlines scan`: announce each project whose deadline status moved since the last scan.

The candidates are found in SQL (today's status, from the stored deadline index, differs from the
last one announced in `projects.deadline_status`); each is then re-checked and written in its own
transaction by watch_deadline (below), under the project's row lock, so two scans running at once
announce a change once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from app.core.clock import SYSTEM, Actor, Clock
from app.core.errors import ConcurrentUpdate
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.projects import sort_keys
from app.projects.models import Event
from app.projects.service import index_of, plan_of, record_change
from workflow import deadlines as dl
from workflow.vocabulary import State, Status

log = logging.getLogger(__name__)


@dataclass
class ScanReport:
    checked: int = 0
    keys_updated: int = 0  # projects whose stored sort keys moved (app.projects.sort_keys.refresh)
    announced: list[tuple[uuid.UUID, str | None, str]] = field(default_factory=list)  # (project, from, to)


def scan(uows: UnitOfWorkFactory, clock: Clock, *, actor: Actor = SYSTEM) -> ScanReport:
    report = ScanReport()
    # the portfolio's dated sort keys, recomputed for today first (app.projects.sort_keys: the list reads
    # them from today on)
    try:
        report.keys_updated = sort_keys.refresh(uows, clock.today())
    except Exception:  # the announcements matter more: the list computes the keys per row meanwhile
        log.exception("deadline scan: the portfolio's sort keys could not be refreshed")
    with uows(write=False) as uow:
        ids = uow.deadlines.candidates(clock.today())
    for project_id in ids:
        report.checked += 1
        for _ in range(3):  # a concurrent change of the project: look again
            try:
                with uows() as uow:
                    event = watch_deadline(uow, project_id, actor=actor, clock=clock)
                break
            except ConcurrentUpdate:
                continue
        else:
            continue
        if event is not None:
            report.announced.append((project_id, event.data.get("from"), event.data["to"]))
    return report


# --- deadline watch -----------------------------------------------------------------------------
def watch_deadline(uow: UnitOfWork, project_id: uuid.UUID, *, actor: Actor, clock: Clock) -> Event | None:
    """Compare today's deadline status with the one last announced (`deadline_status`); when it moved,
    write one `deadline.status_changed` event (version bump, event, outbox: like every change).

    Recorded without an event: a project's first sighting while on time, and a closed project (no status).
    A first sighting already at risk or late is announced (`from` is null)."""
    p = uow.projects.get(project_id, for_update=True)
    if p is None:
        return None
    today = clock.today()
    shown = dl.present(
        index_of(p), state=State(p.state), plan=plan_of(p), today=today, suspended_since=p.suspended_since
    )
    new = shown.status.value if shown.status is not None else None
    old = p.deadline_status
    if new == old:
        uow.commit()
        return None
    if new is None or (old is None and new == Status.DANS_LES_TEMPS.value):
        uow.deadlines.note_status(p.id, new)
        uow.commit()
        return None
    p.deadline_status = new
    event = record_change(
        uow,
        p,
        clock,
        actor,
        "deadline.status_changed",
        effective_on=today,
        data={
            "from": old,
            "to": new,
            "horizon_on": shown.horizon_on.isoformat(),
            "step_due_on": shown.step_due_on.isoformat() if shown.step_due_on else None,
        },
    )
    uow.commit()
    return event
