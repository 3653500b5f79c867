"""The French pages for project leads and consultants: portfolio, project, transitions, re-plan, new
project, workflow. Asserted on the HTML structure (stdlib html.parser, tests/support/html.py).

The first tests read the demo portfolio (`demo`: loaded once per run, tests/web/conftest.py); the later
ones start from empty tables (the `app` fixture) and write through the page forms.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import date, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts.models import RoleGrant, User
from app.demo.service import DEMO_PASSWORD
from app.evidence.guidance import GUARD_KINDS
from app.evidence.registry import KINDS
from tests.support.accounts import PASSWORD, add_user, browser
from tests.support.api import API, create_project, post, satisfy
from tests.support.clock import TODAY
from tests.support.html import Node, csrf_of, form_data, html_of, inline_code, unlabelled_controls
from workflow import guards as g
from workflow.guards import Guard
from workflow.vocabulary import STEPS, State

SEVERITY = {"en_retard": 0, "a_risque": 1, "dans_les_temps": 2, "clos": 3}
ALL_GUARD_CODES = {v.code for v in vars(g).values() if isinstance(v, Guard)} - {"projet_suspendu", "projet_actif"}
CONSULTANT = "consultant@demo.regieflow.fr"
PORTEUR = "porteur@demo.regieflow.fr"
OBSERVER = "observateur@demo.regieflow.fr"
ADMIN = "admin@demo.regieflow.fr"
ALMA = "Régie de Quartier de l'Alma"  # labelled
AUBERVILLIERS = "Régie de Quartier d'Aubervilliers Villette – Quatre-Chemins"  # abandoned


def demo_browser(app: Any, email: str | None = None) -> TestClient:
    """A browser, logged in through the login page as one of the demo accounts (if `email`)."""
    return browser(app, email, password=DEMO_PASSWORD, login_page=True)


def get_page(c: TestClient, url: str, status: int = 200) -> Node:
    r = c.get(url)
    assert r.status_code == status, (url, r.status_code, r.headers.get("location"), r.text[:500])
    doc = html_of(r)
    assert not inline_code(doc), inline_code(doc)  # the strict CSP would block it
    assert not unlabelled_controls(doc), unlabelled_controls(doc)
    return doc


def rows_of(doc: Node) -> list[Node]:
    table = doc.by_id("table-projets")
    return table.find("tbody").find_all("tr") if table is not None else []


def nav_links(doc: Node) -> dict[str, str]:
    nav = doc.one("nav", aria_label="Navigation principale")
    return {a.text: a.get("href") for a in nav.find_all("a")}


# --- pages over the demo portfolio ------------------------------------------------------------------
def test_portfolio_lists_late_and_at_risk_first_with_counts(demo, demo_ids) -> None:
    with demo_browser(demo, CONSULTANT) as c:
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/projets"
        doc = get_page(c, "/projets")
    assert doc.one("h1").text == "Portefeuille des projets"
    assert (
        nav_links(doc).items()
        >= {
            "Portefeuille": "/projets",
            "Mes échéances": "/echeances",
            "Nouveau projet": "/projets/nouveau",
            "Le parcours": "/parcours",
            "Aide": "/aide",
            "Claire Martin": "/compte/mot-de-passe",  # their own account: change their password
        }.items()
    )
    assert "Administration" not in nav_links(doc)  # not for a consultant
    assert doc.one("nav", aria_label="Navigation principale").find("a", aria_current="page").text == "Portefeuille"
    rows = rows_of(doc)
    assert len(rows) == len(demo_ids) == 16
    statuses = [r.get("data-status") for r in rows]
    assert statuses == sorted(statuses, key=SEVERITY.__getitem__), statuses  # late, at risk, on time, closed
    assert statuses[0] == "en_retard"
    for row in rows:
        cells = {td.get("data-label"): td for td in row.find_all("td")}
        assert set(cells) == {
            "Étape",
            "Statut",
            "Échéance",
            "Région",
            "Porteur",
            "Jours dans l'étape",
            "Dernière activité",
            "Délai de trois ans",
            "Label P80 (historique)",  # issue 16
        }
        badge = cells["Statut"].one("span", cls="badge")
        assert badge.text in {"En retard", "À risque", "Dans les temps", "Labellisée", "Clos"}  # text, not colour alone
        svg = cells["Délai de trois ans"].one("svg")
        assert svg.get("role") == "img" and svg.by_id(svg.get("aria-labelledby")).tag == "title"
        assert "mois écoulés sur" in svg.one("title").text
        link = row.one("th").one("a")
        assert link.get("href") == f"/projets/{row.get('data-project-id')}"
    # Counts per status and per step agree with the rows.
    by_status = Counter(statuses)
    shown = {
        a.get("data-status"): int(a.one("span", cls="count").text)
        for a in doc.by_id("comptes-statut").find_all(cls="badge")
    }
    assert shown == {
        "en_retard": by_status["en_retard"],
        "a_risque": by_status["a_risque"],
        "dans_les_temps": by_status["dans_les_temps"],
        "clos": by_status["clos"],
    }
    assert all(n >= 1 for n in shown.values())
    by_state = Counter(r.get("data-state") for r in rows)
    steps = {
        a.get("data-state"): int(a.one("span", cls="count").text) for a in doc.by_id("comptes-etape").find_all("a")
    }
    assert steps == {st.value: by_state[st.value] for st in State}
    assert "16 projets" in doc.by_id("resultats").text
    assert doc.by_id("pagination") is None


def test_portfolio_filters_search_and_pagination(demo, demo_ids) -> None:
    with demo_browser(demo, CONSULTANT) as c:
        # The summary's link for late projects filters the table to them, and says so.
        late_link = get_page(c, "/projets").by_id("comptes-statut").one("a", data_status="en_retard")
        doc = get_page(c, late_link.get("href"))
        rows = rows_of(doc)
        assert rows and {r.get("data-status") for r in rows} == {"en_retard"}
        assert doc.one("select", name="statut").one("option", selected=True).get("value") == "en_retard"
        assert doc.by_id("lien-effacer-filtres") is not None

        doc = get_page(c, "/projets?region=Occitanie")
        assert {r.one("td", data_label="Région").text for r in rows_of(doc)} == {"Occitanie"}
        assert len(rows_of(doc)) == 3
        doc = get_page(c, "/projets?type=regie_de_territoire")
        assert {r.one("th").find("span", cls="small").text for r in rows_of(doc)} == {"Régie de Territoire"}
        doc = get_page(c, "/projets?etape=contours")
        assert {r.get("data-state") for r in rows_of(doc)} == {"contours"}
        doc = get_page(c, "/projets?q=pontan")
        assert [r.one("th").one("a").text for r in rows_of(doc)] == ["Régie de Quartier de Pontanézen"]
        doc = get_page(c, "/projets?q=personne+ne+s+appelle+ainsi")
        assert rows_of(doc) == [] and doc.by_id("aucun-projet") is not None
        # Unknown values are ignored rather than refused.
        assert len(rows_of(get_page(c, "/projets?statut=bizarre&etape=x&type=y&tri=z&page=abc"))) == 16

        # Pagination keeps the filters and the order.
        page1 = get_page(c, "/projets?par_page=10&tri=name")
        names1 = [r.one("th").one("a").text for r in rows_of(page1)]
        assert len(names1) == 10
        pager = page1.one("nav", aria_label="Pagination des projets")
        assert pager.one("span", aria_current="page").text == "Page 1"
        nxt = pager.by_id("page-suivante").get("href")
        assert parse_qs(urlsplit(nxt).query) == {"tri": ["name"], "par_page": ["10"], "page": ["2"]}
        page2 = get_page(c, nxt)
        names2 = [r.one("th").one("a").text for r in rows_of(page2)]
        assert len(names2) == 6 and not set(names1) & set(names2) and len(set(names1) | set(names2)) == 16
        assert page2.by_id("page-suivante") is None and page2.by_id("page-precedente") is not None
        # A page beyond the last one shows the last one.
        assert [
            r.one("th").one("a").text for r in rows_of(get_page(c, "/projets?par_page=10&tri=name&page=9"))
        ] == names2


def test_porteur_sees_only_their_projects(demo, demo_ids) -> None:
    mine = {"Régie de Quartier de Pontanézen", "Régie de Quartier d'Empalot"}
    with demo_browser(demo, PORTEUR) as c:
        home = get_page(c, "/")  # a project lead's home lists their projects
        assert home.one("h1").text == "Mes projets"
        assert {a.one("h2").one("a").text for a in home.find_all("article", cls="todo-card")} == mine
        assert {r.one("th").one("a").text for r in rows_of(get_page(c, "/projets"))} == mine
        assert "Administration" not in nav_links(home) and "Nouveau projet" in nav_links(home)
        assert nav_links(home)["Mes projets"] == "/" and "Portefeuille" not in nav_links(home)
        other = demo_ids[ALMA]
        doc = get_page(c, f"/projets/{other}", status=404)
        assert doc.by_id("message").text == "Projet introuvable."
        # Exactly what a project that does not exist answers, and a malformed id.
        assert get_page(c, f"/projets/{uuid.uuid4()}", status=404).by_id("message").text == "Projet introuvable."
        assert get_page(c, "/projets/pas-un-identifiant", status=404).by_id("message").text == "Projet introuvable."
        r = c.post(f"/projets/{other}/transitions/abandonner", data={"csrf": csrf_of(home), "reason": "x"})
        assert r.status_code == 404


def test_observer_reads_without_any_action(demo, demo_ids) -> None:
    with demo_browser(demo, OBSERVER) as c:
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/projets"
        doc = get_page(c, "/projets")
        assert {r.one("td", data_label="Région").text for r in rows_of(doc)} == {"Occitanie"}
        assert "Nouveau projet" not in nav_links(doc)
        pid = demo_ids["Régie de Quartier de la Mosson"]
        page = get_page(c, f"/projets/{pid}")
        assert page.by_id("lecture-seule") is not None
        assert not [f for f in page.find_all("form") if "/transitions/" in (f.get("action") or "")]
        assert page.by_id("form-replanifier") is None
        assert page.one("main").find_all("button") == []
        # The checklist is there, its links go to the evidence pages (to read them).
        assert page.by_id("checklist") is not None
        refused = get_page(c, "/projets/nouveau", status=403)
        assert refused.by_id("message").text == "Votre rôle ne permet pas de créer un projet."
        r = c.post(f"/projets/{pid}/transitions/suspendre", data={"csrf": csrf_of(page), "reason": "pause"})
        assert r.status_code == 403 and "consultation" in html_of(r).by_id("message").text


def test_project_page_for_a_consultant(demo, demo_ids) -> None:
    pid = demo_ids["Régie de Quartier de la Grande Île"]  # in the feasibility study, back from a rework
    with demo_browser(demo, CONSULTANT) as c:
        doc = get_page(c, f"/projets/{pid}")
    assert doc.one("h1").text == "Régie de Quartier de la Grande Île"
    # Headings in order: one h1, then h2 sections (no level skipped).
    levels = [int(n.tag[1]) for n in doc.one("main").iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), levels

    # Stepper: six steps, the third is current; planned and actual dates.
    steps = doc.by_id("stepper").find_all("li")
    assert [s.get("data-state") for s in steps] == [st.value for st in STEPS]
    assert [s.get("aria-current") for s in steps] == [None, None, "step", None, None, None]
    assert "step-done" in steps[0].classes and "step-todo" in steps[5].classes
    # One end date per step, the header's for the current step, the projected label for the last one.
    ends = [s.one("p", cls="step-dates").get("data-end") for s in steps]
    assert all(ends) and ends == sorted(ends)
    head = doc.by_id("dates-cles").text
    assert "Depuis le" in steps[2].text and "échéance :" in steps[2].text
    current_end = steps[2].one("p", cls="step-dates").text.split("échéance :")[1].split("(")[0].strip()
    assert f"échéance de l'étape : {current_end}" in head
    last_end = steps[5].one("p", cls="step-dates").text.split("Fin projetée :")[1].split("(")[0].strip()
    assert f"label projeté : {last_end}" in head
    assert doc.by_id("raison-statut").text.startswith("Pourquoi « ")

    # Checklist: what the forward trigger still needs, each with its form.
    checklist = doc.by_id("checklist")
    assert checklist.one("h2").text == "Prochaine action : soumettre le projet à la validation des acteurs"
    items = checklist.by_id("ce-qui-manque").find_all("li")
    codes = [li.get("data-code") for li in items]
    assert codes and set(codes) <= {
        "besoins_valides",
        "modele_economique",
        "locaux_identifies",
        "marches_mobilisables",
        "visite_terrain",
        "conclusion_favorable",
    }
    for li in items:
        hrefs = {a.get("href") for a in li.find_all("a", cls="go")}
        assert hrefs == {f"/projets/{pid}/preuves/{k}" for k in GUARD_KINDS[li.get("data-code")]}

    # The forward transition is shown refused, pointing at the same reasons; a step back and the abandon
    # go through a confirmation page, a pause is a form here; each needs a reason.
    button = doc.by_id("bouton-soumettre_validation")
    assert button.get("aria-disabled") == "true"
    assert doc.by_id(button.get("aria-describedby")).text.startswith("Impossible pour l'instant")
    for trigger in ("reprendre_contours", "abandonner"):
        link = doc.by_id(f"lien-{trigger}")
        assert link.get("href") == f"/projets/{pid}/transitions/{trigger}"
    other = doc.by_id("form-suspendre")
    assert other.one("textarea", name="reason").has("required")
    assert other.one("input", name="effective_on").get("max") == TODAY.isoformat()
    assert other.one("input", name="csrf").get("value")
    assert doc.by_id("form-reprendre") is None  # not suspended: nothing to resume
    assert doc.by_id("form-replanifier") is not None  # consultants re-plan

    # The timeline: accessible SVG with planned and actual bars and today marked.
    svg = doc.by_id("frise")
    assert svg.get("role") == "img"
    labelled = svg.get("aria-labelledby").split()
    assert [svg.by_id(i).tag for i in labelled] == ["title", "desc"]
    assert "aujourd'hui 26 novembre 2026" in svg.one("desc").text
    assert len(svg.find_all("rect", cls="tl-planned")) == 6
    # every stay drawn: the study showed the outline had to be redone, so steps 2 and 3 were reached twice
    assert len(svg.find_all("rect", cls="tl-actual")) == 5
    assert [g.get("data-step") for g in svg.find_all("g", cls="tl-revisited")] == ["2", "3"]
    assert len(svg.find_all("rect", cls="tl-projected")) == 3  # steps 4 to 6, from the projection
    markers = {g.get("id"): g for g in svg.find_all("g", cls="tl-marker")}
    assert set(markers) == {"frise-aujourdhui", "frise-horizon", "frise-echeance", "frise-label"}
    assert "Pourquoi" not in svg.text
    today = svg.by_id("frise-aujourdhui").one("line")
    assert 0 < float(today.get("x1")) < float(svg.get("viewbox").split()[2])
    assert svg.by_id("frise-horizon") is not None

    # The evidence recorded so far, kind by kind, each with its page.
    dossier = doc.by_id("dossier")
    groups = dossier.find_all(cls="evidence-group")
    assert [g.get("id") for g in groups][:3] == ["dossier-faisabilite", "dossier-contours", "dossier-groupe_projet"]
    assert groups[0].tag == "div" and all(g.tag == "details" and not g.has("open") for g in groups[1:])
    assert [g.get("data-phase") for g in groups] == ["current", "done", "done", "ahead"]  # step 4 only: 5-6 empty
    kinds = {li.get("data-kind"): li for li in dossier.find_all("li", cls="evidence")}
    assert set(kinds) < set(KINDS) and len(kinds) == len(set(kinds))
    assert {"needs", "feasibility", "markets", "site-visits"} <= {
        li.get("data-kind") for li in groups[0].find_all("li", cls="evidence")
    }
    assert {k: li.one("a").get("href") for k, li in kinds.items()} == {k: f"/projets/{pid}/preuves/{k}" for k in kinds}
    assert "Vaulx-en-Velin (69256)" in kinds["communes"].text
    assert "Rien d'enregistré" in kinds["approvals"].text and "hires" not in kinds  # step 5: nothing yet

    # History: newest first, with the actor, paginated.
    history = doc.by_id("table-historique")
    seqs = [int(tr.get("data-seq")) for tr in history.find("tbody").find_all("tr")]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 20
    assert all(td.text == "regieflow (démonstration)" for td in history.find_all("td", cls="actor"))
    assert "Reprendre les contours du projet" in history.text  # the backward move, with its reason
    older = doc.by_id("historique-suivant").get("href")
    with demo_browser(demo, CONSULTANT) as c:
        page2 = get_page(c, older)
    seqs2 = [int(tr.get("data-seq")) for tr in page2.by_id("table-historique").find("tbody").find_all("tr")]
    assert seqs2 == list(range(seqs[-1] - 1, 0, -1))


def test_porteur_cannot_grant_the_label(demo, demo_ids) -> None:
    pid = demo_ids["Régie de Quartier de Saint-Denis Franc-Moisin"]  # in the expertise step
    add_user(demo, "porteuse@example.fr", [("porteur", pid, None)])
    with browser(demo, "porteuse@example.fr", login_page=True) as c:
        doc = get_page(c, f"/projets/{pid}")
        button = doc.by_id("bouton-labelliser")
        assert button.has("disabled")
        assert "Réservé à un consultant du Mouvement" in doc.by_id(button.get("aria-describedby")).text
        assert "Réservé à un consultant du Mouvement" in doc.by_id("action-ajourner_label").text
        assert doc.by_id("lien-ajourner_label") is None
        confirm = get_page(c, f"/projets/{pid}/transitions/labelliser")  # readable, with no form
        assert confirm.by_id("form-labelliser") is None and confirm.by_id("non-permis") is not None
        assert doc.by_id("form-replanifier") is None  # re-planning is for consultants and admins
        assert doc.by_id("lien-abandonner").get("href") == f"/projets/{pid}/transitions/abandonner"
        r = c.post(f"/projets/{pid}/transitions/labelliser", data={"csrf": csrf_of(doc)})
        assert r.status_code == 403
        assert html_of(r).by_id("message").text.startswith("Seul un consultant du Mouvement")
        r = c.post(f"/projets/{pid}/plan", data={"csrf": csrf_of(doc), "reason": "x"})
        assert r.status_code == 403
    with demo_browser(demo, CONSULTANT) as c:
        doc = get_page(c, f"/projets/{pid}")
        assert not doc.by_id("bouton-labelliser").has("disabled")


def test_closed_projects_and_admin_navigation(demo, demo_ids) -> None:
    with demo_browser(demo, ADMIN) as c:
        doc = get_page(c, f"/projets/{demo_ids[ALMA]}")
        assert nav_links(doc)["Administration"] == "/admin"
        assert "Régie labellisée le" in doc.by_id("projet-clos").text
        assert doc.by_id("actions") is None and doc.by_id("checklist") is None
        assert doc.by_id("form-replanifier") is None  # a closed project cannot be re-planned
        assert all("step-done" in li.classes for li in doc.by_id("stepper").find_all("li"))
        doc = get_page(c, f"/projets/{demo_ids[AUBERVILLIERS]}")
        assert doc.by_id("projet-clos").text.startswith("Projet abandonné le")
        phases = [li.one("p", cls="step-phase").text for li in doc.by_id("stepper").find_all("li")]
        assert "Interrompue par l'abandon" in phases and phases[-1] == "À venir"


def test_workflow_page(demo) -> None:
    with demo_browser(demo, OBSERVER) as c:
        assert c.get("/workflow").headers["location"] == "/parcours"  # the former address
        doc = get_page(c, "/parcours")
    assert doc.one("head").one("title").text.startswith("Le parcours")
    steps = doc.find_all("li", cls="card")
    assert [li.get("data-state") for li in steps] == [st.value for st in STEPS]
    assert steps[0].one("h3").text == "1. Constitution du groupe projet — 3 mois"
    plain = doc.by_id("etapes-workflow")
    assert {li.get("data-code") for li in plain.find_all("li", data_code=True)} == ALL_GUARD_CODES
    assert plain.find_all("code") == []  # codes only behind "Avancé"
    pilot = plain.one("li", data_code="pilote_mouvement")
    assert "Désignez un consultant du Mouvement" in pilot.text and "Groupe projet" in pilot.text
    advanced = doc.by_id("avance")
    assert advanced.tag == "details" and advanced.one("summary").text.startswith("Avancé")
    codes = {tr.get("data-code") for tr in advanced.by_id("codes").find_all("tr", data_code=True)}
    assert codes == ALL_GUARD_CODES
    assert advanced.by_id("source-mermaid") is not None and advanced.by_id("schema-workflow") is not None
    assert doc.by_id("source-mermaid").text.startswith("stateDiagram-v2")
    svg = doc.by_id("schema-workflow")
    assert svg.get("role") == "img" and [svg.by_id(i).tag for i in svg.get("aria-labelledby").split()] == [
        "title",
        "desc",
    ]
    assert len(svg.find_all("g", cls="wf-box")) == 8  # six steps and the two ends
    assert {t.text for t in svg.find_all("text", cls="wf-trigger")} >= {
        "definir_contours",
        "labelliser",
        "ajourner_label",
    }
    assert {tr.get("data-trigger") for tr in doc.by_id("table-autres").find_all("tr", data_trigger=True)} == {
        "reprendre_contours",
        "reprendre_faisabilite",
        "ajourner_label",
        "abandonner",
        "suspendre",
        "reprendre",
    }


def test_style_sheet_serves_small_screens_and_print(demo) -> None:
    with demo_browser(demo) as c:
        css = c.get("/static/regieflow.css").text
    small = css[css.index("@media (max-width: 640px)") :]
    assert "table.responsive" in small and "attr(data-label)" in small  # tables become stacked cards
    printed = css[css.index("@media print") :]
    assert "header.site" in printed and "form" in printed  # a printed project page has no navigation nor forms
    assert ":focus-visible" in css


# --- writes through the pages (empty tables, then a few API calls) ----------------------------------
def test_anonymous_visitors_are_sent_to_the_login_page(app, client) -> None:
    pid = create_project(client)["id"]
    with browser(app) as c:
        for url, location in (
            ("/", "/connexion"),
            ("/projets", "/connexion?next=%2Fprojets"),
            ("/projets?statut=en_retard", "/connexion?next=%2Fprojets%3Fstatut%3Den_retard"),
            (f"/projets/{pid}", f"/connexion?next=%2Fprojets%2F{pid}"),
            ("/parcours", "/connexion?next=%2Fparcours"),
            ("/echeances", "/connexion?next=%2Fecheances"),
            ("/projets/nouveau", "/connexion?next=%2Fprojets%2Fnouveau"),
        ):
            r = c.get(url)
            assert (r.status_code, r.headers["location"]) == (303, location), url
        r = c.post(f"/projets/{pid}/transitions/abandonner", data={"reason": "x"})
        assert (r.status_code, r.headers["location"]) == (303, "/connexion")
        # An API key does not open the pages (they are for people with a session).
        c.headers["Authorization"] = client.headers["Authorization"]
        assert c.get("/projets").status_code == 303
        # After logging in, the login page sends the visitor where they were going.
        add_user(app, "claire@example.fr", [("consultant", None, None)])
        login = html_of(c.get(f"/connexion?next=/projets/{pid}"))
        assert login.one("input", name="next").get("value") == f"/projets/{pid}"
        del c.headers["Authorization"]
        r = c.post(
            "/connexion",
            data={
                "email": "claire@example.fr",
                "password": PASSWORD,
                "csrf": login.one("input", name="csrf").get("value"),
                "next": f"/projets/{pid}",
            },
        )
        assert (r.status_code, r.headers["location"]) == (303, f"/projets/{pid}")
        # Only local paths are followed after login.
        for evil in ("//evil.example", "/\\evil.example", "https://evil.example"):
            assert html_of(c.get("/connexion", params={"next": evil})).one("input", name="next").get("value") == "/"


def _consultant_browser(app: Any) -> TestClient:
    add_user(app, "claire@example.fr", [("consultant", None, None)], name="Claire Martin")
    return browser(app, "claire@example.fr", login_page=True)


def test_firing_a_transition_from_the_page(app, client) -> None:
    pid = create_project(client, started_on="2026-09-01")["id"]
    satisfy(client, pid, "groupe_projet", date(2026, 9, 10))
    with _consultant_browser(app) as c:
        doc = get_page(c, f"/projets/{pid}")
        assert doc.by_id("ce-qui-manque") is None and doc.by_id("tout-est-pret") is not None
        link = doc.by_id("bouton-definir_contours")  # the next step: a confirmation page first
        assert link.tag == "a" and link.text == "Passer à la définition des contours…"
        confirm = get_page(c, link.get("href"))
        assert confirm.one("h1").text == "Passer à la définition des contours ?"
        said = confirm.by_id("consequences").text
        assert "passera de l'étape « Constitution du groupe projet » à l'étape « Définition des contours" in said
        assert "son échéance sera le 26 mars 2027" in said  # four months, in French
        form = confirm.by_id("form-definir_contours")
        assert form.get("method") == "post" and form.by_id("bouton-confirmer") is not None
        r = c.post(form.get("action"), data=form_data(form, effective_on="2026-11-20"))
        assert r.status_code == 303
        assert r.headers["location"] == f"/projets/{pid}?ok=transition-definir_contours"
        doc = get_page(c, r.headers["location"])
    assert doc.by_id("confirmation").text == (
        "Transition enregistrée : le projet est maintenant à l'étape « Définition des contours du projet »."
    )
    assert doc.by_id("confirmation").get("role") == "status"
    assert doc.by_id("stepper").one("li", aria_current="step").get("data-state") == "contours"
    latest = doc.by_id("table-historique").find("tbody").find("tr")
    cells = {td.get("data-label"): td.text for td in latest.find_all("td")}
    assert cells["Date d'effet"] == "20 novembre 2026" and cells["Par"] == "Claire Martin"
    assert cells["Événement"].startswith("Passer à la définition des contours")
    project = client.get(f"{API}/projects/{pid}").json()
    assert project["state"] == "contours" and project["state_entered_on"] == "2026-11-20"
    # The confirmation is one of a fixed set of messages: nothing typed in the address is shown.
    with browser(app, "claire@example.fr", login_page=True) as c:
        assert get_page(c, f"/projets/{pid}?ok=<b>pirate</b>").by_id("confirmation") is None


def test_refused_transition_shows_every_reason_and_keeps_what_was_typed(app, client) -> None:
    pid = create_project(client)["id"]
    with _consultant_browser(app) as c:
        doc = get_page(c, f"/projets/{pid}")
        assert doc.by_id("bouton-definir_contours").get("aria-disabled") == "true"
        confirm = get_page(c, f"/projets/{pid}/transitions/definir_contours")
        assert confirm.by_id("form-definir_contours") is None  # nothing to confirm: the reasons instead
        assert len(confirm.by_id("raisons-definir_contours").find_all("li")) == 4
        version = client.get(f"{API}/projects/{pid}").json()["version"]
        r = c.post(f"/projets/{pid}/transitions/definir_contours", data={"csrf": csrf_of(doc), "version": str(version)})
        assert r.status_code == 409
        page = html_of(r)
        alert = page.by_id("erreur")  # on the confirmation page, focused
        assert alert.get("role") == "alert" and alert.get("tabindex") == "-1" and alert.has("autofocus")
        assert [li.get("data-code") for li in alert.find_all("li")] == [
            "pilote_mouvement",
            "groupe_habitants",
            "groupe_collectivite",
            "groupe_bailleur",
        ]
        assert "Désignez un consultant du Mouvement des Régies" in alert.text
        assert page.by_id("confirmation") is None
        # A reason is required to suspend: refused (422), and the date typed is kept.
        form = doc.by_id("form-suspendre")
        r = c.post(form.get("action"), data=form_data(form, reason="   ", effective_on="2026-11-01"))
        assert r.status_code == 422
        page = html_of(r)
        assert "Un motif est obligatoire" in page.by_id("erreur").text
        assert page.by_id("erreur").has("autofocus")
        assert page.by_id("action-suspendre").has("open")
        assert page.by_id("date-suspendre").get("value") == "2026-11-01"
        assert page.by_id("motif-suspendre").get("aria-invalid") == "true"
        # A future effective date is refused; the reason typed is kept.
        future = (TODAY + timedelta(days=3)).isoformat()
        r = c.post(form.get("action"), data=form_data(form, reason="Élections municipales", effective_on=future))
        assert r.status_code == 422
        page = html_of(r)
        assert "futur" in page.by_id("erreur").text
        assert page.by_id("motif-suspendre").text == "Élections municipales"
        # A malformed date and an unknown trigger.
        r = c.post(form.get("action"), data=form_data(form, reason="x", effective_on="26/11/2026"))
        assert r.status_code == 422 and "AAAA-MM-JJ" in html_of(r).by_id("erreur").text
        r = c.post(f"/projets/{pid}/transitions/decoller", data={"csrf": csrf_of(doc)})
        assert r.status_code == 404 and html_of(r).by_id("message").text == "Déclencheur inconnu : « decoller »."
        # Nothing was written.
        assert client.get(f"{API}/projects/{pid}").json()["version"] == version
        # The page a user read is stale once someone else changed the project: 412, nothing written.
        post(client, f"/projects/{pid}/needs", {"label": "Entretien des halls"})
        r = c.post(form.get("action"), data=form_data(form, reason="Pause"))
        assert r.status_code == 412 and "a changé depuis votre lecture" in html_of(r).by_id("erreur").text
        assert client.get(f"{API}/projects/{pid}").json()["suspended"] is False
        # With a fresh page, suspending works; then the page offers to resume.
        doc = get_page(c, f"/projets/{pid}")
        form = doc.by_id("form-suspendre")
        r = c.post(form.get("action"), data=form_data(form, reason="Élections municipales"))
        assert (r.status_code, r.headers["location"]) == (303, f"/projets/{pid}?ok=transition-suspendre")
        doc = get_page(c, r.headers["location"])
        assert doc.by_id("confirmation").text.startswith("Le projet est suspendu")
        assert doc.by_id("form-reprendre") is not None and doc.by_id("form-suspendre") is None
        assert doc.by_id("suspendu").text == "Suspendu depuis le 26 novembre 2026"
        assert "projet_suspendu" in {li.get("data-code") for li in doc.by_id("ce-qui-manque").find_all("li")}


def test_forms_refuse_a_missing_or_wrong_csrf_token(app, client) -> None:
    pid = create_project(client)["id"]
    with _consultant_browser(app) as c:
        doc = get_page(c, f"/projets/{pid}")
        version = client.get(f"{API}/projects/{pid}").json()["version"]
        for data in ({"reason": "Pause"}, {"reason": "Pause", "csrf": "pas-le-bon-jeton"}):
            r = c.post(f"/projets/{pid}/transitions/suspendre", data=data)
            assert r.status_code == 403
            assert html_of(r).by_id("message").text == "Le formulaire a expiré : rechargez la page puis recommencez."
        plan = form_data(doc.by_id("form-replanifier"), reason="Retard", csrf="")
        assert c.post(f"/projets/{pid}/plan", data=plan).status_code == 403
        new = {"name": "Régie pirate", "kind": "regie_de_quartier", "region": "Bretagne"}
        assert c.post("/projets/nouveau", data=new).status_code == 403
        # The session's token works (each form of the page carries it).
        assert {i.get("value") for i in doc.find_all("input", name="csrf")} == {csrf_of(doc)}
        assert client.get(f"{API}/projects/{pid}").json()["version"] == version
        assert client.get(f"{API}/projects", params={"q": "pirate"}).json()["total"] == 0


def test_checklist_shrinks_as_evidence_is_recorded(app, client) -> None:
    pid = create_project(client)["id"]
    with _consultant_browser(app) as c:

        def missing() -> list[str]:
            checklist = get_page(c, f"/projets/{pid}").by_id("ce-qui-manque")
            return [li.get("data-code") for li in checklist.find_all("li")] if checklist else []

        assert missing() == ["pilote_mouvement", "groupe_habitants", "groupe_collectivite", "groupe_bailleur"]
        doc = get_page(c, f"/projets/{pid}")
        link = doc.by_id("manque-pilote_mouvement-stakeholders")
        assert link.get("href") == f"/projets/{pid}/preuves/stakeholders"
        assert link.text == "Compléter : Groupe projet"
        assert "0 condition remplie sur 4" in doc.by_id("checklist").text
        post(
            client,
            f"/projects/{pid}/stakeholders",
            {"name": "Claire Martin", "category": "mouvement", "is_amo_pilot": True},
        )
        post(client, f"/projects/{pid}/stakeholders", {"name": "Amina Benali", "category": "habitant"})
        assert missing() == ["groupe_collectivite", "groupe_bailleur"]
        dossier = get_page(c, f"/projets/{pid}").by_id("dossier").one("li", data_kind="stakeholders")
        assert dossier.one("span", cls="count-pill").text == "2"
        assert "Claire Martin (Mouvement des Régies) — pilote (AMO)" in dossier.text
        post(client, f"/projects/{pid}/stakeholders", {"name": "Ville de Roubaix", "category": "collectivite"})
        post(client, f"/projects/{pid}/stakeholders", {"name": "Vilogia", "category": "bailleur_social"})
        assert missing() == []
        # The next step's list, with its links (territory: communes and QPV).
        r = c.post(f"/projets/{pid}/transitions/definir_contours", data={"csrf": csrf_of(doc)})
        assert r.status_code == 303
        doc = get_page(c, f"/projets/{pid}")
        territory = doc.by_id("ce-qui-manque").one("li", data_code="territoire_defini")
        assert [a.get("href") for a in territory.find_all("a", cls="go")] == [
            f"/projets/{pid}/preuves/communes",
            f"/projets/{pid}/preuves/qpvs",
        ]


def test_replanning_from_the_page(app, client) -> None:
    pid = create_project(client, started_on="2026-01-05")["id"]
    with _consultant_browser(app) as c:
        doc = get_page(c, f"/projets/{pid}")
        form = doc.by_id("form-replanifier")
        assert form.one("input", name="mois_prefiguration").get("value") == "12"
        r = c.post(form.get("action"), data=form_data(form, mois_prefiguration="0", reason="Essai"))
        assert r.status_code == 422
        page = html_of(r)
        assert "Chaque étape dure entre 1 et 120 mois" in page.by_id("erreur").text
        assert page.by_id("replanifier").has("open")
        assert page.by_id("plan-prefiguration").get("value") == "0" and page.by_id("plan-motif").text == "Essai"
        r = c.post(
            form.get("action"),
            data=form_data(form, mois_prefiguration="18", horizon_months="42", reason="Recrutement difficile"),
        )
        assert (r.status_code, r.headers["location"]) == (303, f"/projets/{pid}?ok=plan#planning")
        doc = get_page(c, f"/projets/{pid}?ok=plan")
    assert doc.by_id("confirmation").text.startswith("Le planning du projet a été révisé")
    plan = {tr.one("th").text: tr.one("td").text for tr in doc.by_id("table-planning").find("tbody").find_all("tr")}
    assert plan["5. Structure de préfiguration"] == "18 mois" and plan["Horizon"] == "42 mois"
    latest = doc.by_id("table-historique").find("tbody").find("tr")
    assert "Planning révisé" in latest.text and "Recrutement difficile" in latest.text
    assert client.get(f"{API}/projects/{pid}").json()["plan"]["horizon_months"] == 42


def test_new_project_form(app, client) -> None:
    add_user(app, "nadia@example.fr", [], name="Nadia Bouzid")  # no grant yet: a future project lead
    with browser(app, "nadia@example.fr", login_page=True) as c:
        home = get_page(c, "/")
        assert home.one("h1").text == "Mes projets" and home.by_id("aucun-projet") is not None
        doc = get_page(c, "/projets/nouveau")
        form = doc.by_id("form-nouveau-projet")
        assert form.get("action") == "/projets/nouveau" and form.get("method") == "post"
        assert {n.get("name") for n in form.find_all("input") if n.get("type") != "hidden"} >= {
            "name",
            "kind",
            "lead_name",
            "started_on",
        }
        # région and département are chosen from the official lists (app/reference)
        assert {n.get("name") for n in form.find_all("select")} >= {"region", "departement"}
        assert form.one("textarea").get("name") == "description"
        # Invalid: French messages beside the fields, what was typed kept.
        bad = form_data(form, name="", region="Hauts-de-France", departement="596", lead_name="Nadia Bouzid")
        r = c.post("/projets/nouveau", data=bad)
        assert r.status_code == 422
        page = html_of(r)
        assert page.by_id("erreur-name").text == "Indiquez le nom du projet (200 caractères au plus)."
        assert page.by_id("erreur-departement").text.startswith("Département inconnu")
        assert page.by_id("champ-name").get("aria-invalid") == "true"
        assert page.by_id("champ-lead_name").get("value") == "Nadia Bouzid"
        r = c.post(
            "/projets/nouveau",
            data=form_data(
                form,
                name="Régie de l'Alma",
                region="Hauts-de-France",
                started_on=(TODAY + timedelta(days=1)).isoformat(),
            ),
        )
        assert r.status_code == 422 and "futur" in html_of(r).by_id("erreur-started_on").text
        # Valid: the project is created, its creator becomes its porteur and lands on it.
        good = form_data(
            form,
            name="Régie de Quartier de l'Alma",
            region="Hauts-de-France",
            departement="59",
            initiator="habitants",
            lead_name="Nadia Bouzid",
            started_on="2026-10-01",
            description="Un projet d'habitants.",
        )
        r = c.post("/projets/nouveau", data=good)
        assert r.status_code == 303
        location = r.headers["location"]
        assert re.fullmatch(r"/projets/[0-9a-f-]{36}\?ok=projet-cree", location)
        doc = get_page(c, location)
        assert doc.by_id("confirmation").text.startswith("Le projet a été créé")
        assert doc.one("h1").text == "Régie de Quartier de l'Alma"
        assert "Un projet d'habitants." in doc.by_id("fiche").text
        home = get_page(c, "/")  # the home's cards (app/home)
        assert [a.one("h2").one("a").text for a in home.find_all("article", cls="todo-card")] == [
            "Régie de Quartier de l'Alma"
        ]
    pid = location.split("/")[2].split("?")[0]
    project = client.get(f"{API}/projects/{pid}").json()
    assert project["started_on"] == "2026-10-01" and project["lead_name"] == "Nadia Bouzid"
    with app.state.session_factory() as session:
        grants = session.scalars(select(RoleGrant).join(User).where(User.email == "nadia@example.fr")).all()
        assert [(g.role, str(g.project_id)) for g in grants] == [("porteur", pid)]


def test_a_regional_consultant_creates_projects_only_in_their_regions(app) -> None:
    add_user(app, "julien@example.fr", [("consultant", None, "Bretagne")])
    with browser(app, "julien@example.fr", login_page=True) as c:
        doc = get_page(c, "/projets/nouveau")
        assert [o.get("value") for o in doc.by_id("champ-region").find_all("option")] == ["Bretagne"]
        data = form_data(doc.by_id("form-nouveau-projet"), name="Régie de Lorient", region="Occitanie")
        r = c.post("/projets/nouveau", data=data)
        assert r.status_code == 403
        assert "que dans vos régions : Bretagne" in html_of(r).by_id("erreur").text
        r = c.post("/projets/nouveau", data=data | {"region": "Bretagne"})
        assert r.status_code == 303
    with app.state.session_factory() as session:  # their region's grant already covers it: no porteur grant
        assert session.scalar(select(func.count()).select_from(RoleGrant).where(RoleGrant.role == "porteur")) == 0


def test_stepper_current_step_since_matches_the_current_stay(app, client) -> None:
    """After a step back (reprendre_contours today), the current step says « Depuis le » today, as the
    header's « depuis 0 jour », not the first stay's start; the step left, now ahead again, gives its
    projected end only (no « Du <past start> au <future projection> »)."""
    from app.web.wording import date_fr
    from tests.support.api import advance, fire

    start = TODAY - timedelta(days=300)
    pid = create_project(client, started_on=start.isoformat())["id"]
    advance(client, pid, "faisabilite", start=start)
    fire(client, pid, "reprendre_contours", reason="Retravailler le territoire")
    add_user(app, "b@example.fr", [("consultant", None, None)])
    with browser(app, "b@example.fr", login_page=True) as c:
        doc = get_page(c, f"/projets/{pid}")
    steps = doc.by_id("stepper").find_all("li")
    current = next(li for li in steps if li.get("aria-current") == "step")
    text = current.one("p", cls="step-dates").text
    assert text.startswith(f"Depuis le {date_fr(TODAY)} ·"), text
    assert "depuis 0 jour" in doc.by_id("dates-cles").text
    ahead = next(li for li in steps if li.get("data-state") == "faisabilite")
    assert "step-revisited" in ahead.classes
    assert ahead.one("p", cls="step-dates").text.startswith("Fin projetée :"), ahead.text


def test_portfolio_sorts_put_closed_and_undated_projects_last(demo, demo_ids) -> None:
    """« Échéance » (nearest first) and « Dans les temps d'abord » start with the projects concerned,
    not the closed ones (NULL due dates sorted first on SQLite; -status reversed the closed too)."""
    with demo_browser(demo, CONSULTANT) as c:
        by_due = html_of(c.get("/projets?tri=step_due_on&par_page=100"))
        on_time = html_of(c.get("/projets?tri=-status&par_page=100"))
    statuses = [r.get("data-status") for r in by_due.by_id("table-projets").find("tbody").find_all("tr")]
    assert statuses[0] != "clos" and "clos" in statuses
    assert statuses[statuses.index("clos") :] == ["clos"] * (len(statuses) - statuses.index("clos"))
    rows = on_time.by_id("table-projets").find("tbody").find_all("tr")
    assert rows[0].get("data-status") == "dans_les_temps" and rows[-1].get("data-status") == "clos"


def test_an_impossible_move_lists_no_consequences(app, client) -> None:
    """On an abandoned project, …/abandonner says the action is not possible, and no longer « Le projet
    sera abandonné … » above that."""
    from tests.support.api import fire

    pid = create_project(client)["id"]
    fire(client, pid, "abandonner", reason="Pas de local")
    add_user(app, "x@example.fr", [("consultant", None, None)])
    with browser(app, "x@example.fr", login_page=True) as c:
        doc = get_page(c, f"/projets/{pid}/transitions/abandonner")
    assert doc.by_id("indisponible") is not None
    assert doc.by_id("consequences") is None and "sera abandonné" not in doc.text


def test_last_activity_is_a_paris_day(app, client, clock) -> None:
    """A change at 23:30 UTC on 26 November happened on 27 November in Paris: « Dernière activité » and
    the history's dates say so (they read the UTC day)."""
    clock.advance(hours=12, minutes=30)
    assert clock.today() == date(2026, 11, 27)
    pid = create_project(client, name="Régie de Minuit")["id"]
    add_user(app, "m@example.fr", [("consultant", None, None)])
    with browser(app, "m@example.fr", login_page=True) as c:
        doc = get_page(c, "/projets")
        page = get_page(c, f"/projets/{pid}")
    row = next(tr for tr in doc.by_id("table-projets").find("tbody").find_all("tr") if tr.get("data-project-id") == pid)
    cell = next(td for td in row.find_all("td") if td.get("data-label") == "Dernière activité")
    assert cell.text.strip() == "27 novembre 2026", cell.text
    assert "27 novembre 2026" in page.by_id("table-historique").find("tbody").find("tr").text
