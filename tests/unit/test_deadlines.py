"""Deadlines against the three-year horizon (DOMAIN.md, "Deadlines")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from workflow.deadlines import (
    DeadlineIndex,
    Period,
    Plan,
    Schedule,
    Suspension,
    add_months,
    deadline_index,
    schedule,
    shifted,
    status_at,
)
from workflow.vocabulary import DEFAULT_HORIZON_MONTHS, DEFAULT_STEP_MONTHS, STEPS, State, Status

S = State
STARTED = date(2024, 1, 31)
DAY = timedelta(days=1)

# started_on + months of steps 1..k, computed by hand with relativedelta rules (end of month clamps).
BASELINE_ENDS = [
    date(2024, 4, 30),  # +3
    date(2024, 8, 31),  # +7
    date(2025, 4, 30),  # +15
    date(2025, 7, 31),  # +18
    date(2026, 7, 31),  # +30
    date(2027, 1, 31),  # +36
]
HORIZON = date(2027, 1, 31)


def periods_for(state: State, entered: date, started: date = STARTED) -> list[Period]:
    """Closed periods for the steps before `state` (evenly spread), and the open one of `state`."""
    k = STEPS.index(state)
    out, start = [], started
    span = (entered - started) / k if k else timedelta(0)
    for i, step in enumerate(STEPS[:k]):
        end = entered if i == k - 1 else started + span * (i + 1)
        out.append(Period(step, start, end))
        start = end
    out.append(Period(state, entered, None))
    return out


def sched(
    state: State,
    entered: date,
    today: date,
    suspensions=(),
    plan: Plan | None = None,
    started: date = STARTED,
    labelled_on: date | None = None,
) -> Schedule:
    periods = periods_for(state, entered, started) if state in STEPS else periods_for(S.EXPERTISE, entered, started)
    if state not in STEPS:
        periods[-1] = Period(S.EXPERTISE, entered, labelled_on)
    return schedule(
        started_on=started,
        state=state,
        periods=periods,
        suspensions=list(suspensions),
        plan=plan or Plan(),
        today=today,
        labelled_on=labelled_on,
    )


def index_status(
    state: State, entered: date, today: date, suspensions=(), plan: Plan | None = None, started: date = STARTED
) -> Status | None:
    susp = list(suspensions)
    idx = deadline_index(
        started_on=started, state=state, state_entered_on=entered, suspensions=susp, plan=plan or Plan()
    )
    open_since = next((s.start for s in susp if s.end is None), None)
    return status_at(idx, today=today, suspended_since=open_since)


# --- plan and month arithmetic ----------------------------------------------------------------------


def test_default_durations_sum_to_the_horizon():
    assert sum(DEFAULT_STEP_MONTHS.values()) == 36 == DEFAULT_HORIZON_MONTHS
    assert [DEFAULT_STEP_MONTHS[s] for s in STEPS] == [3, 4, 8, 3, 12, 6]
    plan = Plan()
    assert plan.horizon_months == 36
    assert plan.months_through(S.EXPERTISE) == 36
    assert [plan.months_through(s) for s in STEPS] == [3, 7, 15, 18, 30, 36]
    assert [plan.months_after(s) for s in STEPS] == [33, 29, 21, 18, 6, 0]
    assert plan.as_dict() == {
        "step_months": {
            "groupe_projet": 3,
            "contours": 4,
            "faisabilite": 8,
            "validation": 3,
            "prefiguration": 12,
            "expertise": 6,
        },
        "horizon_months": 36,
    }


def test_default_plans_do_not_share_a_mutable_mapping():
    assert Plan().step_months is not Plan().step_months


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 1, 15), 36, date(2027, 1, 15)),
        (date(2024, 10, 31), 4, date(2025, 2, 28)),
        (date(2024, 5, 31), 0, date(2024, 5, 31)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_add_months_is_not_chained():
    # 31 Jan + 2 months is 31 March, not (28 Feb + 1 month) = 28 March.
    assert add_months(date(2025, 1, 31), 2) == date(2025, 3, 31)


# --- baseline -------------------------------------------------------------------------------------


def test_baseline_schedule_without_suspension():
    today = date(2024, 2, 15)
    sc = sched(S.GROUPE_PROJET, STARTED, today)
    assert sc.started_on == STARTED and sc.today == today
    assert sc.horizon_on == HORIZON
    assert [st.planned_end for st in sc.steps] == BASELINE_ENDS
    assert [st.planned_start for st in sc.steps] == [STARTED, *BASELINE_ENDS[:-1]]
    assert [st.step for st in sc.steps] == list(STEPS)
    assert [st.months for st in sc.steps] == [3, 4, 8, 3, 12, 6]
    assert [st.current for st in sc.steps] == [True, False, False, False, False, False]
    assert sc.steps[0].actual_start == STARTED and sc.steps[0].actual_end is None
    assert all(st.actual_start is None for st in sc.steps[1:])
    assert sc.step_due_on == date(2024, 4, 30)
    assert sc.projected_label_on == date(2027, 1, 30)  # 30 April + 33 months
    assert sc.status is Status.DANS_LES_TEMPS
    assert sc.suspended_since is None and sc.suspended_days == 0
    assert sc.labelled_on is None and sc.within_horizon is None


def test_horizon_is_started_plus_36_months():
    for started in (date(2024, 2, 29), date(2023, 8, 31), date(2025, 6, 1)):
        sc = sched(S.GROUPE_PROJET, started, started, started=started)
        assert sc.horizon_on == add_months(started, 36)


def test_actual_dates_come_from_periods():
    periods = [
        Period(S.GROUPE_PROJET, STARTED, date(2024, 5, 10)),
        Period(S.CONTOURS, date(2024, 5, 10), date(2024, 9, 1)),
        Period(S.FAISABILITE, date(2024, 9, 1), date(2024, 10, 1)),
        Period(S.CONTOURS, date(2024, 10, 1), date(2024, 11, 1)),  # sent back to contours
        Period(S.FAISABILITE, date(2024, 11, 1), None),
    ]
    sc = schedule(
        started_on=STARTED, state=S.FAISABILITE, periods=periods, suspensions=[], plan=Plan(), today=date(2024, 12, 1)
    )
    by_step = {st.step: st for st in sc.steps}
    assert (by_step[S.GROUPE_PROJET].actual_start, by_step[S.GROUPE_PROJET].actual_end) == (STARTED, date(2024, 5, 10))
    assert (by_step[S.CONTOURS].actual_start, by_step[S.CONTOURS].actual_end) == (date(2024, 5, 10), date(2024, 11, 1))
    assert (by_step[S.FAISABILITE].actual_start, by_step[S.FAISABILITE].actual_end) == (date(2024, 9, 1), None)
    assert by_step[S.FAISABILITE].current
    # The current step is due from the day it was last entered.
    assert sc.step_due_on == date(2025, 7, 1)


# --- suspensions ------------------------------------------------------------------------------------


def test_suspension_before_every_deadline_shifts_them_all():
    susp = [Suspension(date(2024, 2, 1), date(2024, 2, 11))]  # 10 days
    sc = sched(S.GROUPE_PROJET, STARTED, date(2024, 3, 1), susp)
    assert sc.horizon_on == HORIZON + 10 * DAY
    assert [st.planned_end for st in sc.steps] == [d + 10 * DAY for d in BASELINE_ENDS]
    assert sc.step_due_on == date(2024, 4, 30) + 10 * DAY
    assert sc.suspended_days == 10 and sc.suspended_since is None


def test_suspension_after_a_deadline_does_not_shift_it():
    susp = [Suspension(date(2024, 5, 10), date(2024, 5, 20))]  # after step 1's planned end
    sc = sched(S.CONTOURS, date(2024, 4, 30), date(2024, 6, 1), susp)
    assert sc.steps[0].planned_end == BASELINE_ENDS[0]
    assert [st.planned_end for st in sc.steps[1:]] == [d + 10 * DAY for d in BASELINE_ENDS[1:]]
    assert sc.horizon_on == HORIZON + 10 * DAY
    assert sc.step_due_on == date(2024, 8, 30) + 10 * DAY


def test_suspension_starting_on_the_deadline_shifts_it():
    """DOMAIN.md: suspended days count up to and including the deadline day itself."""
    susp = [Suspension(date(2024, 4, 30), date(2024, 5, 5))]
    sc = sched(S.CONTOURS, date(2024, 5, 5), date(2024, 6, 1), susp)
    assert sc.steps[0].planned_end == date(2024, 5, 5)
    assert sc.steps[1].planned_end == BASELINE_ENDS[1] + 5 * DAY


def test_suspension_starting_the_day_after_the_deadline_does_not_shift_it():
    susp = [Suspension(date(2024, 5, 1), date(2024, 5, 5))]
    sc = sched(S.CONTOURS, date(2024, 5, 5), date(2024, 6, 1), susp)
    assert sc.steps[0].planned_end == date(2024, 4, 30)


def test_suspension_after_the_horizon_does_not_shift_it():
    susp = [Suspension(date(2027, 3, 1), date(2027, 4, 1))]
    sc = sched(S.EXPERTISE, date(2026, 7, 31), date(2027, 5, 1), susp)
    assert sc.horizon_on == HORIZON
    assert sc.status is Status.EN_RETARD


def test_several_suspensions_add_up():
    susp = [Suspension(date(2024, 2, 1), date(2024, 2, 11)), Suspension(date(2024, 6, 1), date(2024, 6, 6))]
    sc = sched(S.CONTOURS, date(2024, 5, 10), date(2024, 7, 1), susp)
    assert sc.steps[0].planned_end == BASELINE_ENDS[0] + 10 * DAY
    assert [st.planned_end for st in sc.steps[1:]] == [d + 15 * DAY for d in BASELINE_ENDS[1:]]
    assert sc.horizon_on == HORIZON + 15 * DAY
    assert sc.suspended_days == 15
    # Only the suspension since the current step was entered delays its due date.
    assert sc.step_due_on == date(2024, 9, 10) + 5 * DAY


def test_open_suspension_counts_up_to_today():
    susp = [Suspension(date(2024, 3, 1))]
    today = date(2024, 3, 21)
    sc = sched(S.GROUPE_PROJET, STARTED, today, susp)
    assert sc.suspended_since == date(2024, 3, 1)
    assert sc.suspended_days == 20
    assert sc.horizon_on == HORIZON + 20 * DAY
    assert [st.planned_end for st in sc.steps] == [d + 20 * DAY for d in BASELINE_ENDS]
    assert sc.step_due_on == date(2024, 5, 20)
    assert sc.status is Status.DANS_LES_TEMPS
    # One day later, one more day of delay everywhere.
    later = sched(S.GROUPE_PROJET, STARTED, today + DAY, susp)
    assert later.horizon_on == sc.horizon_on + DAY and later.step_due_on == sc.step_due_on + DAY


def test_suspension_overlapping_a_deadline_shifts_it_by_all_its_days():
    """Suspended 29 April (the day before step 1 ends) to 8 June: 40 days, all before the shifted deadline.

    Each suspended day pushes the deadline one day, which brings more suspended days before it: the
    fixed point is 30 April + 40 days = 9 June.
    """
    susp = [Suspension(date(2024, 4, 29), date(2024, 6, 8))]
    assert shifted(date(2024, 4, 30), susp, since=STARTED, open_until=date(2030, 1, 1)) == date(2024, 6, 9)
    sc = sched(S.CONTOURS, date(2024, 6, 8), date(2024, 6, 10), susp)
    assert sc.steps[0].planned_end == date(2024, 6, 9)
    assert sc.horizon_on == HORIZON + 40 * DAY


def test_long_open_suspension_from_the_first_day_does_not_make_the_step_late():
    """Suspended since the very day the step was entered: no time has counted against it."""
    susp = [Suspension(STARTED)]
    today = STARTED + 400 * DAY
    sc = sched(S.GROUPE_PROJET, STARTED, today, susp)
    assert sc.step_due_on == date(2024, 4, 30) + 400 * DAY
    assert sc.status is Status.DANS_LES_TEMPS


def test_open_suspension_starting_just_before_the_due_date():
    susp = [Suspension(date(2024, 4, 29))]
    today = date(2024, 6, 8)  # 40 days suspended, one day of the step left
    sc = sched(S.GROUPE_PROJET, STARTED, today, susp)
    assert sc.step_due_on == date(2024, 6, 9)
    assert sc.status is not Status.EN_RETARD


# --- status ----------------------------------------------------------------------------------------


def test_status_dans_les_temps_on_the_due_date():
    sc = sched(S.GROUPE_PROJET, STARTED, date(2024, 4, 30))
    assert sc.status is Status.DANS_LES_TEMPS


def test_status_en_retard_the_day_after_the_step_due_date():
    sc = sched(S.GROUPE_PROJET, STARTED, date(2024, 5, 1))
    assert sc.step_due_on == date(2024, 4, 30)
    assert sc.status is Status.EN_RETARD


def test_status_a_risque_when_a_step_was_entered_late():
    # Préfiguration entered on 1 March 2026: due 1 March 2027, projected 1 Sept 2027 > 31 Jan 2027.
    sc = sched(S.PREFIGURATION, date(2026, 3, 1), date(2026, 4, 1))
    assert sc.step_due_on == date(2027, 3, 1)
    assert sc.projected_label_on == date(2027, 9, 1)
    assert sc.horizon_on == HORIZON
    assert sc.status is Status.A_RISQUE


def test_status_en_retard_after_the_horizon_even_if_the_step_is_not_due():
    sc = sched(S.EXPERTISE, date(2026, 12, 15), date(2027, 2, 1))
    assert sc.step_due_on == date(2027, 6, 15)
    assert date(2027, 2, 1) < sc.step_due_on
    assert sc.status is Status.EN_RETARD


def test_projection_starts_from_today_when_the_step_is_overdue():
    today = date(2024, 6, 15)
    sc = sched(S.GROUPE_PROJET, STARTED, today)
    assert sc.projected_label_on == add_months(today, 33)


def test_projection_exactly_on_the_horizon_is_not_at_risk():
    entered = date(2025, 7, 31)  # due 31 July 2026, projected 31 Jan 2027 == horizon
    sc = sched(S.PREFIGURATION, entered, date(2025, 8, 1))
    assert sc.projected_label_on == sc.horizon_on
    assert sc.status is Status.DANS_LES_TEMPS
    late = sched(S.PREFIGURATION, entered + DAY, date(2025, 8, 2))
    assert late.projected_label_on > late.horizon_on
    assert late.status is Status.A_RISQUE


@pytest.mark.parametrize(
    ("labelled_on", "within"),
    [(date(2026, 12, 1), True), (HORIZON, True), (HORIZON + DAY, False), (date(2027, 6, 1), False)],
)
def test_labelled_project_reports_label_date_and_horizon(labelled_on, within):
    sc = sched(S.LABELLISEE, date(2026, 7, 1), labelled_on + 10 * DAY, labelled_on=labelled_on)
    assert sc.labelled_on == labelled_on
    assert sc.within_horizon is within
    assert sc.status is None and sc.step_due_on is None and sc.projected_label_on is None
    assert not any(st.current for st in sc.steps)
    assert sc.steps[-1].actual_end == labelled_on


def test_label_within_a_horizon_extended_by_a_suspension():
    susp = [Suspension(date(2025, 1, 1), date(2025, 3, 2))]  # 60 days
    labelled_on = HORIZON + 30 * DAY
    sc = sched(S.LABELLISEE, date(2026, 7, 1), labelled_on, susp, labelled_on=labelled_on)
    assert sc.horizon_on == HORIZON + 60 * DAY
    assert sc.within_horizon is True


# --- the stored index agrees with the schedule ------------------------------------------------------


def test_index_values_without_suspension():
    idx = deadline_index(
        started_on=STARTED, state=S.CONTOURS, state_entered_on=date(2024, 5, 1), suspensions=[], plan=Plan()
    )
    assert idx == DeadlineIndex(HORIZON, date(2024, 9, 1), add_months(date(2024, 9, 1), 29))


def test_index_for_a_closed_project_has_no_status():
    idx = deadline_index(
        started_on=STARTED, state=S.LABELLISEE, state_entered_on=date(2026, 12, 1), suspensions=[], plan=Plan()
    )
    assert idx == DeadlineIndex(HORIZON, None, None)
    assert status_at(idx, today=date(2027, 6, 1), suspended_since=None) is None


def test_index_treats_an_open_suspension_as_zero_days():
    susp = [Suspension(date(2024, 2, 1), date(2024, 2, 11)), Suspension(date(2024, 3, 1))]
    idx = deadline_index(
        started_on=STARTED, state=S.GROUPE_PROJET, state_entered_on=STARTED, suspensions=susp, plan=Plan()
    )
    assert idx.horizon_on == HORIZON + 10 * DAY
    assert idx.step_due_on == date(2024, 4, 30) + 10 * DAY
    # The schedule on the day the suspension started sees the same dates.
    sc = sched(S.GROUPE_PROJET, STARTED, date(2024, 3, 1), susp)
    assert (sc.horizon_on, sc.step_due_on, sc.projected_label_on) == (
        idx.horizon_on,
        idx.step_due_on,
        idx.projected_label_on,
    )


REPLAN = Plan(
    step_months={
        "groupe_projet": 2,
        "contours": 5,
        "faisabilite": 7,
        "validation": 4,
        "prefiguration": 10,
        "expertise": 8,
    },
    horizon_months=30,
)

# (state, date entered): on time, late, very late.
CASES = [
    (S.GROUPE_PROJET, STARTED),
    (S.CONTOURS, date(2024, 5, 31)),
    (S.FAISABILITE, date(2024, 12, 15)),
    (S.VALIDATION, date(2025, 9, 30)),
    (S.PREFIGURATION, date(2025, 6, 10)),
    (S.PREFIGURATION, date(2026, 2, 28)),
    (S.EXPERTISE, date(2026, 10, 31)),
]


def assert_agree(state, entered, todays, suspensions=(), plan=None) -> set[Status]:
    seen, mismatches = set(), []
    for today in todays:
        expected = sched(state, entered, today, suspensions, plan).status
        got = index_status(state, entered, today, suspensions, plan)
        seen.add(expected)
        if got != expected:
            mismatches.append((today.isoformat(), got, expected))
    assert mismatches == [], f"{state} entered {entered}: {mismatches[:5]} ({len(mismatches)} days)"
    return seen


def every(first: date, days: int, step: int = 3) -> list[date]:
    return [first + i * DAY for i in range(0, days, step)]


def test_index_status_agrees_with_schedule_without_suspension():
    seen = set()
    for state, entered in CASES:
        seen |= assert_agree(state, entered, every(entered, 360))
    for state, entered in CASES[::3]:
        seen |= assert_agree(state, entered, every(entered, 360), plan=REPLAN)
    # The loops really went through every status.
    assert seen == {Status.DANS_LES_TEMPS, Status.A_RISQUE, Status.EN_RETARD}


def test_index_status_agrees_with_schedule_with_a_closed_suspension():
    for state, entered in CASES[1::2]:
        susp = [Suspension(entered + 20 * DAY, entered + 65 * DAY)]
        assert_agree(state, entered, every(entered + 65 * DAY, 300), susp)
        assert_agree(state, entered, every(entered + 65 * DAY, 300, 7), susp, REPLAN)


# (state, date entered, days from entering to the start of the open suspension)
OPEN_CASES = [
    (S.GROUPE_PROJET, STARTED, 0),  # suspended on the first day
    (S.GROUPE_PROJET, STARTED, 85),  # suspended 5 days before the step is due, for months
    (S.FAISABILITE, date(2024, 12, 15), 30),
    (S.VALIDATION, date(2025, 9, 30), 200),  # suspended once already overdue
    (S.EXPERTISE, date(2026, 10, 31), 60),  # suspended just before the horizon
]


@pytest.mark.parametrize(("state", "entered", "offset"), OPEN_CASES, ids=lambda x: str(x))
def test_index_status_agrees_with_schedule_during_an_open_suspension(state, entered, offset):
    """While suspended, the stored index compares the suspension start with frozen deadlines; the
    schedule moves every deadline by the days suspended so far. They must give the same status."""
    start = entered + offset * DAY
    susp = [Suspension(start)]
    if entered > STARTED + 200 * DAY:  # and an earlier, closed suspension
        susp.insert(0, Suspension(entered - 200 * DAY, entered - 190 * DAY))
    assert_agree(state, entered, every(start, 300), susp)
    assert_agree(state, entered, every(start, 300, 10), susp, REPLAN)


def test_index_status_agrees_with_schedule_at_a_month_end_boundary_during_suspension():
    """Préfiguration entered 1 Aug 2025 and suspended that day. Before the pause the projection is
    1 Feb 2027, one day past the horizon (a_risque). After 28 days of pause every deadline has moved
    28 days, yet add_months(29 Aug 2026, 6) = 28 Feb 2027 equals the shifted horizon: the schedule
    says dans_les_temps while the stored index still says a_risque. Pausing must be neutral."""
    entered = date(2025, 8, 1)
    susp = [Suspension(entered)]
    today = date(2025, 8, 29)
    assert index_status(S.PREFIGURATION, entered, entered, susp) is Status.A_RISQUE
    assert sched(S.PREFIGURATION, entered, entered, susp).status is Status.A_RISQUE
    assert sched(S.PREFIGURATION, entered, today, susp).status == index_status(S.PREFIGURATION, entered, today, susp)


# --- shifted ------------------------------------------------------------------------------------------


def test_shifted_ignores_suspensions_before_since_and_after_the_deadline():
    base = date(2024, 6, 1)
    susp = [Suspension(date(2024, 1, 1), date(2024, 1, 31)), Suspension(date(2024, 7, 1), date(2024, 8, 1))]
    assert shifted(base, susp, since=date(2024, 2, 1), open_until=date(2025, 1, 1)) == base


def test_shifted_counts_only_the_part_after_since():
    susp = [Suspension(date(2024, 1, 20), date(2024, 2, 10))]
    assert shifted(date(2024, 6, 1), susp, since=date(2024, 2, 1), open_until=date(2025, 1, 1)) == date(2024, 6, 10)


def test_shifted_cascades_into_a_later_suspension():
    # 10 days before the base push it into a second suspension that starts 5 days after the base.
    base = date(2024, 6, 1)
    susp = [Suspension(date(2024, 3, 1), date(2024, 3, 11)), Suspension(date(2024, 6, 6), date(2024, 6, 16))]
    assert shifted(base, susp, since=date(2024, 1, 1), open_until=date(2025, 1, 1)) == base + 20 * DAY


def test_shifted_open_suspension_counts_until_open_until():
    susp = [Suspension(date(2024, 3, 1))]
    assert shifted(date(2024, 6, 1), susp, since=date(2024, 1, 1), open_until=date(2024, 3, 1)) == date(2024, 6, 1)
    assert shifted(date(2024, 6, 1), susp, since=date(2024, 1, 1), open_until=date(2024, 3, 8)) == date(2024, 6, 8)
