"""Portfolio analytics (issue 16): consultants and admins only, over what they read; the page's numbers are
the API's."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.support.accounts import add_user, login
from tests.support.api import API, make_key


def _client(app, **key) -> TestClient:
    k, _ = make_key(app, **key)
    return TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {k}"})


def test_api_figures_and_visibility(history) -> None:
    with _client(history) as c:
        r = c.get(f"{API}/analytics")
        assert r.status_code == 200, r.text
        a = r.json()
    assert a["regions"] is None
    assert sum(x["count"] for x in a["by_region"]) >= 200
    steps = {t["step"]: t for t in a["step_times"]}
    assert len(steps) == 6 and all(t["sample_size"] >= 10 for t in steps.values())
    # the generator makes every step longer than planned, validation the most (x1.6)
    assert all(t["ratio"] > 1 for t in steps.values())
    assert a["bottlenecks"][0] == "validation"
    assert sum(y["count"] for y in a["labels_per_year"]) >= 80
    assert all(o["days_in_step"] > o["p90_days"] for o in a["outliers"])

    with _client(history, regions=["Occitanie"]) as c:
        mine = c.get(f"{API}/analytics").json()
    assert mine["regions"] == ["Occitanie"]
    assert {x["region"] for x in mine["by_region"]} == {"Occitanie"}
    assert sum(t["sample_size"] for t in mine["step_times"]) < sum(t["sample_size"] for t in a["step_times"])

    with _client(history, consultant=False) as c:
        refused = c.get(f"{API}/analytics")
    assert refused.status_code == 403 and "réservée aux consultants" in refused.json()["detail"]


def test_page_numbers_equal_the_api(history, fast_passwords) -> None:
    add_user(history, "claire@example.org", [("consultant", None, None)])
    with TestClient(history, raise_server_exceptions=False) as browser, _client(history) as api:
        login(browser, "claire@example.org")
        page = browser.get("/analyse")
        assert page.status_code == 200, page.text
        a = api.get(f"{API}/analytics").json()
    html = page.text
    assert 'aria-current="page"' in html and 'id="nav-analyse"' in html
    assert html.count("<svg") >= 2 and '<title id="graphe-durees-titre">' in html
    for t in a["step_times"]:
        row = re.search(rf'<tr data-step="{t["step"]}"><th scope="row">[^<]+</th><td>(\d+)</td><td>(\d+)</td>', html)
        assert row is not None, t["step"]
        assert int(row.group(1)) == t["sample_size"] and int(row.group(2)) == round(t["median_days"])
    for y in a["labels_per_year"]:
        assert f'<tr><th scope="row">{y["year"]}</th><td>{y["count"]}</td></tr>' in html


def test_page_refused_to_a_porteur(history, fast_passwords) -> None:
    add_user(history, "lea@example.org", [("observateur", None, "Occitanie")])
    with TestClient(history, raise_server_exceptions=False) as browser:
        login(browser, "lea@example.org")
        home = browser.get("/projets")
        assert 'id="nav-analyse"' not in home.text
        assert browser.get("/analyse").status_code == 403


def test_outliers_are_every_project_longer_than_its_step_p90(history) -> None:
    """The SQL pre-filter (entered before today - P90) loses none: the API's outliers are the first 20 of
    the projects whose current visit (a pause stops it) is longer than the step's national P90."""
    from sqlalchemy import select

    from app.projects.models import Project
    from tests.support.clock import TODAY
    from workflow.vocabulary import STEPS, State

    with _client(history) as c:
        a = c.get(f"{API}/analytics").json()
    p90 = {t["step"]: t["p90_days"] for t in a["step_times"] if t["p90_days"] is not None}
    with history.state.session_factory() as session:
        rows = session.execute(
            select(Project.id, Project.name, Project.state, Project.state_entered_on, Project.suspended_since).where(
                Project.state.in_([s.value for s in STEPS])
            )
        ).all()
    expected = []
    for pid, name, state, entered, suspended in rows:
        spent = ((suspended or TODAY) - entered).days
        if State(state).value in p90 and spent > p90[state]:
            expected.append((-spent / p90[state], name, str(pid)))
    expected.sort()
    assert expected, "the generated history has projects longer than the P90 in their step"
    assert [o["project_id"] for o in a["outliers"]] == [pid for _, _, pid in expected[:20]]


def test_before_any_refresh_the_durations_are_being_computed(client, fast_passwords) -> None:
    """Nothing stored yet: the counts are there, the durations say « en cours de calcul » (never computed in
    the request); after a refresh they appear."""
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.forecasts.service import refresh
    from tests.support.api import project_at
    from tests.support.clock import TODAY

    project_at(client, "contours", start=TODAY.replace(year=TODAY.year - 1))
    a = client.get(f"{API}/analytics").json()
    assert a["durations_computed_at"] is None and sum(x["count"] for x in a["by_region"]) == 1
    assert all(t["sample_size"] == 0 and t["median_days"] is None for t in a["step_times"])
    add_user(client.app, "claire@example.org", [("consultant", None, None)])
    with TestClient(client.app, raise_server_exceptions=False) as browser:
        login(browser, "claire@example.org")
        page = browser.get("/analyse")
        assert page.status_code == 200 and 'id="durees-en-cours"' in page.text
        refresh(UnitOfWorkFactory(client.app.state.session_factory), client.app.state.clock)
        assert 'id="durees-en-cours"' not in browser.get("/analyse").text
    after = client.get(f"{API}/analytics").json()
    assert after["durations_computed_at"] is not None
    steps = {t["step"]: t for t in after["step_times"]}
    assert steps["groupe_projet"]["sample_size"] == 1  # the project completed its first step
