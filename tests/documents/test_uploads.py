"""How uploads arrive: cut, incomplete or stalled bodies leave nothing; the type comes from the content
whatever the name and Content-Type say (generated files)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.documents import detect
from app.documents.kinds import ALLOWED_TYPES
from tests.documents.conftest import SAMPLES, pdf_bytes, stored_files
from tests.support.api import API, assert_problem, create_project

BOUNDARY = "frontiere-regieflow"


def multipart(content: bytes, name: str = "statuts.pdf", ctype: str = "application/pdf", close: bool = True) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nStatuts\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {ctype}\r\n\r\n"
    ).encode()
    return head + content + (f"\r\n--{BOUNDARY}--\r\n".encode() if close else b"")


def call(app: Any, path: str, headers: dict[str, str], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drive the ASGI app with these request messages (after them: a disconnect); what it sent back."""
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await anyio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }

    async def main() -> None:
        await app(scope, receive, send)

    anyio.run(main)
    return sent


def _count_rows(app: Any) -> int:
    from sqlalchemy import func, select

    from app.documents.models import Document, DocumentVersion

    with app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Document)) or 0) + int(
            session.scalar(select(func.count()).select_from(DocumentVersion)) or 0
        )


@pytest.mark.parametrize("where", ["headers", "middle", "last_chunk"])
def test_a_cut_upload_leaves_no_file_and_no_row(app: Any, client: TestClient, documents_dir: Path, where: str) -> None:
    pid = create_project(client)["id"]
    version = client.get(f"{API}/projects/{pid}").json()["version"]
    body = multipart(pdf_bytes() + bytes(100_000))
    cut = {"headers": 60, "middle": len(body) // 2, "last_chunk": len(body) - 3}[where]
    headers = {
        "authorization": client.headers["authorization"],
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        "content-length": str(len(body)),
    }
    chunks = [body[i : min(i + 8192, cut)] for i in range(0, cut, 8192)]
    sent = call(
        app,
        f"{API}/projects/{pid}/documents",
        headers,
        [{"type": "http.request", "body": c, "more_body": True} for c in chunks],
    )
    assert sent == []  # the client is gone: no answer, no route ran
    assert stored_files(documents_dir) == []
    assert _count_rows(app) == 0
    assert client.get(f"{API}/projects/{pid}").json()["version"] == version


def test_an_incomplete_body_is_refused(app: Any, client: TestClient, documents_dir: Path) -> None:
    pid = create_project(client)["id"]
    body = multipart(pdf_bytes(), close=False)  # ends without its closing boundary
    headers = {
        "authorization": client.headers["authorization"],
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    sent = call(app, f"{API}/projects/{pid}/documents", headers, [{"type": "http.request", "body": body}])
    assert sent[0]["status"] == 422
    assert "incomplet" in b"".join(m.get("body", b"") for m in sent[1:]).decode()
    assert stored_files(documents_dir) == [] and _count_rows(app) == 0


def test_a_stalled_upload_times_out(app: Any, client: TestClient, documents_dir: Path) -> None:
    app.state.settings = app.state.settings.model_copy(update={"body_timeout_seconds": 0.2})
    pid = create_project(client)["id"]
    sent: list[dict[str, Any]] = []
    body = multipart(pdf_bytes())

    async def main() -> None:
        first = True

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": body[:100], "more_body": True}
            await anyio.sleep(5)  # never comes in time
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": f"{API}/projects/{pid}/documents",
            "headers": [
                (b"authorization", client.headers["authorization"].encode()),
                (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            ],
            "query_string": b"",
            "app": app,
        }
        await app(scope, receive, send)

    anyio.run(main)
    assert sent[0]["status"] == 408
    assert stored_files(documents_dir) == [] and _count_rows(app) == 0


# --- the type comes from the content ---------------------------------------------------------------
LIES = st.sampled_from(
    [
        ("statuts.pdf", "application/pdf"),
        ("photo.png", "image/png"),
        ("budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("note.txt", "text/plain"),
        ("page.html", "text/html"),
        ("rien", "application/octet-stream"),
    ]
)


@given(st.binary(min_size=1, max_size=4096))
def test_random_bytes_are_never_taken_for_a_document_format(data: bytes) -> None:
    found = detect.content_type(data, text=detect.is_text(data))
    assert found in (None, "text/plain")
    assert (found == "text/plain") == detect.is_text(data)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), st.binary(max_size=64))
def test_known_formats_are_recognised_whatever_follows(expected: str, tail: bytes) -> None:
    content = SAMPLES[expected]()
    if expected != "text/plain":
        content += tail  # trailing bytes do not change what the first bytes say
    assert detect.content_type(content, text=detect.is_text(content)) == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(min_size=1, max_size=2048), st.sampled_from(sorted(SAMPLES)).map(lambda k: SAMPLES[k]())
    ),
    lie=LIES,
)
def test_the_name_and_content_type_never_decide(client: TestClient, content: bytes, lie: tuple[str, str]) -> None:
    pid = create_project(client, name=f"Régie {uuid.uuid4().hex[:6]}")["id"]
    name, ctype = lie
    r = client.post(f"{API}/projects/{pid}/documents", files={"file": (name, content, ctype)})
    expected = detect.content_type(content, text=detect.is_text(content))
    if expected is None:
        assert_problem(r, 415, "type_de_fichier_refuse")
    else:
        assert r.status_code == 201, r.text
        assert r.json()["content_type"] == expected
        down = client.get(f"{API}/projects/{pid}/documents/{r.json()['id']}/content")
        assert down.headers["content-type"].split(";")[0] == expected
        assert (
            down.headers["content-disposition"]
            .split("filename=")[1]
            .split(";")[0]
            .strip('"')
            .endswith("." + ALLOWED_TYPES[expected])
        )


def test_idempotency_key_tells_two_files_apart(client: TestClient, documents_dir: Path) -> None:
    pid = create_project(client)["id"]
    url = f"{API}/projects/{pid}/documents"
    content = pdf_bytes("A")
    first = client.post(url, files={"file": ("a.pdf", content)}, headers={"Idempotency-Key": "depot-1"})
    assert first.status_code == 201, first.text
    again = client.post(url, files={"file": ("a.pdf", content)}, headers={"Idempotency-Key": "depot-1"})
    assert again.status_code == 201 and again.headers.get("Idempotency-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    other = client.post(url, files={"file": ("a.pdf", pdf_bytes("B"))}, headers={"Idempotency-Key": "depot-1"})
    assert_problem(other, 422, "idempotence_cle_reutilisee")
    assert len(client.get(url).json()) == 1
    assert len(stored_files(documents_dir)) == 1


def test_without_credentials_the_body_limits_apply(anon_client: TestClient, client: TestClient) -> None:
    from tests.documents.conftest import MAX_FILE

    pid = create_project(client)["id"]
    url = f"{API}/projects/{pid}/documents"
    assert_problem(anon_client.post(url, files={"file": ("a.txt", b"texte")}), 401)
    assert_problem(anon_client.post(url, files={"file": ("a.txt", b"a" * MAX_FILE)}), 413)


def test_a_refused_upload_on_the_opinion_link_links_back_to_the_link_not_to_a_project() -> None:
    """The page `_refuse` answers before any route (a stalled upload: 408) names its way back: on the
    opinion link that is the link's page, never « /projets/<token> » (the token is no project id, and the
    link would carry the secret to another route)."""
    import asyncio

    from app.documents.upload import _refuse

    def page(path: str) -> tuple[int, str]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        asyncio.run(_refuse({"type": "http", "path": path}, send, 408, "Envoi trop lent.", close=True))
        return sent[0]["status"], sent[1]["body"].decode()

    status, html = page("/avis/jeton-secret-de-la-demande")
    assert status == 408 and 'href="/avis/jeton-secret-de-la-demande"' in html and "/projets/" not in html
    status, html = page("/projets/0b6c5f3e-0000-4000-8000-000000000001/pieces")
    assert 'href="/projets/0b6c5f3e-0000-4000-8000-000000000001#pieces"' in html
