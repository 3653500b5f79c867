"""A new password kills every reset link still in the mailbox (review of issue 15): after a reset
through one link, an older one no longer works; the same after an administrator sets the password."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.mail.smtp import Sink, link_in
from tests.mail.test_password_reset import NEW, _send, forgot
from tests.support.accounts import add_user, login
from tests.support.api import API


def _two_links(app: Any, anon: TestClient, sink: Sink, port: int, email: str) -> tuple[str, str]:
    forgot(anon, email)
    app.state.clock.advance(minutes=3)  # past RESEND_AFTER_SECONDS: a second link goes out
    forgot(anon, email)
    assert _send(app, port) == 2
    first, second = (link_in(m, "/mot-de-passe/nouveau/") for m in sink.to(email))
    return first, second


def test_a_reset_kills_the_older_links(app: Any, anon_client: TestClient, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    add_user(app, "amina@exemple.fr")
    first, second = _two_links(app, anon_client, sink, port, "amina@exemple.fr")
    assert anon_client.post(second, data={"password": NEW, "confirm": NEW}).status_code == 200
    assert anon_client.get(first).status_code == 410
    assert anon_client.post(first, data={"password": NEW + "x", "confirm": NEW + "x"}).status_code == 410


def test_a_password_set_by_an_administrator_kills_the_links(
    app: Any, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    user_id, _ = add_user(app, "samir@exemple.fr")
    first, second = _two_links(app, anon_client, sink, port, "samir@exemple.fr")
    add_user(app, "admin@exemple.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False) as admin:
        login(admin, "admin@exemple.fr")
        r = admin.patch(f"{API}/admin/users/{user_id}", json={"password": NEW})
        assert r.status_code == 200, r.text
    for link in (first, second):
        assert anon_client.post(link, data={"password": NEW + "x", "confirm": NEW + "x"}).status_code == 410
