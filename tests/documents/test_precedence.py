"""What the request alone decides is judged before If-Match (RFC 9110 §13.2.1): a stale or unreadable
tag (412) never hides a file of a refused type (415) or an unknown evidence kind (422). Found by
schemathesis in .ci/run (ST201: a schema-violating upload answered 412)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.documents.conftest import pdf_bytes
from tests.documents.test_documents_api import upload
from tests.support.api import API, create_project

TAGS = ["null", 'W/"1"', '"999"', "*x"]


@pytest.mark.parametrize("tag", TAGS)
def test_a_refused_file_type_is_415_whatever_if_match_says(client: TestClient, tag: str) -> None:
    pid = create_project(client)["id"]
    client.headers["If-Match"] = tag
    r = upload(client, pid, b"\x7fELF\x02\x01\x01" + b"\x00" * 64, name="statuts.pdf")
    assert r.status_code == 415, r.text


@pytest.mark.parametrize("tag", TAGS)
def test_an_unknown_evidence_kind_is_422_whatever_if_match_says(client: TestClient, tag: str) -> None:
    pid = create_project(client)["id"]
    client.headers["If-Match"] = tag
    r = upload(client, pid, pdf_bytes("Statuts"), evidence_kind="-1472", evidence_id="1")
    assert r.status_code == 422, r.text
    assert "evidence_kind" in r.text  # the field is named


@pytest.mark.parametrize("tag", TAGS)
def test_a_new_version_of_a_refused_type_is_415_whatever_if_match_says(client: TestClient, tag: str) -> None:
    pid = create_project(client)["id"]
    doc = upload(client, pid, pdf_bytes("Statuts")).json()
    client.headers["If-Match"] = tag
    r = client.post(
        f"{API}/projects/{pid}/documents/{doc['id']}/versions",
        files={"file": ("v2.pdf", b"\x00\x01binary junk" * 10, "application/pdf")},
    )
    assert r.status_code == 415, r.text


def test_a_valid_upload_with_a_stale_tag_is_still_412(client: TestClient) -> None:
    pid = create_project(client)["id"]
    client.headers["If-Match"] = '"999"'
    assert upload(client, pid, pdf_bytes("Statuts")).status_code == 412
