"""Portfolio analytics for consultants and admins (issue 16): projects by step and status per région, median
time per step against the plan, bottleneck steps, labels per year, time-in-step outliers.

Every figure covers only what the caller may read: the projects of `visible_to(principal)`, and for the
durations the distributions of the régions it reads (the national ones when it reads every project; a
grant on single projects gives no région-wide durations)."""

from __future__ import annotations

import math
import threading
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, or_, select

from app.authorization.rules import Ability, Principal
from app.core.clock import Clock
from app.core.errors import Forbidden
from app.core.unit_of_work import UnitOfWork
from app.forecasts.repository import ForecastRepository
from app.forecasts.service import durations_of
from app.projects.models import Project
from app.projects.repository import ProjectRepository, status_expression
from workflow import forecast as fc
from workflow.deadlines import Plan
from workflow.vocabulary import STATE_LABELS, STEPS, State

REFUSED = "L'analyse du portefeuille est réservée aux consultants du Mouvement et aux administrateurs."
OUTLIERS = 20


class RegionCount(BaseModel):
    region: str
    state: State
    status: str | None
    count: int


class StepTime(BaseModel):
    step: State
    label: str
    sample_size: int
    median_days: float | None
    p90_days: float | None
    plan_days: float
    ratio: float | None  # median / plan


class YearCount(BaseModel):
    year: int
    count: int


class Outlier(BaseModel):
    project_id: str
    name: str
    region: str
    step: State
    days_in_step: int
    p90_days: float


class AnalyticsRead(BaseModel):
    as_of: date
    regions: list[str] | None  # None: every région (the caller reads every project)
    by_region: list[RegionCount]
    durations_computed_at: datetime | None  # the distributions' last refresh (None: not computed yet)
    step_times: list[StepTime]
    bottlenecks: list[State]
    labels_per_year: list[YearCount]
    outliers: list[Outlier]


def is_analyst(principal: Principal) -> bool:
    return principal.is_admin or any(Ability.CONSULTANT in s.abilities for s in principal.scopes)


# The step times of a set of régions, kept per process under their rows' fingerprint (group, step, counts,
# quantiles, refresh time and watermark: one small read) and the plan: the rows' durations are decoded and
# the Kaplan-Meier estimates computed once per refresh, not per request.
_TIMES: dict[tuple[object, ...], tuple[list[StepTime], dict[State, float]]] = {}
_TIMES_LOCK = threading.Lock()
_TIMES_MAX = 64


def _step_times(
    repo: ForecastRepository, regions: list[str] | None, plan: Plan
) -> tuple[list[StepTime], dict[State, float], datetime | None]:
    """Median and P90 of each step (Kaplan-Meier over the rows of these régions, national when None)
    against the plan, the P90s, and when the rows were computed (None: never, « en cours de calcul »)."""
    stored = repo.fingerprint(regions=regions)
    computed_at = stored.computed_at
    if computed_at is None:
        refreshed = repo.refresh_row()
        computed_at = refreshed.computed_at if refreshed else None
    key = (stored.rows, None if regions is None else tuple(sorted(regions)), tuple(plan.months(s) for s in STEPS))
    found = _TIMES.get(key) if stored.rows else None
    if found is not None:
        return [t.model_copy() for t in found[0]], dict(found[1]), computed_at
    done: dict[State, list[int]] = defaultdict(list)
    open_: dict[State, list[int]] = defaultdict(list)
    for row in repo.distributions_of_regions(regions) if stored.rows else []:
        d = durations_of(row)
        done[State(row.step)].extend(d.done)
        open_[State(row.step)].extend(d.open)
    times = []
    p90: dict[State, float] = {}
    for step in STEPS:
        planned = plan.months(step) * fc.DAYS_PER_MONTH
        km = fc.Durations.of(done[step], open_[step]) if done.get(step) else None
        med = km.quantile(0.5) if km else None
        if km:
            p90[step] = km.quantile(0.9)
        times.append(
            StepTime(
                step=step,
                label=STATE_LABELS[step],
                sample_size=km.completed if km else 0,
                median_days=med,
                p90_days=p90.get(step),
                plan_days=round(planned, 1),
                ratio=None if med is None else round(med / planned, 2),
            )
        )
    if stored.rows:
        with _TIMES_LOCK:
            if len(_TIMES) >= _TIMES_MAX:
                _TIMES.clear()
            _TIMES[key] = (times, p90)
    return [t.model_copy() for t in times], dict(p90), computed_at


def analytics(uow: UnitOfWork, principal: Principal, *, clock: Clock, plan: Plan) -> AnalyticsRead:
    today = clock.today()
    if not is_analyst(principal):
        raise Forbidden(REFUSED)
    session = uow.session
    visible = ProjectRepository.visible_to(principal)
    reach = principal.reach()
    regions = None if reach.everything else list(reach.regions)
    status = status_expression(today)
    rows = session.execute(
        select(Project.region, Project.state, status, func.count())
        .where(visible)
        .group_by(Project.region, Project.state, status)
        .order_by(Project.region, Project.state)
    )
    by_region = [RegionCount(region=r, state=State(s), status=st, count=n) for r, s, st, n in rows]

    repo = ForecastRepository(session)
    times, p90, computed_at = _step_times(repo, regions, plan)  # until the first refresh: none
    ranked = sorted((t for t in times if t.ratio is not None), key=lambda t: -(t.ratio or 0))
    bottlenecks = [t.step for t in ranked[:2] if (t.ratio or 0) > 1]

    year = func.extract("year", Project.labelled_on)
    per_year = [
        YearCount(year=int(y), count=n)
        for y, n in session.execute(
            select(year, func.count()).where(visible, Project.labelled_on.is_not(None)).group_by(year).order_by(year)
        )
    ]

    # Outliers: in their step longer than its P90. SQL keeps only the projects that entered their step
    # before today - P90 (necessary: the days spent are at most today - entered), in narrow rows; Python the
    # exact test and the order (longest against the P90 first, then by name), and the names of those shown.
    late_entry = [
        (Project.state == step.value) & (Project.state_entered_on < today - timedelta(days=math.floor(limit)))
        for step, limit in p90.items()
    ]
    found: list[tuple[float, uuid.UUID, State, int, float]] = []
    if late_entry:
        candidates = session.execute(
            select(Project.id, Project.state, Project.state_entered_on, Project.suspended_since).where(
                visible, or_(*late_entry)
            )
        )
        limits = {step.value: (step, limit) for step, limit in p90.items()}
        for pid, state, entered, suspended in candidates:
            step, limit = limits[state]
            spent = ((suspended or today) - entered).days  # the current visit; a pause stops the count
            if spent > limit:
                found.append((-spent / limit, pid, step, spent, limit))
    found.sort(key=lambda o: o[0])
    if len(found) > OUTLIERS:  # ties with the last one shown are ordered by name: keep them all for now
        found = [o for o in found if o[0] <= found[OUTLIERS - 1][0]]
    named = (
        {
            pid: (name, region)
            for pid, name, region in session.execute(
                select(Project.id, Project.name, Project.region).where(Project.id.in_([o[1] for o in found]))
            )
        }
        if found
        else {}
    )
    ranked_out = sorted(found, key=lambda o: (o[0], named[o[1]][0]))[:OUTLIERS]
    outliers = [
        Outlier(
            project_id=str(pid),
            name=named[pid][0],
            region=named[pid][1],
            step=step,
            days_in_step=spent,
            p90_days=limit,
        )
        for _, pid, step, spent, limit in ranked_out
    ]
    return AnalyticsRead(
        as_of=today,
        regions=regions,
        by_region=by_region,
        durations_computed_at=computed_at,
        step_times=times,
        bottlenecks=bottlenecks,
        labels_per_year=per_year,
        outliers=outliers,
    )
