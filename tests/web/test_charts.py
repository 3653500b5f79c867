"""The project's timeline (app/web/charts.py), by geometry: markers wherever their dates fall (beyond the
horizon included), labels that never overlap, every stay of a step drawn, one end date per step that
agrees with the header's dates; and the chart's colours at 3:1 or more against the page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.web import charts
from workflow import deadlines as dl
from workflow.vocabulary import STEPS, State

START = date(2024, 1, 15)
CSS = Path(__file__).resolve().parents[2] / "templates" / "static" / "regieflow.css"


def _schedule(periods: list[dl.Period], state: State, today: date, plan: dl.Plan | None = None) -> dl.Schedule:
    return dl.schedule(
        started_on=START, state=state, periods=periods, suspensions=[], plan=plan or dl.Plan(), today=today
    )


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


@settings(max_examples=60)
@given(
    step=st.integers(0, 5),
    late_days=st.integers(-400, 900),
    months=st.lists(st.integers(1, 12), min_size=6, max_size=6),
)
def test_markers_never_overlap_and_stay_in_the_chart(step: int, late_days: int, months: list[int]) -> None:
    plan = dl.Plan({s.value: m for s, m in zip(STEPS, months, strict=True)}, max(36, sum(months)))
    periods, day = [], START
    for s in STEPS[:step]:
        end = dl.add_months(day, plan.months(s))
        periods.append(dl.Period(s, day, end))
        day = end
    periods.append(dl.Period(STEPS[step], day))
    due = dl.add_months(day, plan.months(STEPS[step]))
    today = max(day, due + timedelta(days=late_days))
    sch = _schedule(periods, STEPS[step], today, plan)
    ends = charts.step_ends(
        sch, state_entered_on=day, step_due_on=sch.step_due_on, projected_label_on=sch.projected_label_on
    )
    assert ends[step] == sch.step_due_on  # the current step ends on its due date, as the header says
    if step < 5:  # a later step ends where the projection puts it: the last one on the projected label
        assert ends[-1] == sch.projected_label_on
    assert [e for e in ends if e] == sorted(e for e in ends if e)
    t = charts.timeline(sch, periods, ends=ends)
    boxes = [m.box for m in t.markers]
    assert not any(_overlap(a, b) for a, b in combinations(boxes, 2)), boxes
    assert all(box[0] >= 0 and box[2] <= t.width and box[1] >= 0 for box in boxes)
    assert all(m.label_y < t.top for m in t.markers)  # above the rows: no label over a bar
    by_id = {m.ident: m for m in t.markers}
    assert by_id["frise-label"].on == sch.projected_label_on and by_id["frise-label"].x <= t.width - charts.RIGHT
    overrun = [seg.overrun for row in t.rows for seg in row.segments if seg.overrun]
    assert bool(overrun) == (today > due)  # only a step past its due date shows an overrun


def test_a_postponed_label_draws_both_stays() -> None:
    periods, day = [], START
    for s in STEPS:
        end = dl.add_months(day, 3)
        periods.append(dl.Period(s, day, end))
        day = end
    # ajourner_label: back to the préfiguration, then the expertise again
    periods.append(dl.Period(State.PREFIGURATION, day, day + timedelta(days=60)))
    periods.append(dl.Period(State.EXPERTISE, day + timedelta(days=60)))
    sch = _schedule(periods, State.EXPERTISE, day + timedelta(days=90))
    t = charts.timeline(sch, periods)
    rows = {r.number: r for r in t.rows}
    assert [s.visit for s in rows[5].segments] == [1, 2] and rows[5].revisited
    assert [s.visit for s in rows[6].segments] == [1, 2] and rows[6].segments[1].ongoing
    assert "(2e fois)" in t.description


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def f(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)


def test_chart_colours_contrast_at_least_three_to_one() -> None:
    css = CSS.read_text()
    variables = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    white = _luminance("#ffffff")
    for selector in (
        ".tl-planned",
        ".tl-actual",
        ".tl-overrun",
        ".tl-due line",
        ".tl-projection line",
        ".tl-today line",
    ):
        rule = re.search(re.escape(selector) + r" \{([^}]*)\}", css)
        assert rule, selector
        colour = re.search(r"(?:fill|stroke):\s*(var\(--([a-z-]+)\)|#[0-9a-fA-F]{6})", rule.group(1))
        assert colour, selector
        value = variables[colour.group(2)] if colour.group(2) else colour.group(1)
        lum = _luminance(value)
        ratio = (max(lum, white) + 0.05) / (min(lum, white) + 0.05)
        assert ratio >= 3, (selector, value, round(ratio, 2))


def test_projection_after_a_late_step_starts_today() -> None:
    """Late on the first step (due 1 April, today 26 November): the second step's projection runs from
    today to the projected end, not from the passed due date (4 months drawn as almost 12, over the
    stay still going on)."""
    started, today = date(2026, 1, 1), date(2026, 11, 26)
    step = STEPS[0]
    periods = [dl.Period(step, started)]
    sch = dl.schedule(started_on=started, state=step, periods=periods, suspensions=[], plan=dl.Plan(), today=today)
    ends = charts.step_ends(
        sch, state_entered_on=started, step_due_on=sch.step_due_on, projected_label_on=sch.projected_label_on
    )
    tl = charts.timeline(
        sch, periods, ends=ends, step_due_on=sch.step_due_on, projected_label_on=sch.projected_label_on
    )
    following = tl.rows[1].projected
    assert following is not None and following.start == today, following
    assert following.end == ends[1] and (following.end - following.start).days < 130  # about 4 months
    assert all(r.projected is None or r.projected.start >= today for r in tl.rows)


def test_overrun_contrasts_with_the_actual_bar() -> None:
    """WCAG 1.4.11: the overrun is drawn right after the actual bar; the two were told apart by hue
    alone (#a3000b beside #00577a, 1.03:1). Its fill now differs from the bar's by 3:1 or more and its
    outline from the page's white by 3:1 or more."""
    css = CSS.read_text()
    variables = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))

    def colour(selector: str, prop: str) -> str:
        rule = re.search(re.escape(selector) + r" \{([^}]*)\}", css)
        assert rule, selector
        found = re.search(prop + r":\s*(?:var\(--([a-z-]+)\)|(#[0-9a-fA-F]{6}))", rule.group(1))
        assert found, (selector, prop)
        return variables[found.group(1)] if found.group(1) else found.group(2)

    def ratio(a: str, b: str) -> float:
        la, lb = sorted((_luminance(a), _luminance(b)))
        return (lb + 0.05) / (la + 0.05)

    assert ratio(colour(".tl-overrun", "fill"), colour(".tl-actual", "fill")) >= 3
    assert ratio(colour(".tl-overrun", "stroke"), "#ffffff") >= 3
