"""French elision in the collaboration texts (review of issue 15): « nouveau message d'Amina », « l'avis
d'Emmaüs est attendu », « Avis attendu d'Emmaüs » — never « de Amina »."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.notifications import service as notifications
from tests.notifications.test_notifications import uows_of
from tests.opinions.test_opinions import at_validation
from tests.support.accounts import add_user, browser, login
from tests.support.api import API
from tests.support.clock import TODAY


def test_names_starting_with_a_vowel_are_elided(app: Any, client: TestClient) -> None:
    pid, _ = at_validation(client)
    r = client.post(
        f"{API}/projects/{pid}/opinion-requests",
        json={
            "stakeholder_name": "Emmaüs Roubaix",
            "category": "partenaire_socio_economique",
            "email": "emmaus@exemple.fr",
            "due_on": (TODAY + timedelta(days=10)).isoformat(),
            "message": "Votre avis ?",
        },
    )
    assert r.status_code == 201, r.text
    app.state.clock.set(TODAY + timedelta(days=3))  # its 7-day reminder is due
    add_user(app, "amina@exemple.fr", [("porteur", uuid.UUID(pid), None)], name="Amina")
    with TestClient(app, raise_server_exceptions=False) as amina:
        login(amina, "amina@exemple.fr")
        assert amina.post(f"{API}/projects/{pid}/messages", json={"body": "Bonjour"}).status_code == 201
    with browser(app, "conseil@exemple.fr", [("consultant", None, None)]) as b:
        notifications.scan(uows_of(app), app.state.settings, app.state.clock)
        texts = " | ".join(n["text"] for n in b.get(f"{API}/notifications").json())
        assert "nouveau message d'Amina" in texts and "de Amina" not in texts
        assert "l'avis d'Emmaüs Roubaix est attendu" in texts
        page = b.get(f"/projets/{pid}").text + b.get("/").text
        assert "de Emmaüs" not in page
