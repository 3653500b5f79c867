"""Deadlines against the three-year horizon (DOMAIN.md, "Deadlines").

Months add like ``dateutil.relativedelta`` (31 January + 1 month = end of February). Suspended
days push a deadline back one day each, when they fall between the start of the period the
deadline measures and the deadline itself. "Today" is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypedDict

from dateutil.relativedelta import relativedelta

from workflow.errors import InvalidInput
from workflow.vocabulary import (
    DEFAULT_HORIZON_MONTHS,
    DEFAULT_STEP_MONTHS,
    STATE_LABELS,
    STEPS,
    State,
    Status,
)

MAX_STEP_MONTHS = 120
MAX_HORIZON_MONTHS = 240


class PlanDict(TypedDict):
    """A plan as stored in events and shown by the API."""

    step_months: dict[str, int]
    horizon_months: int


@dataclass(frozen=True, slots=True)
class Plan:
    step_months: Mapping[str, int] = field(default_factory=lambda: {s.value: m for s, m in DEFAULT_STEP_MONTHS.items()})
    horizon_months: int = DEFAULT_HORIZON_MONTHS

    def months(self, step: State | str) -> int:
        return int(self.step_months[State(step).value])

    def months_through(self, step: State) -> int:
        """Months of steps 1..k."""
        return sum(self.months(s) for s in STEPS[: STEPS.index(step) + 1])

    def months_after(self, step: State) -> int:
        return sum(self.months(s) for s in STEPS[STEPS.index(step) + 1 :])

    def as_dict(self) -> PlanDict:
        return {"step_months": {s.value: self.months(s) for s in STEPS}, "horizon_months": self.horizon_months}


def check_plan(step_months: Mapping[str, int], horizon_months: int) -> None:
    """A plan whose step months add up to more than its horizon is refused (DOMAIN.md): it would be late
    on the day it is made."""
    total = sum(step_months.values())
    if total > horizon_months:
        raise InvalidInput(
            f"Les durées des étapes totalisent {total} mois, au-delà de l'horizon de {horizon_months} mois : le "
            "projet serait en retard dès aujourd'hui. Allongez l'horizon ou raccourcissez des étapes.",
            "horizon_months",
        )


@dataclass(frozen=True, slots=True)
class Suspension:
    start: date
    end: date | None = None  # None: still suspended


@dataclass(frozen=True, slots=True)
class Period:
    step: State
    entered_on: date
    left_on: date | None = None


def add_months(d: date, months: int) -> date:
    moved: date = d + relativedelta(months=months)  # dateutil ships no types: name what the sum is
    return moved


def _overlap_days(suspensions: Sequence[Suspension], since: date, until: date, open_until: date) -> int:
    total = 0
    for s in suspensions:
        start = max(s.start, since)
        end = min(s.end or open_until, until)
        if end > start:
            total += (end - start).days
    return total


def shifted(base: date, suspensions: Sequence[Suspension], *, since: date, open_until: date) -> date:
    """`base` pushed back by the suspended days between `since` and the (shifted) deadline itself.

    An open suspension counts until `open_until`. Each suspended day before the deadline moves it
    one day later, which may bring more suspended days before it: the answer is the smallest `d` with
    d = base + (suspended days between `since` and `d`, `d` included). Suspensions never overlap, so
    walking them in order finds it directly: one that starts on or before the deadline reached so far
    counts in full (the deadline then moves past its end), and none after the first one that starts
    after it counts. A pause that starts on the due date itself pushes it (DOMAIN.md, "Deadlines"):
    the project was not late that day, and resuming must not make it late retroactively.
    """
    d = base
    for s in sorted(suspensions, key=lambda s: s.start):
        start = max(s.start, since)
        end = s.end or open_until
        if end <= start:
            continue
        if start > d:
            break
        d += timedelta(days=(end - start).days)
    return d


@dataclass(frozen=True, slots=True)
class DeadlineIndex:
    """What the database stores to filter and sort by status without recomputing every project.

    Computed as if an open suspension had lasted zero days: while a project is suspended all of its
    future deadlines move together, so `status_at` can compare them with the suspension's start.
    """

    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None  # assuming the current step ends on time


def deadline_index(
    *,
    started_on: date,
    state: State,
    state_entered_on: date,
    suspensions: Sequence[Suspension],
    plan: Plan,
) -> DeadlineIndex:
    open_since = next((s.start for s in suspensions if s.end is None), None)
    frozen = open_since or started_on  # an open suspension counts zero days here
    horizon = shifted(add_months(started_on, plan.horizon_months), suspensions, since=started_on, open_until=frozen)
    if state not in STEPS:
        return DeadlineIndex(horizon, None, None)
    base = add_months(state_entered_on, plan.months(state))
    due = shifted(base, suspensions, since=state_entered_on, open_until=frozen)
    return DeadlineIndex(horizon, due, _on_time(base, due, plan.months_after(state)))


def status_at(index: DeadlineIndex, *, today: date, suspended_since: date | None) -> Status | None:
    """Status from the stored index: the same rule the SQL filter applies."""
    if index.step_due_on is None or index.projected_label_on is None:
        return None
    ref = suspended_since or today
    if ref > index.horizon_on or ref > index.step_due_on:
        return Status.EN_RETARD
    if index.projected_label_on > index.horizon_on:
        return Status.A_RISQUE
    return Status.DANS_LES_TEMPS


def _on_time(base: date, due: date, months_after: int) -> date:
    """The label date if the current step ends on its due date: the unshifted due date plus the
    following steps' months, then the suspended days that shifted the due date. Suspended days slide
    the projection as they slide the horizon, day for day, whether the pause is still open or over
    (months added after the days would not: 1 April + 30 days + 33 months is 1 February, while
    1 April + 33 months + 30 days is 31 January), so a project's status never changes on `reprendre`
    alone."""
    return add_months(base, months_after) + (due - base)


def _projection(base: date, due: date, today: date, months_after: int) -> date:
    """max(due, today) + the following steps' months (DOMAIN.md): on time, as `_on_time`; late,
    today plus the following steps' months."""
    return _on_time(base, due, months_after) if due >= today else add_months(today, months_after)


@dataclass(frozen=True, slots=True)
class StepSchedule:
    step: State
    label: str
    months: int
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    current: bool


@dataclass(frozen=True, slots=True)
class Schedule:
    started_on: date
    today: date
    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None
    status: Status | None
    suspended_since: date | None
    suspended_days: int
    labelled_on: date | None
    within_horizon: bool | None
    steps: tuple[StepSchedule, ...]
    plan: Plan


def schedule(
    *,
    started_on: date,
    state: State,
    periods: Sequence[Period],
    suspensions: Sequence[Suspension],
    plan: Plan,
    today: date,
    labelled_on: date | None = None,
) -> Schedule:
    """Plan versus actual for every step, the horizon, the projection and the status, as of `today`."""

    def sh(base: date, since: date) -> date:
        return shifted(base, suspensions, since=since, open_until=today)

    horizon = sh(add_months(started_on, plan.horizon_months), started_on)
    steps: list[StepSchedule] = []
    previous_end = started_on
    for step in STEPS:
        planned_end = sh(add_months(started_on, plan.months_through(step)), started_on)
        mine = [p for p in periods if p.step == step]
        actual_start = min((p.entered_on for p in mine), default=None)
        is_current = state == step
        ends = [p.left_on for p in mine if p.left_on is not None]
        actual_end = None if is_current or not ends else max(ends)
        steps.append(
            StepSchedule(
                step,
                STATE_LABELS[step],
                plan.months(step),
                previous_end,
                planned_end,
                actual_start,
                actual_end,
                is_current,
            )
        )
        previous_end = planned_end

    step_due = projected = None
    status: Status | None = None
    if state in STEPS:
        entered = max(p.entered_on for p in periods if p.step == state and p.left_on is None)
        base = add_months(entered, plan.months(state))
        step_due = sh(base, entered)
        projected = _projection(base, step_due, today, plan.months_after(state))
        if today > horizon or today > step_due:
            status = Status.EN_RETARD
        elif projected > horizon:
            status = Status.A_RISQUE
        else:
            status = Status.DANS_LES_TEMPS
    open_since = next((s.start for s in suspensions if s.end is None), None)
    suspended_days = _overlap_days(suspensions, started_on, max(today, started_on), today)
    return Schedule(
        started_on=started_on,
        today=today,
        horizon_on=horizon,
        step_due_on=step_due,
        projected_label_on=projected,
        status=status,
        suspended_since=open_since,
        suspended_days=suspended_days,
        labelled_on=labelled_on,
        within_horizon=None if labelled_on is None else labelled_on <= horizon,
        steps=tuple(steps),
        plan=plan,
    )


@dataclass(frozen=True, slots=True)
class Presented:
    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None
    status: Status | None


def present(index: DeadlineIndex, *, state: State, plan: Plan, today: date, suspended_since: date | None) -> Presented:
    """Today's deadlines from the stored index, without the project's history.

    While suspended, every deadline still ahead of the suspension moves one day per suspended day;
    the projection is the current step's due date (or today, if later) plus the following steps.
    """
    pause = (today - suspended_since).days if suspended_since and today > suspended_since else 0

    def moved(d: date | None) -> date | None:
        if d is None or suspended_since is None or d < suspended_since:
            return d
        return d + timedelta(days=pause)

    horizon = moved(index.horizon_on)
    assert horizon is not None
    due = moved(index.step_due_on)
    projected = None
    if due is not None and index.projected_label_on is not None and state in STEPS:
        # on time: the stored projection slides with the pause (see _on_time); late: today + the rest
        moved_projection = index.projected_label_on + (due - index.step_due_on) if index.step_due_on else None
        projected = moved_projection if due >= today else add_months(today, plan.months_after(state))
    return Presented(horizon, due, projected, status_at(index, today=today, suspended_since=suspended_since))
