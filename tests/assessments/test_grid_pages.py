"""The grid on the pages (French): shown on the project page with its facts; the group records its own
reading and reports on a reservation; only a consultant lifts one (a porteur gets a 403 page)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.assessments.helpers import START, adjourned, rate_all
from tests.support.accounts import browser
from tests.support.api import API, post, project_at
from tests.support.clock import TODAY
from tests.support.html import assert_no_inline_code, controls, parse, value_of

D = (TODAY - timedelta(days=1)).isoformat()


def _page(c: Any, url: str, status: int = 200) -> Any:
    r = c.get(url)
    assert r.status_code == status, r.text[:1000]
    assert_no_inline_code(r.text)
    return parse(r.text)


def test_the_project_page_shows_the_grid_and_its_facts(app: Any, client: TestClient) -> None:
    p = project_at(client, "expertise", start=START)
    pid = p["id"]
    post(
        client,
        f"/projects/{pid}/self-assessments",
        {"condition": "ancrage_territorial", "level": "en_cours", "comment": "Trois associations"},
    )
    x = post(
        client, f"/projects/{pid}/expertises", {"conducted_on": D, "experts": ["Claire"], "conclusion": "favorable"}
    )
    rate_all(client, pid, x["id"], level="partiel")
    with browser(app, "claire@example.fr", [("consultant", None, None)]) as c:
        doc = _page(c, f"/projets/{pid}")
        grid = doc.by_id("grille")
        assert grid is not None and "Conditions de réussite du label" in grid.text
        rows = {tr.get("data-condition"): tr for tr in grid.find_all("tr") if tr.get("data-condition")}
        assert list(rows) == [
            "ancrage_territorial",
            "services_nouveaux",
            "perennite_economique",
            "cooperation_autonomie",
            "implication_habitants",
        ]
        assert (
            "En cours" in rows["ancrage_territorial"].text and "Trois associations" in rows["ancrage_territorial"].text
        )
        assert "Pas encore évaluée" in rows["services_nouveaux"].text
        assert all("Partiel" in tr.text for tr in rows.values())
        assert "L'expertise a évalué les cinq conditions." in grid.text
        # the board of `satisfy`: one inhabitant out of three; Vilogia sits on the board and buys
        assert "1 sur 3 (33 %)" in doc.by_id("fait-habitants").text
        assert "aucun montant de marché renseigné" in doc.by_id("fait-acheteurs").text
        assert "commune de résidence non renseignée" in doc.by_id("fait-recrutements").text


def test_a_porteur_reports_on_a_reservation_from_the_project_page(app: Any, client: TestClient) -> None:
    pid, _, (governance, _) = adjourned(client)
    with browser(app, "nadia@example.fr", [("porteur", uuid.UUID(pid), None)]) as c:
        doc = _page(c, f"/projets/{pid}")
        form = next(
            f for f in doc.by_id("grille").find_all("form") if f.get("action", "").endswith(f"/{governance}/reponse")
        )
        version = form.find("input", name="version").get("value")
        r = c.post(
            form.get("action"),
            data={"csrf": c.csrf, "version": version, "response": "Deux habitantes élues au conseil"},
        )
        assert r.status_code == 303 and r.headers["location"] == f"/projets/{pid}?ok=reserve-reponse#grille"
        stored = client.get(f"{API}/projects/{pid}/reservations/{governance}").json()
        assert stored["response"] == "Deux habitantes élues au conseil" and stored["responded_on"] == TODAY.isoformat()
        doc = _page(c, f"/projets/{pid}?ok=reserve-reponse")
        assert "un consultant pourra la lever" in doc.by_id("confirmation").text
        # an empty report is refused in French, nothing recorded
        r = c.post(form.get("action"), data={"csrf": c.csrf, "response": "  "})
        assert r.status_code == 422 and "Ce champ est obligatoire." in r.text
        # lifting it through the reservation's form: a 403 page in French, nothing recorded
        before = client.get(f"{API}/projects/{pid}").json()["version"]
        r = c.post(
            f"/projets/{pid}/preuves/reservations/{governance}",
            data={"csrf": c.csrf, "lifted_on": D, "lifted_how": "Nous l'avons fait"},
        )
        assert r.status_code == 403
        assert "Seul un consultant du Mouvement des Régies" in parse(r.text).text
        assert client.get(f"{API}/projects/{pid}").json()["version"] == before
    with browser(app, "claire@example.fr", [("consultant", None, None)]) as c:
        url = f"/projets/{pid}/preuves/reservations/{governance}"
        form = _page(c, url).by_id("form-preuve")  # posted as a browser does: prefilled, two fields added
        prefilled = {ctl.get("name"): value_of(ctl) for ctl in controls(form) if value_of(ctl)}
        assert prefilled["response"] == "Deux habitantes élues au conseil"
        r = c.post(url, data={"csrf": c.csrf, **prefilled, "lifted_on": D, "lifted_how": "Procès-verbal du conseil"})
        assert r.status_code == 303, r.text[:2000]
        stored = client.get(f"{API}/projects/{pid}/reservations/{governance}").json()
        assert (stored["lifted_on"], stored["lifted_how"], stored["lifted_by"]) == (
            D,
            "Procès-verbal du conseil",
            "claire",
        )
        grid = _page(c, f"/projets/{pid}").by_id("grille")
        assert "Levée le 25 novembre 2026 par claire" in grid.text


def test_the_group_records_its_self_assessment_through_the_evidence_form(app: Any, client: TestClient) -> None:
    p = project_at(client, "contours", start=START)
    pid = p["id"]
    with browser(app, "nadia@example.fr", [("porteur", uuid.UUID(pid), None)]) as c:
        url = f"/projets/{pid}/preuves/self-assessments"
        doc = _page(c, url)
        assert doc.find("h1").text == "Grille : auto-évaluation du groupe"
        labels = doc.by_id("form-preuve").text
        assert "Condition de réussite" in labels and "Implication des habitants" in labels and "Niveau" in labels
        r = c.post(
            url, data={"csrf": c.csrf, "condition": "implication_habitants", "level": "en_cours", "comment": "Deux"}
        )
        assert r.status_code == 303, r.text[:2000]
        [row] = client.get(f"{API}/projects/{pid}/self-assessments").json()
        assert (row["condition"], row["level"], row["assessed_on"]) == (
            "implication_habitants",
            "en_cours",
            TODAY.isoformat(),
        )
