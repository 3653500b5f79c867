"""The "Pièces" section of the project page and its forms (no JavaScript: plain multipart forms)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from tests.documents.conftest import pdf_bytes
from tests.support.accounts import browser
from tests.support.api import API, project_at


def test_a_porteur_attaches_the_statutes_and_the_minutes(app: Any, client: TestClient) -> None:
    pid = project_at(client, "prefiguration", start=date(2026, 6, 1))["id"]
    association = {"name": "Association de préfiguration", "declared_on": "2026-10-01", "rna": "W595012345"}
    assert client.put(f"{API}/projects/{pid}/association", json=association).status_code in (200, 201)
    with browser(app, "porteur-pieces@exemple.fr", [("porteur", uuid.UUID(pid), None)]) as c:
        page = c.get(f"/projets/{pid}")
        assert page.status_code == 200
        assert "Pièces du dossier" in page.text
        assert 'id="manquantes-prefiguration"' in page.text and "Statuts de l&#39;association" in page.text
        assert 'id="manquantes-validation"' in page.text  # the minutes of step 4 are missing too
        assert "rapport_expertise" not in page.text.split('id="titre-deposer-piece"')[1]  # a porteur cannot

        assert 'value="association:1"' in page.text
        statutes_form = page.text.split('id="titre-statuts"')[1].split("</form>")[0]
        assert '<option value="association:1" selected>' in statutes_form  # beside the association it belongs to
        r = c.post(
            f"/projets/{pid}/pieces",
            data={"csrf": c.csrf, "kind": "statuts", "title": "Statuts signés", "evidence": "association:1"},
            files={"file": ("statuts.pdf", pdf_bytes("Statuts"), "application/pdf")},
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/projets/{pid}?ok=piece-ajoutee#pieces"
        r = c.post(
            f"/projets/{pid}/pieces",
            data={"csrf": c.csrf, "kind": "compte_rendu_validation"},
            files={"file": ("cr.txt", b"Compte rendu : avis favorables.\n", "text/plain")},
        )
        assert r.status_code == 303
        page = c.get(f"/projets/{pid}?ok=piece-ajoutee")
        assert "La pièce a été ajoutée au dossier." in page.text
        assert "Statuts signés" in page.text
        missing = page.text.split('id="manquantes-validation">')[1].split("</p>")[0]
        assert "Délibération" in missing and "Compte rendu" not in missing  # the minutes are in now
        docs = client.get(f"{API}/projects/{pid}/documents").json()
        statuts = next(d for d in docs if d["kind"] == "statuts")
        assert statuts["evidence"] == {"kind": "association", "id": 1}
        download = c.get(f"/projets/{pid}/pieces/{statuts['id']}/contenu")
        assert download.status_code == 200 and download.content.startswith(b"%PDF")
        assert download.headers["content-disposition"].startswith("attachment;")

        # a new version, then the earlier one still downloads from the page
        r = c.post(
            f"/projets/{pid}/pieces/{statuts['id']}/versions",
            data={"csrf": c.csrf},
            files={"file": ("statuts-v2.pdf", pdf_bytes("Statuts v2"))},
        )
        assert r.status_code == 303
        page = c.get(f"/projets/{pid}")
        assert f"/projets/{pid}/pieces/{statuts['id']}/versions/1/contenu" in page.text
        assert c.get(f"/projets/{pid}/pieces/{statuts['id']}/versions/1/contenu").status_code == 200

        # a refused file: the form again, the reason beside the file field, nothing stored
        r = c.post(
            f"/projets/{pid}/pieces",
            data={"csrf": c.csrf, "kind": "autre", "title": "Exécutable"},
            files={"file": ("statuts.pdf", b"MZ\x90\x00" + bytes(64), "application/pdf")},
        )
        assert r.status_code == 415
        assert 'id="erreur-file"' in r.text and "Type de fichier non accepté" in r.text
        assert 'value="Exécutable"' in r.text
        assert len(client.get(f"{API}/projects/{pid}/documents").json()) == 2

        # without the CSRF token nothing happens
        r = c.post(f"/projets/{pid}/pieces", data={"kind": "autre"}, files={"file": ("a.txt", b"texte")})
        assert r.status_code == 403
        assert len(client.get(f"{API}/projects/{pid}/documents").json()) == 2

        r = c.post(f"/projets/{pid}/pieces/{statuts['id']}/supprimer", data={"csrf": c.csrf})
        assert r.status_code == 303
        assert [d["kind"] for d in client.get(f"{API}/projects/{pid}/documents").json()] == ["compte_rendu_validation"]


def test_an_observer_sees_the_documents_but_no_form(app: Any, client: TestClient) -> None:
    pid = project_at(client, "contours", start=date(2026, 6, 1))["id"]
    doc = client.post(f"{API}/projects/{pid}/documents", files={"file": ("note.txt", b"Note du groupe projet\n")})
    assert doc.status_code == 201
    with browser(app, "observateur-pieces@exemple.fr", [("observateur", uuid.UUID(pid), None)]) as c:
        page = c.get(f"/projets/{pid}")
        assert "note.txt" in page.text
        assert 'enctype="multipart/form-data"' not in page.text
        r = c.post(f"/projets/{pid}/pieces", data={"csrf": c.csrf}, files={"file": ("a.txt", b"texte")})
        assert r.status_code == 403
    with browser(app, "autre-pieces@exemple.fr", [("observateur", None, "Bretagne")]) as c:
        assert c.get(f"/projets/{pid}/pieces/{doc.json()['id']}/contenu").status_code == 404


def test_too_large_a_file_gets_a_french_page(app: Any, client: TestClient) -> None:
    from tests.documents.conftest import MAX_FILE

    pid = project_at(client, "contours", start=date(2026, 6, 1))["id"]
    with browser(app, "porteur-gros@exemple.fr", [("porteur", uuid.UUID(pid), None)]) as c:
        r = c.post(
            f"/projets/{pid}/pieces",
            data={"csrf": c.csrf},
            files={"file": ("gros.txt", b"a" * (2 * MAX_FILE + 2 * 1024 * 1024))},
        )
        assert r.status_code == 413
        assert "Fichier trop volumineux" in r.text and r.headers["content-type"].startswith("text/html")
