"""Both storages behind one interface: round trips with checksums, missing and altered files, and the
whole API on the S3 one (a real SeaweedFS on loopback, no mock)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.documents.storage import CHUNK, LocalStorage, S3Storage, Storage, storage_for
from tests.documents.conftest import pdf_bytes
from tests.support.api import API, create_project

SIZES = (1, 1000, CHUNK - 1, CHUNK + 1, 9 * CHUNK + 7)  # 9 MiB: a multipart upload to S3


class Cut(io.BytesIO):
    """A stream that fails halfway, like a client gone or a full disk."""

    def read(self, n: int | None = -1) -> bytes:
        if self.tell() > CHUNK:
            raise OSError("connexion coupée")
        return super().read(CHUNK if n is None or n < 0 else n)


def check_storage(storage: Storage) -> None:
    for size in SIZES:
        data = os.urandom(size)
        stored = storage.put(io.BytesIO(data))
        assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
        assert storage.exists(stored.key)
        assert b"".join(storage.open(stored.key)) == data
        assert storage.verify(stored.key, size, stored.sha256) is None
        assert storage.verify(stored.key, size + 1, stored.sha256) is not None
        assert storage.verify(stored.key, size, "0" * 64) == "SHA-256 differs from the one recorded"
        storage.delete(stored.key)
        assert not storage.exists(stored.key)
        assert storage.verify(stored.key, size, stored.sha256) in ("file missing", "object missing")
        with pytest.raises(FileNotFoundError):
            storage.open(stored.key)


def test_local_storage_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "docs")
    check_storage(storage)
    with pytest.raises(OSError):
        storage.put(Cut(os.urandom(3 * CHUNK)))
    assert [p for p in (tmp_path / "docs").rglob("*") if p.is_file()] == []  # no half file, no temp file
    with pytest.raises(ValueError):
        storage.open("../../etc/passwd")


def test_s3_storage_round_trip(s3_settings: Any) -> None:
    storage = storage_for(s3_settings)
    assert isinstance(storage, S3Storage)
    check_storage(storage)
    with pytest.raises(OSError):
        storage.put(Cut(os.urandom(10 * CHUNK)))  # a cut multipart upload is aborted: no object
    assert storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix).get("KeyCount", 0) == 0


def test_api_round_trip_on_s3(app: Any, client: TestClient, s3_settings: Any, documents_dir: Path) -> None:
    app.state.settings = s3_settings
    pid = create_project(client)["id"]
    content = pdf_bytes("Rapport de faisabilité")
    r = client.post(
        f"{API}/projects/{pid}/documents",
        files={"file": ("rapport.pdf", content, "application/pdf")},
        data={"kind": "rapport_faisabilite"},
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    down = client.get(f"{API}/projects/{pid}/documents/{doc['id']}/content")
    assert down.status_code == 200 and down.content == content
    storage = storage_for(s3_settings)
    assert isinstance(storage, S3Storage)
    assert storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix)["KeyCount"] == 1
    assert not documents_dir.exists()  # nothing went to the local directory
