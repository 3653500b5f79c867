"""`regieflow verify` reports a document file that is missing or altered, and only those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.core.unit_of_work import UnitOfWorkFactory
from app.documents.storage import LocalStorage
from app.documents.verify import verify_documents
from app.transitions.verify import run
from tests.documents.conftest import pdf_bytes
from tests.support.api import API, create_project


def _document_problems(app: Any) -> list[str]:
    report = run(UnitOfWorkFactory(app.state.session_factory, app.state.settings), checkpoints=False)
    return [line for finding in report.findings for line in finding.problems if line.startswith("document ")]


def test_verify_finds_missing_and_altered_files(app: Any, client: TestClient, documents_dir: Path) -> None:
    pid = create_project(client)["id"]
    base = f"{API}/projects/{pid}/documents"
    kept = client.post(base, files={"file": ("a.pdf", pdf_bytes("A"))}).json()
    altered = client.post(base, files={"file": ("b.txt", b"texte d'origine\n")}).json()
    missing = client.post(base, files={"file": ("c.txt", b"sera perdu\n")}).json()
    client.post(f"{base}/{kept['id']}/versions", files={"file": ("a2.pdf", pdf_bytes("A2"))})
    assert _document_problems(app) == []

    storage = LocalStorage(documents_dir)
    keys = {}
    with UnitOfWorkFactory(app.state.session_factory)() as uow:
        from app.documents.repository import DocumentRepository

        for v in DocumentRepository(uow.session).all_versions():
            keys[(v.document_id, v.number)] = v.storage_key
        assert verify_documents(uow, storage) == []
    path = documents_dir / keys[(altered["id"], 1)]
    path.write_bytes(b"texte d'originE\n")  # same size, one byte changed
    (documents_dir / keys[(missing["id"], 1)]).unlink()
    (documents_dir / keys[(kept["id"], 1)]).write_bytes(b"")  # an earlier version counts too

    problems = _document_problems(app)
    assert len(problems) == 3, problems
    assert any(f"document {altered['id']} version 1" in p and "SHA-256 differs" in p for p in problems)
    assert any(f"document {missing['id']} version 1" in p and "file missing" in p for p in problems)
    assert any(f"document {kept['id']} version 1" in p and "size 0 bytes" in p for p in problems)
    assert not any(f"document {kept['id']} version 2" in p for p in problems)
