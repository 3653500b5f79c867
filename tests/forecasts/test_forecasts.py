"""History-based forecasts (issue 16): distributions against the generated history's known truth, the
backtest, the API, the fallback to the plan, why late."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select

from app.core.database import make_session_factory
from app.core.unit_of_work import UnitOfWorkFactory
from app.demo.history import FORWARD, true_median
from app.forecasts import backtest
from app.forecasts.models import NATIONAL, ProjectForecast, StepDistribution
from app.forecasts.repository import ForecastRepository
from tests.support.accounts import fast_passwords
from tests.support.api import API, create_project, post, project_at
from tests.support.clock import TODAY
from workflow import forecast as fc
from workflow.deadlines import Plan
from workflow.vocabulary import STEPS, Kind, State, Trigger

__all__ = ["fast_passwords"]  # autouse: logins in this module hash with tiny parameters

NEXT = {FORWARD[s]: t for s, t in zip(STEPS, (*STEPS[1:], State.LABELLISEE), strict=True)}
BACK = {Trigger.REPRENDRE_CONTOURS: State.CONTOURS, Trigger.REPRENDRE_FAISABILITE: State.FAISABILITE}
BACK[Trigger.AJOURNER_LABEL] = State.PREFIGURATION


def _lived(life) -> tuple[dict[State, int], tuple[State, int] | None]:
    """The steps a generated project completed, with their days as it lived them, and its open stay (the
    step it is in as of TODAY, or was abandoned in, with the days spent there), from the generator's own
    plan of its life (not from the database): visits added up, pauses taken out."""
    state, entered, pause_start, paused = State.GROUPE_PROJET, life.start, None, 0
    days: dict[State, int] = defaultdict(int)
    abandoned = False
    for op in life.ops:
        if op.what != "fire":
            continue
        if op.trigger == Trigger.SUSPENDRE:
            pause_start = op.day
        elif op.trigger == Trigger.REPRENDRE:
            paused += (op.day - pause_start).days
            pause_start = None
        else:
            days[state] += (op.day - entered).days - paused
            if op.trigger == Trigger.ABANDONNER:
                abandoned = True
                break
            state, entered, paused = NEXT.get(op.trigger) or BACK[op.trigger], op.day, 0
    reached = len(STEPS) if state == State.LABELLISEE else STEPS.index(state)
    done = {s: days[s] for s in STEPS[:reached]}
    if life.outcome == "labellisee":
        assert done == life.active  # a labelled project lived every drawn duration, whatever its visits
        return done, None
    if not abandoned:  # still in `state` today (a pause still open stops the count at its start)
        days[state] += ((pause_start or TODAY) - entered).days - paused
    return done, (state, days[state])


def _truth(lives) -> dict[tuple[str, str], dict[State, tuple[list[int], list[int]]]]:
    out: dict[tuple[str, str], dict[State, tuple[list[int], list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: ([], []))
    )
    for life in lives:
        done, stay = _lived(life)
        for key in ((life.kind.value, life.region), (NATIONAL, NATIONAL)):
            for step, d in done.items():
                out[key][step][0].append(d)
            if stay is not None and stay[1] > 0:
                out[key][stay[0]][1].append(stay[1])
    return out


def test_distributions_are_the_generated_durations(history_database) -> None:
    """Every stored duration is a drawn one: completed stays with suspended days excluded, a step gone back
    to counted once with all its visits; open stays (the step a project is in, or was abandoned in) with
    the days spent there so far; the quantiles are the Kaplan-Meier estimate's."""
    engine, lives = history_database
    truth = _truth(lives)
    outcomes = {life.outcome for life in lives}
    assert outcomes == {"labellisee", "abandonnee", "en_cours"}
    assert sum(life.outcome == "labellisee" for life in lives) * 2 >= len(lives) * 0.8  # about half labelled
    assert any(op.trigger and op.trigger.value == "suspendre" for life in lives for op in life.ops)
    assert any(
        op.trigger and op.trigger.value.startswith(("reprendre_c", "reprendre_f", "ajourner"))
        for life in lives
        for op in life.ops
    )
    with make_session_factory(engine)() as session:
        rows = list(session.scalars(select(StepDistribution)))
    assert rows
    opened = 0
    for r in rows:
        done, open_ = truth[(r.kind, r.region)][State(r.step)]
        assert r.days == {"done": sorted(done), "open": sorted(open_)}, (r.kind, r.region, r.step)
        assert r.sample_size == len(done)
        assert r.p50 == fc.Durations.of(done, open_).quantile(0.5)
        opened += len(open_)
    assert opened > 0  # projects under way and abandoned ones are there, as open stays


def test_estimates_recover_the_true_medians(history_database) -> None:
    """Groups with at least 15 samples: the estimated median within 30 % of the generator's true median
    (log-normal, sigma 0.35: the sampling error of a median of 15 is about 11 %)."""
    engine, _ = history_database
    with make_session_factory(engine)() as session:
        rows = list(session.scalars(select(StepDistribution).where(StepDistribution.region != NATIONAL)))
    checked = 0
    for r in rows:
        if r.sample_size >= 15:
            true = true_median(State(r.step), Kind(r.kind), r.region)
            assert abs(math.log(r.p50 / true)) < 0.3, (r.step, r.kind, r.region, r.p50, true)
            checked += 1
    assert checked >= 20
    # the régions differ as generated: Île-de-France (x1.25) slower than Hauts-de-France (x0.9)
    by = {(r.region, r.step): r.p50 for r in rows if r.kind == Kind.REGIE_DE_QUARTIER.value}
    assert by[("Île-de-France", "validation")] > by[("Hauts-de-France", "validation")]


def test_backtest_meets_the_target_and_beats_the_plan(history_database) -> None:
    """The live forecast replayed at every step entry of every labelled project (training `as_of`: what any
    project had completed, and the stays still open that day, censored): P80 covers the real label date 70
    to 90 % of the time over every entry, the plan's fallbacks included, and the median error beats the
    plan's. The issue's `labelled` training (only projects labelled before the entry: nothing open to
    learn from) beats the plan too, and meets the coverage where it has history."""
    engine, _ = history_database
    uows = UnitOfWorkFactory(make_session_factory(engine))
    with uows(write=False) as uow:
        histories = list(ForecastRepository(uow.session).histories())
    _, live = backtest.run(histories, plan=Plan(), today=TODAY, training="as_of")
    every = fc.score(live)
    assert every.cases >= 600
    assert 0.70 <= every.history_p80_coverage <= 0.90, every
    assert every.history_median_abs_error < every.plan_median_abs_error
    replayed = fc.score([c for c in live if c.basis != fc.Basis.PLAN])
    assert 0.70 <= replayed.history_p80_coverage <= 0.90, replayed
    assert replayed.history_median_abs_error < replayed.plan_median_abs_error
    table = backtest.table(live)
    assert "history-based" in table and "plan-based" in table

    _, cases = backtest.run(histories, plan=Plan(), today=TODAY)
    with_history = fc.score([c for c in cases if c.basis != fc.Basis.PLAN])
    assert len(cases) == len(live) and with_history.cases < replayed.cases  # fewer projects to learn from
    assert 0.70 <= with_history.history_p80_coverage <= 0.90, with_history
    assert with_history.history_median_abs_error < with_history.plan_median_abs_error
    assert fc.score(cases).history_median_abs_error < fc.score(cases).plan_median_abs_error


def test_open_stays_make_the_backtest_later_than_completed_ones_alone(history_database) -> None:
    """Survivorship, measured: the same replay without the open stays (completed stays only, as before
    Kaplan-Meier) forecasts earlier, and covers fewer real label dates."""
    engine, _ = history_database
    uows = UnitOfWorkFactory(make_session_factory(engine))
    with uows(write=False) as uow:
        histories = list(ForecastRepository(uow.session).histories())
    _, with_open = backtest.run(histories, plan=Plan(), today=TODAY, training="as_of")
    _, without = backtest.run(histories, plan=Plan(), today=TODAY, training="as_of", censored=False)
    assert len(with_open) == len(without)
    later = sum(a.p80 > b.p80 for a, b in zip(with_open, without, strict=True))
    earlier = sum(a.p80 < b.p80 for a, b in zip(with_open, without, strict=True))
    assert later > 3 * earlier
    assert fc.score(with_open).history_p80_coverage > fc.score(without).history_p80_coverage


def test_the_answer_names_the_steps_counted_with_the_plan() -> None:
    from app.forecasts.service import message_of

    samples = {
        State.PREFIGURATION: fc.Durations.of([100] * fc.MIN_SAMPLES),
        State.EXPERTISE: fc.Durations.of([50] * 3),
    }
    f = fc.forecast(
        [(fc.Basis.NATIONAL, samples)],
        current=State.PREFIGURATION,
        elapsed=0,
        as_of=TODAY,
        plan_days=fc.plan_step_days(Plan()),
    )
    message = message_of(f, kind_region_words="")
    assert message.startswith("Prévision fondée sur 10 projets passés au niveau national")
    assert message.endswith(
        "Faute de 10 projets passés qui l'ont terminée, l'étape « Expertise et labellisation » compte pour la "
        "durée du plan, corrigée de l'écart au plan observé sur les autres étapes."
    ), message


def test_open_projects_have_a_forecast_in_the_api(history) -> None:
    from fastapi.testclient import TestClient

    from tests.support.api import make_key

    key, _ = make_key(history)
    with TestClient(history, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
        items = c.get(f"{API}/projects", params={"state": "faisabilite", "page_size": 5}).json()["items"]
        assert items
        f = c.get(f"{API}/projects/{items[0]['id']}/forecast")
        assert f.status_code == 200, f.text
        body = f.json()
        assert body["basis"] in ("kind_region", "national")
        assert body["sample_size"] >= fc.MIN_CONDITIONED
        assert body["p50_label_on"] <= body["p80_label_on"]
        assert body["plan_label_on"] and body["current_step"] == "faisabilite"
        assert "Prévision fondée sur" in body["message"]
        assert [s["step"] for s in body["steps"]] == ["faisabilite", "validation", "prefiguration", "expertise"]
        # the stored forecast of the last refresh agrees with the live one (same day, nothing changed)
        with history.state.session_factory() as session:
            stored = session.get(ProjectForecast, __import__("uuid").UUID(items[0]["id"]))
        assert stored is not None
        assert stored.p80_on.isoformat() == body["p80_label_on"]
        # a labelled project has none
        done = c.get(f"{API}/projects", params={"state": "labellisee", "page_size": 1}).json()["items"][0]
        closed = c.get(f"{API}/projects/{done['id']}/forecast").json()
        assert closed["basis"] is None and closed["p80_label_on"] is None


def test_before_any_refresh_the_plan_stands_and_the_forecast_is_being_computed(client) -> None:
    """Nothing stored yet (no refresh ran): the plan's projection, « en cours de calcul », nothing computed
    in the request (a read never writes, and it stays cheap)."""
    from app.forecasts.models import ForecastRefresh

    p = create_project(client)
    r = client.get(f"{API}/projects/{p['id']}/forecast")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["basis"] == "plan" and body["sample_size"] == 0 and body["computed_at"] is None
    assert body["p50_label_on"] is None and body["plan_label_on"] == p["projected_label_on"]
    assert "en cours de calcul" in body["message"] and "la projection du plan s'applique" in body["message"]
    with client.app.state.session_factory() as session:
        assert session.get(ForecastRefresh, 1) is None and not session.scalars(select(StepDistribution)).all()
    assert client.get(f"{API}/projects/00000000-0000-0000-0000-000000000000/forecast").status_code == 404


def test_without_enough_history_the_plan_stands(client) -> None:
    from app.forecasts.service import refresh

    p = create_project(client)
    refresh(UnitOfWorkFactory(client.app.state.session_factory), client.app.state.clock)
    body = client.get(f"{API}/projects/{p['id']}/forecast").json()
    assert body["basis"] == "plan" and body["sample_size"] == 0 and body["computed_at"] is not None
    assert body["message"].startswith("Pas assez d'historique pour une prévision fondée sur les projets passés")
    assert "la projection du plan s'applique" in body["message"]


def test_why_late_longest_unmet_first(client) -> None:
    start = TODAY - timedelta(days=400)
    p = project_at(client, "contours", start=start)  # contours entered 390 days ago: 4 months planned
    need = post(client, f"/projects/{p['id']}/needs", {"label": "Entretien des halls"})
    assert client.delete(f"{API}/projects/{p['id']}/needs/{need['id']}").status_code in (200, 204)
    body = client.get(f"{API}/projects/{p['id']}/forecast").json()
    assert body["status"] == "en_retard"
    codes = [w["code"] for w in body["why_late"]]
    # unmet since the step began, in the workflow's order; the need deleted today comes last
    assert codes == ["territoire_defini", "activites_prioritaires", "besoins_identifies"]
    first, last = body["why_late"][0], body["why_late"][-1]
    assert first["unmet_since"] == p["state_entered_on"] and first["days"] == (TODAY - start).days - 10
    assert last["unmet_since"] == TODAY.isoformat() and last["days"] == 0


def test_generated_history_verifies_clean(history_database) -> None:
    """Told through the services: events, hash chains and rows agree (regieflow verify)."""
    from app.transitions.verify import verify

    engine, lives = history_database
    checked, findings = verify(UnitOfWorkFactory(make_session_factory(engine)), checkpoints=False)
    assert checked == len(lives) and findings == []


def test_portfolio_filter_and_sort_by_p80_after_the_horizon(history) -> None:
    """GET /projects?p80_after_horizon=… and sort=p80_label_on read the stored forecasts of the last refresh."""
    from fastapi.testclient import TestClient

    from tests.support.api import make_key

    with history.state.session_factory() as session:
        stored = {str(f.project_id): f for f in session.scalars(select(ProjectForecast))}
    after = {pid for pid, f in stored.items() if f.p80_after_horizon}
    assert after and len(after) < len(stored)  # both kinds exist in the generated history

    key, _ = make_key(history)
    with TestClient(history, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:

        def every(**params: object) -> list[dict]:
            r = c.get(f"{API}/projects", params={**params, "page_size": 100})
            assert r.status_code == 200, r.text
            body = r.json()
            items = list(body["items"])
            page = 1
            while len(items) < body["total"]:
                page += 1
                items += c.get(f"{API}/projects", params={**params, "page_size": 100, "page": page}).json()["items"]
            return items

        late = every(p80_after_horizon="true")
        assert {p["id"] for p in late} == after
        on_time = every(p80_after_horizon="false")
        assert {p["id"] for p in on_time} == set(stored) - after
        # combined with the other filters, and sorted by the stored P80 (ascending, then descending)
        region = every(p80_after_horizon="true", region="Île-de-France", sort="p80_label_on")
        assert region and {p["region"] for p in region} == {"Île-de-France"}
        dates = [stored[p["id"]].p80_on for p in region]
        assert dates == sorted(dates)
        ranked = every(sort="-p80_label_on")
        with_p80 = [stored[p["id"]].p80_on for p in ranked if p["id"] in stored and stored[p["id"]].p80_on]
        assert with_p80 == sorted(with_p80, reverse=True)
        assert ranked[: len(with_p80)] == [p for p in ranked if p["id"] in stored and stored[p["id"]].p80_on]
        assert c.get(f"{API}/projects", params={"p80_after_horizon": "peut-être"}).status_code == 422


def test_portfolio_page_checkbox_and_column(history) -> None:
    """/projets: the « Label P80 après l'horizon » checkbox keeps the same projects as the API, the column
    shows the stored P80 and sorts by it."""
    from fastapi.testclient import TestClient

    from tests.support.accounts import add_user, login

    with history.state.session_factory() as session:
        stored = {str(f.project_id): f for f in session.scalars(select(ProjectForecast))}
    after = {pid for pid, f in stored.items() if f.p80_after_horizon}
    add_user(history, "claire@example.org", [("consultant", None, None)])
    with TestClient(history, raise_server_exceptions=False) as browser:
        login(browser, "claire@example.org")
        page = browser.get("/projets", params={"p80_apres_horizon": "1", "par_page": 100})
        assert page.status_code == 200, page.text
        html = page.text
        assert 'id="f-p80" name="p80_apres_horizon" type="checkbox" value="1" checked' in html
        shown = set(re.findall(r'<tr data-project-id="([0-9a-f-]+)"', html))
        assert shown == after and len(after) <= 100
        assert html.count("après l'horizon</span>") == len(after)
        # the column's header sorts by the stored P80, the latest first, then the other way round
        page = browser.get("/projets", params={"tri": "-p80_label_on", "par_page": 100})
        assert 'aria-sort="descending" data-sort="p80_label_on"' in page.text
        cells = [d for d in re.findall(r'data-p80="([0-9-]*)"', page.text) if d]
        assert cells and cells == sorted(cells, reverse=True)
        first = re.findall(r'<tr data-project-id="([0-9a-f-]+)"', page.text)[0]
        assert stored[first].p80_on == max(f.p80_on for f in stored.values() if f.p80_on)


def test_a_changed_distribution_is_never_served_from_the_process_cache(history) -> None:
    """The stored groups are cached under their rows' fingerprint (counts, quantiles, refresh time and
    watermark): new rows, a new forecast."""
    from fastapi.testclient import TestClient

    from tests.support.api import make_key

    key, _ = make_key(history)
    with TestClient(history, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
        items = c.get(f"{API}/projects", params={"state": "contours", "page_size": 20}).json()["items"]
        answers = {p["id"]: c.get(f"{API}/projects/{p['id']}/forecast").json() for p in items}
        pid, before = next((k, v) for k, v in answers.items() if v["basis"] in ("kind_region", "national"))
        assert c.get(f"{API}/projects/{pid}/forecast").json() == before  # the cached groups: the same answer
        with history.state.session_factory() as session:
            for row in session.scalars(select(StepDistribution)):
                days = dict(row.days)  # type: ignore[arg-type]
                row.days = {"done": [d * 3 for d in days["done"]], "open": [d * 3 for d in days["open"]]}
                row.p50, row.p80, row.p90 = row.p50 * 3, row.p80 * 3, row.p90 * 3
            session.commit()
        after = c.get(f"{API}/projects/{pid}/forecast").json()
    assert after["p50_label_on"] > before["p50_label_on"]
    assert after["steps"][1]["p50_days"] == 3 * before["steps"][1]["p50_days"]
