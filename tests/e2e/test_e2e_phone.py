"""In Chromium at 375 px: a porteur who has never seen regieflow signs in, finds the next thing to do on the
first screen, does it and sees the home update, then moves the project on through its confirmation page;
a consultant opens « Mes échéances ». Then every page of the demo, for each demo login: axe-core finds no
violation on any page state, at 1366 and 375 px, and the screenshots land in tests/artifacts/."""

from __future__ import annotations

import pytest

from app.core.unit_of_work import UnitOfWorkFactory
from app.demo.service import DEMO_PASSWORD, load_demo
from tests.e2e import accessibility
from tests.support.clock import TODAY

pytestmark = pytest.mark.slow

PHONE = {"width": 375, "height": 812}
EMPALOT = "Régie de Quartier d'Empalot"


@pytest.fixture
def demo_ids(app, live_server) -> dict[str, str]:
    created = load_demo(
        UnitOfWorkFactory(app.state.session_factory), app.state.settings, only_if_empty=False, today=TODAY
    )
    return {p.name: str(p.id) for p in created}


def _login(page, who: str, name: str) -> None:
    page.goto("/connexion")
    accessibility.check(page, f"connexion-{name}")
    page.fill("#email", f"{who}@demo.regieflow.fr")
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action='/connexion'] button[type=submit]")
    page.wait_for_load_state()
    assert "/connexion" not in page.url, page.content()[:500]


def _logout(page) -> None:
    page.click("#nav-deconnexion")
    page.wait_for_load_state()


def test_a_porteur_on_a_phone_finds_and_does_the_next_thing(page, app, demo_ids) -> None:
    page.set_viewport_size(PHONE)
    _login(page, "porteur", "porteur")
    assert page.url.endswith("/")
    pid = demo_ids[EMPALOT]
    card = page.locator(f"article[data-project-id='{pid}']")
    todo = card.locator("a.go").first
    accessibility.check(page, "accueil-porteur")
    box = todo.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box  # on the first screen
    assert "Échéance de l'étape : dans" in card.inner_text()

    # the project page: the first « Compléter » link (not only the heading above it) on the first screen
    page.goto(f"/projets/{pid}")
    first = page.locator("#checklist a.go").first
    assert first.inner_text().startswith("Compléter")
    box = first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    page.goto("/")
    card = page.locator(f"article[data-project-id='{pid}']")
    todo = card.locator("a.go").first

    todo.click()  # « Compléter » : the priority activities
    page.wait_for_load_state()
    assert page.url.endswith(f"/projets/{pid}/preuves/activities"), page.url
    accessibility.check(page, "preuve-formulaire")
    page.fill("#f-label", "Entretien des espaces verts")
    page.click("#btn-enregistrer")
    page.wait_for_load_state()
    assert page.locator("#resume-erreurs").count() == 0

    page.goto("/")  # the home has caught up: nothing missing, the next step offered
    card = page.locator(f"article[data-project-id='{pid}']")
    assert card.locator("ul.todo-list").count() == 0
    move = card.locator(f"#passer-{pid[:8]}")
    assert move.inner_text() == "Lancer l'étude de faisabilité"
    accessibility.check(page, "accueil-porteur-pret")
    move.click()
    page.wait_for_load_state()
    assert "Le projet passera de l'étape « Définition des contours du projet »" in page.inner_text("#consequences")
    accessibility.check(page, "confirmation-etape")
    page.click("#bouton-confirmer")
    page.wait_for_load_state()
    assert "Étude de faisabilité" in page.inner_text("#confirmation")
    accessibility.check(page, "projet-apres-transition")
    # the project page: the next action within the first screen
    first = page.locator("#checklist a.go").first
    box = first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box

    # a refusal is shown and focused: a pause needs a real reason, not blanks
    page.goto(f"/projets/{pid}")
    page.click("#action-suspendre summary")
    page.fill("#motif-suspendre", "   ")
    page.click("#bouton-suspendre")
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.id") == "erreur"
    accessibility.check(page, "refus-focalise")
    _logout(page)

    _login(page, "consultant", "consultant")
    page.goto("/echeances")
    assert page.locator("#table-depassees tbody tr").count() >= 1
    accessibility.check(page, "echeances-consultant")


PAGES = {
    "porteur": ["/", "/echeances", "/aide", "/parcours", "/projets", "/compte/mot-de-passe"],
    "consultant": ["/projets", "/projets?tri=name", "/echeances", "/projets/nouveau", "/parcours"],
    "observateur": ["/projets", "/echeances"],
    "admin": ["/admin", "/projets"],
}
PROJECT_PAGES = {
    "porteur": (EMPALOT, ["", "/fiche", "/transitions/abandonner", "/preuves/stakeholders"]),
    "consultant": ("Régie de Quartier de la Grande Île", ["", "?quoi=dossier", "/transitions/reprendre_contours"]),
    "observateur": ("Régie de Quartier de la Mosson", [""]),
    "admin": ("Régie de Quartier de l'Alma", [""]),
}


def test_every_page_for_every_demo_login_passes_axe_at_both_widths(page, app, demo_ids) -> None:
    for who, urls in PAGES.items():
        _login(page, who, who)
        name, suffixes = PROJECT_PAGES[who]
        targets = urls + [f"/projets/{demo_ids[name]}{s}" for s in suffixes]
        for url in targets:
            page.goto(url)
            page.wait_for_load_state()
            slug = url.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "accueil"
            slug = slug.replace(demo_ids[name], "projet")
            accessibility.check(page, f"{who}-{slug}")
        _logout(page)
    accessibility.report()
