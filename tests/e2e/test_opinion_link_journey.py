"""In a real browser: a porteur asks the landlord for its opinion from the project page; the landlord
opens the personal link received by e-mail (read from a real SMTP server), without an account, and
answers favourably; the porteur sees the checklist change (avis_bailleur met) and the answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.accounts import service as accounts
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.mail.service import send_due
from tests.e2e.conftest import screenshot
from tests.mail.smtp import Sink, link_in, smtp
from tests.support.api import API, advance, create_project, make_key
from tests.support.clock import TODAY

__all__ = ["smtp"]

pytestmark = pytest.mark.slow

PASSWORD = "mot-de-passe-e2e"


def test_a_landlord_answers_through_the_link_and_the_porteur_sees_the_checklist_change(
    app: Any, page: Any, chromium: Any, live_server: str, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    key, _ = make_key(app)
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as api:
        start = TODAY - timedelta(days=200)
        pid = create_project(api, started_on=start.isoformat())["id"]
        advance(api, pid, "validation", start=start)
        ids = {s["category"]: s["id"] for s in api.get(f"{API}/projects/{pid}/stakeholders").json()}
        for category in ("habitant", "collectivite", "partenaire_socio_economique"):
            r = api.post(
                f"{API}/projects/{pid}/approvals",
                json={"stakeholder_id": ids[category], "verdict": "favorable", "given_on": TODAY.isoformat()},
            )
            assert r.status_code == 201, r.text
    with UnitOfWork(app.state.session_factory) as uow:
        accounts.create_user(
            uow,
            email="porteur@alma.example",
            name="Amina Benali",
            password=PASSWORD,
            grants=[("porteur", uuid.UUID(pid), None)],
            now=datetime.now(UTC),
        )

    page.goto("/connexion")
    page.fill("#email", "porteur@alma.example")
    page.fill("#password", PASSWORD)
    page.click("form[action='/connexion'] button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"/projets/{pid}")
    assert page.locator("[id^='manque-avis_bailleur']").count() >= 1
    page.click("#avis summary")
    page.select_option("#avis-partie", str(ids["bailleur_social"]))
    page.fill("#avis-email", "direction@vilogia.example")
    page.fill("#avis-echeance", (TODAY + timedelta(days=14)).isoformat())
    page.fill("#avis-message", "Pouvez-vous nous donner l'avis de Vilogia sur la création de la régie ?")
    page.click("#demander-avis")
    page.wait_for_load_state()
    assert "La demande d'avis est partie" in page.content()
    assert "en attente de réponse" in page.locator("#demandes-avis").inner_text()

    settings = app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    assert send_due(UnitOfWorkFactory(app.state.session_factory, settings), settings, app.state.clock).sent == 1
    link = link_in(sink.to("direction@vilogia.example")[0], "/avis/")

    landlord = chromium.new_context(base_url=live_server, locale="fr-FR")  # no session: the link is enough
    try:
        lp = landlord.new_page()
        lp.goto(link)
        assert "Avis sollicité" in lp.content()
        lp.check("#verdict-favorable")
        lp.fill("#comment", "Le bureau de Vilogia approuve le projet.")
        lp.click("#envoyer-avis")
        lp.wait_for_load_state()
        assert "favorable" in lp.locator("#avis-donne").inner_text()
        screenshot(lp, "avis-par-lien")
    finally:
        landlord.close()

    page.goto(f"/projets/{pid}")
    assert page.locator("[id^='manque-avis_bailleur']").count() == 0
    assert "répondu" in page.locator("#demandes-avis").inner_text()
    assert "par le lien personnel" in page.locator("#demandes-avis").inner_text()
    screenshot(page, "avis-recu-porteur")
