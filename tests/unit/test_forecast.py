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
    Durations,
    Summary,
    TailCache,
    active_days,
    forecast,
    lived,
    percentile,
    plan_projection,
    plan_step_days,
    score,
    simulate,
    stretched_plan,
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


# --- Kaplan-Meier ----------------------------------------------------------------------------------------
# Freireich et al. (1963), 6-MP arm: weeks of remission of 21 leukaemia patients, 12 censored (+). The
# product-limit estimate is the textbook's (Kleinbaum & Klein, Survival Analysis, table 2.2): S(6) = .857,
# S(7) = .807, S(10) = .753, S(13) = .690, S(16) = .627, S(22) = .538, S(23) = .448.
FREIREICH_DONE = [6, 6, 6, 7, 10, 13, 16, 22, 23]
FREIREICH_OPEN = [6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]


def test_kaplan_meier_on_the_textbook_sample() -> None:
    km = Durations.of(FREIREICH_DONE, FREIREICH_OPEN)
    survival = {t: round(1 - c, 3) for t, c in zip(km.times, km.cdf, strict=True)}
    assert survival == {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.69, 16: 0.627, 22: 0.538, 23: 0.448, 35: 0.0}
    # Efron: the longest stay (35) is open, the mass left after 23 (.448) is put on it
    assert km.completed == 9 and km.stays == 21
    assert km.quantile(0.5) == 23  # the textbook's median: the first time S drops to .5 or below
    assert km.quantile(0.4) == 22 and km.quantile(0.8) == 35
    assert km.at_risk(10) == 15 and km.at_risk(36) == 0


def test_without_open_stays_it_is_the_empirical_distribution() -> None:
    km = Durations.of([5, 1, 4, 2, 3, 3])
    assert km.times == (1, 2, 3, 4, 5)
    assert [round(c, 6) for c in km.cdf] == [round(x / 6, 6) for x in (1, 2, 4, 5, 6)]
    assert km.quantile(0.5) == 3 and km.quantile(0.9) == 5 and km.quantile(0.0) == 1
    assert sorted(km.remainders(draws=6)) == [1, 2, 3, 3, 4, 5]  # each value its share of the draws


def test_open_stays_lengthen_the_estimate() -> None:
    """Survivorship: ten stays completed in about 100 days and ten still open after 300: leaving the open
    ones out says a median of 100; with them, most stays last longer than 100."""
    done = [90, 95, 100, 100, 105, 110, 400, 420, 450, 480]
    naive = Durations.of(done)
    km = Durations.of(done, [300] * 10)
    assert naive.quantile(0.5) == 105
    assert km.quantile(0.5) > 300 and km.quantile(0.8) >= km.quantile(0.5)
    # at risk at 300: the four completed later and the ten open
    assert km.at_risk(300) == 14
    national = dict.fromkeys(STEPS, km)
    plain = dict.fromkeys(STEPS, naive)
    f = forecast([(Basis.NATIONAL, national)], current=S.EXPERTISE, elapsed=0, as_of=D0)
    g = forecast([(Basis.NATIONAL, plain)], current=S.EXPERTISE, elapsed=0, as_of=D0)
    assert f.p80_on is not None and g.p80_on is not None and f.p80_on > g.p80_on


def test_an_open_stay_shorter_than_a_completed_one_is_at_risk_only_until_then() -> None:
    # stays 10 (completed), 20 (open), 30 (completed): S(10) = 2/3; at 30 one at risk: S(30) = 0
    km = Durations.of([10, 30], [20])
    assert km.times == (10, 30) and [round(c, 6) for c in km.cdf] == [round(1 / 3, 6), 1.0]
    # an open stay of 0 days says nothing: it is not kept
    assert Durations.of([10], [0]).open == ()


def test_conditioning_on_the_kaplan_meier_distribution() -> None:
    km = Durations.of(FREIREICH_DONE, FREIREICH_OPEN)
    # given at least 16 weeks: S(16-) = .690; P(16) = .063/.690, P(22) = .089/.690, P(23) = .090/.690, rest at 35
    assert km.quantile(0.05, elapsed=16) == 0  # 16 - 16
    assert km.quantile(0.2, elapsed=16) == 6  # 22 - 16: .091 < .2 <= .091 + .129
    assert km.quantile(0.5, elapsed=16) == 19  # 35 - 16: .35 < .5
    rest = km.remainders(elapsed=16, draws=1000)
    assert rest == sorted(rest) and set(rest) == {0, 6, 7, 19}
    assert abs(rest.count(19) / 1000 - 0.448 / 0.690) < 0.002
    with pytest.raises(ValueError, match="as long as elapsed"):
        km.remainders(elapsed=36)


@given(
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=60),
    st.lists(st.integers(min_value=0, max_value=400), max_size=60),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=1, max_value=500),
)
def test_remainders_are_the_inverse_distribution_at_evenly_spaced_points(
    done: list[int], open_: list[int], elapsed: int, draws: int
) -> None:
    """The counting in `remainders` agrees with the definition: the point (i + 1/2) / draws of the
    conditional distribution, found by search, for every i."""
    from bisect import bisect_left

    km = Durations.of(done, open_)
    if km.times[-1] < elapsed:
        return
    k = bisect_left(km.times, elapsed)
    base = km.cdf[k - 1] if k else 0.0
    expected = []
    for i in range(draws):
        target = base + (i + 0.5) / draws * (1 - base)
        j = max(bisect_left(km.cdf, target - 1e-9), k)  # reaches the target, up to rounding
        expected.append(km.times[min(j, len(km.times) - 1)] - elapsed)
    assert km.remainders(elapsed=elapsed, draws=draws) == expected
    assert km.cdf[-1] == 1.0 and list(km.cdf) == sorted(km.cdf)


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


def test_abandoned_step_is_not_completed_but_open_at_abandonment() -> None:
    periods = [Period(S.GROUPE_PROJET, d(0), d(90)), Period(S.CONTOURS, d(90), d(120))]
    out = lived(periods, [], state=S.ABANDONNEE, today=d(500))
    assert out.completed == {S.GROUPE_PROJET: 90}
    assert out.current is None
    # it lasted at least the 30 days lived before the abandonment (censored there), not the 410 since
    assert out.open_stay == (S.CONTOURS, 30)


def test_the_current_step_is_an_open_stay_of_the_days_so_far() -> None:
    periods = [Period(S.GROUPE_PROJET, d(0), d(90)), Period(S.CONTOURS, d(90), None)]
    out = lived(periods, [Suspension(d(100), d(110))], state=S.CONTOURS, today=d(200))
    assert out.open_stay == (S.CONTOURS, 100) and out.elapsed == 100
    labelled = lived(
        [Period(s, d(10 * i), d(10 * i + 10)) for i, s in enumerate(STEPS)], [], state=S.LABELLISEE, today=d(90)
    )
    assert labelled.open_stay is None


def test_labelled_project_completed_every_step() -> None:
    periods = [Period(s, d(100 * i), d(100 * i + 100)) for i, s in enumerate(STEPS)]
    out = lived(periods, [], state=S.LABELLISEE, today=d(900))
    assert out.completed == dict.fromkeys(STEPS, 100)


# --- Monte-Carlo, conditioning, fallback ---------------------------------------------------------------
def _raw(n: int = 40, seed: int = 1) -> dict[State, list[int]]:
    rng = random.Random(seed)
    return {s: [rng.randint(60, 400) for _ in range(n)] for s in STEPS}


def _samples(n: int = 40, seed: int = 1) -> dict[State, Durations]:
    return {s: Durations.of(v) for s, v in _raw(n, seed).items()}


def _all(days: list[int]) -> dict[State, Durations]:
    return dict.fromkeys(STEPS, Durations.of(days))


def test_simulation_is_deterministic() -> None:
    now, later = Durations.of([1, 2, 3]), [Durations.of([10, 20]), Durations.of([100, 300])]
    a = simulate(now, later)
    assert a == simulate(now, later)
    assert len(a) == 2000 and set(a) == {x + y + z for x in (1, 2, 3) for y in (10, 20) for z in (100, 300)}


def test_single_valued_steps_give_their_sum() -> None:
    samples = _all([100] * MIN_SAMPLES)
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
    assert long_.sample_size == sum(d >= 300 for d in samples[S.CONTOURS].done) < fresh.sample_size


def test_conditioning_keeps_only_longer_stays() -> None:
    samples = _all([50] * 10 + [500] * 10)
    f = forecast([(Basis.NATIONAL, samples)], current=S.EXPERTISE, elapsed=100, as_of=D0)
    # only the 500-day stays count: 400 days remain, whatever the draw
    assert f.p50_days == f.p80_days == 400
    assert f.sample_size == 10


def test_kind_region_first_then_national_then_plan() -> None:
    national = _samples(40)
    small = {s: Durations.of(v[: MIN_SAMPLES - 1]) for s, v in _raw(40, seed=2).items()}
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
    samples = {S.EXPERTISE: Durations.of([200] * MIN_SAMPLES)}
    f = forecast([(Basis.NATIONAL, samples)], current=S.EXPERTISE, elapsed=0, as_of=D0)
    assert f.basis == Basis.NATIONAL and f.p50_days == 200


def test_longer_than_every_past_project_falls_back() -> None:
    samples = _all([100] * 30)
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
    totals = simulate(Durations.of(a), [Durations.of(b)], draws=20000)
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


def test_a_later_step_without_history_counts_with_the_plan_stretched() -> None:
    """Per step: history where 10 past projects completed the step; a step without it counts with its plan's
    days stretched as the other steps ran over theirs (their durations over their planned days)."""
    samples = {S.PREFIGURATION: Durations.of([730] * MIN_SAMPLES), S.EXPERTISE: Durations.of([50] * (MIN_SAMPLES - 1))}
    plan_days = plan_step_days(Plan())
    assert plan_days[S.PREFIGURATION] == 365 and plan_days[S.EXPERTISE] == 183
    f = forecast([(Basis.NATIONAL, samples)], current=S.PREFIGURATION, elapsed=0, as_of=D0, plan_days=plan_days)
    assert f.basis == Basis.NATIONAL and f.plan_steps == (S.EXPERTISE,)
    # the préfiguration took twice its plan: the expertise counts for twice its 183 days
    assert f.p50_days == f.p80_days == 730 + 366
    assert [(s.step, s.basis, s.sample_size) for s in f.steps] == [
        (S.PREFIGURATION, Basis.NATIONAL, MIN_SAMPLES),
        (S.EXPERTISE, Basis.PLAN, MIN_SAMPLES),
    ]
    # without the plan's days, the whole forecast falls back to the plan, as before
    assert forecast([(Basis.NATIONAL, samples)], current=S.PREFIGURATION, elapsed=0, as_of=D0).basis == Basis.PLAN


def test_stretched_plan_pools_every_step_with_history_and_keeps_open_stays() -> None:
    plan_days = dict.fromkeys(STEPS, 100)
    plan_days[S.EXPERTISE] = 50
    group = {
        S.GROUPE_PROJET: Durations.of([100] * MIN_SAMPLES),  # on plan
        S.CONTOURS: Durations.of([300] * MIN_SAMPLES, [400]),  # three times the plan, one still open at 400
        S.FAISABILITE: Durations.of([900] * (MIN_SAMPLES - 1)),  # too little history: not pooled
    }
    got = stretched_plan([(Basis.NATIONAL, group)], S.EXPERTISE, plan_days)
    assert got is not None
    assert got.done == (50,) * MIN_SAMPLES + (150,) * MIN_SAMPLES and got.open == (200,)
    assert stretched_plan([(Basis.NATIONAL, {S.FAISABILITE: group[S.FAISABILITE]})], S.EXPERTISE, plan_days) is None
    # nothing to stretch from in the widest group (national): the plan's days as they are
    f = forecast(
        [(Basis.KIND_REGION, {S.PREFIGURATION: Durations.of([40] * MIN_SAMPLES)}), (Basis.NATIONAL, {})],
        current=S.PREFIGURATION,
        elapsed=0,
        as_of=D0,
        plan_days=plan_days,
    )
    assert f.p50_days == 40 + 50 and f.plan_steps == (S.EXPERTISE,)


def test_each_step_takes_the_most_specific_group_with_enough_samples() -> None:
    region = {S.VALIDATION: Durations.of([10] * MIN_SAMPLES), S.PREFIGURATION: Durations.of([20] * MIN_SAMPLES)}
    national = _all([1000] * MIN_SAMPLES)
    f = forecast([(Basis.KIND_REGION, region), (Basis.NATIONAL, national)], current=S.VALIDATION, elapsed=0, as_of=D0)
    assert f.basis == Basis.KIND_REGION and f.plan_steps == ()
    assert [s.basis for s in f.steps] == [Basis.KIND_REGION, Basis.KIND_REGION, Basis.NATIONAL]
    assert f.p50_days == 10 + 20 + 1000


def test_the_shared_cache_changes_nothing_but_the_work() -> None:
    """Forecasts over the same groups share the later steps' sums and the stretched plans: the same answers
    with the cache as without, and one entry per distinct set of later steps."""
    national, region = _samples(40), _samples(12, seed=5)
    national.pop(S.EXPERTISE)  # no history of the expertise anywhere: counted with the stretched plan
    region.pop(S.EXPERTISE)
    groups = [(Basis.KIND_REGION, region), (Basis.NATIONAL, national)]
    cache = TailCache()
    plan_days = plan_step_days(Plan())
    for elapsed in (0, 30, 90):
        for step in (S.CONTOURS, S.VALIDATION):
            shared = forecast(groups, current=step, elapsed=elapsed, as_of=D0, cache=cache, plan_days=plan_days)
            alone = forecast(groups, current=step, elapsed=elapsed, as_of=D0, plan_days=plan_days)
            assert shared == alone
    assert len(cache.tails) == 2 and len(cache.stretched) == 1
