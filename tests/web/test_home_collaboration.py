"""The porteur's home reads the open collaboration items of all its cards at once (app/home/collaboration.py,
two statements) and shows, card by card, what issue 15's `collaboration_todo` shows on each project:
the opinion requests still awaiting an answer (not the revoked ones, with « en retard » once due), the
number of unread messages; nothing on a card that has none, nothing of another person's messages."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.notifications import service as notifications
from tests.notifications.test_notifications import uows_of
from tests.opinions.test_opinions import ask, at_validation
from tests.support.accounts import add_user, browser, login
from tests.support.api import API
from tests.support.clock import TODAY
from tests.web.test_pages import get_page


def _items(doc: Any, pid: str) -> list[str]:
    block = doc.by_id(f"collaboration-{pid}")
    return [] if block is None else [" ".join(li.text.split()) for li in block.find_all("li")]


def test_home_cards_show_each_projects_open_items(app: Any, client: TestClient) -> None:
    asked, sh = at_validation(client)
    quiet, _ = at_validation(client)
    chatty, _ = at_validation(client)
    soon = ask(client, asked, sh["bailleur_social"], "bailleur@exemple.fr", days=3)
    later = ask(client, asked, sh["collectivite"], "mairie@exemple.fr", days=30)
    revoked = ask(client, asked, sh["habitant"], "habitant@exemple.fr", days=10)
    assert client.post(f"{API}/projects/{asked}/opinion-requests/{revoked['id']}/revoke").status_code == 200
    mine = [asked, quiet, chatty]
    add_user(app, "porteuse@exemple.fr", [("porteur", uuid.UUID(p), None) for p in mine], name="Porteuse")
    add_user(app, "autre@exemple.fr", [("porteur", uuid.UUID(chatty), None)], name="Autre")
    with TestClient(app, raise_server_exceptions=False) as other:
        login(other, "autre@exemple.fr")
        for body in ("Bonjour", "Êtes-vous là ?"):
            assert other.post(f"{API}/projects/{chatty}/messages", json={"body": body}).status_code == 201
    notifications.scan(uows_of(app), app.state.settings, app.state.clock)  # the messages' notifications
    app.state.clock.set(TODAY + timedelta(days=5))  # the first request is now past its due date
    with browser(app, "porteuse@exemple.fr", login_page=True) as c:
        home = get_page(c, "/")
    with browser(app, "autre@exemple.fr", login_page=True) as c:
        other_home = get_page(c, "/")
    first, second = _items(home, asked)
    assert first.startswith("Avis attendu ") and second.startswith("Avis attendu ")
    assert soon["stakeholder_name"] in first and "en retard" in first
    assert later["stakeholder_name"] in second and "en retard" not in second
    assert all(revoked["stakeholder_name"] not in x for x in _items(home, asked))
    assert _items(home, quiet) == []
    assert _items(home, chatty) == ["2 messages non lus"]
    assert _items(other_home, chatty) == []  # their own messages are not unread for them
