"""« Mot de passe oublié » : the same answer whether the address exists or not, a single-use expiring
link by e-mail (read from a real SMTP server), the new password works, the old one and the link don't."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.core.unit_of_work import UnitOfWorkFactory
from app.mail.service import send_due
from tests.mail.smtp import Sink, link_in
from tests.support.accounts import PASSWORD, add_user
from tests.support.html import csrf_of, parse

NEW = "un tout nouveau mot de passe 2026"


def forgot(client: TestClient, email: str) -> Any:
    """What a browser does: open the form (its CSRF cookie and field), then send it."""
    form = client.get("/mot-de-passe-oublie")
    assert form.status_code == 200
    token = csrf_of(parse(form.text))
    return client.post("/mot-de-passe-oublie", data={"email": email, "csrf": token})


def _send(app: Any, port: int) -> int:
    settings = app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    return send_due(UnitOfWorkFactory(app.state.session_factory, settings), settings, app.state.clock).sent


def test_reset_link_works_once(app: Any, anon_client: TestClient, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    add_user(app, "amina@exemple.fr", name="Amina")
    assert "mot-de-passe-oublie" in anon_client.get("/connexion").text
    known = forgot(anon_client, "amina@exemple.fr")
    unknown = forgot(anon_client, "personne@exemple.fr")
    assert known.status_code == unknown.status_code == 200
    strip = lambda t: t.replace("amina@exemple.fr", "").replace("personne@exemple.fr", "")  # noqa: E731
    assert strip(known.text) == strip(unknown.text)
    assert _send(app, port) == 1  # only the real account got a mail
    link = link_in(sink.to("amina@exemple.fr")[0], "/mot-de-passe/nouveau/")
    assert anon_client.get(link).status_code == 200
    short = anon_client.post(link, data={"password": "court", "confirm": "court"})
    assert short.status_code == 422 and "12" in short.text
    done = anon_client.post(link, data={"password": NEW, "confirm": NEW})
    assert done.status_code == 200 and "Mot de passe changé" in done.text
    assert anon_client.post(link, data={"password": NEW, "confirm": NEW}).status_code == 410  # single use
    login = "/api/v1/auth/login"
    assert anon_client.post(login, json={"email": "amina@exemple.fr", "password": PASSWORD}).status_code == 401
    assert anon_client.post(login, json={"email": "amina@exemple.fr", "password": NEW}).status_code == 200


def test_reset_link_expires(app: Any, anon_client: TestClient, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    add_user(app, "karim@exemple.fr")
    forgot(anon_client, "karim@exemple.fr")
    _send(app, port)
    link = link_in(sink.to("karim@exemple.fr")[0], "/mot-de-passe/nouveau/")
    app.state.clock.advance(minutes=app.state.settings.password_reset_minutes + 1)
    assert anon_client.get(link).status_code == 410
    assert anon_client.post(link, data={"password": NEW, "confirm": NEW}).status_code == 410
    assert anon_client.get("/mot-de-passe/nouveau/" + "x" * 43).status_code == 410
    app.state.clock.advance(minutes=-1)
    _ = timedelta
