"""History-based forecasts, the pure maths (workflow/forecast.py; DOMAIN.md "Forecasts")."""

from __future__ import annotations

import random
import statistics
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.deadlines import Period, Plan, Suspension
from workflow.forecast import (
    MIN_SAMPLES,
    Basis,
    Case,
    Summary,
    active_days,
    forecast,
    lived,
    percentile,
    plan_projection,
    plan_step_days,
    score,
    simulate,
)
from workflow.vocabulary import STEPS, State

S = State
D0 = date(2022, 1, 10)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


# --- percentiles on known samples ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4, 5], 0.5, 3),
        ([1, 2, 3, 4], 0.5, 2.5),
        ([1, 2, 3, 4, 5], 0.8, 4.2),  # h = 4 * 0.8 = 3.2: 4 + 0.2 * (5 - 4)
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9, 91),  # h = 8.1
        ([7], 0.8, 7),
        ([5, 1, 4, 2, 3], 0.0, 1),
        ([5, 1, 4, 2, 3], 1.0, 5),
        ([100, 200], 0.8, 180),
    ],
)
def test_percentile_known_samples(values: list[int], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


@given(st.lists(st.integers(min_value=0, max_value=5000), min_size=2, max_size=200))
def test_percentile_is_type_7_like_statistics_inclusive(values: list[int]) -> None:
    """statistics.quantiles(method="inclusive") is type 7 too: the deciles agree."""
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    for i, expected in enumerate(deciles, start=1):
        assert percentile(values, i / 10) == pytest.approx(expected)


@given(st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=100))
def test_percentiles_are_ordered_and_bounded(values: list[int]) -> None:
    s = Summary.of(values)
    assert s is not None
    assert min(values) <= s.p50 <= s.p80 <= s.p90 <= max(values)


def test_percentile_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    assert Summary.of([]) is None


# --- what a project lived ------------------------------------------------------------------------------
def test_active_days_excludes_suspended_days() -> None:
    pause = [Suspension(D0 + timedelta(days=10), D0 + timedelta(days=40))]
    assert active_days(D0, D0 + timedelta(days=100), pause, D0 + timedelta(days=100)) == 70
    # an open pause counts until `open_until`
    open_pause = [Suspension(D0 + timedelta(days=90))]
    assert active_days(D0, D0 + timedelta(days=100), open_pause, D0 + timedelta(days=95)) == 95


def test_repeated_step_counts_every_visit_and_pauses_are_excluded() -> None:
    periods = [
        Period(S.GROUPE_PROJET, d(0), d(100)),
        Period(S.CONTOURS, d(100), d(200)),
        Period(S.FAISABILITE, d(200), d(300)),  # back to contours (reprendre_contours)
        Period(S.CONTOURS, d(300), d(350)),
        Period(S.FAISABILITE, d(350), d(400)),
        Period(S.VALIDATION, d(400), None),
    ]
    pauses = [Suspension(d(120), d(150))]  # 30 days inside the first visit of contours
    out = lived(periods, pauses, state=S.VALIDATION, today=d(430))
    assert out.completed == {S.GROUPE_PROJET: 100, S.CONTOURS: 70 + 50, S.FAISABILITE: 100 + 50}
    assert out.current == S.VALIDATION and out.elapsed == 30
    # the second entry into contours knows the 70 days already spent there
    assert (S.CONTOURS, d(300), 70) in out.entries


def test_abandoned_step_is_not_completed() -> None:
    periods = [Period(S.GROUPE_PROJET, d(0), d(90)), Period(S.CONTOURS, d(90), d(120))]
    out = lived(periods, [], state=S.ABANDONNEE, today=d(500))
    assert out.completed == {S.GROUPE_PROJET: 90}
    assert out.current is None


def test_labelled_project_completed_every_step() -> None:
    periods = [Period(s, d(100 * i), d(100 * i + 100)) for i, s in enumerate(STEPS)]
    out = lived(periods, [], state=S.LABELLISEE, today=d(900))
    assert out.completed == dict.fromkeys(STEPS, 100)


# --- Monte-Carlo, conditioning, fallback ---------------------------------------------------------------
def _samples(n: int = 40, seed: int = 1) -> dict[State, list[int]]:
    rng = random.Random(seed)
    return {s: [rng.randint(60, 400) for _ in range(n)] for s in STEPS}


def test_simulation_is_deterministic() -> None:
    a = simulate([1, 2, 3], [[10, 20], [100, 300]])
    assert a == simulate([1, 2, 3], [[10, 20], [100, 300]])
    assert len(a) == 2000 and set(a) <= {x + y + z for x in (1, 2, 3) for y in (10, 20) for z in (100, 300)}


def test_single_valued_steps_give_their_sum() -> None:
    samples = {s: [100] * MIN_SAMPLES for s in STEPS}
    f = forecast([(Basis.NATIONAL, samples)], current=S.FAISABILITE, elapsed=30, as_of=D0)
    assert f.basis == Basis.NATIONAL
    assert f.p50_days == f.p80_days == 70 + 3 * 100
    assert f.p50_on == D0 + timedelta(days=370)
    assert f.sample_size == MIN_SAMPLES


def test_a_project_long_in_its_step_gets_a_later_forecast() -> None:
    samples = _samples()
    groups = [(Basis.NATIONAL, samples)]
    fresh = forecast(groups, current=S.CONTOURS, elapsed=0, as_of=D0)
    # the same project, 300 days later and still in the step
    long_ = forecast(groups, current=S.CONTOURS, elapsed=300, as_of=D0 + timedelta(days=300))
    assert long_.basis == fresh.basis == Basis.NATIONAL
    assert long_.p50_on is not None and fresh.p50_on is not None and long_.p80_on and fresh.p80_on
    assert long_.p50_on > fresh.p50_on  # still there after 300 days: a slow one
    # it rests only on the past projects that stayed at least 300 days
    assert long_.sample_size == sum(d >= 300 for d in samples[S.CONTOURS]) < fresh.sample_size


def test_conditioning_keeps_only_longer_stays() -> None:
    samples = {s: [50] * 10 + [500] * 10 for s in STEPS}
    f = forecast([(Basis.NATIONAL, samples)], current=S.EXPERTISE, elapsed=100, as_of=D0)
    # only the 500-day stays count: 400 days remain, whatever the draw
    assert f.p50_days == f.p80_days == 400
    assert f.sample_size == 10


def test_kind_region_first_then_national_then_plan() -> None:
    national = _samples(40)
    small = {s: v[: MIN_SAMPLES - 1] for s, v in _samples(40, seed=2).items()}
    f = forecast([(Basis.KIND_REGION, small), (Basis.NATIONAL, national)], current=S.VALIDATION, elapsed=0, as_of=D0)
    assert f.basis == Basis.NATIONAL and "même type et même région" in f.reason
    enough = _samples(12, seed=3)
    f = forecast([(Basis.KIND_REGION, enough), (Basis.NATIONAL, national)], current=S.VALIDATION, elapsed=0, as_of=D0)
    assert f.basis == Basis.KIND_REGION and f.reason == ""
    f = forecast([(Basis.KIND_REGION, small), (Basis.NATIONAL, small)], current=S.VALIDATION, elapsed=0, as_of=D0)
    assert f.basis == Basis.PLAN and f.p50_on is None and f.p80_on is None and f.sample_size == 0
    assert "moins de 10 projets" in f.reason


def test_only_remaining_steps_need_samples() -> None:
    """A project in the expertise needs samples of the expertise only."""
    samples: dict[State, list[int]] = {S.EXPERTISE: [200] * MIN_SAMPLES}
    f = forecast([(Basis.NATIONAL, samples)], current=S.EXPERTISE, elapsed=0, as_of=D0)
    assert f.basis == Basis.NATIONAL and f.p50_days == 200


def test_longer_than_every_past_project_falls_back() -> None:
    samples = {s: [100] * 30 for s in STEPS}
    f = forecast([(Basis.NATIONAL, samples)], current=S.CONTOURS, elapsed=101, as_of=D0)
    assert f.basis == Basis.PLAN
    assert "au moins 101 jours" in f.reason


@given(st.integers(min_value=0, max_value=380))
def test_p80_never_before_p50(elapsed: int) -> None:
    samples = _samples()
    f = forecast([(Basis.NATIONAL, samples)], current=S.FAISABILITE, elapsed=elapsed, as_of=D0)
    if f.basis != Basis.PLAN:
        assert f.p50_on is not None and f.p80_on is not None and D0 <= f.p50_on <= f.p80_on


def test_monte_carlo_matches_the_exact_convolution() -> None:
    """Two steps of known distributions: the exact quantiles of the sum, and the simulation's."""
    a, b = list(range(0, 100)), list(range(100, 300, 4))
    exact = sorted(x + y for x in a for y in b)  # every pair equally likely
    totals = simulate(a, [b], draws=20000)
    assert percentile(totals, 0.5) == pytest.approx(percentile(exact, 0.5), abs=3)
    assert percentile(totals, 0.8) == pytest.approx(percentile(exact, 0.8), abs=3)


# --- plan and backtest ---------------------------------------------------------------------------------
def test_plan_projection_from_an_entry() -> None:
    # default plan: validation 3 months, then 12 + 6
    assert plan_projection(Plan(), step=S.VALIDATION, entered_on=date(2024, 1, 31)) == date(2025, 10, 30)


def test_score() -> None:
    a = date(2025, 1, 1)
    cases = [
        Case(a, a + timedelta(days=10), a + timedelta(days=40), a - timedelta(days=100), Basis.NATIONAL),
        Case(a, a - timedelta(days=20), a - timedelta(days=5), a - timedelta(days=200), Basis.NATIONAL),
        Case(a, a + timedelta(days=30), a + timedelta(days=60), a + timedelta(days=10), Basis.KIND_REGION),
    ]
    s = score(cases)
    assert s.cases == 3
    assert s.history_median_abs_error == 20
    assert s.history_p80_coverage == pytest.approx(2 / 3)
    assert s.plan_median_abs_error == 100
    assert s.plan_coverage == pytest.approx(1 / 3)
    assert s.by_basis == {"national": 2, "kind_region": 1}


def test_a_later_step_without_history_counts_with_the_plan() -> None:
    """Per step: history where 10 past projects completed the step, the plan's days for the others."""
    samples: dict[State, list[int]] = {S.PREFIGURATION: [100] * MIN_SAMPLES, S.EXPERTISE: [50] * (MIN_SAMPLES - 1)}
    plan_days = plan_step_days(Plan())
    f = forecast([(Basis.NATIONAL, samples)], current=S.PREFIGURATION, elapsed=0, as_of=D0, plan_days=plan_days)
    assert f.basis == Basis.NATIONAL and f.plan_steps == (S.EXPERTISE,)
    assert f.p50_days == f.p80_days == 100 + plan_days[S.EXPERTISE] == 100 + round(6 * 365.25 / 12)
    assert [(s.step, s.basis, s.sample_size) for s in f.steps] == [
        (S.PREFIGURATION, Basis.NATIONAL, MIN_SAMPLES),
        (S.EXPERTISE, Basis.PLAN, 0),
    ]
    # without the plan's days, the whole forecast falls back to the plan, as before
    assert forecast([(Basis.NATIONAL, samples)], current=S.PREFIGURATION, elapsed=0, as_of=D0).basis == Basis.PLAN


def test_each_step_takes_the_most_specific_group_with_enough_samples() -> None:
    region = {S.VALIDATION: [10] * MIN_SAMPLES, S.PREFIGURATION: [20] * MIN_SAMPLES}
    national = {s: [1000] * MIN_SAMPLES for s in STEPS}
    f = forecast([(Basis.KIND_REGION, region), (Basis.NATIONAL, national)], current=S.VALIDATION, elapsed=0, as_of=D0)
    assert f.basis == Basis.KIND_REGION and f.plan_steps == ()
    assert [s.basis for s in f.steps] == [Basis.KIND_REGION, Basis.KIND_REGION, Basis.NATIONAL]
    assert f.p50_days == 10 + 20 + 1000
