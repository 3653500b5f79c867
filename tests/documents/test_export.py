"""The full export carries the documents' metadata (not the files); the import restores it, and verify
then checks the files against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.core.unit_of_work import UnitOfWorkFactory
from app.exchange.dump import FILES_TRAVEL_BESIDE, export_json, tables
from tests.documents.conftest import pdf_bytes
from tests.support.api import API, create_project


def test_export_carries_document_metadata(app: Any, client: TestClient, documents_dir: Path) -> None:
    pid = create_project(client)["id"]
    content = pdf_bytes("Statuts")
    doc = client.post(
        f"{API}/projects/{pid}/documents", files={"file": ("statuts.pdf", content)}, data={"kind": "statuts"}
    ).json()
    assert {t.name for t in tables()} >= FILES_TRAVEL_BESIDE
    dump = json.loads(export_json(UnitOfWorkFactory(app.state.session_factory, app.state.settings)))
    by_name = {t["name"]: t for t in dump["tables"]}
    documents = [dict(zip(by_name["documents"]["columns"], row, strict=True)) for row in by_name["documents"]["rows"]]
    versions = [
        dict(zip(by_name["document_versions"]["columns"], row, strict=True))
        for row in by_name["document_versions"]["rows"]
    ]
    assert [(d["id"], d["project_id"], d["kind"]) for d in documents] == [(doc["id"], pid, "statuts")]
    assert [(v["sha256"], v["size"]) for v in versions] == [(doc["sha256"], len(content))]
    # the key names the file that travels beside the dump
    assert (documents_dir / versions[0]["storage_key"]).read_bytes() == content
    assert "JVBER" not in json.dumps(dump) and "%PDF" not in json.dumps(dump)  # no content in the dump
