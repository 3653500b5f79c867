"""A deliberation filed through the personal link (review of issue 15, items 1 and 4): it streams like
any document (past the 1 MiB body limit, up to REGIEFLOW_DOCUMENTS_MAX_FILE_BYTES); every refusal (file
too large, wrong type, field too long) comes back as the link's HTML form in French, the reason beside
the field, the choice and comment kept, and nothing written; an accepted one is written in the order of
what the events speak of: the approval, the deliberation filed with it, then `opinion.answered`."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.documents.models import Document
from app.evidence.models import Approval
from app.opinions.models import OpinionAnswer
from app.projects.models import Event
from tests.documents.conftest import pdf_bytes
from tests.mail.smtp import Sink
from tests.opinions.test_opinions import ask, at_validation, link_of, send
from tests.support.html import parse

MIB = 1024 * 1024
COMMENT = "Avis donné après la délibération du conseil d'administration du 12 novembre.\nRéserves : aucune."


def _link(app: Any, client: TestClient, smtp: tuple[Sink, int]) -> tuple[str, str, dict[str, Any]]:
    sink, port = smtp
    pid, ids = at_validation(client)
    req = ask(client, pid, ids["bailleur_social"], "bailleur@vilogia.example")
    assert send(app, port).sent == 1
    return pid, link_of(sink, "bailleur@vilogia.example"), req


def _big_pdf(size: int) -> bytes:
    """A real PDF, padded past `size` bytes with a comment after its end (still read as a PDF)."""
    head = pdf_bytes("Délibération")
    return head + b"\n%" + b"x" * (size - len(head)) + b"\n"


def _written(app: Any) -> dict[str, int]:
    with app.state.session_factory() as s:
        return {
            "answers": int(s.scalar(select(func.count()).select_from(OpinionAnswer)) or 0),
            "approvals_by_link": int(
                s.scalar(select(func.count()).select_from(Approval).where(Approval.source == "lien")) or 0
            ),
            "deliberations": int(
                s.scalar(select(func.count()).select_from(Document).where(Document.kind == "deliberation")) or 0
            ),
            "answered_events": int(
                s.scalar(select(func.count()).select_from(Event).where(Event.type == "opinion.answered")) or 0
            ),
        }


NOTHING = {"answers": 0, "approvals_by_link": 0, "deliberations": 0, "answered_events": 0}


def _form_kept(html: str, field: str, verdict: str, comment: str) -> str:
    """The link's form came back with the reason beside `field`; the choice and comment are kept."""
    doc = parse(html)
    error = doc.by_id(f"erreur-{field}")
    assert error is not None, html
    checked = doc.find("input", name="verdict", checked=True)
    assert checked is not None and checked.get("value") == verdict
    textarea = doc.find("textarea", name="comment")
    assert textarea is not None and textarea.text == " ".join(comment.split())
    return error.text


def test_a_deliberation_of_several_mebibytes_streams_and_is_written_in_order(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    pid, link, req = _link(app, client, smtp)
    data = _big_pdf(3 * MIB)
    accented = "é" * 4990  # 5,000 characters of 2 bytes: more than the 8 KiB of a document form's field
    r = anon_client.post(
        link,
        data={"verdict": "favorable", "comment": accented},
        files={"file": ("deliberation.pdf", data, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    answer = client.get(f"/api/v1/projects/{pid}/opinion-requests/{req['id']}").json()["answer"]
    assert answer["verdict"] == "favorable" and answer["comment"] == accented
    with app.state.session_factory() as s:
        row = s.scalars(select(OpinionAnswer)).one()
        doc = s.get(Document, row.document_id)
        assert doc is not None and doc.kind == "deliberation" and doc.current.size == len(data)
        # the deliberation is filed with the approval the answer gives, as its event says
        assert (doc.evidence_kind, doc.evidence_id) == ("approvals", row.approval_id)
        events = list(s.scalars(select(Event).where(Event.project_id == row.project_id).order_by(Event.id)))
    tail = [(e.type, e.data) for e in events][-3:]
    assert [t for t, _ in tail] == ["evidence.created", "document.created", "opinion.answered"]
    (_, approval), (_, document), (_, answered) = tail
    assert approval["kind"] == "approvals" and approval["id"] == row.approval_id
    assert document["document_id"] == doc.id
    assert document["evidence"] == {"kind": "approvals", "id": row.approval_id}
    assert answered["document_id"] == doc.id and answered["approval_id"] == row.approval_id
    # the stakeholder's page says a deliberation came with the answer; the file is the one sent
    assert "Une délibération était jointe" in anon_client.get(link).text
    got = client.get(f"/api/v1/projects/{pid}/documents/{doc.id}/versions/1/content")
    assert got.status_code == 200 and got.content == data


def test_a_file_too_large_comes_back_in_the_form_and_nothing_is_written(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"documents_max_file_bytes": 2 * MIB})
    pid, link, req = _link(app, client, smtp)
    r = anon_client.post(
        link,
        data={"verdict": "reserve", "comment": COMMENT},
        files={"file": ("deliberation.pdf", _big_pdf(3 * MIB), "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "trop volumineux" in _form_kept(r.text, "file", "reserve", COMMENT)
    assert _written(app) == NOTHING
    # the link still works: the answer, without the file, goes through
    again = anon_client.post(link, data={"verdict": "reserve", "comment": COMMENT}, follow_redirects=False)
    assert again.status_code == 303
    assert client.get(f"/api/v1/projects/{pid}/opinion-requests/{req['id']}").json()["status"] == "repondu"


def test_a_file_of_the_wrong_type_comes_back_in_the_form_and_nothing_is_written(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    _, link, _ = _link(app, client, smtp)
    program = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 64
    r = anon_client.post(
        link,
        data={"verdict": "defavorable", "comment": COMMENT},
        files={"file": ("deliberation.pdf", program, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 415 and r.headers["content-type"].startswith("text/html")
    _form_kept(r.text, "file", "defavorable", COMMENT)
    assert _written(app) == NOTHING  # no answer (nor approval) without the file that was refused


def test_a_comment_too_long_comes_back_beside_the_field_and_nothing_is_written(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    _, link, _ = _link(app, client, smtp)
    long = "€" * 7000  # 21,000 bytes: past what 5,000 characters can take
    r = anon_client.post(
        link,
        data={"verdict": "favorable", "comment": long},
        files={"file": ("deliberation.pdf", pdf_bytes(), "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    doc = parse(r.text)
    error, textarea = doc.by_id("erreur-comment"), doc.find("textarea", name="comment")
    assert error is not None and "Commentaire trop long" in error.text
    assert textarea is not None and textarea.text and long.startswith(textarea.text)  # what was typed, cut
    assert _written(app) == NOTHING
    # a dead link still says nothing, whatever the body
    dead = anon_client.post(
        "/avis/" + "A" * 43, data={"verdict": "favorable"}, files={"file": ("d.pdf", pdf_bytes(), "application/pdf")}
    )
    assert dead.status_code == 404 and "pas ou plus valable" in dead.text


def _post_raw(app: Any, path: str, chunks: list[bytes]) -> tuple[int, int]:
    """POST a multipart body to `path` straight through the ASGI app, chunk by chunk: (status, how many
    chunks the server read)."""
    import anyio

    pulled = 0
    boundary = b"frontiere"
    body_size = sum(len(c) for c in chunks)

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        await anyio.sleep(0.01)
        return {"type": "http.disconnect"}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

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
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=" + boundary),
            (b"content-length", str(body_size).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    return status[0], pulled


def _multipart(verdict: str, data: bytes) -> list[bytes]:
    head = (
        b'--frontiere\r\nContent-Disposition: form-data; name="verdict"\r\n\r\n' + verdict.encode() + b"\r\n"
        b'--frontiere\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n"
    )
    size = 64 * 1024
    return [head] + [data[i : i + size] for i in range(0, len(data), size)] + [b"\r\n--frontiere--\r\n"]


def test_a_dead_or_answered_link_reads_no_body(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    """Whoever posts a file to a link that cannot be answered (unknown, answered) gets the link's page
    without the server reading the body (no temporary file for a guess); an open link reads it all."""
    _, link, _ = _link(app, client, smtp)
    chunks = _multipart("favorable", _big_pdf(2 * MIB))
    assert _post_raw(app, "/avis/" + "A" * 43, chunks) == (404, 0)
    assert _post_raw(app, link, chunks) == (303, len(chunks))
    assert _post_raw(app, link, chunks) == (409, 0)  # answered: the page shows the answer, reads nothing
    assert _written(app)["deliberations"] == 1
