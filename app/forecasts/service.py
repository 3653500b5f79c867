"""History-based forecasts: step durations from the event history, their precomputed distributions,
one project's forecast, and why a project is late (issue 16; the maths is workflow/forecast.py).

Freshness: `refresh` recomputes every distribution and every open project's forecast in one unit of
work; `refresh_if_stale` does so when a transition was recorded after the watermark or the stored
forecasts are from an earlier day (the worker's round and `regieflow forecast refresh` call it; the demo
refreshes after telling its history). A request never computes them: a single project's forecast is
computed live, as of today, from the stored distributions (a few indexed reads, the decoded groups cached
per process under their rows' fingerprint), and before the first refresh it is the plan's projection,
« en cours de calcul »."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from app.core.clock import Clock
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.forecasts.models import NATIONAL, ForecastRefresh, ProjectForecast, StepDistribution
from app.forecasts.repository import EvidenceChange, ForecastRepository, ProjectHistory
from app.forecasts.schemas import ForecastRead, StepEstimateRead, UnmetSinceRead
from app.projects.models import Project
from app.projects.service import project_read
from workflow import forecast as fc
from workflow.deadlines import Plan
from workflow.history import HistoryInconsistent, replay
from workflow.machine import guards_of
from workflow.vocabulary import STATE_LABELS, STEPS, State, Status, Trigger

Samples = dict[State, fc.Durations]

# Set while this process tells the demo's generated history in a background thread (`serve --demo`,
# app/demo/history.py): the forecast block and the analytics page say the history is being generated.
HISTORY_GENERATING = threading.Event()


def lived_of(h: ProjectHistory, today: date) -> fc.Lived | None:
    """What the project lived, from its recorded transitions (None: a history the workflow refuses)."""
    try:
        r = replay(h.started_on, h.transitions)
    except HistoryInconsistent:
        return None
    return fc.lived(r.periods, r.suspensions, state=State(h.state), today=today)


@dataclass
class Computed:
    groups: dict[tuple[str, str], Samples]  # (kind, region) or (NATIONAL, NATIONAL) -> step -> durations
    open_projects: list[tuple[ProjectHistory, fc.Lived]]
    projects: int
    samples: int  # completed steps


def group_durations(parts: Iterable[tuple[str, str, fc.Lived]]) -> dict[tuple[str, str], Samples]:
    """Each (kind, région) group's and the national durations per step: the completed stays and the open
    ones (the step a project is in, or was abandoned in: censored)."""
    done: dict[tuple[str, str], dict[State, list[int]]] = defaultdict(lambda: defaultdict(list))
    open_: dict[tuple[str, str], dict[State, list[int]]] = defaultdict(lambda: defaultdict(list))
    for kind, region, life in parts:
        for key in ((kind, region), (NATIONAL, NATIONAL)):
            for step, days in life.completed.items():
                done[key][step].append(days)
            if life.open_stay is not None:
                open_[key][life.open_stay[0]].append(life.open_stay[1])
    return {
        key: {step: fc.Durations.of(done[key].get(step, ()), open_[key].get(step, ())) for step in STEPS}
        for key in {*done, *open_}
    }


def compute(histories: Iterable[ProjectHistory], today: date) -> Computed:
    parts: list[tuple[str, str, fc.Lived]] = []
    open_: list[tuple[ProjectHistory, fc.Lived]] = []
    projects = samples = 0
    for h in histories:
        projects += 1
        life = lived_of(h, today)
        if life is None:
            continue
        parts.append((h.kind, h.region, life))
        samples += len(life.completed)
        if life.current is not None:
            open_.append((h, life))
    return Computed(group_durations(parts), open_, projects, samples)


NO_SAMPLES: Samples = {}  # a group without history (one object: caches key groups by their ids)


def groups_for(
    computed_groups: Mapping[tuple[str, str], Samples], kind: str, region: str
) -> list[tuple[fc.Basis, Samples]]:
    return [
        (fc.Basis.KIND_REGION, computed_groups.get((kind, region), NO_SAMPLES)),
        (fc.Basis.NATIONAL, computed_groups.get((NATIONAL, NATIONAL), NO_SAMPLES)),
    ]


def rows_of(groups: dict[tuple[str, str], Samples], *, now: datetime, watermark: int) -> list[StepDistribution]:
    """One row per group and step with at least one completed stay (its durations, completed and open,
    and the Kaplan-Meier quantiles)."""
    return [
        StepDistribution(
            step=step.value,
            kind=kind,
            region=region,
            sample_size=d.completed,
            p50=d.quantile(0.5),
            p80=d.quantile(0.8),
            p90=d.quantile(0.9),
            days={"done": list(d.done), "open": list(d.open)},
            computed_at=now,
            watermark=watermark,
        )
        for (kind, region), by_step in groups.items()
        for step, d in by_step.items()
        if d.completed
    ]


def refresh(uows: UnitOfWorkFactory, clock: Clock) -> ForecastRefresh:
    """Recompute every distribution and every open project's forecast (one unit of work)."""
    today, now = clock.today(), clock.now()
    with uows() as uow:
        repo = ForecastRepository(uow.session)
        watermark = repo.last_transition_id()
        computed = compute(repo.histories(), today)
        rows = rows_of(computed.groups, now=now, watermark=watermark)
        cache = fc.TailCache()
        forecasts = []
        for h, life in computed.open_projects:
            assert life.current is not None
            f = fc.forecast(
                groups_for(computed.groups, h.kind, h.region),
                current=life.current,
                elapsed=life.elapsed,
                as_of=today,
                cache=cache,
                plan_days=plan_days_of(h.step_months),
            )
            forecasts.append(
                ProjectForecast(
                    project_id=h.id,
                    as_of=today,
                    basis=f.basis.value,
                    sample_size=f.sample_size,
                    p50_on=f.p50_on,
                    p80_on=f.p80_on,
                    p80_after_horizon=_after(f.p80_on, h),
                )
            )
        state = ForecastRefresh(
            id=1, watermark=watermark, computed_at=now, projects=computed.projects, samples=computed.samples
        )
        repo.replace(rows, state, forecasts)
        uow.commit()
    return state


def plan_days_of(step_months: Mapping[str, int] | None) -> dict[State, int]:
    """A project's planned days per step (its plan's months; the default plan's when unknown): what a
    following step without enough history counts."""
    return fc.plan_step_days(Plan(dict(step_months)) if step_months else Plan())


def _after(p80_on: date | None, h: ProjectHistory) -> bool:
    """P80 after the horizon; on the plan basis, the plan's projection after it (the project's status)."""
    if p80_on is not None:
        return p80_on > h.horizon_on
    return False


def stale(uow: UnitOfWork, today: date) -> bool:
    repo = ForecastRepository(uow.session)
    row = repo.refresh_row()
    if row is None:
        return True
    if row.computed_at.date() < today:  # elapsed days changed every open project's forecast
        return True
    return repo.transitions_since(row.watermark)


def refresh_if_stale(uows: UnitOfWorkFactory, clock: Clock) -> bool:
    """Refresh when a transition was recorded since the last refresh, or on a new day; True if it did."""
    with uows(write=False) as uow:
        if not stale(uow, clock.today()):
            return False
    refresh(uows, clock)
    return True


# --- one project ------------------------------------------------------------------------------------
def durations_of(row: StepDistribution) -> fc.Durations:
    """A stored row's durations (rows written before the open stays were kept hold a plain list)."""
    days = row.days
    if isinstance(days, dict):
        return fc.Durations.of(days.get("done", ()), days.get("open", ()))
    return fc.Durations.of(days)


def samples_of(rows: Sequence[StepDistribution]) -> dict[tuple[str, str], Samples]:
    out: dict[tuple[str, str], Samples] = defaultdict(dict)
    for r in rows:
        out[(r.kind, r.region)][State(r.step)] = durations_of(r)
    return out


def _steps(f: fc.Forecast) -> list[StepEstimateRead]:
    return [
        StepEstimateRead(
            step=s.step, sample_size=s.sample_size, p50_days=s.p50_days, p80_days=s.p80_days, basis=s.basis
        )
        for s in f.steps
    ]


def message_of(f: fc.Forecast | None, *, kind_region_words: str) -> str:
    if f is None:
        return "Projet clos : pas de prévision."
    if f.basis == fc.Basis.PLAN:
        return (
            "Pas assez d'historique pour une prévision fondée sur les projets passés ("
            + f.reason
            + ") : la projection du plan s'applique."
        )
    where = kind_region_words if f.basis == fc.Basis.KIND_REGION else "au niveau national"
    plural = "s" if f.sample_size > 1 else ""
    said = (
        f"Prévision fondée sur {f.sample_size} projet{plural} passé{plural} {where} "
        "restés au moins aussi longtemps dans l'étape en cours."
    )
    if f.plan_steps:
        names = ", ".join(f"« {STATE_LABELS[s]} »" for s in f.plan_steps)
        several = len(f.plan_steps) > 1
        n = fc.MIN_SAMPLES
        said += (
            f" Faute de {n} projets passés qui les ont terminées, les étapes {names} comptent pour la durée du plan, "
            "corrigée de l'écart au plan observé sur les autres étapes."
            if several
            else f" Faute de {n} projets passés qui l'ont terminée, l'étape {names} compte pour la durée du plan, "
            "corrigée de l'écart au plan observé sur les autres étapes."
        )
    return said


# The stored distributions of a (kind, région) and the national ones, with what forecasts over them share
# (the later steps' simulated sums, the stretched plans), kept per process under their rows' fingerprint
# (group, step, count, quantiles, refresh time and watermark: one small read of at most twelve rows), so a
# forecast decodes the durations and simulates the later steps once per refresh, not at every request. The
# cached Durations stay alive with their TailCache, whose keys are their ids.
_GROUPS: dict[tuple[object, ...], tuple[dict[tuple[str, str], Samples], fc.TailCache]] = {}
_GROUPS_LOCK = threading.Lock()
_GROUPS_MAX = 64


def _stored_groups(
    repo: ForecastRepository, key: tuple[object, ...], kind: str, region: str
) -> tuple[dict[tuple[str, str], Samples], fc.TailCache]:
    found = _GROUPS.get(key)
    if found is None:
        found = (samples_of(repo.distributions([(kind, region), (NATIONAL, NATIONAL)])), fc.TailCache())
        with _GROUPS_LOCK:
            if len(_GROUPS) >= _GROUPS_MAX:
                _GROUPS.clear()
            _GROUPS[key] = found
    return found


PENDING = (
    "Prévision d'après l'historique en cours de calcul (les durées des projets passés n'ont pas encore été "
    "calculées) : la projection du plan s'applique en attendant."
)


def project_forecast(uow: UnitOfWork, p: Project, today: date) -> ForecastRead:
    """The project's history-based forecast as of `today`, beside its plan-based projection, from the
    stored distributions (never recomputed here: until a refresh stored them, the plan's projection,
    « en cours de calcul »)."""
    repo = ForecastRepository(uow.session)
    shown = project_read(p, today)
    state = State(p.state)
    life: fc.Lived | None = None
    f: fc.Forecast | None = None
    transitions, changes = repo.events_of(p.id) if state in STEPS else ([], [])
    if state in STEPS:
        life = lived_of(ProjectHistory(p.id, p.kind, p.region, p.state, p.started_on, p.horizon_on, transitions), today)
    stored = repo.fingerprint([(p.kind, p.region), (NATIONAL, NATIONAL)])
    computed_at = stored.computed_at
    if computed_at is None:  # no row: never computed (« en cours de calcul »), or no history at all
        refreshed = repo.refresh_row()
        computed_at = refreshed.computed_at if refreshed else None
    if life is not None and life.current is not None:
        if computed_at is None:
            f = fc.Forecast(fc.Basis.PLAN, 0, None, None, None, None, (), "")
        else:
            groups, cache = _stored_groups(repo, stored.rows, p.kind, p.region)
            f = fc.forecast(
                groups_for(groups, p.kind, p.region),
                current=life.current,
                elapsed=life.elapsed,
                as_of=today,
                cache=cache,
                plan_days=plan_days_of(p.step_months),
            )
    horizon = shown.horizon_on
    words = f"parmi les projets de même type en {p.region}"
    after = None
    if f is not None:
        after = f.p80_on > horizon if f.p80_on is not None else (shown.projected_label_on or today) > horizon
    return ForecastRead(
        project_id=p.id,
        as_of=today,
        state=state,
        current_step=life.current if life else None,
        days_in_step=life.elapsed if life and life.current else None,
        horizon_on=horizon,
        plan_label_on=shown.projected_label_on,
        status=shown.status,
        basis=f.basis if f else None,
        sample_size=f.sample_size if f else 0,
        p50_label_on=f.p50_on if f else None,
        p80_label_on=f.p80_on if f else None,
        p80_after_horizon=after,
        message=PENDING if f is not None and computed_at is None else message_of(f, kind_region_words=words),
        steps=_steps(f) if f else [],
        why_late=why_late(p, today, changes) if shown.status in (Status.EN_RETARD, Status.A_RISQUE) else [],
        computed_at=computed_at,
    )


# --- why late -------------------------------------------------------------------------------------
FORWARD: dict[State, Trigger] = {
    State.GROUPE_PROJET: Trigger.DEFINIR_CONTOURS,
    State.CONTOURS: Trigger.LANCER_FAISABILITE,
    State.FAISABILITE: Trigger.SOUMETTRE_VALIDATION,
    State.VALIDATION: Trigger.LANCER_PREFIGURATION,
    State.PREFIGURATION: Trigger.DEMANDER_EXPERTISE,
    State.EXPERTISE: Trigger.LABELLISER,
}


def why_late(p: Project, today: date, changes: Sequence[EvidenceChange]) -> list[UnmetSinceRead]:
    """The guards of the current step's forward move that are unmet today, longest unmet first.

    A guard is taken to be unmet since the project entered the step, or since the last change (update
    or deletion, `changes`: the project's) of evidence it reads recorded in this step, if later: such a
    change may have undone what had been met. Ties keep the workflow's order of the guards."""
    from app.evidence.registry import snapshot
    from workflow import machine as wf

    state = State(p.state)
    trigger = FORWARD.get(state)
    if trigger is None:
        return []
    flow = wf.Flow(p.state, p.suspended_since is not None, p.last_transition_on)
    unmet = wf.explain(trigger.value, flow, snapshot(p, wf.reads_of(trigger.value, p.state)), as_of=today)
    if not unmet:
        return []
    reads = {g.code: set(g.reads) for g in guards_of(trigger, p.state)}
    entered = p.state_entered_on
    changed: dict[str, date] = {}
    for c in changes:
        day = c.recorded_at.date()
        if day < entered:
            continue
        kind = c.kind.replace("-", "_")
        changed[kind] = max(changed.get(kind, day), day)
    out = []
    for u in unmet:
        since = max([entered, *(changed[k] for k in reads.get(u.code, ()) if k in changed)])
        out.append(UnmetSinceRead(code=u.code, message=u.message, unmet_since=since, days=max((today - since).days, 0)))
    order = {u.code: i for i, u in enumerate(unmet)}
    out.sort(key=lambda x: (x.unmet_since, order[x.code]))
    return out


def forecast_for(uow: UnitOfWork, project_id: uuid.UUID, clock: Clock) -> ForecastRead:
    """GET /projects/{id}/forecast."""
    from app.projects.service import get_project

    p = get_project(uow, project_id)  # why_late's snapshot loads only the evidence its guards read
    return project_forecast(uow, p, clock.today())
