"""Control characters in the public link's comment and in the page forms of messages and notes are
refused beside the field (422), never stored (a NUL gave a 500 on PostgreSQL) — review of issue 15."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.messages.models import ConsultantNote, Message
from app.opinions.models import OpinionAnswer
from tests.mail.smtp import Sink
from tests.opinions.test_opinions import ask, at_validation, link_of, send
from tests.support.accounts import browser

CONTROLS = st.sampled_from([chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))])
PLAIN = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)  # what a form can carry
HOSTILE = st.builds(lambda a, c, b: a + c + b, PLAIN, CONTROLS, PLAIN)


def _count(app: Any, model: Any) -> int:
    with app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_the_link_comment_refuses_control_characters(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    pid, ids = at_validation(client)
    ask(client, pid, ids["bailleur_social"], "b@exemple.fr")
    send(app, port)
    link = link_of(sink, "b@exemple.fr")
    for comment in ("ok\x00", "\x1b[31mrouge", "bip\x07"):
        r = anon_client.post(link, data={"verdict": "favorable", "comment": comment}, follow_redirects=False)
        assert r.status_code == 422, (comment, r.status_code)
        assert r.headers["content-type"].startswith("text/html") and "caractères de contrôle" in r.text
    assert _count(app, OpinionAnswer) == 0
    ok = anon_client.post(link, data={"verdict": "favorable", "comment": "Ligne 1\r\nLigne 2\ttab"})
    assert ok.status_code == 200 and _count(app, OpinionAnswer) == 1


def test_message_and_note_forms_refuse_control_characters(app: Any, client: TestClient) -> None:
    pid, _ = at_validation(client)
    with browser(app, "c@regie.example", [("consultant", None, None)]) as b:

        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(text=HOSTILE)
        def refused(text: str) -> None:
            for path in ("messages", "notes"):
                r = b.post(
                    f"/projets/{pid}/{path}", data={"csrf": b.csrf, "body": "x" + text + "y"}, follow_redirects=False
                )
                assert r.status_code == 422, (path, repr(text), r.status_code)
                assert "caractères de contrôle" in r.text

        refused()
        r = b.post(f"/projets/{pid}/messages", data={"csrf": b.csrf, "body": "Bonjour\nà tous"}, follow_redirects=False)
        assert r.status_code == 303
    assert _count(app, Message) == 1 and _count(app, ConsultantNote) == 0
