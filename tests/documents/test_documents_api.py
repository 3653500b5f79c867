"""Documents through the API: upload, metadata, versions, downloads, soft delete, events, limits."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.documents.conftest import MAX_FILE, MAX_PROJECT, SAMPLES, pdf_bytes, stored_files
from tests.support.api import API, assert_problem, create_project, events_of


def upload(
    client: TestClient,
    pid: str,
    content: bytes,
    *,
    name: str = "statuts.pdf",
    ctype: str = "application/pdf",
    **fields: Any,
) -> Any:
    return client.post(
        f"{API}/projects/{pid}/documents",
        files={"file": (name, content, ctype)},
        data={k: str(v) for k, v in fields.items()},
    )


def test_round_trip_keeps_bytes_and_checksum(client: TestClient, documents_dir: Path) -> None:
    pid = create_project(client)["id"]
    content = pdf_bytes("Statuts de l'association")
    r = upload(client, pid, content, title="Statuts signés", kind="statuts")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert (doc["size"], doc["content_type"], doc["kind"], doc["title"]) == (
        len(content),
        "application/pdf",
        "statuts",
        "Statuts signés",
    )
    assert r.headers["Location"].endswith(f"/documents/{doc['id']}")
    down = client.get(f"{API}/projects/{pid}/documents/{doc['id']}/content")
    assert down.status_code == 200
    assert down.content == content
    assert hashlib.sha256(down.content).hexdigest() == doc["sha256"]
    assert down.headers["content-type"] == "application/pdf"
    assert down.headers["x-content-type-options"] == "nosniff"
    assert down.headers["content-disposition"].startswith('attachment; filename="statuts.pdf"')
    assert [p.name for p in stored_files(documents_dir)] != []
    assert all(".tmp" not in p.parts for p in stored_files(documents_dir))
    listed = client.get(f"{API}/projects/{pid}/documents").json()
    assert [d["id"] for d in listed] == [doc["id"]]


def test_every_accepted_family_is_recognised_from_its_content(client: TestClient) -> None:
    pid = create_project(client)["id"]
    for expected, make in SAMPLES.items():
        # a lying name and Content-Type: the content decides
        r = upload(client, pid, make(), name="photo.exe", ctype="application/x-msdownload")
        assert r.status_code == 201, (expected, r.text)
        assert r.json()["content_type"] == expected
        down = client.get(f"{API}/projects/{pid}/documents/{r.json()['id']}/content")
        assert down.headers["content-type"].split(";")[0] == expected
        assert "photo.exe." in down.headers["content-disposition"]  # the real type's extension is added


def test_refused_types_leave_nothing(client: TestClient, documents_dir: Path) -> None:
    pid = create_project(client)["id"]
    version = client.get(f"{API}/projects/{pid}").json()["version"]
    for content in (
        b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200),
        b"PK\x03\x04" + bytes(100),
        b"\x00\x01\x02",
        b"\xff\xfe\xfa",
    ):
        r = upload(client, pid, content, name="statuts.pdf", ctype="application/pdf")
        body = assert_problem(r, 415, "type_de_fichier_refuse")
        assert "contenu" in body["detail"]
    assert client.get(f"{API}/projects/{pid}").json()["version"] == version
    assert stored_files(documents_dir) == []


def test_not_multipart_is_a_french_415(client: TestClient) -> None:
    pid = create_project(client)["id"]
    r = client.post(f"{API}/projects/{pid}/documents", json={"title": "x"})
    assert "multipart" in assert_problem(r, 415, "multipart_attendu")["detail"]
    r = client.post(f"{API}/projects/{pid}/documents", data={"title": "sans fichier"}, files={"autre": ("a.txt", b"x")})
    assert_problem(r, 422)


def test_size_limits_per_file_and_per_project(client: TestClient, documents_dir: Path) -> None:
    pid = create_project(client)["id"]
    r = upload(client, pid, b"a" * (MAX_FILE + 1), name="long.txt", ctype="text/plain")
    assert "Mo" in assert_problem(r, 413)["detail"] or "octets" in r.json()["detail"]
    assert stored_files(documents_dir) == []
    r = upload(client, pid, b"", name="vide.txt", ctype="text/plain")
    assert_problem(r, 422)
    # the project's space: several files that each fit, until the total would not
    count = 0
    while True:
        r = upload(client, pid, b"b" * MAX_FILE, name="gros.txt", ctype="text/plain")
        if r.status_code != 201:
            break
        count += 1
    assert count == MAX_PROJECT // MAX_FILE
    assert_problem(r, 413)
    assert len(stored_files(documents_dir)) == count


def test_versions_keep_every_earlier_file(client: TestClient) -> None:
    pid = create_project(client)["id"]
    first, second = pdf_bytes("Version 1"), pdf_bytes("Version 2 corrigée")
    doc = upload(client, pid, first, kind="compte_rendu_validation").json()
    r = client.post(
        f"{API}/projects/{pid}/documents/{doc['id']}/versions", files={"file": ("cr-v2.pdf", second, "application/pdf")}
    )
    assert r.status_code == 201, r.text
    assert r.json()["current_version"] == 2
    assert r.json()["sha256"] == hashlib.sha256(second).hexdigest()
    versions = client.get(f"{API}/projects/{pid}/documents/{doc['id']}/versions").json()
    assert [v["number"] for v in versions] == [1, 2]
    base = f"{API}/projects/{pid}/documents/{doc['id']}"
    assert client.get(f"{base}/versions/1/content").content == first
    assert client.get(f"{base}/versions/2/content").content == second
    assert client.get(f"{base}/content").content == second
    assert_problem(client.get(f"{base}/versions/3/content"), 404)


def test_rename_and_soft_delete_stay_in_history(client: TestClient) -> None:
    pid = create_project(client)["id"]
    doc = upload(client, pid, pdf_bytes(), kind="statuts").json()
    base = f"{API}/projects/{pid}/documents/{doc['id']}"
    r = client.patch(base, json={"title": "Statuts déposés en préfecture"})
    assert r.status_code == 200 and r.json()["title"] == "Statuts déposés en préfecture"
    assert client.delete(base).status_code == 204
    assert client.get(f"{API}/projects/{pid}/documents").json() == []
    kept = client.get(f"{API}/projects/{pid}/documents", params={"include_deleted": True}).json()
    assert [d["deleted_by"] is not None for d in kept] == [True]
    assert client.get(base).json()["deleted_at"] is not None
    assert_problem(client.get(f"{base}/content"), 404)
    assert_problem(client.delete(base), 404)
    types = [e["type"] for e in events_of(client, pid)]
    assert types[-3:] == ["document.created", "document.updated", "document.deleted"]


def test_events_carry_metadata_not_content_and_reach_the_feed(client: TestClient) -> None:
    pid = create_project(client)["id"]
    content = "Délibération du conseil municipal\n".encode()
    doc = upload(client, pid, content, name="delib.txt", ctype="text/plain", kind="deliberation").json()
    client.post(f"{API}/projects/{pid}/documents/{doc['id']}/versions", files={"file": ("d2.txt", content + b"v2\n")})
    events = [e for e in events_of(client, pid) if e["type"].startswith("document.")]
    assert [e["type"] for e in events] == ["document.created", "document.version_added"]
    assert events[0]["data"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert "Délibération" not in str(events)
    items = client.get(f"{API}/events", params={"limit": 100}).json()["items"]
    assert {"document.created", "document.version_added"} <= {i["type"] for i in items}


def test_attached_to_evidence_of_the_project_only(client: TestClient) -> None:
    pid = create_project(client)["id"]
    other = create_project(client)["id"]
    sh = client.post(f"{API}/projects/{other}/stakeholders", json={"name": "Ville", "category": "collectivite"})
    assert sh.status_code == 201
    r = upload(client, pid, pdf_bytes(), kind="deliberation", evidence_kind="stakeholders", evidence_id=sh.json()["id"])
    assert_problem(r, 422)
    own = client.post(f"{API}/projects/{pid}/stakeholders", json={"name": "Ville", "category": "collectivite"}).json()
    r = upload(client, pid, pdf_bytes(), kind="deliberation", evidence_kind="stakeholders", evidence_id=own["id"])
    assert r.status_code == 201, r.text
    assert r.json()["evidence"] == {"kind": "stakeholders", "id": own["id"]}
    assert_problem(upload(client, pid, pdf_bytes(), evidence_kind="stakeholders"), 422)
    assert_problem(upload(client, pid, pdf_bytes(), kind="inconnue"), 422)
