"""Backtest of the history-based forecast (DOMAIN.md, "Forecasts"; `regieflow forecast backtest`).

For each labelled project and each of its step entries, forecast the label date from that day and
compare it with the real label date; the same for the plan-based projection from that entry (the step's
months, then the following steps'). Two trainings, both without looking ahead:

- `labelled` (the issue's definition): the history is the steps completed by the projects labelled
  before that day;
- `as_of` (the live forecast replayed): the history is every step completed before that day by any
  project, labelled, abandoned or still under way, as the live forecast would have read it then.

A step with fewer than MIN_SAMPLES past projects counts with the plan's months (said in the forecast);
when even the current step has too few, the forecast falls back to the plan, as it would have then
(those cases count, with the plan's date as P50 and P80)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from app.forecasts.models import NATIONAL
from app.forecasts.repository import ProjectHistory
from app.forecasts.service import Samples, groups_for, lived_of
from workflow import forecast as fc
from workflow.deadlines import Plan
from workflow.history import HistoryInconsistent, replay
from workflow.vocabulary import State

TRAININGS = ("labelled", "as_of")


@dataclass(frozen=True, slots=True)
class Labelled:
    history: ProjectHistory
    labelled_on: date
    lived: fc.Lived


def labelled_projects(histories: Iterable[ProjectHistory], today: date) -> list[Labelled]:
    out = []
    for h in histories:
        if h.state != State.LABELLISEE.value or not h.transitions:
            continue
        life = lived_of(h, today)
        if life is not None:
            out.append(Labelled(h, h.transitions[-1].effective_on, life))
    out.sort(key=lambda x: (x.labelled_on, str(x.history.id)))
    return out


@dataclass(frozen=True, slots=True)
class Known:
    """What a project's history showed after one of its transitions: the steps it had completed, its
    open stay (the step it was in, or abandoned in, with the days spent there by then) and whether that
    stay was still counting days (open, not suspended)."""

    completed: dict[State, int]
    open_stay: tuple[State, int] | None
    counting: bool


@dataclass(frozen=True, slots=True)
class Completions:
    """A project's history as it stood before any day: `days[i]` is when it became `known[i]` (its kind
    and région for the groups, its start for the days before its first transition)."""

    kind: str
    region: str
    started_on: date
    days: list[date]
    known: list[Known]

    def before(self, day: date) -> tuple[dict[State, int], tuple[State, int] | None]:
        """The steps completed by transitions effective before `day`, and the stay open on `day`."""
        if day <= self.started_on:
            return {}, None
        i = bisect_left(self.days, day)
        if not i:
            return {}, (State.GROUPE_PROJET, (day - self.started_on).days)
        k = self.known[i - 1]
        if k.open_stay is None or not k.counting:
            return k.completed, k.open_stay
        step, spent = k.open_stay
        return k.completed, (step, spent + (day - self.days[i - 1]).days)


def completions(h: ProjectHistory, today: date) -> Completions:
    days: list[date] = []
    known: list[Known] = []
    for k in range(1, len(h.transitions) + 1):
        prefix = h.transitions[:k]
        on = prefix[-1].effective_on
        try:
            r = replay(h.started_on, prefix)
        except HistoryInconsistent:
            break
        life = fc.lived(r.periods, r.suspensions, state=r.state, today=on)
        now = Known(life.completed, life.open_stay, life.current is not None and r.suspended_since is None)
        if days and days[-1] == on:
            known[-1] = now  # several transitions the same day: the last state counts
        else:
            days.append(on)
            known.append(now)
    return Completions(h.kind, h.region, h.started_on, days, known)


def _grouped(
    parts: Iterable[tuple[str, str, dict[State, int], tuple[State, int] | None]],
) -> dict[tuple[str, str], Samples]:
    done: dict[tuple[str, str], dict[State, list[int]]] = {}
    open_: dict[tuple[str, str], dict[State, list[int]]] = {}
    for kind, region, completed, stay in parts:
        for key in ((kind, region), (NATIONAL, NATIONAL)):
            g = done.setdefault(key, {})
            for step, days in completed.items():
                g.setdefault(step, []).append(days)
            if stay is not None:
                open_.setdefault(key, {}).setdefault(stay[0], []).append(stay[1])
    return {
        key: {
            step: fc.Durations.of(g.get(step, ()), open_.get(key, {}).get(step, ()))
            for step in {*g, *open_.get(key, {})}
        }
        for key, g in {**{k: {} for k in open_}, **done}.items()
    }


def run(
    histories: Iterable[ProjectHistory], *, plan: Plan, today: date, training: str = "labelled", censored: bool = True
) -> tuple[fc.Score, list[fc.Case]]:
    """Every step entry of every labelled project, forecast as of that day (`censored=False`: without the
    stays still open that day, the completed ones alone, to measure what the open ones change)."""
    if training not in TRAININGS:
        raise ValueError(f"training must be one of {TRAININGS}")
    everyone: Sequence[ProjectHistory] = list(histories)
    labelled = labelled_projects(everyone, today)
    built: dict[object, dict[tuple[str, str], Samples]] = {}

    def by_labelled(m: int) -> dict[tuple[str, str], Samples]:
        # the first m labelled projects (training sets are nested): every step completed, nothing open
        if m not in built:
            built[m] = _grouped((x.history.kind, x.history.region, x.lived.completed, None) for x in labelled[:m])
        return built[m]

    done = [completions(h, today) for h in everyone] if training == "as_of" else []

    def as_of(day: date) -> dict[tuple[str, str], Samples]:
        # every project as it stood that day: its completed steps, its open stay (censored)
        if day not in built:
            seen = (c.before(day) for c in done)
            built[day] = _grouped(
                (c.kind, c.region, completed, stay if censored else None)
                for c, (completed, stay) in zip(done, seen, strict=True)
            )
        return built[day]

    plan_days = fc.plan_step_days(plan)
    cache = fc.TailCache()
    cases = []
    label_days = [x.labelled_on for x in labelled]
    for x in labelled:
        for step, day, before in x.lived.entries:
            groups = by_labelled(bisect_left(label_days, day)) if training == "labelled" else as_of(day)
            h = x.history
            f = fc.forecast(
                groups_for(groups, h.kind, h.region),
                current=step,
                elapsed=before,
                as_of=day,
                cache=cache,
                plan_days=plan_days,
            )
            planned = fc.plan_projection(plan, step=step, entered_on=day)
            cases.append(fc.Case(x.labelled_on, f.p50_on or planned, f.p80_on or planned, planned, f.basis))
    return fc.score(cases), cases


def table(cases: list[fc.Case]) -> str:
    """The Markdown tables `regieflow forecast backtest` prints and docs/FORECAST.md holds: the forecasts
    made with a history basis (the target: P80 coverage 70-90 %, an error below the plan's), then every
    step entry, the fallbacks to the plan included (there P50 = P80 = the plan's date)."""

    def pct(v: float) -> str:
        return f"{v * 100:.1f} %"

    def rows(score: fc.Score) -> list[str]:
        return [
            f"| history-based (P50 for the error, P80 for the coverage) | {score.cases} | "
            f"{score.history_median_abs_error:.0f} | {pct(score.history_p80_coverage)} |",
            f"| plan-based (`projected_label_on` from the entry) | {score.cases} | "
            f"{score.plan_median_abs_error:.0f} | {pct(score.plan_coverage)} |",
        ]

    head = [
        "| projection | forecasts | median absolute error (days) | label on or before (P80 / plan date) |",
        "|---|---:|---:|---:|",
    ]
    every = fc.score(cases)
    with_history = fc.score([c for c in cases if c.basis != fc.Basis.PLAN])
    bases = ", ".join(f"{k} {v}" for k, v in sorted(every.by_basis.items()))
    return "\n".join(
        [
            "Step entries with a history-based forecast (the current step from at least 10 past projects):",
            "",
            *head,
            *rows(with_history),
            "",
            "Every step entry (below 10 past projects for the current step, the plan, as it would have then):",
            "",
            *head,
            *rows(every),
            "",
            f"Forecasts by basis: {bases}.",
        ]
    )
