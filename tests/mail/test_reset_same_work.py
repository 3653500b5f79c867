"""« Mot de passe oublié » does the same work whatever the address (review of issue 15, item 2): the
request runs the same SQL statements for an active account, an unknown address and a deactivated
account (nobody is looked up; one request row is queued), so its time cannot tell them apart; the
worker then sends the link to the account only. The form carries a CSRF token: a POST without it (or
with another) is refused in French and queues nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from app.accounts.password_reset import PasswordReset
from app.mail.models import OutgoingMail
from tests.mail.smtp import Sink
from tests.mail.test_password_reset import _send
from tests.support.accounts import add_user
from tests.support.html import csrf_of, parse


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    """The SQL statements the database receives meanwhile (their text, not their values)."""
    engine = app.state.session_factory.kw["bind"]
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        text = re.sub(r"\s+", " ", statement).strip()
        seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", text))  # the test's savepoints are numbered

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _ask(client: TestClient, email: str) -> tuple[int, list[str]]:
    token = csrf_of(parse(client.get("/mot-de-passe-oublie").text))
    with statements(client.app) as seen:
        r = client.post("/mot-de-passe-oublie", data={"email": email, "csrf": token})
    return r.status_code, seen


def _count(app: Any, model: Any) -> int:
    with app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_the_same_statements_whatever_the_address(app: Any, anon_client: TestClient, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    add_user(app, "amina@exemple.fr", name="Amina")
    gone, _ = add_user(app, "parti@exemple.fr")
    with app.state.session_factory() as s:
        from app.accounts.models import User

        user = s.get(User, gone)
        assert user is not None
        user.active = False
        s.commit()
    known = _ask(anon_client, "amina@exemple.fr")
    unknown = _ask(anon_client, "personne@exemple.fr")
    inactive = _ask(anon_client, "parti@exemple.fr")
    assert known[0] == unknown[0] == inactive[0] == 200
    assert known[1] == unknown[1] == inactive[1] and known[1]
    assert not any("FROM users" in q or "password_resets" in q for q in known[1])  # nobody looked up
    assert _count(app, PasswordReset) == 0  # the link is made by the worker, not by the request
    assert _send(app, port) == 1
    assert [str(m["To"]) for m in sink.messages] == ["amina@exemple.fr"]
    assert _count(app, PasswordReset) == 1
    assert _count(app, OutgoingMail) == 1  # the requests for other addresses are gone, not kept


def test_a_post_without_the_forms_token_is_refused_in_french(app: Any, anon_client: TestClient) -> None:
    add_user(app, "amina@exemple.fr")
    bare = anon_client.post("/mot-de-passe-oublie", data={"email": "amina@exemple.fr"})
    assert bare.status_code == 403 and "Le formulaire a expiré" in bare.text
    assert 'value="amina@exemple.fr"' in bare.text  # what was typed is kept
    anon_client.get("/mot-de-passe-oublie")  # the cookie is set, but the field is another site's guess
    forged = anon_client.post("/mot-de-passe-oublie", data={"email": "amina@exemple.fr", "csrf": "x" * 22})
    assert forged.status_code == 403 and "Le formulaire a expiré" in forged.text
    assert _count(app, OutgoingMail) == 0
    # the refused page carries a fresh token: sending it again works
    again = anon_client.post(
        "/mot-de-passe-oublie", data={"email": "amina@exemple.fr", "csrf": csrf_of(parse(forged.text))}
    )
    assert again.status_code == 200 and _count(app, OutgoingMail) == 1


def test_typed_addresses_are_not_kept_listed_or_exported(app: Any, anon_client: TestClient) -> None:
    """Review of issue 15: the request rows hold what someone typed. Without SMTP a worker round still
    resolves them (an address that is nobody's is deleted); until then the outbox listing and the export
    leave them out. A NUL or a lone surrogate in the field is no 500 (PostgreSQL refuses NUL in text)."""
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.exchange.dump import export_json
    from app.mail.service import outbox, send_due

    add_user(app, "amina@exemple.fr", name="Amina")
    for typed in ("personne@exemple.fr", "victim\x00@exemple.fr", "MotDePasseSecret!"):
        status, _ = _ask(anon_client, typed)
        assert status == 200, typed
    token = csrf_of(parse(anon_client.get("/mot-de-passe-oublie").text))
    broken = anon_client.post(  # bytes that are no UTF-8, as a hostile client sends them
        "/mot-de-passe-oublie",
        content=b"email=x%ED%B2%80%FF%00@exemple.fr&csrf=" + token.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert broken.status_code == 200
    assert _ask(anon_client, "amina@exemple.fr")[0] == 200
    uows = UnitOfWorkFactory(app.state.session_factory, app.state.settings)
    with uows(write=False) as uow:
        assert outbox(uow, limit=100) == []  # `regieflow mail outbox` lists no typed address
    dump = export_json(uows)
    assert "personne@exemple.fr" not in dump and "MotDePasseSecret" not in dump.lower() + dump
    assert not app.state.settings.smtp_host
    send_due(uows, app.state.settings, app.state.clock)  # a worker round, SMTP not configured
    with app.state.session_factory() as s:
        kept = list(s.scalars(select(OutgoingMail.to_address)))
    assert kept == ["amina@exemple.fr"]  # the account's reset mail waits for SMTP; the rest is gone
