"""Projects as a resource: creation, conditional reads and writes, and the portfolio list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from tests.support.api import (
    API,
    actor_of,
    assert_problem,
    create_project,
    events_of,
    fire,
    footprint,
    get_project,
    satisfy,
)
from tests.support.clock import TODAY


@pytest.fixture(autouse=True, params=["computed", "stored"])
def sort_keys_mode(request, app) -> Iterator[str]:
    """Every test here runs twice: with the list computing its status and sort keys per row (no refresh
    yet: portfolio_keys.as_of is NULL), and with the stored keys (app.projects.sort_keys): refreshed for
    today on the empty database, then kept by each write for its day, as in production after the
    deadline watch's daily round."""
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.projects.sort_keys import refresh

    uows, day = UnitOfWorkFactory(app.state.session_factory), app.state.clock.today()
    if request.param == "stored":
        refresh(uows, day)
        with uows(write=False) as uow:
            assert uow.projects.keys_current(day)
    yield str(request.param)
    if request.param == "stored" and app.state.clock.today() == day:
        assert refresh(uows, day) == 0  # every write kept its project's keys those of the day


DEFAULT_MONTHS = {
    "groupe_projet": 3,
    "contours": 4,
    "faisabilite": 8,
    "validation": 3,
    "prefiguration": 12,
    "expertise": 6,
}


# --- creation ---------------------------------------------------------------------------------------
def test_post_creates_with_location_etag_and_a_first_event(client) -> None:
    start = TODAY - timedelta(days=10)
    r = client.post(
        f"{API}/projects",
        json={
            "name": "  Régie de l'Alma  ",
            "kind": "regie_de_quartier",
            "region": "Hauts-de-France",
            "initiator": "bailleur",
            "departement": "59",
            "conventionnement": "aci",
            "lead_name": "Nadia",
            "description": "Trois QPV",
            "started_on": start.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"{API}/projects/{body['id']}"
    assert r.headers["etag"] == '"1"'
    assert (
        body
        | {
            "name": "Régie de l'Alma",
            "state": "groupe_projet",
            "version": 1,
            "suspended": False,
            "started_on": start.isoformat(),
            "state_entered_on": start.isoformat(),
            "last_transition_on": start.isoformat(),
            "conventionnement": "aci",
            "initiator": "bailleur",
            "state_label": "Constitution du groupe projet",
            "status": "dans_les_temps",
        }
        == body
    )
    assert body["plan"] == {"step_months": DEFAULT_MONTHS, "horizon_months": 36}
    assert body["horizon_on"] == (start + relativedelta(months=36)).isoformat()
    assert body["step_due_on"] == (start + relativedelta(months=3)).isoformat()
    assert body["projected_label_on"] == body["horizon_on"]
    assert client.get(r.headers["location"]).json() == body
    [event] = events_of(client, body["id"])
    assert (
        event
        | {
            "seq": 1,
            "type": "project.created",
            "to_state": "groupe_projet",
            "effective_on": start.isoformat(),
            "actor": actor_of(client),
        }
        == event
    )
    assert event["data"]["plan"] == {"step_months": DEFAULT_MONTHS, "horizon_months": 36}


def test_started_on_defaults_to_today_in_paris(client, clock) -> None:
    from datetime import datetime

    # 23:30 UTC on 31 December is already 1 January in Paris.
    clock.state["now"] = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert create_project(client)["started_on"] == "2027-01-01"


def test_month_arithmetic_clamps_to_month_end(client, clock) -> None:
    clock.set(date(2026, 1, 31))
    p = create_project(client, started_on="2025-11-30")
    assert p["step_due_on"] == "2026-02-28"  # 30 November + 3 months
    assert p["horizon_on"] == "2028-11-30"


# --- conditional GET and PATCH ----------------------------------------------------------------------
def test_get_etag_and_if_none_match(client) -> None:
    pid = create_project(client)["id"]
    r = client.get(f"{API}/projects/{pid}")
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    for tag in ('"1"', 'W/"1"', "*"):
        r = client.get(f"{API}/projects/{pid}", headers={"If-None-Match": tag})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == '"1"'
    r = client.patch(f"{API}/projects/{pid}", json={"lead_name": "Nadia"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["version"] == 2
    r = client.get(f"{API}/projects/{pid}", headers={"If-None-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["lead_name"] == "Nadia"


def test_patch_changes_fields_and_records_what_changed(client) -> None:
    pid = create_project(client)["id"]
    r = client.patch(
        f"{API}/projects/{pid}",
        json={"name": "Régie de Roubaix", "conventionnement": "aci_ei", "lead_name": "Nadia"},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert (
        r.json() | {"name": "Régie de Roubaix", "conventionnement": "aci_ei", "lead_name": "Nadia", "version": 2}
        == r.json()
    )
    event = events_of(client, pid)[-1]
    assert event["type"] == "project.updated" and event["seq"] == 2
    assert event["data"]["changes"] == {
        "name": ["Régie des Trois Quartiers", "Régie de Roubaix"],
        "conventionnement": ["aucun", "aci_ei"],
        "lead_name": [None, "Nadia"],
    }
    # Clearing an optional field is a change; clearing a required one is refused.
    assert client.patch(f"{API}/projects/{pid}", json={"lead_name": None}).json()["lead_name"] is None
    assert_problem(client.patch(f"{API}/projects/{pid}", json={"region": None}), 422, "donnee_invalide")
    assert footprint(client, pid) == (3, 3)


def test_patch_without_change_writes_nothing(client) -> None:
    p = create_project(client)
    r = client.patch(f"{API}/projects/{p['id']}", json={"name": p["name"], "kind": p["kind"]})
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    r = client.patch(f"{API}/projects/{p['id']}", json={})
    assert r.status_code == 200 and r.json()["version"] == 1
    assert footprint(client, p["id"]) == (1, 1)


def test_patch_cannot_set_managed_fields(client) -> None:
    p = create_project(client)
    for field, value in [
        ("state", "expertise"),
        ("version", 9),
        ("id", "0" * 32),
        ("started_on", "2020-01-01"),
        ("labelled_on", "2026-01-01"),
        ("horizon_on", "2040-01-01"),
        ("suspended", True),
        ("closed_reason", "x"),
        ("plan", {"horizon_months": 12}),
    ]:
        problem = assert_problem(
            client.patch(f"{API}/projects/{p['id']}", json={field: value, "lead_name": "N"}), 422, "requete_invalide"
        )
        assert [e["field"] for e in problem["errors"]] == [field]
        assert problem["errors"][0]["type"] == "extra_forbidden"
    assert get_project(client, p["id"]) == p


def test_closed_project_keeps_its_attributes_editable(client) -> None:
    """Its record of evidence and history is frozen, but a labelled régie later gets its ACI/EI agreement."""
    pid = create_project(client)["id"]
    fire(client, pid, "abandonner", reason="Pas de bailleur")
    r = client.patch(f"{API}/projects/{pid}", json={"conventionnement": "ei"})
    assert r.status_code == 200 and r.json()["conventionnement"] == "ei" and r.json()["state"] == "abandonnee"


# --- the portfolio list ------------------------------------------------------------------------------
def _portfolio(client) -> dict[str, dict]:
    """Projects whose status is on time, at risk, late, suspended (late by its pause) and closed."""
    out: dict[str, dict] = {}
    out["on_time"] = create_project(
        client,
        name="Alma dans les temps",
        region="Hauts-de-France",
        started_on=(TODAY - timedelta(days=20)).isoformat(),
        lead_name="Zoé Durand",
    )
    # Four months in groupe projet: its three months are over.
    out["late"] = create_project(
        client,
        name="Bourtzwiller en retard",
        region="Grand Est",
        kind="regie_de_territoire",
        started_on=(TODAY - relativedelta(months=4)).isoformat(),
    )
    # Four months to leave groupe projet (planned: 3): the following steps no longer fit the horizon.
    risky = create_project(
        client,
        name="Clos Toreau à risque",
        region="Pays de la Loire",
        started_on=(TODAY - relativedelta(months=4)).isoformat(),
    )
    satisfy(client, risky["id"], "groupe_projet", TODAY)
    out["at_risk"] = fire(client, risky["id"], "definir_contours")
    # Suspended 150 days ago, while on time: the pause freezes its deadlines and its status.
    paused = create_project(
        client,
        name="Duchère suspendue",
        region="Auvergne-Rhône-Alpes",
        started_on=(TODAY - timedelta(days=200)).isoformat(),
    )
    out["paused"] = fire(
        client, paused["id"], "suspendre", reason="Élections", effective_on=(TODAY - timedelta(days=150)).isoformat()
    )
    closed = create_project(
        client, name="Esplanade abandonnée", region="Grand Est", started_on=(TODAY - timedelta(days=30)).isoformat()
    )
    out["closed"] = fire(client, closed["id"], "abandonner", reason="Pas de local")
    return out


def _list(client, **params) -> dict:
    r = client.get(f"{API}/projects", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _names(page: dict) -> list[str]:
    return [p["name"] for p in page["items"]]


def test_list_status_filter_agrees_with_each_status_field(client, clock) -> None:
    ps = _portfolio(client)
    assert ps["on_time"]["status"] == "dans_les_temps"
    assert ps["late"]["status"] == "en_retard"
    assert ps["at_risk"]["status"] == "a_risque"
    assert ps["paused"]["status"] == "dans_les_temps"  # the pause started well before its due date
    assert ps["closed"]["status"] is None

    def check() -> dict[str, set[str]]:
        everything = _list(client)["items"]
        got: dict[str, set[str]] = {}
        for status in ("dans_les_temps", "a_risque", "en_retard"):
            page = _list(client, status=status)
            got[status] = set(_names(page))
            assert got[status] == {p["name"] for p in everything if p["status"] == status}, status
            assert page["total"] == len(got[status])
            assert all(p["status"] == status for p in page["items"])
        both = _list(client, status=["a_risque", "en_retard"])
        assert set(_names(both)) == got["a_risque"] | got["en_retard"]
        return got

    got = check()
    assert got == {
        "dans_les_temps": {"Alma dans les temps", "Duchère suspendue"},
        "a_risque": {"Clos Toreau à risque"},
        "en_retard": {"Bourtzwiller en retard"},
    }
    # Two months later, the 20-day-old project is still on time and the risky one is still at risk.
    clock.set(TODAY + relativedelta(months=2))
    got = check()
    assert got["en_retard"] == {"Bourtzwiller en retard"}
    # Five months later the young project is overdue in groupe projet, the risky one in contours.
    clock.set(TODAY + relativedelta(months=5))
    got = check()
    assert got["en_retard"] == {"Bourtzwiller en retard", "Alma dans les temps", "Clos Toreau à risque"}
    # A suspension freezes the clock: the suspended project keeps its status however long it lasts.
    assert "Duchère suspendue" in got["dans_les_temps"]
    pid = ps["paused"]["id"]
    resumed = fire(client, pid, "reprendre", reason="Fin des élections")
    assert resumed["status"] == "dans_les_temps"
    assert resumed["horizon_on"] > ps["paused"]["horizon_on"]
    check()


def test_list_filters_by_state_kind_region_and_search(client) -> None:
    ps = _portfolio(client)
    assert _list(client)["total"] == 5
    assert set(_names(_list(client, state="abandonnee"))) == {"Esplanade abandonnée"}
    assert set(_names(_list(client, state=["contours", "abandonnee"]))) == {
        "Esplanade abandonnée",
        "Clos Toreau à risque",
    }
    assert _names(_list(client, kind="regie_de_territoire")) == ["Bourtzwiller en retard"]
    assert set(_names(_list(client, region="Grand Est"))) == {"Bourtzwiller en retard", "Esplanade abandonnée"}
    assert set(_names(_list(client, region=["Grand Est", "Pays de la Loire"]))) == {
        "Bourtzwiller en retard",
        "Esplanade abandonnée",
        "Clos Toreau à risque",
    }
    assert _names(_list(client, region="Grand Est", kind="regie_de_quartier")) == ["Esplanade abandonnée"]
    empty = {"items": [], "total": 0, "total_exact": True, "page": 1, "page_size": 50}
    assert _list(client, region="Bretagne") == empty
    # q: case-insensitive, in the name, the region or the lead; % and _ are literal characters.
    assert _names(_list(client, q="ALMA")) == ["Alma dans les temps"]
    assert _names(_list(client, q="pays de")) == ["Clos Toreau à risque"]
    assert _names(_list(client, q="durand")) == ["Alma dans les temps"]
    assert _list(client, q="%")["total"] == 0
    assert _list(client, q="_")["total"] == 0
    assert _list(client, q="zzz")["total"] == 0
    assert ps["on_time"]["id"] in {p["id"] for p in _list(client, q="temps", state="groupe_projet")["items"]}


def test_list_sorts(client) -> None:
    _portfolio(client)
    names = sorted(
        [
            "Alma dans les temps",
            "Bourtzwiller en retard",
            "Clos Toreau à risque",
            "Duchère suspendue",
            "Esplanade abandonnée",
        ]
    )
    assert _names(_list(client, sort="name")) == names
    assert _names(_list(client, sort="-name")) == names[::-1]
    # Default sort is by status: late first, then at risk, then on time; closed projects last.
    by_status = _list(client)["items"]
    assert [p["status"] for p in by_status] == ["en_retard", "a_risque", "dans_les_temps", "dans_les_temps", None]
    assert _names(_list(client, sort="status")) == _names(_list(client))
    # « Dans les temps d'abord »: on time, at risk, late, and the closed projects still last
    assert [p["status"] for p in _list(client, sort="-status")["items"]] == [
        "dans_les_temps",
        "dans_les_temps",
        "a_risque",
        "en_retard",
        None,
    ]
    started = [p["started_on"] for p in _list(client, sort="started_on")["items"]]
    assert started == sorted(started)
    started = [p["started_on"] for p in _list(client, sort="-started_on")["items"]]
    assert started == sorted(started, reverse=True)


def test_sorts_follow_what_the_pages_show(client) -> None:
    """The dates as shown (a suspended project's dates ahead moved by the pause), projects without a
    due date last in both directions, names and régions in French order whatever the accents and the
    case (the same on both databases), ties broken by the id."""
    ps = _portfolio(client)
    create_project(
        client, name="Île Verte", region="Île-de-France", started_on=(TODAY - timedelta(days=10)).isoformat()
    )
    create_project(client, name="zèbre", region="Normandie", started_on=(TODAY - timedelta(days=5)).isoformat())
    for key in ("step_due_on", "horizon_on"):
        for sort, reverse in ((key, False), (f"-{key}", True)):
            items = _list(client, sort=sort)["items"]
            dated = [p[key] for p in items if p[key] is not None]
            assert dated == sorted(dated, reverse=reverse), (sort, dated)
            if key == "step_due_on":  # the closed project has none: last both ways
                assert items[-1]["id"] == ps["closed"]["id"], sort
    assert _names(_list(client, sort="name")) == [
        "Alma dans les temps",
        "Bourtzwiller en retard",
        "Clos Toreau à risque",
        "Duchère suspendue",
        "Esplanade abandonnée",
        "Île Verte",
        "zèbre",
    ]
    regions = [p["region"] for p in _list(client, sort="region")["items"]]
    assert regions == [
        "Auvergne-Rhône-Alpes",
        "Grand Est",
        "Grand Est",
        "Hauts-de-France",
        "Île-de-France",
        "Normandie",
        "Pays de la Loire",
    ]


def test_list_pagination(client) -> None:
    for i in range(7):
        create_project(client, name=f"Régie {i:02d}")
    seen = []
    for page in (1, 2, 3):
        body = _list(client, sort="name", page=page, page_size=3)
        assert body["total"] == 7 and body["page"] == page and body["page_size"] == 3
        seen += _names(body)
    assert seen == [f"Régie {i:02d}" for i in range(7)]
    assert len(_list(client, sort="name", page=3, page_size=3)["items"]) == 1
    beyond = _list(client, page=9, page_size=3)
    assert beyond["items"] == [] and beyond["total"] == 7
    assert _list(client)["page_size"] == 50
    filtered = _list(client, q="Régie 0", page=2, page_size=5, sort="-name")
    assert filtered["total"] == 7 and _names(filtered) == ["Régie 01", "Régie 00"]
