"""A project's territory: région and département from the official lists, communes that are real ones
(by code or by name, unknown → 422 with suggestions, outside the département → accepted and flagged),
and `territoire_defini` for both kinds — through the machine, the API and the pages."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.reference.cog import cog
from tests.support.accounts import browser
from tests.support.api import API, assert_problem, create_project, fire, footprint, post, satisfy
from tests.support.clock import TODAY
from tests.support.html import Node, parse
from workflow import machine as wf
from workflow.evidence import CommuneFact, Evidence
from workflow.guards import TERRITOIRE_DEFINI, GuardContext
from workflow.vocabulary import Kind, State

QUARTIER, TERRITOIRE = Kind.REGIE_DE_QUARTIER, Kind.REGIE_DE_TERRITOIRE


# --- the guard, in the machine --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "communes", "qpvs", "met", "says"),
    [
        (QUARTIER, (), (), False, "au moins une commune (code INSEE) ; au moins un quartier prioritaire (QPV)"),
        (QUARTIER, ("59512",), (), False, "au moins un quartier prioritaire (QPV)"),
        (QUARTIER, (), ("QP059036",), False, "au moins une commune (code INSEE)."),
        (QUARTIER, ("59512",), ("QP059036",), True, ""),
        (TERRITOIRE, (), (), False, "au moins deux (aucune enregistrée)"),
        (TERRITOIRE, ("12089",), (), False, "au moins deux (1 enregistrée)"),
        (TERRITOIRE, ("12089", "12013"), (), True, ""),
        (TERRITOIRE, ("12089", "12013", "12305"), ("QP012001",), True, ""),
        (TERRITOIRE, ("12089", "!99999"), (), False, "retirez ou corrigez 99999, qui n'est pas une commune"),
        (QUARTIER, ("!59999", "!59998"), ("QP059036",), False, "59999, 59998, qui ne sont pas des communes"),
    ],
)
def test_territoire_defini_through_the_machine(kind, communes, qpvs, met, says) -> None:
    facts = tuple(CommuneFact(c.lstrip("!"), official=not c.startswith("!")) for c in communes)
    evidence = Evidence(kind=kind, communes=facts, qpvs=qpvs, needs=(), activities=1)
    ctx = GuardContext(suspended=False, evidence=evidence)
    assert TERRITOIRE_DEFINI.holds(ctx) is met
    flow = wf.Flow(state=State.CONTOURS.value)
    unmet = {u.code: u.message for u in wf.explain("lancer_faisabilite", flow, evidence)}
    assert ("territoire_defini" not in unmet) is met
    if not met:
        assert (
            unmet["territoire_defini"].startswith("Définissez le territoire : ") and says in unmet["territoire_defini"]
        )


# --- région and département of a project --------------------------------------------------------------
def test_region_and_departement_are_validated_enumerations(client) -> None:
    body = {"name": "Régie", "kind": "regie_de_quartier", "initiator": "habitants"}
    problem = assert_problem(client.post(f"{API}/projects", json=body | {"region": "Atlantide"}), 422)
    assert problem["errors"][0]["field"] == "region" and "Région inconnue" in problem["errors"][0]["message"]
    problem = assert_problem(client.post(f"{API}/projects", json=body | {"region": "Corse", "departement": "20"}), 422)
    assert problem["errors"][0]["field"] == "departement" and "Département inconnu" in problem["errors"][0]["message"]
    # a département lies in the project's région
    problem = assert_problem(
        client.post(f"{API}/projects", json=body | {"region": "Bretagne", "departement": "59"}), 422
    )
    assert problem["detail"] == "Le département 59 (Nord) est en région Hauts-de-France, pas en Bretagne."
    # a région however written (or its INSEE code) is stored under its official name
    created = post(client, "/projects", body | {"region": "ile de france", "departement": "93"})
    assert (created["region"], created["departement"]) == ("Île-de-France", "93")
    created = post(client, "/projects", body | {"region": "94", "departement": "2a"})
    assert (created["region"], created["departement"]) == ("Corse", "2A")
    pid = created["id"]
    before = footprint(client, pid)
    assert_problem(client.patch(f"{API}/projects/{pid}", json={"departement": "29"}), 422)
    assert_problem(client.patch(f"{API}/projects/{pid}", json={"region": "Bretagne"}), 422)  # 2A is not there
    assert footprint(client, pid) == before
    r = client.patch(f"{API}/projects/{pid}", json={"region": "Bretagne", "departement": "29"})
    assert r.status_code == 200 and (r.json()["region"], r.json()["departement"]) == ("Bretagne", "29")


# --- communes over the API ------------------------------------------------------------------------------
def test_a_commune_by_code_gets_its_official_name(client) -> None:
    pid = create_project(client)["id"]
    created = post(client, f"/projects/{pid}/communes", {"insee_code": "59512", "name": "roubaix centre"})
    assert created | {"id": 0} == {
        "id": 0,
        "insee_code": "59512",
        "name": "Roubaix",
        "official": True,
        "departement": "59",
        "outside_territory": False,
    }
    assert post(client, f"/projects/{pid}/communes", {"insee_code": "59599"})["name"] == "Tourcoing"


def test_a_commune_by_name_when_exactly_one_bears_it(client) -> None:
    pid = create_project(client)["id"]
    assert post(client, f"/projects/{pid}/communes", {"name": "VILLENEUVE D ASCQ"})["insee_code"] == "59009"
    before = footprint(client, pid)
    problem = assert_problem(client.post(f"{API}/projects/{pid}/communes", json={"name": "saint-denis"}), 422)
    assert (
        problem["code"] == "commune_inconnue" and "Plusieurs communes s'appellent « Saint-Denis »" in problem["detail"]
    )
    assert {"97411", "93066"} <= {s["insee_code"] for s in problem["suggestions"]}
    problem = assert_problem(client.post(f"{API}/projects/{pid}/communes", json={"name": "Roubai"}), 422)
    assert problem["errors"][0]["field"] == "name" and problem["suggestions"][0]["insee_code"] == "59512"
    problem = assert_problem(client.post(f"{API}/projects/{pid}/communes", json={}), 422)
    assert problem["detail"] == "Indiquez le code INSEE de la commune, ou son nom."
    assert footprint(client, pid) == before


def test_an_unknown_code_is_a_french_422_with_suggestions(client) -> None:
    pid = create_project(client)["id"]
    before = footprint(client, pid)
    problem = assert_problem(client.post(f"{API}/projects/{pid}/communes", json={"insee_code": "59999"}), 422)
    assert problem["code"] == "commune_inconnue" and problem["errors"][0]["field"] == "insee_code"
    assert problem["detail"].startswith("Code INSEE inconnu : 59999 n'est pas une commune du code officiel")
    assert problem["suggestions"] and all(cog().commune(s["insee_code"]) for s in problem["suggestions"])
    problem = assert_problem(client.post(f"{API}/projects/{pid}/communes", json={"insee_code": "69381"}), 422)
    assert "arrondissement municipal de Lyon (69123)" in problem["detail"]
    assert problem["suggestions"][0] == {"insee_code": "69123", "name": "Lyon", "departement": "69"}
    problem = assert_problem(
        client.post(f"{API}/projects/{pid}/communes", json={"insee_code": "59998", "name": "Tourcoing"}), 422
    )
    assert problem["suggestions"][0]["insee_code"] == "59599"  # the name helps
    created = post(client, f"/projects/{pid}/communes", {"insee_code": "59512"})
    assert_problem(client.patch(f"{API}/projects/{pid}/communes/{created['id']}", json={"insee_code": "59999"}), 422)
    assert footprint(client, pid)[0] == before[0] + 1


def test_a_commune_outside_the_departement_is_accepted_and_flagged(client, app) -> None:
    pid = create_project(client)["id"]  # Hauts-de-France, 59
    assert post(client, f"/projects/{pid}/communes", {"insee_code": "62041"})["outside_territory"] is True  # Arras
    assert post(client, f"/projects/{pid}/communes", {"insee_code": "59350"})["outside_territory"] is False
    # without a département, a commune outside the région is flagged
    other = create_project(client, region="Hauts-de-France", departement=None)["id"]
    assert post(client, f"/projects/{other}/communes", {"insee_code": "62041"})["outside_territory"] is False
    assert post(client, f"/projects/{other}/communes", {"insee_code": "29019"})["outside_territory"] is True
    with browser(app, "claire@example.fr", [("consultant", None, None)]) as c:
        page = c.get(f"/projets/{pid}")
        assert page.status_code == 200
        assert "Arras (62041) — hors du département 59 du projet" in parse(page.text).text
        assert "Lille (59350) —" not in parse(page.text).text


# --- territoire_defini over HTTP --------------------------------------------------------------------------
def _to_contours(client: TestClient, kind: str) -> str:
    pid = create_project(client, kind=kind, started_on=TODAY.isoformat())["id"]
    satisfy(client, pid, "groupe_projet", TODAY)
    fire(client, pid, "definir_contours")
    post(client, f"/projects/{pid}/needs", {"label": "Entretien des bourgs"})
    post(client, f"/projects/{pid}/activities", {"label": "Petits travaux"})
    return pid


def _unmet(client: TestClient, pid: str) -> dict[str, str]:
    view = client.get(f"{API}/projects/{pid}/transitions").json()
    [t] = [t for t in view["triggers"] if t["trigger"] == "lancer_faisabilite"]
    return {u["code"]: u["message"] for u in t["unmet"]}


def test_a_regie_de_territoire_needs_two_real_communes(client) -> None:
    pid = _to_contours(client, "regie_de_territoire")
    post(client, f"/projects/{pid}/communes", {"insee_code": "59392"})
    assert "au moins deux (1 enregistrée)" in _unmet(client, pid)["territoire_defini"]
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/lancer_faisabilite", json={}), 409)
    assert [u["code"] for u in problem["unmet"]] == ["territoire_defini"]
    post(client, f"/projects/{pid}/communes", {"name": "Hautmont"})
    assert "territoire_defini" not in _unmet(client, pid)  # no QPV needed
    assert fire(client, pid, "lancer_faisabilite")["state"] == "faisabilite"


def test_a_regie_de_quartier_needs_a_commune_and_a_qpv(client) -> None:
    pid = _to_contours(client, "regie_de_quartier")
    assert _unmet(client, pid)["territoire_defini"] == (
        "Définissez le territoire : au moins une commune (code INSEE) ; "
        "au moins un quartier prioritaire (QPV) pour une Régie de Quartier."
    )
    post(client, f"/projects/{pid}/communes", {"insee_code": "59512"})
    assert "QPV" in _unmet(client, pid)["territoire_defini"]
    post(client, f"/projects/{pid}/qpvs", {"code": "QP059036", "name": "Alma-Gare"})
    assert fire(client, pid, "lancer_faisabilite")["state"] == "faisabilite"


def test_a_commune_recorded_before_the_data_shipped_with_an_unknown_code_is_refused(client, app) -> None:
    from app.evidence.models import Commune

    pid = _to_contours(client, "regie_de_quartier")
    post(client, f"/projects/{pid}/qpvs", {"code": "QP059036", "name": "Alma-Gare"})
    with app.state.session_factory() as session:  # as an older version of regieflow could record it
        session.add(Commune(project_id=uuid.UUID(pid), insee_code="59999", name="Ancienne commune"))
        session.commit()
    [listed] = client.get(f"{API}/projects/{pid}/communes").json()
    assert (listed["official"], listed["departement"]) == (False, None)
    assert "retirez ou corrigez 59999" in _unmet(client, pid)["territoire_defini"]
    post(client, f"/projects/{pid}/communes", {"insee_code": "59512"})
    assert "territoire_defini" in _unmet(client, pid)  # every commune must be a real one
    r = client.delete(f"{API}/projects/{pid}/communes/{listed['id']}")
    assert r.status_code == 204
    assert "territoire_defini" not in _unmet(client, pid)


# --- pages ---------------------------------------------------------------------------------------------
@pytest.fixture
def consultant(app: Any) -> Any:
    with browser(app, "claire@example.fr", [("consultant", None, None)]) as c:
        yield c


def _options(select: Node) -> list[str]:
    return [o.get("value") or "" for o in select.find_all("option")]


def test_the_new_project_form_chooses_region_and_departement_from_lists(consultant) -> None:
    doc = parse(consultant.get("/projets/nouveau").text)
    region = doc.by_id("champ-region")
    assert region.tag == "select" and _options(region) == ["", *[r.name for r in cog().regions]]
    departement = doc.by_id("champ-departement")
    assert departement.tag == "select"
    assert _options(departement) == ["", *[d.code for r in cog().regions for d in cog().departements_of(r)]]
    groups = departement.find_all("optgroup")
    assert len(groups) == 18 and groups[0].get("label") == "Auvergne-Rhône-Alpes"
    form = {"csrf": consultant.csrf, "name": "Régie", "kind": "regie_de_quartier"}
    r = consultant.post("/projets/nouveau", data=form | {"region": "Atlantide"})
    assert r.status_code == 422
    assert parse(r.text).by_id("erreur-region").text == "Région inconnue : choisissez l'une des 18 régions officielles."
    r = consultant.post("/projets/nouveau", data=form | {"region": "Bretagne", "departement": "59"})
    assert r.status_code == 422
    error = parse(r.text).by_id("erreur-departement").text
    assert error == "Le département 59 (Nord) est en région Hauts-de-France, pas en Bretagne."
    r = consultant.post("/projets/nouveau", data=form | {"region": "Bretagne", "departement": "29"})
    assert r.status_code == 303


def test_the_communes_page_searches_without_javascript_and_adds_a_result(consultant, client) -> None:
    pid = create_project(client)["id"]
    url = f"/projets/{pid}/preuves/communes"
    doc = parse(consultant.get(url, params={"q": "ROUBAIX"}).text)
    search = doc.by_id("form-recherche-commune")
    assert search.get("method") == "get" and doc.by_id("champ-q").get("value") == "ROUBAIX"
    item = doc.by_id("commune-59512")
    assert "Roubaix (59512, département 59)" in item.text
    button = doc.by_id("ajouter-59512")
    form = next(a for a in button.ancestors() if a.tag == "form")
    assert form.get("method") == "post" and form.get("action") == url
    fields = {i.get("name"): i.get("value") for i in form.find_all("input")}
    assert fields["insee_code"] == "59512"
    r = consultant.post(url, data={"csrf": consultant.csrf, "insee_code": "59512"})
    assert r.status_code == 303
    assert [c["name"] for c in client.get(f"{API}/projects/{pid}/communes").json()] == ["Roubaix"]
    doc = parse(consultant.get(url, params={"q": "roubaix"}).text)
    assert "déjà enregistrée" in doc.by_id("commune-59512").text and doc.by_id("ajouter-59512") is None
    doc = parse(consultant.get(url, params={"q": "arras"}).text)
    assert "hors du département du projet" in doc.by_id("commune-62041").text
    doc = parse(consultant.get(url, params={"q": "zzqqxx"}).text)
    assert doc.by_id("aucune-commune") is not None


def test_an_unknown_code_on_the_page_offers_the_communes_it_may_mean(consultant, client) -> None:
    pid = create_project(client)["id"]
    url = f"/projets/{pid}/preuves/communes"
    r = consultant.post(url, data={"csrf": consultant.csrf, "insee_code": "75119"})
    assert r.status_code == 422
    doc = parse(r.text)
    assert "arrondissement municipal de Paris (75056)" in doc.by_id("f-insee-code-erreur").text
    assert doc.by_id("titre-recherche-commune").text == "Communes proches"
    assert doc.by_id("ajouter-75056") is not None
    assert client.get(f"{API}/projects/{pid}/communes").json() == []


def test_the_project_page_changes_region_and_departement_from_the_lists(app, consultant, client) -> None:
    pid = create_project(client)["id"]  # Hauts-de-France, 59
    doc = parse(consultant.get(f"/projets/{pid}").text)
    assert doc.by_id("fiche-departement").text == "59 — Nord"
    region = doc.by_id("territoire-region")
    assert region.tag == "select" and len(_options(region)) == 18
    assert next(o for o in region.find_all("option") if o.has("selected")).get("value") == "Hauts-de-France"
    departement = doc.by_id("territoire-departement")
    assert next(o for o in departement.find_all("option") if o.has("selected")).get("value") == "59"
    url = f"/projets/{pid}/territoire"
    version = client.get(f"{API}/projects/{pid}").json()["version"]
    form = {"csrf": consultant.csrf, "version": str(version)}
    r = consultant.post(url, data=form | {"region": "Bretagne", "departement": "59"})
    assert r.status_code == 422
    doc = parse(r.text)
    assert "Le département 59 (Nord) est en région Hauts-de-France, pas en Bretagne." in doc.by_id("erreur").text
    assert doc.by_id("modifier-territoire").has("open")  # what was chosen is shown again
    assert next(o for o in doc.by_id("territoire-region").find_all("option") if o.has("selected")).get("value") == (
        "Bretagne"
    )
    r = consultant.post(url, data=form | {"region": "Atlantide", "departement": ""})
    assert r.status_code == 422 and "Région inconnue" in parse(r.text).by_id("erreur").text
    r = consultant.post(url, data=form | {"region": "Bretagne", "departement": "29"})
    assert r.status_code == 303 and r.headers["location"] == f"/projets/{pid}?ok=territoire#fiche"
    read = client.get(f"{API}/projects/{pid}").json()
    assert (read["region"], read["departement"], read["version"]) == ("Bretagne", "29", version + 1)
    r = consultant.post(url, data=form | {"region": "Bretagne", "departement": ""})  # the version read before
    assert r.status_code == 412


def test_a_reader_sees_the_territory_but_cannot_change_it(app, client) -> None:
    pid = create_project(client)["id"]
    with browser(app, "olivier@example.fr", [("observateur", None, None)]) as c:
        doc = parse(c.get(f"/projets/{pid}").text)
        assert doc.by_id("fiche-departement").text == "59 — Nord" and doc.by_id("form-territoire") is None
        r = c.post(f"/projets/{pid}/territoire", data={"csrf": c.csrf, "region": "Bretagne", "departement": "29"})
        assert r.status_code == 403
    assert client.get(f"{API}/projects/{pid}").json()["region"] == "Hauts-de-France"


def test_a_region_typed_before_the_lists_is_shown_as_such(app, consultant, client) -> None:
    import sqlalchemy as sa

    pid = create_project(client, name="Régie du Nord-Est")["id"]
    with app.state.session_factory() as session:
        session.execute(sa.text("UPDATE projects SET region = 'Nord-Est' WHERE name = 'Régie du Nord-Est'"))
        session.commit()
    doc = parse(consultant.get(f"/projets/{pid}").text)
    assert "absente du code officiel géographique" in doc.by_id("fiche-region").text
    assert _options(doc.by_id("territoire-region"))[0] == ""  # nothing chosen for it: the person picks one


PROJECT_INPUTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from([r.name for r in cog().regions] + [d.code for d in cog().departements]),
    st.builds(lambda r: r.upper().replace("-", " "), st.sampled_from([r.name for r in cog().regions])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(region=PROJECT_INPUTS, departement=st.one_of(st.none(), PROJECT_INPUTS))
def test_any_region_and_departement_is_a_project_or_a_french_422(client, region: str, departement: str | None) -> None:
    body = {"name": "Régie", "kind": "regie_de_territoire", "region": region, "departement": departement}
    r = client.post(f"{API}/projects", json=body)
    assert r.status_code in (201, 422), r.text
    data = cog()
    official = data.region(region.strip()) if len(region.strip()) <= 100 else None
    dep = data.departement(departement) if departement is not None and len(departement.strip()) <= 10 else None
    if r.status_code == 201:
        created = r.json()
        assert official is not None and created["region"] == official.name
        assert created["departement"] == (dep.code if dep else None)
        assert dep is None or dep.region == official.code
    else:
        problem = r.json()
        assert problem["errors"] and all(e["message"] for e in problem["errors"])
        expected_ok = official is not None and (
            departement is None or (dep is not None and dep.region == official.code)
        )
        assert not expected_ok, problem
