"""The portfolio's stored sort and status keys (app.projects.sort_keys, migration 0014) give the list the
same projects, in the same order, with the same totals, as computing them on every row; on both
databases, for every sort in both directions, with each filter, on the day they were refreshed for and
after days have passed (paused projects' dates move, due dates pass); and a refresh never overwrites
what a write did meanwhile."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from app.core.unit_of_work import UnitOfWorkFactory
from app.projects import sort_keys
from app.projects.models import PortfolioKeys, Project
from app.projects.repository import SORTS, ProjectRepository

TODAY = date(2026, 12, 2)
PLAN = {"groupe_projet": 3, "contours": 6, "faisabilite": 9, "validation": 3, "prefiguration": 9, "expertise": 6}
OPEN = ("groupe_projet", "contours", "faisabilite", "validation", "prefiguration", "expertise")
NAMES = ("Régie de l'Alma", "régie de l'alma", "Île Verte", "Œillet", "Zèbre", "Écluse", "alma")
REGIONS = ("Bretagne", "Île-de-France", "Occitanie", "Grand Est", "Région inconnue")


@pytest.fixture
def portfolio(session_factory):
    """120 projects, open and closed, some paused (before or after their due dates), with dates, names
    and régions drawn from small sets so that ties abound; no dated keys yet (as after migration 0014)."""
    r = random.Random(17)
    days = [TODAY + timedelta(days=d) for d in (-500, -60, -1, 0, 1, 30, 45, 400, 900)]
    with session_factory() as s:
        for _ in range(120):
            state = r.choice((*OPEN, *OPEN, "labellisee", "abandonnee"))
            closed = state in ("labellisee", "abandonnee")
            step = None if closed else r.choice(days)
            horizon = r.choice(days)
            s.add(
                Project(
                    id=uuid.UUID(int=r.getrandbits(128)),
                    name=r.choice(NAMES),
                    kind=r.choice(("regie_de_quartier", "regie_de_territoire")),
                    region=r.choice(REGIONS),
                    state=state,
                    suspended_since=None if closed or r.random() < 0.7 else r.choice(days[:4]),
                    started_on=TODAY - timedelta(days=r.choice((100, 500, 900))),
                    state_entered_on=TODAY - timedelta(days=100),
                    last_transition_on=TODAY - timedelta(days=100),
                    step_months=PLAN,
                    horizon_months=36,
                    horizon_on=horizon,
                    step_due_on=step,
                    projected_label_on=None if closed else r.choice(days),
                    version=1,
                )
            )
        s.commit()
        s.execute(update(Project).values({k: None for k in sort_keys.DATED}))  # as before any refresh
        s.commit()
    return session_factory


def _page(session_factory, today: date, **filters) -> tuple[list[uuid.UUID], int, bool]:
    with session_factory() as s:
        repo = ProjectRepository(s)
        found, total = repo.search(today=today, limit=500, **filters)
        return [p.id for p in found], total, repo.keys_current(today)


FILTERS = [
    {},
    {"status": ["en_retard"]},
    {"status": ["a_risque", "dans_les_temps"]},
    {"state": ["contours", "labellisee"]},
    {"region": ["Île-de-France"]},
    {"kind": "regie_de_territoire", "status": ["dans_les_temps"]},
    {"q": "alma"},
]


@pytest.mark.parametrize("later", [0, 1, 40, 800])
def test_stored_keys_give_the_pages_computed_keys_give(portfolio, later: int) -> None:
    day = TODAY + timedelta(days=later)
    expected = {}
    for sort in (*SORTS, *(f"-{s}" for s in SORTS)):
        for i, filters in enumerate(FILTERS):
            ids, total, current = _page(portfolio, day, sort=sort, **filters)
            assert not current
            expected[sort, i] = (ids, total)
    assert sort_keys.refresh(UnitOfWorkFactory(portfolio), day, batch=7) > 0
    for (sort, i), (ids, total) in expected.items():
        got_ids, got_total, current = _page(portfolio, day, sort=sort, **FILTERS[i])
        assert current
        assert (got_ids, got_total) == (ids, total), (sort, FILTERS[i])
    assert any(total for _ids, total in expected.values())
    # the day after, the keys are stale: the list computes them again, and agrees with itself
    tomorrow = day + timedelta(days=1)
    ids, total, current = _page(portfolio, tomorrow, sort="step_due_on")
    assert not current and len(ids) == total == 120


def test_the_counts_by_status_agree(portfolio) -> None:
    with portfolio() as s:
        computed = ProjectRepository(s).counts_by_state_and_status(today=TODAY)
        by_status = ProjectRepository(s).counts(today=TODAY, by="status")
    sort_keys.refresh(UnitOfWorkFactory(portfolio), TODAY)
    with portfolio() as s:
        assert ProjectRepository(s).counts_by_state_and_status(today=TODAY) == computed
        assert ProjectRepository(s).counts(today=TODAY, by="status") == by_status
    assert set(by_status) == {"en_retard", "a_risque", "dans_les_temps", None}


def test_a_second_refresh_changes_nothing_and_records_the_day(portfolio) -> None:
    uows = UnitOfWorkFactory(portfolio)
    assert sort_keys.refresh(uows, TODAY) == 120  # the rows were written with no keys
    assert sort_keys.refresh(uows, TODAY) == 0
    with portfolio() as s:
        assert s.scalar(select(PortfolioKeys.as_of)) == TODAY
    assert sort_keys.refresh(uows, TODAY + timedelta(days=1)) > 0  # paused projects' dates moved, some late now


def test_a_refresh_leaves_alone_a_project_written_since_it_was_read(portfolio) -> None:
    """The refresh updates a row only at the version it read; a row written meanwhile (its version
    moved) is read again and recomputed, never overwritten with keys from its old fields."""
    uows = UnitOfWorkFactory(portfolio)
    with portfolio() as s:
        row = s.execute(select(*sort_keys.READ).limit(1)).mappings().one()
        pid = row["id"]
        s.execute(update(Project).where(Project.id == pid).values(version=Project.version + 1, horizon_on=TODAY))
        s.commit()
    seen: dict[uuid.UUID, int] = {}
    with uows() as uow:
        assert sort_keys._apply(uow, [row], TODAY, seen) == 0
    assert pid not in seen  # not known computed: the refresh reads it again
    with portfolio() as s:
        assert s.scalar(select(Project.sort_status).where(Project.id == pid)) is None  # untouched
    sort_keys.refresh(uows, TODAY)
    with portfolio() as s:
        p = s.get(Project, pid)
        assert p is not None
        assert p.shown_horizon_on == sort_keys.dated_keys(p, TODAY)["shown_horizon_on"]


def test_the_timeless_keys() -> None:
    assert sort_keys.timeless_keys("Île Verte", "Île-de-France") == {"sort_name": "ile verte", "sort_region": 9}
    assert sort_keys.timeless_keys("Œillet\nbis", "Ailleurs") == {"sort_name": "oeillet bis", "sort_region": 18}
    assert len(sort_keys.timeless_keys("É" * 300, "Bretagne")["sort_name"]) == 300


def test_a_text_search_counts_up_to_the_cap_and_pages_on(app, client, monkeypatch) -> None:
    """Beyond SEARCH_COUNT_CAP matches, `total` is the cap and `total_exact` false; the pages go on, in the
    order the exact count gives (stored keys, as after the deadline watch's round)."""
    from app.projects import endpoints
    from tests.support.api import API, create_project

    for i in range(5):
        create_project(client, name=f"Régie des Lilas {i}")
    create_project(client, name="Régie des Roses")
    sort_keys.refresh(UnitOfWorkFactory(app.state.session_factory), app.state.clock.today())

    def page(n: int) -> dict:
        r = client.get(f"{API}/projects", params={"q": "lilas", "sort": "-name", "page": n, "page_size": 2})
        assert r.status_code == 200, r.text
        return r.json()

    exact = [page(n) for n in (1, 2, 3, 4)]
    assert [(p["total"], p["total_exact"]) for p in exact] == [(5, True)] * 4
    monkeypatch.setattr(endpoints, "SEARCH_COUNT_CAP", 3)
    capped = [page(n) for n in (1, 2, 3, 4)]
    assert [(p["total"], p["total_exact"]) for p in capped] == [(3, False)] * 4
    assert [p["items"] for p in capped] == [p["items"] for p in exact]
    names = [item["name"] for p in capped for item in p["items"]]
    assert names == [f"Régie des Lilas {i}" for i in (4, 3, 2, 1, 0)]
    monkeypatch.setattr(endpoints, "SEARCH_COUNT_CAP", 5)  # exactly as many as the cap: exact
    assert (page(1)["total"], page(1)["total_exact"]) == (5, True)


def test_the_deadline_scan_refreshes_the_keys_first(app, client) -> None:
    from app.deadline_watch.service import scan
    from tests.support.api import create_project

    create_project(client, name="Régie des Acacias")
    today = app.state.clock.today()
    with app.state.session_factory() as s:
        assert not ProjectRepository(s).keys_current(today)
    report = scan(UnitOfWorkFactory(app.state.session_factory), app.state.clock)
    assert report.keys_updated == 0  # the creation wrote its keys for today already
    with app.state.session_factory() as s:
        assert ProjectRepository(s).keys_current(today)


def test_a_write_on_another_day_keeps_the_keys_of_the_refreshed_day(app, client) -> None:
    """A story told on its own past days (the demo's history), or a write that began before midnight:
    once refreshed, every write computes its project's keys for the refreshed day, so the list's stored
    keys stay those of one day, whatever the day of each write."""
    from tests.support.api import create_project, fire

    uows = UnitOfWorkFactory(app.state.session_factory)
    today = app.state.clock.today()
    pid = create_project(client, name="Régie des Glycines", started_on=(today - timedelta(days=200)).isoformat())["id"]
    sort_keys.refresh(uows, today)
    app.state.clock.set(today - timedelta(days=120))  # an ORM write and a transition, told on a past day
    create_project(client, name="Régie des Iris", started_on=(today - timedelta(days=130)).isoformat())
    fire(client, pid, "suspendre", reason="Élections")
    app.state.clock.set(today)
    assert sort_keys.refresh(uows, today) == 0  # nothing to move: every write used the refreshed day
    with app.state.session_factory() as s:
        assert ProjectRepository(s).keys_current(today)


def test_a_write_while_the_refresh_runs_is_recomputed_once_the_day_is_recorded(portfolio, monkeypatch) -> None:
    """A write that read the day before (it began before midnight) commits while the refresh runs, on a
    project whose batch is already done: once the day is recorded, the refresh finds its version moved and
    recomputes it."""
    uows = UnitOfWorkFactory(portfolio)
    sort_keys.refresh(uows, TODAY)  # the day before, for the test's "today" below
    day = TODAY + timedelta(days=1)
    original = sort_keys._apply
    written: list[uuid.UUID] = []

    def apply_then_write(uow, rows, today, seen):
        done = original(uow, rows, today, seen)
        if not written and rows:
            pid = rows[0]["id"]
            with portfolio() as s:  # the late writer: new fields, its keys of the day before
                p = s.get(Project, pid)
                assert p is not None
                keys = sort_keys.dated_keys(p, TODAY)
                s.execute(
                    update(Project)
                    .where(Project.id == pid)
                    .values(version=Project.version + 1, horizon_on=p.horizon_on + timedelta(days=3), **keys)
                )
                s.commit()
            written.append(pid)
        return done

    monkeypatch.setattr(sort_keys, "_apply", apply_then_write)
    sort_keys.refresh(uows, day, batch=10)
    monkeypatch.undo()
    with portfolio() as s:
        p = s.get(Project, written[0])
        assert p is not None
        assert {k: getattr(p, k) for k in sort_keys.DATED} == sort_keys.dated_keys(p, day)
    assert sort_keys.refresh(uows, day) == 0


def test_a_refresh_for_a_day_before_the_recorded_one_does_nothing(portfolio) -> None:
    uows = UnitOfWorkFactory(portfolio)
    sort_keys.refresh(uows, TODAY + timedelta(days=1))
    assert sort_keys.refresh(uows, TODAY) == 0  # began before midnight, ended after the next day's
    with portfolio() as s:
        assert s.scalar(select(PortfolioKeys.as_of)) == TODAY + timedelta(days=1)
        assert ProjectRepository(s).keys_current(TODAY + timedelta(days=1))
