"""Backtest of the history-based forecast (DOMAIN.md, "Forecasts"; `regieflow forecast backtest`).

For each labelled project and each of its step entries, forecast the label date as the live forecast
would have on that day, with only the projects labelled before that day as history (their completed
steps), and compare with the real label date; the same for the plan-based projection from that entry
(the step's months, then the following steps'). When the history is too thin the forecast falls back to
the plan, as it would have then (those cases count, with the plan's date as P50 and P80)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.forecasts.models import NATIONAL
from app.forecasts.repository import ProjectHistory
from app.forecasts.service import Samples, lived_of
from workflow import forecast as fc
from workflow.deadlines import Plan
from workflow.vocabulary import State


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


def run(histories: Iterable[ProjectHistory], *, plan: Plan, today: date) -> tuple[fc.Score, list[fc.Case]]:
    labelled = labelled_projects(histories, today)
    # groups of the first m labelled projects, built once per m (training sets are nested)
    built: dict[int, dict[tuple[str, str], Samples]] = {}

    def groups_of(m: int) -> dict[tuple[str, str], Samples]:
        if m not in built:
            groups: dict[tuple[str, str], Samples] = {}
            for x in labelled[:m]:
                for key in ((x.history.kind, x.history.region), (NATIONAL, NATIONAL)):
                    g = groups.setdefault(key, {})
                    for step, days in x.lived.completed.items():
                        g.setdefault(step, []).append(days)
            built[m] = groups
        return built[m]

    cache: fc.TailCache = {}
    cases = []
    for x in labelled:
        for step, day, before in x.lived.entries:
            m = sum(1 for y in labelled if y.labelled_on < day)
            groups = groups_of(m)
            h = x.history
            f = fc.forecast(
                [
                    (fc.Basis.KIND_REGION, groups.get((h.kind, h.region), {})),
                    (fc.Basis.NATIONAL, groups.get((NATIONAL, NATIONAL), {})),
                ],
                current=step,
                elapsed=before,
                as_of=day,
                cache=cache,
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
            "Step entries with enough history (kind and region, or national):",
            "",
            *head,
            *rows(with_history),
            "",
            "Every step entry (below 10 samples the forecast falls back to the plan, as it would have then):",
            "",
            *head,
            *rows(every),
            "",
            f"Forecasts by basis: {bases}.",
        ]
    )
