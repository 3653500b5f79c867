"""The project's thread is everyone's who reads the project; consultant notes are Mouvement
consultants' (and admins') only: for anyone else they appear nowhere — not in the pages, the API, the
exports (CSV, XLSX), the feed, webhooks, the calendar, notifications or the project's history."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from app.core.unit_of_work import UnitOfWorkFactory
from app.notifications import service as notifications
from tests.support.accounts import add_user, login
from tests.support.api import API, create_project, make_key

SECRET = "Note confidentielle : le porteur hésite, à surveiller"


@contextmanager
def person(app: Any, role: str, pid: str | None, region: str | None = None) -> Iterator[TestClient]:
    email = f"{role}-{uuid.uuid4().hex[:6]}@exemple.fr"
    add_user(app, email, [(role, uuid.UUID(pid) if pid else None, region)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, email)
        yield c


def _everything_a_reader_sees(app: Any, c: TestClient, pid: str) -> str:
    parts = []
    for path in (
        f"{API}/projects/{pid}",
        f"{API}/projects/{pid}/events?page_size=200",
        f"{API}/projects/{pid}/messages",
        f"{API}/events",
        f"{API}/exports/projects.csv",
        f"{API}/notifications",
        f"/projets/{pid}",
        "/notifications",
    ):
        r = c.get(path)
        parts.append(r.text)
    xlsx = c.get(f"{API}/exports/projects.xlsx")
    if xlsx.status_code == 200:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(xlsx.content))
        parts += [str(cell.value) for ws in wb.worksheets for row in ws.iter_rows() for cell in row]
    cal = c.post(f"{API}/calendars", json={"project_id": pid})
    if cal.status_code == 201:
        parts.append(c.get(cal.json()["url"].split("://", 1)[-1].partition("/")[2].join(["/", ""])).text)
    return "\n".join(parts)


def test_notes_are_seen_by_consultants_and_admins_only(app: Any, client: TestClient) -> None:
    pid = create_project(client)["id"]
    r = client.post(f"{API}/projects/{pid}/notes", json={"body": SECRET})
    assert r.status_code == 201, r.text
    assert client.post(f"{API}/projects/{pid}/messages", json={"body": "Bonjour à tous"}).status_code == 201
    assert [n["body"] for n in client.get(f"{API}/projects/{pid}/notes").json()] == [SECRET]
    # notes write no project event: history, feed and webhooks (built on events) cannot carry them
    events = client.get(f"{API}/projects/{pid}/events?page_size=200").json()["items"]
    assert [e["type"] for e in events] == ["project.created", "message.posted"]
    uows = UnitOfWorkFactory(app.state.session_factory, app.state.settings)
    notifications.scan(uows, app.state.settings, app.state.clock)

    with person(app, "consultant", None, "Hauts-de-France") as consultant:
        page = consultant.get(f"/projets/{pid}")
        assert "Note confidentielle" in page.text
    with person(app, "admin", None) as admin:
        assert admin.get(f"{API}/projects/{pid}/notes").status_code == 200

    outsiders = [
        person(app, "porteur", pid),
        person(app, "observateur", pid),
        person(app, "observateur", None, "Hauts-de-France"),
    ]
    for ctx in outsiders:
        with ctx as c:
            r = c.get(f"{API}/projects/{pid}/notes")
            assert r.status_code == 403 and "Note" not in r.text and SECRET not in r.text
            assert c.post(f"{API}/projects/{pid}/notes", json={"body": "x"}).status_code == 403
            seen = _everything_a_reader_sees(app, c, pid)
            assert "Bonjour à tous" in seen  # the thread is theirs
            assert "confidentielle" not in seen and "Notes des consultants" not in seen
    # a key without the consultant mark: the same
    key, _ = make_key(app, consultant=False)
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.get(f"{API}/projects/{pid}/notes").status_code == 403
        seen = _everything_a_reader_sees(app, c, pid)
        assert "confidentielle" not in seen


def test_a_note_of_a_project_one_cannot_read_is_404(app: Any, client: TestClient) -> None:
    pid = create_project(client, region="Bretagne", name="Régie de Brest")["id"]
    with person(app, "consultant", None, "Hauts-de-France") as c:
        assert c.get(f"{API}/projects/{pid}/notes").status_code == 404


def test_messages_are_checked_and_evented(client: TestClient) -> None:
    pid = create_project(client)["id"]
    for body in ({"body": ""}, {"body": "   "}, {"body": "x" * 5001}, {"body": "a\x00b"}, {}):
        r = client.post(f"{API}/projects/{pid}/messages", json=body)
        assert r.status_code == 422, (body, r.text)
    r = client.post(f"{API}/projects/{pid}/messages", json={"body": "Réunion jeudi ?"})
    assert r.status_code == 201 and r.headers["ETag"] == '"2"'
    feed = client.get(f"{API}/events").json()
    assert any(e["type"] == "message.posted" for e in feed["items"])
