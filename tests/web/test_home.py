"""The pages that say what to do next: the porteur's home ("Mes projets"), "Mes échéances" and the help
page (app/home), over the demo portfolio (tests/web/conftest.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from app.evidence.guidance import GUARD_KINDS
from app.home.help import GLOSSARY, GUARD_TERMS
from app.projects.repository import fold
from tests.support.accounts import add_user, browser
from tests.support.clock import TODAY
from tests.web.test_pages import CONSULTANT, OBSERVER, PORTEUR, demo_browser, get_page

MINE = {"Régie de Quartier de Pontanézen", "Régie de Quartier d'Empalot"}


def test_the_porteur_lands_on_what_to_do_next(demo, demo_ids) -> None:
    with demo_browser(demo, PORTEUR) as c:
        doc = get_page(c, "/")
    assert doc.one("h1").text == "Mes projets"
    assert doc.by_id("recherche-accueil") is None  # two projects: no search form
    cards = doc.by_id("mes-projets").find_all("article", cls="todo-card")
    assert {card.one("h2").one("a").text for card in cards} == MINE
    for card in cards:
        pid = card.get("data-project-id")
        assert card.one("h2").one("a").get("href") == f"/projets/{pid}"
        assert "Étape" in card.one("p", cls="status-line").text
        assert "Pour passer à « " in card.text
        due = card.by_id(f"echeance-{pid}").text
        assert due.startswith("Échéance de l'étape : dans ") and "2027" in due  # in words, then the French date
        assert card.by_id(f"raison-{pid}").text.startswith("Pourquoi « Dans les temps » : échéance de l'étape dans")
        todo = card.by_id(f"a-faire-{pid}").find_all("li")
        assert todo
        for li in todo:
            links = [a for a in li.find_all("a", cls="go")]
            assert {a.get("href") for a in links} == {
                f"/projets/{pid}/preuves/{k}" for k in GUARD_KINDS[li.get("data-code")]
            }
            assert all(a.text.startswith("Compléter") for a in links)
        assert card.one("details", cls="how-to").one("summary").text == "Comment faire ?"
    pontanezen = next(card for card in cards if "Pontanézen" in card.one("h2").text)
    pilot = pontanezen.one("li", data_code="pilote_mouvement")
    assert pilot.one("a", cls="help-link").get("href") == "/aide#amo"


def test_a_porteur_with_six_projects_gets_a_search_form(demo, demo_ids) -> None:
    six = list(demo_ids.values())[:6]
    add_user(demo, "six@example.fr", [("porteur", pid, None) for pid in six])
    with browser(demo, "six@example.fr", login_page=True) as c:
        doc = get_page(c, "/")
    assert len(doc.by_id("mes-projets").find_all("article")) == 6
    form = doc.by_id("recherche-accueil")
    assert form.get("action") == "/projets" and form.one("input", name="q") is not None


def test_consultants_keep_the_portfolio_and_get_their_deadlines(demo, demo_ids) -> None:
    with demo_browser(demo, CONSULTANT) as c:
        assert c.get("/").headers["location"] == "/projets"
        doc = get_page(c, "/echeances")
    assert doc.one("h1").text == "Mes échéances"
    overdue = doc.by_id("table-depassees").find("tbody").find_all("tr")
    coming = doc.by_id("table-a-venir").find("tbody").find_all("tr")
    assert overdue and coming
    days = [date.fromisoformat(tr.get("data-on")) for tr in overdue]
    assert days == sorted(days) and all(d < TODAY for d in days)  # the oldest overdue first
    later = [date.fromisoformat(tr.get("data-on")) for tr in coming]
    assert later == sorted(later) and all(TODAY <= d <= TODAY + timedelta(days=60) for d in later)
    for tr in overdue:
        cells = {td.get("data-label"): td for td in tr.find_all("td")}
        assert cells["Date"].one("strong").text.startswith("dépassé")
        assert "dépassé" in cells["Pourquoi"].text
        assert not any(ch == "-" for ch in cells["Date"].text)  # a French date, never ISO
    for tr in coming:
        assert tr.find_all("td")[0].one("strong").text.startswith(("dans ", "aujourd'hui"))
    names = {tr.one("th").one("a").text for tr in overdue + coming}
    assert names <= set(demo_ids)


def test_an_observer_sees_the_deadlines_of_their_region_only(demo, demo_ids) -> None:
    with demo_browser(demo, OBSERVER) as c:
        doc = get_page(c, "/echeances")
        portfolio = get_page(c, "/projets")
    visible = {
        a.text for a in portfolio.by_id("table-projets").find_all("a") if a.get("href", "").startswith("/projets/")
    }
    shown = {  # the projects' links (an opinion request's « Avis attendu … » goes to its project's #avis)
        a.text
        for a in doc.one("main").find_all("a")
        if (a.get("href") or "").startswith("/projets/") and "#" not in a.get("href")
    }
    assert shown
    assert shown <= visible


def test_help_page_explains_every_term_the_checklist_links_to(demo) -> None:
    with demo_browser(demo, PORTEUR) as c:
        doc = get_page(c, "/aide")
    anchors = {dt.get("id") for dt in doc.by_id("glossaire").find_all("dt")}
    assert anchors == {t.anchor for t in GLOSSARY}
    assert set(GUARD_TERMS.values()) <= anchors
    assert {"AMO", "QPV", "RNA", "Code INSEE", "ACI / EI"} <= {dt.text for dt in doc.by_id("glossaire").find_all("dt")}
    assert len(doc.by_id("comment-faire").find_all("li")) == 6


def test_portfolio_columns_sort_by_clicking_and_the_download_is_in_french(demo, demo_ids) -> None:
    import csv
    import io

    from tests.web.test_pages import rows_of

    with demo_browser(demo, CONSULTANT) as c:
        doc = get_page(c, "/projets")
        head = doc.by_id("table-projets").one("thead")
        status = head.one("th", data_sort="status")
        assert status.get("aria-sort") == "ascending"  # the default order: late and at risk first
        by_name = get_page(c, head.one("th", data_sort="name").one("a").get("href"))
        names = [r.one("th").one("a").text for r in rows_of(by_name)]
        assert names == sorted(names, key=fold)  # French order: case and accents aside
        assert by_name.one("th", data_sort="name").get("aria-sort") == "ascending"
        reverse = get_page(c, by_name.one("th", data_sort="name").one("a").get("href"))  # a second click
        assert [r.one("th").one("a").text for r in rows_of(reverse)] == names[::-1]
        due = get_page(c, head.one("th", data_sort="step_due_on").one("a").get("href"))
        days = [r.get("data-project-id") for r in rows_of(due)]
        assert len(days) == 16
        for row in rows_of(doc):
            cells = {td.get("data-label"): td for td in row.find_all("td")}
            assert "-" not in cells["Dernière activité"].text  # a French date
        # the download: the rows shown, French headers, semicolons, dates dd/mm/yyyy
        link = get_page(c, "/projets?statut=en_retard").by_id("export-csv").get("href")
        assert link == "/projets/export.csv?statut=en_retard"
        r = c.get(link)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
        assert table[0][:3] == ["Projet", "Type", "Région"] and "Échéance de l'étape" in table[0]
        assert {row[table[0].index("Statut")] for row in table[1:]} == {"En retard"}
        assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", row[table[0].index("Démarrage")]) for row in table[1:])
        xlsx = c.get("/projets/export.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_my_deadlines_in_my_agenda(demo, demo_ids) -> None:
    from tests.support.html import csrf_of, html_of

    with demo_browser(demo, CONSULTANT) as c:
        doc = get_page(c, "/echeances")
        form = doc.by_id("form-agenda")
        r = c.post(form.get("action"), data={"csrf": csrf_of(doc)})
        assert r.status_code == 200
        url = html_of(r).by_id("adresse-agenda").get("value")
        assert "/calendars/" in url or "/agenda/" in url or url.endswith(".ics"), url
        feed = c.get(url.replace("http://testserver", ""))
        assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")


def test_porteur_not_sent_to_consultant_only_forms(app, client) -> None:
    """At the expertise step, the expertise and its grid are recorded by a Mouvement consultant only
    (CONSULTANT_ONLY_KINDS): the porteur reads « À faire par le Mouvement » and may look, never
    « Compléter »; a consultant is offered to complete them."""
    import uuid

    from tests.support.api import advance, create_project

    start = TODAY - timedelta(days=900)
    pid = create_project(client, started_on=start.isoformat())["id"]
    advance(client, pid, "expertise", start=start, gap_days=60)
    add_user(app, "pp@example.fr", [("porteur", uuid.UUID(pid), None)])
    add_user(app, "cc@example.fr", [("consultant", None, None)])
    only = {"expertises", "expertise-assessments", "reservations"}
    with browser(app, "pp@example.fr", login_page=True) as c:
        for url, block in (("/", "mes-projets"), (f"/projets/{pid}", "checklist")):
            doc = get_page(c, url).by_id(block)
            links = [a for a in doc.find_all("a", cls="go") if a.get("href").rsplit("/", 1)[-1] in only]
            assert links, url
            assert all(not a.text.startswith("Compléter") for a in links), [a.text for a in links]
            assert "À faire par le Mouvement" in doc.one("li", data_code="expertise_sur_site").text
    with browser(app, "cc@example.fr", login_page=True) as c:
        doc = get_page(c, f"/projets/{pid}")
        links = [a for a in doc.find_all("a", cls="go") if a.get("href").rsplit("/", 1)[-1] in only]
        assert links and all(a.text.startswith("Compléter") for a in links)
        assert "À faire par le Mouvement" not in doc.by_id("checklist").text


def test_regie_de_territoire_not_sent_to_qpvs(app, client) -> None:
    """A Régie de Territoire's territory is its communes (at least two), no QPV: its « territoire
    défini » item links the communes form and the INSEE glossary entry, not the QPV ones."""
    import uuid

    from tests.support.api import create_project, fire, satisfy

    pid = create_project(client, kind="regie_de_territoire")["id"]
    add_user(app, "rt@example.fr", [("porteur", uuid.UUID(pid), None)])
    satisfy(client, pid, "groupe_projet", TODAY)
    fire(client, pid, "definir_contours")
    with browser(app, "rt@example.fr", login_page=True) as c:
        for url, block in (("/", "mes-projets"), (f"/projets/{pid}", "checklist")):
            li = get_page(c, url).by_id(block).one("li", data_code="territoire_defini")
            hrefs = [a.get("href") for a in li.find_all("a")]
            assert any(h.endswith("/preuves/communes") for h in hrefs), hrefs
            assert not any(h.endswith("/qpvs") or h.endswith("#qpv") for h in hrefs), hrefs
            assert "/aide#insee" in hrefs


def test_echeances_lists_requests_of_projects_not_yet_due(app, client) -> None:
    """An opinion request due in 10 days is listed although its project's own dates are not within the
    60 days (it was read only for the projects listed for their deadlines, the first 10 of them)."""
    import uuid

    from tests.support.api import API, advance, create_project, post

    start = TODAY - timedelta(days=40)
    pid = create_project(client, started_on=start.isoformat())["id"]
    advance(client, pid, "validation", start=start, gap_days=10)  # validation due in about 80 days
    sh = {s["category"]: s["id"] for s in client.get(f"{API}/projects/{pid}/stakeholders").json()}
    due = TODAY + timedelta(days=10)
    post(
        client,
        f"/projects/{pid}/opinion-requests",
        {
            "stakeholder_id": sh["bailleur_social"],
            "email": "bailleur@example.fr",
            "due_on": due.isoformat(),
            "message": "Votre avis.",
        },
    )
    add_user(app, "d@example.fr", [("porteur", uuid.UUID(pid), None)])
    add_user(app, "other@example.fr", [("porteur", uuid.UUID(create_project(client)["id"]), None)])
    with browser(app, "d@example.fr", login_page=True) as c:
        doc = get_page(c, "/echeances")
    rows = [r for r in doc.find_all("tr") if "Avis attendu" in r.text]
    assert len(rows) == 1, doc.text[:2000]
    assert "dans 10 jours" in rows[0].text
    assert any(a.get("href") == f"/projets/{pid}#avis" for a in rows[0].find_all("a"))
    with browser(app, "other@example.fr", login_page=True) as c:  # not a project they read
        assert "Avis attendu" not in get_page(c, "/echeances").text
