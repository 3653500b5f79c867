"""Who sees and changes documents: exactly those who read the project (404 otherwise, like projects);
writing needs write access; an expertise report needs a consultant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from tests.documents.conftest import pdf_bytes
from tests.support.accounts import add_user, login
from tests.support.api import API, assert_problem, create_project, make_key


@contextmanager
def key_client(app: Any, **kwargs: Any) -> Iterator[TestClient]:
    key, _ = make_key(app, **kwargs)
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


@contextmanager
def user_client(app: Any, role: str, project: str | None, region: str | None) -> Iterator[TestClient]:
    email = f"{role}-{uuid.uuid4().hex[:8]}@exemple.fr"
    add_user(app, email, [(role, uuid.UUID(project) if project else None, region)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, email)
        yield c


def _routes(pid: str, doc: int) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"{API}/projects/{pid}/documents"
    upload = {"files": {"file": ("a.pdf", pdf_bytes(), "application/pdf")}}
    return [
        ("GET", base, {}),
        ("POST", base, upload),
        ("GET", f"{base}/{doc}", {}),
        ("PATCH", f"{base}/{doc}", {"json": {"title": "Autre titre"}}),
        ("DELETE", f"{base}/{doc}", {}),
        ("GET", f"{base}/{doc}/versions", {}),
        ("POST", f"{base}/{doc}/versions", upload),
        ("GET", f"{base}/{doc}/content", {}),
        ("GET", f"{base}/{doc}/versions/1/content", {}),
        ("GET", f"{API}/projects/{pid}/dossier", {}),
    ]


def test_a_project_one_cannot_read_hides_its_documents(app: Any, client: TestClient) -> None:
    a = create_project(client)["id"]
    b = create_project(client, region="Bretagne", name="Régie de Brest")["id"]
    doc = client.post(f"{API}/projects/{a}/documents", files={"file": ("s.pdf", pdf_bytes(), "application/pdf")}).json()
    outsiders = [
        lambda: key_client(app, project_ids=[uuid.UUID(b)]),
        lambda: key_client(app, regions=["Bretagne"]),
        lambda: key_client(app, scopes=("read",), project_ids=[uuid.UUID(b)], consultant=False),
        lambda: user_client(app, "porteur", b, None),
        lambda: user_client(app, "observateur", None, "Bretagne"),
        lambda: user_client(app, "consultant", None, "Bretagne"),
    ]
    for make in outsiders:
        with make() as c:
            for method, url, kwargs in _routes(a, doc["id"]):
                r = c.request(method, url, **kwargs)
                assert_problem(r, 404)
                assert r.json()["detail"] == "Projet introuvable.", (method, url)
            # the document's id under a project they do read is not found either
            r = c.get(f"{API}/projects/{b}/documents/{doc['id']}")
            assert_problem(r, 404)
            assert_problem(c.get(f"{API}/projects/{b}/documents/{doc['id']}/content"), 404)
    # nothing changed: still one document, one version, its title
    again = client.get(f"{API}/projects/{a}/documents/{doc['id']}").json()
    assert (again["title"], again["current_version"], again["deleted_at"]) == (doc["title"], 1, None)


def test_readers_read_writers_write_consultants_report(app: Any, client: TestClient) -> None:
    pid = create_project(client)["id"]
    doc = client.post(
        f"{API}/projects/{pid}/documents", files={"file": ("s.pdf", pdf_bytes(), "application/pdf")}
    ).json()
    with user_client(app, "observateur", pid, None) as reader:
        assert reader.get(f"{API}/projects/{pid}/documents").status_code == 200
        assert reader.get(f"{API}/projects/{pid}/documents/{doc['id']}/content").status_code == 200
        for method, url, kwargs in _routes(pid, doc["id"]):
            if method != "GET":
                assert_problem(reader.request(method, url, **kwargs), 403)
    report = {"files": {"file": ("expertise.pdf", pdf_bytes("Rapport"), "application/pdf")}}
    with user_client(app, "porteur", pid, None) as lead:
        r = lead.post(f"{API}/projects/{pid}/documents", data={"kind": "statuts"}, **report)
        assert r.status_code == 201, r.text
        r = lead.post(f"{API}/projects/{pid}/documents", data={"kind": "rapport_expertise"}, **report)
        assert "consultant" in assert_problem(r, 403)["detail"]
    r = client.post(f"{API}/projects/{pid}/documents", data={"kind": "rapport_expertise"}, **report)
    assert r.status_code == 201, r.text
    expertise = r.json()["id"]
    with user_client(app, "porteur", pid, None) as lead:
        assert_problem(lead.post(f"{API}/projects/{pid}/documents/{expertise}/versions", **report), 403)
        assert_problem(lead.delete(f"{API}/projects/{pid}/documents/{expertise}"), 403)
        assert lead.get(f"{API}/projects/{pid}/documents/{expertise}/content").status_code == 200
