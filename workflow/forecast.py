"""History-based forecasts (DOMAIN.md, "Forecasts from the portfolio's own history"): pure maths.

Definitions (docs/FORECAST.md states them for readers):

- **Step duration**: the days a project lived in a step, every visit added up (a step entered again
  after `reprendre_contours`, `reprendre_faisabilite` or `ajourner_label` counts once, with all its
  days), suspended days excluded. A step is *completed* when the project went past it for good: every
  step before the one it is in (or was in when abandoned); all six for a labelled project.
- **Percentile**: linear interpolation between order statistics (Hyndman & Fan type 7, the default of
  R, numpy and `statistics.quantiles(method="inclusive")`): with the n values sorted, the q-quantile is
  x[h] interpolated at h = (n - 1) q (0-based).
- **Conditioning**: for the current step, only the past durations at least as long as the time already
  spent count, and what remains is their excess over it.
- **Remaining time**: the current step's remainder plus one duration of each following step, drawn
  independently. Its distribution is estimated by Monte-Carlo with a FIXED seed (`DRAWS` draws), so the
  same history always gives the same forecast.
- **Basis, step by step**: each remaining step from the projects of the same kind and region when at
  least `MIN_SAMPLES` of them completed it, else from every project nationally; the current step also
  needs `MIN_CONDITIONED` that stayed as long, else the whole forecast is the plan; a following step
  without `MIN_SAMPLES` anywhere counts with the plan's days (`plan_days`), and says so.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from workflow.deadlines import Period, Plan, Suspension, add_months
from workflow.vocabulary import STEPS, State

MIN_SAMPLES = 10  # samples of a step needed to trust a group (DOMAIN.md)
MIN_CONDITIONED = 5  # past durations at least as long as the time already spent, for the current step
DRAWS = 2000
SEED = 20261202
DAYS_PER_MONTH = 365.25 / 12


class Basis(StrEnum):
    KIND_REGION = "kind_region"
    NATIONAL = "national"
    PLAN = "plan"


# --- percentiles ----------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) of `values`, linear interpolation (type 7). `values` need not be sorted."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1")
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    p50: float
    p80: float
    p90: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary | None:
        if not values:
            return None
        xs = sorted(values)
        return cls(len(xs), percentile(xs, 0.5), percentile(xs, 0.8), percentile(xs, 0.9))


# --- what a project lived -------------------------------------------------------------------------
def active_days(start: date, end: date, suspensions: Sequence[Suspension], open_until: date) -> int:
    """Days from `start` to `end` (end excluded) minus the suspended days among them."""
    total = (end - start).days
    for s in suspensions:
        lo = max(s.start, start)
        hi = min(s.end or open_until, end)
        if hi > lo:
            total -= (hi - lo).days
    return max(total, 0)


@dataclass(frozen=True, slots=True)
class Lived:
    """A project's steps as it lived them, as of `today`."""

    completed: dict[State, int]  # step -> days (every visit, suspended days excluded)
    current: State | None  # None once labelled or abandoned
    elapsed: int  # days already spent in the current step (every visit so far)
    entries: tuple[tuple[State, date, int], ...]  # each step entry: step, day, days spent in it before


def lived(periods: Sequence[Period], suspensions: Sequence[Suspension], *, state: State, today: date) -> Lived:
    """Step durations from a project's periods (workflow.history.replay) and pauses.

    `state` is the project's state now; for an abandoned project the step it left is not completed."""
    if state == State.LABELLISEE:
        reached = len(STEPS)
    elif state == State.ABANDONNEE:
        reached = STEPS.index(periods[-1].step) if periods else 0
    else:
        reached = STEPS.index(state)
    days: dict[State, int] = {}
    entries: list[tuple[State, date, int]] = []
    for p in periods:
        entries.append((p.step, p.entered_on, days.get(p.step, 0)))
        end = p.left_on or today
        days[p.step] = days.get(p.step, 0) + active_days(p.entered_on, max(end, p.entered_on), suspensions, today)
    completed = {s: days[s] for s in STEPS[:reached] if s in days}
    current = state if state in STEPS else None
    return Lived(completed, current, days.get(state, 0) if current else 0, tuple(entries))


# --- the forecast -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StepEstimate:
    step: State
    sample_size: int  # 0 on the plan basis
    p50_days: float
    p80_days: float
    basis: Basis = Basis.NATIONAL  # where this step's durations come from (PLAN: the plan's months)


@dataclass(frozen=True, slots=True)
class Forecast:
    basis: Basis  # the current step's basis (PLAN: no history-based forecast at all)
    sample_size: int  # past projects the current step's estimate rests on (those that stayed as long)
    p50_on: date | None  # None: the plan basis (the caller shows the plan's projection)
    p80_on: date | None
    p50_days: int | None  # days from `as_of` to the label
    p80_days: int | None
    steps: tuple[StepEstimate, ...] = field(default=())
    reason: str = ""  # why the fallback, in French, when basis == PLAN or NATIONAL

    @property
    def plan_steps(self) -> tuple[State, ...]:
        """The following steps counted with the plan's months (fewer than MIN_SAMPLES past projects)."""
        return tuple(s.step for s in self.steps if s.basis == Basis.PLAN)


def remaining_steps(current: State) -> list[State]:
    return list(STEPS[STEPS.index(current) :])


def _current_group(
    groups: Sequence[tuple[Basis, Mapping[State, Sequence[int]]]], current: State, elapsed: int
) -> tuple[tuple[Basis, Mapping[State, Sequence[int]]] | None, list[str]]:
    """The first group with MIN_SAMPLES of the current step, MIN_CONDITIONED of them at least as long as
    `elapsed`; and why the groups before it were not used."""
    reasons: list[str] = []
    for basis, samples in groups:
        xs = samples.get(current, ())
        if len(xs) < MIN_SAMPLES:
            why = f"moins de {MIN_SAMPLES} projets passés ont terminé l'étape « {current.value} »"
        elif sum(1 for d in xs if d >= elapsed) < MIN_CONDITIONED:
            why = (
                f"moins de {MIN_CONDITIONED} projets passés sont restés au moins {elapsed} jours dans l'étape en cours"
            )
        else:
            return (basis, samples), reasons
        reasons.append(f"{_BASIS_WORDS[basis]} : {why}")
    return None, reasons


def tail_sums(later: Sequence[Sequence[int]], *, draws: int = DRAWS, seed: int = SEED) -> list[int]:
    """`draws` sums of one duration of each later step, drawn uniformly (generator seeded with `seed`)."""
    rng = random.Random(seed)
    pick = rng.randrange
    return [sum(xs[pick(len(xs))] for xs in later) for _ in range(draws)]


def simulate(
    conditioned: Sequence[int],
    later: Sequence[Sequence[int]],
    *,
    draws: int = DRAWS,
    seed: int = SEED,
    tails: Sequence[int] | None = None,
) -> list[int]:
    """`draws` totals: one remainder of the current step plus one duration of each later step, each drawn
    uniformly, with generators seeded from `seed` (deterministic). `tails`: `tail_sums(later, ...)` already
    computed (the same for every project of a group in the same step)."""
    if tails is None:
        tails = tail_sums(later, draws=draws, seed=seed)
    rng = random.Random(seed + 1)
    pick = rng.randrange
    n = len(conditioned)
    return [conditioned[pick(n)] + t for t in tails]


# The later steps' simulated sums, keyed by the step lists drawn from (their ids: the caller keeps the
# groups alive as long as the cache; a plan step by its days), across the projects of one refresh.
TailCache = dict[tuple[object, ...], list[int]]


def forecast(
    groups: Sequence[tuple[Basis, Mapping[State, Sequence[int]]]],
    *,
    current: State,
    elapsed: int,
    as_of: date,
    cache: TailCache | None = None,
    plan_days: Mapping[State, int] | None = None,
) -> Forecast:
    """The label forecast, each step from the first group (kind and region, then national) with at least
    MIN_SAMPLES past projects that completed it; the current step also needs MIN_CONDITIONED of them at
    least as long as `elapsed`, else no forecast: the plan (basis PLAN). A following step without enough
    history anywhere counts with `plan_days` (the plan's months in days: its basis is PLAN and the answer
    says so); without `plan_days`, such a step makes the whole forecast fall back to the plan."""
    chosen, reasons = _current_group(groups, current, elapsed)
    if chosen is None:
        return Forecast(Basis.PLAN, 0, None, None, None, None, (), "; ".join(reasons) or "aucun historique")
    basis, samples = chosen
    conditioned = [d - elapsed for d in samples[current] if d >= elapsed]
    steps = [StepEstimate(current, len(conditioned), percentile(conditioned, 0.5), percentile(conditioned, 0.8), basis)]
    later: list[Sequence[int]] = []
    key: list[object] = [current]
    for step in remaining_steps(current)[1:]:
        found = next(((b, g[step]) for b, g in groups if len(g.get(step, ())) >= MIN_SAMPLES), None)
        if found is not None:
            b, xs = found
            later.append(xs)
            key.append(id(xs))
            steps.append(StepEstimate(step, len(xs), percentile(xs, 0.5), percentile(xs, 0.8), b))
        elif plan_days is not None:
            days = plan_days[step]
            later.append([days])
            key.append(("plan", days))
            steps.append(StepEstimate(step, 0, days, days, Basis.PLAN))
        else:
            why = f"moins de {MIN_SAMPLES} projets passés ont terminé l'étape « {step.value} »"
            reasons.append(f"{_BASIS_WORDS[basis]} : {why}")
            return Forecast(Basis.PLAN, 0, None, None, None, None, (), "; ".join(reasons))
    tails = None
    if cache is not None:
        k = tuple(key)
        if k not in cache:
            cache[k] = tail_sums(later)
        tails = cache[k]
    totals = sorted(simulate(conditioned, later, tails=tails))
    p50 = round(percentile(totals, 0.5))
    p80 = round(percentile(totals, 0.8))
    return Forecast(
        basis,
        len(conditioned),
        as_of + timedelta(days=p50),
        as_of + timedelta(days=p80),
        p50,
        p80,
        tuple(steps),
        "; ".join(reasons),
    )


def plan_step_days(plan: Plan) -> dict[State, int]:
    """Each step's planned months in days (DAYS_PER_MONTH a month): what a step without history counts."""
    return {s: round(plan.months(s) * DAYS_PER_MONTH) for s in STEPS}


_BASIS_WORDS = {Basis.KIND_REGION: "même type et même région", Basis.NATIONAL: "national", Basis.PLAN: "plan"}


def plan_projection(plan: Plan, *, step: State, entered_on: date) -> date:
    """The plan's label date for a project that entered `step` on `entered_on` and keeps to the plan from
    there (workflow.deadlines: the step's months, then the following steps' months)."""
    return add_months(add_months(entered_on, plan.months(step)), plan.months_after(step))


# --- backtest ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Case:
    """One forecast made at a step entry of a labelled project, and what really happened."""

    actual: date
    p50: date
    p80: date
    plan: date
    basis: Basis


@dataclass(frozen=True, slots=True)
class Score:
    cases: int
    history_median_abs_error: float  # days
    history_p80_coverage: float  # share of real label dates on or before P80
    plan_median_abs_error: float
    plan_coverage: float  # share of real label dates on or before the plan's date
    by_basis: dict[str, int]


def score(cases: Iterable[Case]) -> Score:
    cs = list(cases)
    if not cs:
        return Score(0, math.nan, math.nan, math.nan, math.nan, {})
    hist_err = [abs((c.p50 - c.actual).days) for c in cs]
    plan_err = [abs((c.plan - c.actual).days) for c in cs]
    by: dict[str, int] = {}
    for c in cs:
        by[c.basis.value] = by.get(c.basis.value, 0) + 1
    return Score(
        len(cs),
        percentile(hist_err, 0.5),
        sum(c.actual <= c.p80 for c in cs) / len(cs),
        percentile(plan_err, 0.5),
        sum(c.actual <= c.plan for c in cs) / len(cs),
        by,
    )
