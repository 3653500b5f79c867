"""In a real browser (Debian's chromium via Playwright): a lead creates a project and takes it from
the groupe projet to the expertise through the pages alone, watching the checklist shrink; a consultant
records the expertise and grants the label. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.accounts import service as accounts
from app.core.unit_of_work import UnitOfWork
from tests.e2e import accessibility
from tests.support.clock import TODAY

pytestmark = pytest.mark.slow  # a browser, a served app: about ten seconds

PASSWORD = "mot-de-passe-e2e"
DAY = TODAY.isoformat()


def _user(app, email: str, name: str, grants=()) -> None:
    with UnitOfWork(app.state.session_factory) as uow:
        accounts.create_user(uow, email=email, name=name, password=PASSWORD, grants=list(grants), now=datetime.now(UTC))


def _login(page, email: str) -> None:
    page.goto("/connexion")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/connexion'] button[type=submit]")
    page.wait_for_load_state()
    assert "/connexion" not in page.url, page.content()[:500]


def _checklist(page) -> int:
    return page.locator("[id^='manque-']").count()


def _add(
    page,
    pid: str,
    kind: str,
    fill: dict[str, str] | None = None,
    select: dict[str, str] | None = None,
    check: tuple[str, ...] = (),
) -> None:
    page.goto(f"/projets/{pid}/preuves/{kind}")
    for field, value in (fill or {}).items():
        page.fill(f"#f-{field}", value)
    for field, value in (select or {}).items():
        page.select_option(f"#f-{field}", value)
    for field in check:
        page.check(f"#f-{field}")
    page.click("#btn-enregistrer")
    page.wait_for_load_state()
    assert page.locator("#resume-erreurs").count() == 0, page.locator("#resume-erreurs").inner_text()


def _fire(page, pid: str, trigger: str) -> None:
    """The next step from the project page: its link opens the confirmation page, which does it."""
    page.goto(f"/projets/{pid}")
    page.click(f"#bouton-{trigger}")
    page.wait_for_load_state()
    assert page.locator("#consequences").count() == 1, page.content()[:800]
    accessibility.check(page, f"journee-confirmer-{trigger}", both_widths=False)
    page.click("#bouton-confirmer")
    page.wait_for_load_state()
    assert page.locator("#confirmation").count() == 1, page.content()[:800]
    accessibility.check(page, f"journee-apres-{trigger}", both_widths=False)


def test_lead_then_consultant_take_a_project_to_the_label(page, app) -> None:
    _user(app, "lea.porteuse@example.org", "Léa Porteuse")
    _user(app, "claire.consultante@example.org", "Claire Consultante", [("consultant", None, None)])

    # The lead logs in and creates a project.
    _login(page, "lea.porteuse@example.org")
    page.click("#nav-nouveau")
    page.fill("#champ-name", "Régie de Quartier du Vieux-Lille")
    page.check("#champ-kind-regie_de_quartier")
    region = page.locator("#champ-region")
    if region.evaluate("e => e.tagName") == "SELECT":
        region.select_option("Hauts-de-France")
    else:
        region.fill("Hauts-de-France")
    departement = page.locator("#champ-departement")
    if departement.evaluate("e => e.tagName") == "SELECT":  # chosen from the official list (app/reference)
        departement.select_option("59")
    else:
        departement.fill("59")
    page.click("#bouton-creer")
    page.wait_for_load_state()
    accessibility.check(page, "journee-projet-cree")
    match = re.search(r"/projets/([0-9a-f-]{36})", page.url)
    assert match, page.url
    pid = match.group(1)

    # A refused transition shows its reasons.
    assert (
        page.locator("#bouton-definir_contours").get_attribute("aria-disabled") == "true"
        or page.locator("#bouton-definir_contours").is_disabled()
    )
    assert "pilote" in page.locator("#ce-qui-manque").inner_text().lower()
    before = _checklist(page)
    assert before == 4

    # Step 1: the groupe projet, the checklist shrinking with each member.
    members = [
        ("Claire Martin", "mouvement", True),
        ("Amina Benali", "habitant", False),
        ("Ville de Lille", "collectivite", False),
        ("Lille Métropole Habitat", "bailleur_social", False),
        ("France Travail", "partenaire_socio_economique", False),
    ]
    seen = [before]
    for name, category, pilot in members:
        _add(page, pid, "stakeholders", {"name": name}, {"category": category}, ("is-amo-pilot",) if pilot else ())
        page.goto(f"/projets/{pid}")
        seen.append(_checklist(page))
    assert seen[:5] == [4, 3, 2, 1, 0], seen
    accessibility.check(page, "journee-projet-etape-1-complete")
    _fire(page, pid, "definir_contours")

    # Step 2: territory, needs, activities.
    _add(page, pid, "communes", {"insee-code": "59350", "name": "Lille"})
    _add(page, pid, "qpvs", {"code": "QP059012", "name": "Vieux-Lille"})
    _add(page, pid, "needs", {"label": "Entretien des espaces extérieurs"})
    _add(page, pid, "activities", {"label": "Espaces verts et propreté"})
    _fire(page, pid, "lancer_faisabilite")

    # Step 3: the study confirms the need, economic model, premises, a market, a visit.
    page.goto(f"/projets/{pid}/preuves/needs")
    page.locator("a[href*='/preuves/needs/']").first.click()
    page.select_option("#f-status", "confirme")
    page.click("#btn-enregistrer")
    page.wait_for_load_state()
    _add(
        page,
        pid,
        "feasibility",
        {
            "annual-charges": "380000",
            "market-income": "240000",
            "non-market-income": "150000",
            "premises-address": "3 rue de la Monnaie, Lille",
        },
        {"conclusion": "favorable"},
    )
    _add(
        page,
        pid,
        "markets",
        {"label": "Entretien des halls", "buyer-name": "Lille Métropole Habitat"},
        {"buyer-category": "bailleur_social"},
    )
    _add(page, pid, "site-visits", {"regie-name": "Régie de Quartier de Roubaix", "visited-on": DAY})
    _fire(page, pid, "soumettre_validation")

    # Step 4: favourable approvals from every stakeholder outside the Mouvement.
    page.goto(f"/projets/{pid}/preuves/approvals")
    options = page.locator("#f-stakeholder-id option").evaluate_all(
        "os => os.filter(o => o.value && !o.textContent.includes('Claire')).map(o => o.value)"
    )
    assert len(options) == 4, options
    for value in options:
        _add(page, pid, "approvals", {"given-on": DAY}, {"stakeholder-id": value, "verdict": "favorable"})
    _fire(page, pid, "lancer_prefiguration")

    # Step 5: the association, its board, a hire.
    _add(
        page,
        pid,
        "association",
        {"name": "Association de préfiguration du Vieux-Lille", "declared-on": DAY, "rna": "W595012345"},
    )
    for name, college in (
        ("Amina Benali", "habitant"),
        ("Élue de quartier", "collectivite"),
        ("Lille Métropole Habitat", "bailleur_social"),
    ):
        _add(page, pid, "board-members", {"name": name}, {"college": college})
    _add(page, pid, "hires", {"name": "Karim Haddad", "role": "Chargé de préfiguration", "start-on": DAY})
    _fire(page, pid, "demander_expertise")

    # The lead cannot grant the label.
    page.goto(f"/projets/{pid}")
    label_button = page.locator("#bouton-labelliser")
    assert (
        label_button.count() == 0 or label_button.is_disabled() or label_button.get_attribute("aria-disabled") == "true"
    )
    accessibility.check(page, "journee-projet-porteur-expertise")
    page.click("#nav-deconnexion")
    page.wait_for_load_state()

    # The consultant records the expertise and grants the label.
    _login(page, "claire.consultante@example.org")
    page.goto(f"/projets/{pid}/preuves/expertises")
    page.fill("#f-conducted-on", DAY)
    page.fill("#f-experts", "Claire Consultante\nJean Dupuis")
    page.select_option("#f-conclusion", "favorable")
    page.click("#btn-enregistrer")
    page.wait_for_load_state()
    # ... rates the five success conditions (grille_expertise_complete), then grants the label
    expertise_id = page.locator("[id^='element-']").first.get_attribute("id").removeprefix("element-")
    for condition in (
        "ancrage_territorial",
        "services_nouveaux",
        "perennite_economique",
        "cooperation_autonomie",
        "implication_habitants",
    ):
        _add(
            page,
            pid,
            "expertise-assessments",
            {"expertise-id": expertise_id},
            {"condition": condition, "level": "atteint"},
        )
    _fire(page, pid, "labelliser")
    assert "labellis" in page.locator("main").inner_text().lower()
    accessibility.check(page, "journee-projet-labellise")
    page.goto("/projets")
    assert page.locator("main table, main .portfolio").count() >= 1
    accessibility.check(page, "journee-portefeuille")
