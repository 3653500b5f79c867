"""The portfolio's stored sort and status keys (issue 17): what the list filters and sorts on, stored on
each project so that PostgreSQL reads them from an index instead of computing them on every row.

Two kinds of keys:

* timeless ones, functions of the project's own fields: `sort_name` (the folded name, search_text's
  first line, compared byte by byte) and `sort_region` (the région's rank in French alphabetical order,
  a région outside the official list after them). The write path keeps them current with search_text
  (app.projects.repository.refresh_search_text).
* dated ones, as the pages show them on a given day (workflow.deadlines.present): `sort_status` (0 late,
  1 at risk, 2 on time, 3 closed), `sort_status_desc` (the order of the descending status sort: 0 on
  time, 1 at risk, 2 late, 3 closed, so that closed projects come last either way), `shown_step_due_on`
  and `shown_horizon_on` (a paused project's dates ahead of the pause move one day per paused day).
  A paused project's shown dates move every day, and a project becomes late on the day after its due
  date with no write at all: these keys hold for one day.

The rule that keeps the dated keys true: every write computes them for the later of its own day and the
day in `portfolio_keys.as_of` (`day_for`): record_change's flush, and the transition's store, whose locked
read returns as_of. A story told on its own past days (the demo's history) writes keys of as_of, a write
during the day's refresh writes keys of today. `refresh` (the deadline watch runs it each day before its
scan) recomputes every project's for today, version-guarded, records the day (never moving it back), then
recomputes every project written or created since it read it, until none moves. The list reads the
stored keys only when `as_of` is today (ProjectRepository.keys_current); on any other day (the watch has
not run yet) it computes them per row, as before: the answer is the same, only slower.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.projects.models import PortfolioKeys, Project
from workflow import deadlines as dl
from workflow.vocabulary import State, Status

if TYPE_CHECKING:
    from app.projects.service import ProjectLike

PROJECTS = cast(Table, Project.__table__)
KEYS = cast(Table, PortfolioKeys.__table__)

# sort_status: the status sort ascending (late first, closed last)
RANK = {Status.EN_RETARD.value: 0, Status.A_RISQUE.value: 1, Status.DANS_LES_TEMPS.value: 2, None: 3}
# sort_status_desc: descending (on time first), closed projects still last
RANK_DESC = {Status.DANS_LES_TEMPS.value: 0, Status.A_RISQUE.value: 1, Status.EN_RETARD.value: 2, None: 3}
CLOSED = 3
DATED = ("sort_status", "sort_status_desc", "shown_step_due_on", "shown_horizon_on")
# the fields the dated keys are computed from
DATED_INPUTS = (
    "state",
    "suspended_since",
    "horizon_on",
    "step_due_on",
    "projected_label_on",
    "step_months",
    "horizon_months",
)
# the day a unit of work's writes compute the dated keys for (set by record_change, read at flush)
KEYS_DAY = "regieflow_sort_keys_day"


def dated_keys(p: ProjectLike, today: date) -> dict[str, Any]:
    """The dated keys of a project on `today` (what the pages show that day)."""
    shown = dl.present(
        dl.DeadlineIndex(p.horizon_on, p.step_due_on, p.projected_label_on),
        state=State(p.state),
        plan=dl.Plan(dict(p.step_months), p.horizon_months),
        today=today,
        suspended_since=p.suspended_since,
    )
    status = shown.status.value if shown.status is not None else None
    return {
        "sort_status": RANK[status],
        "sort_status_desc": RANK_DESC[status],
        "shown_step_due_on": shown.step_due_on,
        "shown_horizon_on": shown.horizon_on,
    }


def region_rank(region: str | None) -> int:
    """The région's place in French alphabetical order; a région outside the official list after them."""
    from app.reference.cog import cog

    regions = cog().regions
    return next((i for i, r in enumerate(regions) if r.name == region), len(regions))


def timeless_keys(name: str | None, region: str | None) -> dict[str, Any]:
    from app.projects.repository import fold

    return {"sort_name": (fold((name or "").replace("\n", " ")) or "")[:400], "sort_region": region_rank(region)}


def keys_day(session: Session) -> date | None:
    """The day every project's stored dated keys are those of (None before the first refresh)."""
    return session.scalar(select(KEYS.c.as_of).where(KEYS.c.id == 1))


def day_for(write_day: date, as_of: date | None) -> date:
    """The day a write computes its project's keys for: its own, or the portfolio's if later."""
    return write_day if as_of is None or write_day > as_of else as_of


SET_KEYS = (
    update(PROJECTS)
    .where(PROJECTS.c.id == bindparam("b_id"), PROJECTS.c.version == bindparam("b_version"))
    .values({k: bindparam(k) for k in (*DATED, "sort_name", "sort_region")})
)


def refresh(uows: Any, today: date, *, batch: int = 2000) -> int:
    """Recompute every project's keys for `today`, then record that day in portfolio_keys; `uows` is
    the UnitOfWorkFactory (one short transaction per batch, so that no write waits for the whole
    portfolio). Returns how many projects were updated; nothing is done for a day before the recorded one
    (a refresh that began before midnight and another after it: the later day stays).

    Each project is updated at the version read. Once the day is recorded, every project whose version is
    not the one the refresh saw (written meanwhile, maybe with the day before if the write began before
    midnight) or that it never saw (created meanwhile) is recomputed, until none moves."""
    with uows(write=False) as uow:
        recorded = keys_day(uow.session)
    if recorded is not None and recorded > today:
        return 0
    seen: dict[uuid.UUID, int] = {}
    changed = 0
    after: uuid.UUID | None = None
    while True:
        with uows() as uow:
            stmt = select(*READ).order_by(PROJECTS.c.id).limit(batch)
            rows = uow.session.execute(stmt if after is None else stmt.where(PROJECTS.c.id > after)).mappings().all()
            changed += _apply(uow, rows, today, seen)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    for _ in range(2):  # the row is created by the first refresh: two at once may both try
        try:
            with uows() as uow:
                flip = update(KEYS).where(KEYS.c.id == 1, or_(KEYS.c.as_of.is_(None), KEYS.c.as_of < today))
                if not uow.session.execute(flip.values(as_of=today)).rowcount and keys_day(uow.session) is None:
                    uow.session.execute(KEYS.insert().values(id=1, as_of=today))
                uow.commit()
            break
        except IntegrityError:
            continue
    for _ in range(5):  # what was written or created while the batches ran
        with uows(write=False) as uow:
            versions = uow.session.execute(select(PROJECTS.c.id, PROJECTS.c.version)).all()
        moved = [pid for pid, version in versions if seen.get(pid) != version]
        if not moved:
            break
        for start in range(0, len(moved), batch):
            with uows() as uow:
                rows = uow.session.execute(select(*READ).where(PROJECTS.c.id.in_(moved[start : start + batch])))
                changed += _apply(uow, rows.mappings().all(), today, seen)
    return changed


READ = [PROJECTS.c[k] for k in ("id", "version", "name", "region", *DATED_INPUTS, *DATED, "sort_name", "sort_region")]


def _apply(uow: Any, rows: Any, today: date, seen: dict[uuid.UUID, int]) -> int:
    """Update the rows whose keys moved, in one executemany, at the version read, and note in `seen` the
    version each row is known computed at (a row written since it was read is left out: its version
    moved). Returns how many were updated."""
    updates = []
    for row in rows:
        keys = {**dated_keys(cast("ProjectLike", _Row(row)), today), **timeless_keys(row["name"], row["region"])}
        if any(row[k] != v for k, v in keys.items()):
            updates.append({**keys, "b_id": row["id"], "b_version": row["version"]})
        else:
            seen[row["id"]] = row["version"]
    if not updates:
        uow.commit()
        return 0
    done = uow.session.execute(SET_KEYS, updates).rowcount
    if done == len(updates):
        seen.update((u["b_id"], u["b_version"]) for u in updates)
    else:  # some were written since read: only the others are known computed
        ids = [u["b_id"] for u in updates]
        now = dict(uow.session.execute(select(PROJECTS.c.id, PROJECTS.c.version).where(PROJECTS.c.id.in_(ids))).all())
        seen.update((u["b_id"], u["b_version"]) for u in updates if now.get(u["b_id"]) == u["b_version"])
    uow.commit()
    return int(done)


class _Row:
    """A result row seen as a project (dated_keys reads attributes)."""

    __slots__ = ("_row",)

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return self._row[name]
