"""The expertise dossier: one ZIP, its PDF read back, its index and the current version of each document."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.documents.conftest import pdf_bytes, png_bytes
from tests.support.api import API, create_project, project_at


def test_dossier_zip_holds_a_french_pdf_and_every_current_document(client: TestClient) -> None:
    pid = project_at(client, "validation", start=date(2026, 6, 1), name="Régie de l'Épine — quartier Çà-et-là")["id"]
    statuts_v1, statuts_v2, photo = pdf_bytes("v1"), pdf_bytes("v2"), png_bytes()
    base = f"{API}/projects/{pid}/documents"
    doc = client.post(
        base,
        files={"file": ("statuts.pdf", statuts_v1)},
        data={"kind": "statuts", "title": "Statuts signés — préfecture"},
    ).json()
    client.post(f"{base}/{doc['id']}/versions", files={"file": ("statuts-v2.pdf", statuts_v2)})
    client.post(base, files={"file": ("visite.png", photo)}, data={"title": "Photo de la visite à Tourcoing"})
    gone = client.post(base, files={"file": ("brouillon.txt", b"brouillon")}, data={"title": "Brouillon"}).json()
    client.delete(f"{base}/{gone['id']}")

    r = client.get(f"{API}/projects/{pid}/dossier")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="dossier-expertise-regie-de-l-epine')
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[:2] == ["synthese.pdf", "index.csv"]
    pieces = [n for n in names if n.startswith("pieces/")]
    assert len(pieces) == 2  # the deleted one is left out

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(archive.read("synthese.pdf"))).pages)
    flat = " ".join(text.split())
    for expected in (
        "Dossier d'expertise — Régie de l'Épine — quartier Çà-et-là",
        "Étapes franchies",
        "Éléments du dossier",
        "Index des pièces",
        "Statuts signés — préfecture",
        "Photo de la visite à Tourcoing",
        "Historique",
        "Pièce déposée",
        "Nouvelle version d'une pièce",
        "Étude de faisabilité",
    ):
        assert expected in flat, expected

    index = list(csv.reader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
    assert index[0][0] == "fichier"
    by_title = {row[1]: row for row in index[1:]}
    assert set(by_title) == {"Statuts signés — préfecture", "Photo de la visite à Tourcoing"}
    statuts = by_title["Statuts signés — préfecture"]
    assert statuts[3] == "2"  # the current version
    assert archive.read(statuts[0]) == statuts_v2
    assert statuts[7] == hashlib.sha256(statuts_v2).hexdigest()
    assert archive.read(by_title["Photo de la visite à Tourcoing"][0]) == photo


def test_dossier_of_a_project_without_documents(client: TestClient) -> None:
    pid = create_project(client)["id"]
    r = client.get(f"{API}/projects/{pid}/dossier")
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert [n for n in archive.namelist() if n.startswith("pieces/")] == []
    text = " ".join(PdfReader(io.BytesIO(archive.read("synthese.pdf"))).pages[0].extract_text().split())
    assert "Aucune pièce déposée." in text


def test_dossier_page_link(app: Any, client: TestClient) -> None:
    from tests.support.accounts import browser

    pid = create_project(client)["id"]
    with browser(app, "porteur-dossier@exemple.fr", [("porteur", __import__("uuid").UUID(pid), None)]) as c:
        page = c.get(f"/projets/{pid}")
        assert page.status_code == 200
        assert f'href="/projets/{pid}/dossier-expertise"' in page.text
        r = c.get(f"/projets/{pid}/dossier-expertise")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        assert zipfile.ZipFile(io.BytesIO(r.content)).namelist()[0] == "synthese.pdf"


def test_without_a_unicode_font_the_dossier_still_builds_in_latin_1(client: TestClient, monkeypatch: Any) -> None:
    """A machine without DejaVu (no Debian fonts-dejavu-core): the PDF falls back to a built-in font; text
    beyond Latin-1 (œ, ’, €, emoji) is replaced, French accents stay, and nothing fails."""
    from app.documents import dossier

    monkeypatch.setattr(dossier, "_font_files", lambda: None)
    pid = create_project(client, name="Cœur d’Œuvre € — 🏘️ Régie de l'Été")["id"]
    r = client.get(f"{API}/projects/{pid}/dossier")
    assert r.status_code == 200, r.text
    pdf = zipfile.ZipFile(io.BytesIO(r.content)).read("synthese.pdf")
    flat = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Régie de l'Été" in flat
    assert "Étapes" in flat or "Historique" in flat
