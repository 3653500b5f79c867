"""Old news is cut off once, on the very first scan; a worker stopped for days later catches up on
everything it missed (review of issue 15: the cut-off applied on every scan and dropped notifications)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.notifications import service as notifications
from tests.notifications.test_notifications import uows_of
from tests.support.accounts import add_user, login
from tests.support.api import API, create_project


def _post(app: Any, pid: str, body: str) -> None:
    with TestClient(app, raise_server_exceptions=False) as porteur:
        login(porteur, "porteur@exemple.fr")
        assert porteur.post(f"{API}/projects/{pid}/messages", json={"body": body}).status_code == 201


def test_old_news_only_on_the_first_scan(app: Any, client: TestClient) -> None:
    pid = create_project(client)["id"]
    add_user(app, "porteur@exemple.fr", [("porteur", uuid.UUID(pid), None)], name="Amina")
    add_user(app, "conseil@exemple.fr", [("consultant", None, None)])
    _post(app, pid, "Avant la première analyse")
    app.state.clock.advance(days=3)  # the service ran without its worker for three days, then it starts
    _post(app, pid, "Récent")
    notifications.scan(uows_of(app), app.state.settings, app.state.clock)
    # then the worker stops for three days while messages keep coming
    _post(app, pid, "Pendant la panne")
    app.state.clock.advance(days=3)
    notifications.scan(uows_of(app), app.state.settings, app.state.clock)
    with TestClient(app, raise_server_exceptions=False) as consultant:
        login(consultant, "conseil@exemple.fr")
        texts = [n["text"] for n in consultant.get(f"{API}/notifications").json() if n["kind"] == "message"]
    assert len(texts) == 2, texts  # the recent one and the one during the outage; not the old news
    assert timedelta(days=3) > notifications.OLD_NEWS
