"""History-based forecasts (DOMAIN.md, "Forecasts from the portfolio's own history"): pure maths.

Definitions (docs/FORECAST.md states them for readers):

- **Step duration**: the days a project lived in a step, every visit added up (a step entered again
  after `reprendre_contours`, `reprendre_faisabilite` or `ajourner_label` counts once, with all its
  days), suspended days excluded. A step is *completed* when the project went past it for good: every
  step before the one it is in (or was in when abandoned); all six for a labelled project.
- **Open stay** (right-censored): the step a project is still in, with the days spent in it so far, and
  the step a project was abandoned in, with the days it spent there: the step lasts (or would have
  lasted) *at least* that long. Leaving them out favours the fast projects (survivorship: the long stays
  are the ones still open), so the durations are estimated from both.
- **Duration distribution**: the Kaplan-Meier (product-limit) estimate over the completed stays (events)
  and the open ones (right-censored): at each completed duration t, S(t) = S(t-) x (1 - d/n), d the stays
  completed in exactly t days, n those at risk (completed in t days or more, or open for t days or more);
  when the longest stay is open, the mass S leaves beyond the last completed duration is put on it
  (Efron's convention: the estimate is a proper distribution, never longer than what was seen).
  Without open stays it is the empirical distribution of the completed ones.
- **Quantiles of a distribution**: the smallest duration whose cumulative probability reaches q (the
  usual Kaplan-Meier median); **percentile** of a plain list (the simulated totals, the backtest's
  errors): linear interpolation between order statistics (Hyndman & Fan type 7, the default of R, numpy
  and `statistics.quantiles(method="inclusive")`): sorted x, q-quantile at h = (n - 1) q (0-based).
- **Conditioning**: for the current step, the distribution given a duration at least as long as the time
  already spent (the durations below it removed, the rest rescaled), minus that time: what remains.
- **Remaining time**: the current step's remainder plus one duration of each following step, drawn
  independently. Its distribution is estimated with `DRAWS` draws: the current step's remainder at the
  evenly spaced probabilities (i + 1/2) / DRAWS (inverse distribution function), each following step's
  the same way, shuffled by a generator with a FIXED seed: the same history always gives the same
  forecast.
- **Basis, step by step**: each remaining step from the projects of the same kind and region when at
  least `MIN_SAMPLES` of them completed it, else from every project nationally; the current step also
  needs `MIN_CONDITIONED` stays (completed or open) at least as long as the time already spent, else the
  whole forecast is the plan; a following step without `MIN_SAMPLES` completed stays anywhere counts with
  the plan's days (`plan_days`), and says so.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from workflow.deadlines import Period, Plan, Suspension, add_months
from workflow.vocabulary import STEPS, State

MIN_SAMPLES = 10  # completed stays of a step needed to trust a group (DOMAIN.md)
MIN_CONDITIONED = 5  # stays at least as long as the time already spent, for the current step
DRAWS = 2000
SEED = 20261202
DAYS_PER_MONTH = 365.25 / 12
_EPS = 1e-9  # cumulative probabilities are sums of floats: "reaches q" up to rounding


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


# --- a step's durations: Kaplan-Meier over completed and open stays --------------------------------
@dataclass(frozen=True, slots=True)
class Durations:
    """One step's stays in past projects and their Kaplan-Meier distribution (build with `Durations.of`).

    `times` are the distinct completed durations, ascending (plus the longest open stay when it is longer:
    Efron's tail), `cdf[i]` the estimated probability of a duration <= times[i]; `cdf[-1]` is 1."""

    done: tuple[int, ...]  # completed stays, days, sorted
    open: tuple[int, ...]  # open stays (still in the step, or abandoned in it), days so far, sorted
    times: tuple[int, ...]
    cdf: tuple[float, ...]

    @classmethod
    def of(cls, done: Iterable[int], open: Iterable[int] = ()) -> Durations:
        d = tuple(sorted(done))
        o = tuple(sorted(x for x in open if x > 0))  # open for 0 days: says nothing
        times: list[int] = []
        cdf: list[float] = []
        survival = 1.0
        i = j = 0  # next completed stay, next open stay
        n = len(d) + len(o)  # at risk
        while i < len(d):
            t = d[i]
            while j < len(o) and o[j] < t:  # open stays shorter than t leave the risk set before t
                j += 1
                n -= 1
            k = i
            while k < len(d) and d[k] == t:
                k += 1
            survival *= 1 - (k - i) / n
            times.append(t)
            cdf.append(1 - survival)
            n -= k - i
            i = k
        if survival > _EPS:  # the longest stay is open: the mass left goes to it (Efron)
            last = max(d[-1] if d else 0, o[-1] if o else 0)
            if times and times[-1] == last:
                cdf[-1] = 1.0
            elif d or o:
                times.append(last)
                cdf.append(1.0)
        elif cdf:
            cdf[-1] = 1.0
        return cls(d, o, tuple(times), tuple(cdf))

    @property
    def completed(self) -> int:
        return len(self.done)

    @property
    def stays(self) -> int:
        return len(self.done) + len(self.open)

    def at_risk(self, elapsed: int) -> int:
        """The stays at least `elapsed` days long, completed or open."""
        return len(self.done) - bisect_left(self.done, elapsed) + len(self.open) - bisect_left(self.open, elapsed)

    def _start(self, elapsed: int) -> tuple[int, float]:
        """Index of the first duration >= elapsed, and the probability of a duration below it."""
        k = bisect_left(self.times, elapsed)
        return k, (self.cdf[k - 1] if k else 0.0)

    def quantile(self, q: float, *, elapsed: int = 0) -> float:
        """The smallest remaining duration (duration - elapsed) whose probability, given a duration of at
        least `elapsed` days, reaches q."""
        if not self.times:
            raise ValueError("quantile of no durations")
        k, base = self._start(elapsed)
        if k == len(self.times):
            raise ValueError("no duration as long as elapsed")
        target = base + q * (1 - base) - _EPS
        i = min(max(bisect_left(self.cdf, target, lo=k), k), len(self.times) - 1)
        return float(self.times[i] - elapsed)

    def remainders(self, *, elapsed: int = 0, draws: int = DRAWS) -> list[int]:
        """`draws` remaining durations at the probabilities (i + 1/2) / draws of the distribution given
        at least `elapsed` days (inverse distribution function; ascending). Each duration is repeated as
        many times as those probabilities fall on it: the points at or below a cumulative probability c
        number floor(x draws + 1/2), x = (c - base) / (1 - base) (c taken up to rounding, as in `quantile`)."""
        k, base = self._start(elapsed)
        if k == len(self.times):
            raise ValueError("no duration as long as elapsed")
        out: list[int] = []
        scale = draws / (1 - base)
        last = len(self.times) - 1
        done = 0
        for i in range(k, last + 1):
            upto = draws if i == last else min(draws, max(done, math.floor((self.cdf[i] - base + _EPS) * scale + 0.5)))
            if upto > done:
                out += [self.times[i] - elapsed] * (upto - done)
                done = upto
                if done == draws:
                    break
        return out


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
    open_stay: tuple[State, int] | None = None  # the step still open (current or abandoned in) and its days


def lived(periods: Sequence[Period], suspensions: Sequence[Suspension], *, state: State, today: date) -> Lived:
    """Step durations from a project's periods (workflow.history.replay) and pauses.

    `state` is the project's state now; for an abandoned project the step it left is not completed: it is
    its open stay (censored at abandonment), as the current step is an open project's."""
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
    open_stay: tuple[State, int] | None = None
    if current is not None:
        open_stay = (current, days.get(current, 0))
    elif state == State.ABANDONNEE and periods:
        open_stay = (periods[-1].step, days.get(periods[-1].step, 0))
    return Lived(completed, current, days.get(state, 0) if current else 0, tuple(entries), open_stay)


# --- the forecast -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StepEstimate:
    step: State
    sample_size: int  # stays it rests on (completed and open; the current step: those as long); 0: plan
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


Group = Mapping[State, Durations]


def remaining_steps(current: State) -> list[State]:
    return list(STEPS[STEPS.index(current) :])


def _current_group(
    groups: Sequence[tuple[Basis, Group]], current: State, elapsed: int
) -> tuple[tuple[Basis, Group] | None, list[str]]:
    """The first group with MIN_SAMPLES completed stays of the current step, MIN_CONDITIONED stays at
    least as long as `elapsed`; and why the groups before it were not used."""
    reasons: list[str] = []
    for basis, samples in groups:
        xs = samples.get(current)
        if xs is None or xs.completed < MIN_SAMPLES:
            why = f"moins de {MIN_SAMPLES} projets passés ont terminé l'étape « {current.value} »"
        elif xs.at_risk(elapsed) < MIN_CONDITIONED or xs.times[-1] < elapsed:
            why = (
                f"moins de {MIN_CONDITIONED} projets passés sont restés au moins {elapsed} jours dans l'étape en cours"
            )
        else:
            return (basis, samples), reasons
        reasons.append(f"{_BASIS_WORDS[basis]} : {why}")
    return None, reasons


def tail_sums(later: Sequence[Durations | int], *, draws: int = DRAWS, seed: int = SEED) -> list[int]:
    """`draws` sums of one duration of each later step (an int: the plan's days, always), each step's at
    evenly spaced probabilities, shuffled by a generator seeded with `seed`: independent draws, the same
    every time."""
    rng = random.Random(seed)
    total = [0] * draws
    for x in later:
        if isinstance(x, int):
            total = [t + x for t in total]
            continue
        xs = x.remainders(draws=draws)
        rng.shuffle(xs)
        total = [t + y for t, y in zip(total, xs, strict=True)]
    return total


def simulate(
    current: Durations,
    later: Sequence[Durations | int],
    *,
    elapsed: int = 0,
    draws: int = DRAWS,
    seed: int = SEED,
    tails: Sequence[int] | None = None,
) -> list[int]:
    """`draws` totals: the current step's remainder after `elapsed` days plus one duration of each later
    step. `tails`: `tail_sums(later, ...)` already computed (the same for every project of a group in the
    same step). Deterministic."""
    if tails is None:
        tails = tail_sums(later, draws=draws, seed=seed)
    return [r + t for r, t in zip(current.remainders(elapsed=elapsed, draws=draws), tails, strict=True)]


@dataclass
class TailCache:
    """What forecasts over the same groups share (across the projects of a refresh, the requests of a
    process): the later steps' simulated sums and the stretched plans, keyed by what they come from (the
    Durations' and groups' ids: the caller keeps the groups alive as long as the cache; a plan step by its
    days)."""

    tails: dict[tuple[object, ...], list[int]] = field(default_factory=dict)
    stretched: dict[tuple[object, ...], Durations | None] = field(default_factory=dict)


def forecast(
    groups: Sequence[tuple[Basis, Group]],
    *,
    current: State,
    elapsed: int,
    as_of: date,
    cache: TailCache | None = None,
    plan_days: Mapping[State, int] | None = None,
) -> Forecast:
    """The label forecast, each step from the first group (kind and region, then national) with at least
    MIN_SAMPLES completed stays of it; the current step also needs MIN_CONDITIONED stays at least as long
    as `elapsed`, else no forecast: the plan (basis PLAN). A following step without enough history
    anywhere counts with `plan_days` (the plan's months in days: its basis is PLAN and the answer says
    so); without `plan_days`, such a step makes the whole forecast fall back to the plan."""
    chosen, reasons = _current_group(groups, current, elapsed)
    if chosen is None:
        return Forecast(Basis.PLAN, 0, None, None, None, None, (), "; ".join(reasons) or "aucun historique")
    basis, samples = chosen
    now = samples[current]
    n = now.at_risk(elapsed)
    steps = [StepEstimate(current, n, now.quantile(0.5, elapsed=elapsed), now.quantile(0.8, elapsed=elapsed), basis)]
    later: list[Durations | int] = []
    key: list[object] = [current]
    for step in remaining_steps(current)[1:]:
        found = next(((b, g[step]) for b, g in groups if step in g and g[step].completed >= MIN_SAMPLES), None)
        if found is not None:
            b, xs = found
            later.append(xs)
            key.append(id(xs))
            steps.append(StepEstimate(step, xs.stays, xs.quantile(0.5), xs.quantile(0.8), b))
        elif plan_days is not None:
            sk = (step, id(groups[-1][1]), *(plan_days[s] for s in STEPS))
            if cache is not None and sk in cache.stretched:
                scaled = cache.stretched[sk]
            else:
                scaled = stretched_plan(groups, step, plan_days)
                if cache is not None:
                    cache.stretched[sk] = scaled
            if scaled is None:
                days = plan_days[step]
                later.append(days)
                key.append(("plan", days))
                steps.append(StepEstimate(step, 0, days, days, Basis.PLAN))
            else:
                later.append(scaled)
                key.append(("stretched", *sk))
                steps.append(StepEstimate(step, scaled.stays, scaled.quantile(0.5), scaled.quantile(0.8), Basis.PLAN))
        else:
            why = f"moins de {MIN_SAMPLES} projets passés ont terminé l'étape « {step.value} »"
            reasons.append(f"{_BASIS_WORDS[basis]} : {why}")
            return Forecast(Basis.PLAN, 0, None, None, None, None, (), "; ".join(reasons))
    tails: list[int] | None = None
    if cache is not None:
        k = tuple(key)
        tails = cache.tails.get(k)
        if tails is None:
            tails = cache.tails[k] = tail_sums(later)
    totals = sorted(simulate(now, later, elapsed=elapsed, tails=tails))
    p50 = round(percentile(totals, 0.5))
    p80 = round(percentile(totals, 0.8))
    return Forecast(
        basis,
        n,
        as_of + timedelta(days=p50),
        as_of + timedelta(days=p80),
        p50,
        p80,
        tuple(steps),
        "; ".join(reasons),
    )


def stretched_plan(
    groups: Sequence[tuple[Basis, Group]], step: State, plan_days: Mapping[State, int]
) -> Durations | None:
    """A step fewer than MIN_SAMPLES past projects completed, anywhere: its plan's days stretched as the
    other steps' durations ran over theirs. The stays (completed and open) of every step of the widest
    group (national) with MIN_SAMPLES completed ones, each scaled by this step's planned days over its own
    step's; None when no step has that much history (the plan's days then count as they are)."""
    _, widest = groups[-1]
    target = plan_days[step]
    done: list[int] = []
    open_: list[int] = []
    for s, d in widest.items():
        if s == step or d.completed < MIN_SAMPLES or plan_days.get(s, 0) <= 0:
            continue
        ratio = target / plan_days[s]
        done += (round(x * ratio) for x in d.done)
        open_ += (round(x * ratio) for x in d.open)
    return Durations.of(done, open_) if done else None


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
