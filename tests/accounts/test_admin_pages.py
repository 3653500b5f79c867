"""Administration pages: /admin/utilisateurs (people, roles, activation, passwords) and /admin/cles
(partner API keys, shown once). Admins only; every change through app.accounts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import ApiKey, User
from app.core.security import sha256_hex
from tests.support.accounts import PASSWORD, REGION_A, add_user, browser
from tests.support.api import API
from tests.support.evidence import project_body
from tests.support.html import Node, assert_no_inline_code, controls, duplicate_ids, label_of, parse, value_of

NEW_PASSWORD = "un autre mot de passe 43"


@pytest.fixture
def admin(app: Any) -> tuple[TestClient, str]:
    """An admin's browser, logged in, and the session's CSRF token for the forms."""
    c = browser(app, "ana@example.fr", [("admin", None, None)])
    return c, c.csrf


def page(r: Any, status: int = 200) -> Node:
    assert r.status_code == status, r.text[:2000]
    assert r.headers["content-type"].startswith("text/html")
    assert_no_inline_code(r.text)
    doc = parse(r.text)
    assert not duplicate_ids(doc), duplicate_ids(doc)
    for form in doc.find_all("form"):
        for ctl in controls(form):
            assert ctl.get("id") and label_of(doc, ctl), ctl.attrs
    return doc


def user_row(app: Any, email: str) -> User:
    with app.state.session_factory() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        _ = list(user.grants)
        return user


def can_log_in(app: Any, email: str, password: str) -> bool:
    with TestClient(app, raise_server_exceptions=False) as c:
        return c.post(f"{API}/auth/login", json={"email": email, "password": password}).status_code == 200


def test_only_admins_reach_the_administration(app, client) -> None:
    c = browser(app, "claire@example.fr", [("consultant", None, None)])
    csrf = c.csrf
    for r in (
        c.get("/admin"),
        c.get("/admin/utilisateurs"),
        c.get("/admin/cles"),
        c.get("/admin/utilisateurs/1"),
        c.post("/admin/utilisateurs", data={"csrf": csrf, "email": "x@example.fr", "name": "X", "password": PASSWORD}),
        c.post("/admin/cles", data={"csrf": csrf, "name": "K", "scopes": "read"}),
    ):
        doc = page(r, 403)
        assert "Réservé aux administrateurs." in doc.text
    with app.state.session_factory() as session:
        assert session.scalars(select(ApiKey).where(ApiKey.name == "K")).first() is None
        assert session.scalars(select(User).where(User.email == "x@example.fr")).first() is None
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as anon:
        r = anon.get("/admin/cles")
        assert r.status_code == 303 and r.headers["location"].startswith("/connexion")


def test_create_a_user_with_a_role(app, client, admin) -> None:
    c, csrf = admin
    pid = client.post(f"{API}/projects", json=project_body(REGION_A)).json()["id"]
    doc = page(c.get("/admin/utilisateurs"))
    form = doc.by_id("form-utilisateur")
    assert {ctl.get("name") for ctl in controls(form)} == {"email", "name", "password", "role", "project_id", "region"}
    assert [fs.find("legend").text for fs in form.find_all("fieldset")] == ["Compte", "Rôle et portée (facultatif)"]
    projects = {o.get("value"): o.text for o in doc.by_id("f-project-id").find_all("option")}
    assert projects[pid] == f"Régie de {REGION_A} ({REGION_A})"
    assert doc.by_id("f-password").get("autocomplete") == "new-password"

    r = c.post(
        "/admin/utilisateurs",
        data={
            "csrf": csrf,
            "email": "Paul@Example.fr",
            "name": "Paul Durand",
            "password": PASSWORD,
            "role": "porteur",
            "project_id": pid,
        },
    )
    assert r.status_code == 303, r.text[:2000]
    user = user_row(app, "paul@example.fr")
    assert r.headers["location"] == f"/admin/utilisateurs/{user.id}?ok=utilisateur_cree"
    assert [(g.role, str(g.project_id), g.region) for g in user.grants] == [("porteur", pid, None)]
    assert can_log_in(app, "paul@example.fr", PASSWORD)
    doc = page(c.get(r.headers["location"]))
    assert doc.by_id("confirmation").text == "Le compte a été créé."
    assert "Porteur de projet — projet Régie de" in doc.by_id("liste-roles").text
    listing = page(c.get("/admin/utilisateurs"))
    assert "Porteur de projet" in listing.by_id(f"utilisateur-{user.id}").text


def test_user_creation_errors_are_shown_in_french(app, client, admin) -> None:
    c, csrf = admin
    doc = page(
        c.post(
            "/admin/utilisateurs",
            data={"csrf": csrf, "email": "pas-une-adresse", "name": "", "password": "court", "role": "consultant"},
        ),
        422,
    )
    assert "Adresse e-mail invalide" in doc.by_id("f-email-erreur").text
    assert "obligatoire" in doc.by_id("f-name-erreur").text
    assert value_of(doc.by_id("f-email")) == "pas-une-adresse"
    assert value_of(doc.by_id("f-role")) == "consultant"
    assert value_of(doc.by_id("f-password")) == ""  # a password is never sent back
    assert [a.get("href") for a in doc.by_id("resume-erreurs").find_all("a")] == ["#f-email", "#f-name"]
    # The accounts service's own rules, beside their fields.
    doc = page(
        c.post("/admin/utilisateurs", data={"csrf": csrf, "email": "p@example.fr", "name": "P", "password": "court"}),
        422,
    )
    assert "au moins 10 caractères" in doc.by_id("f-password-erreur").text
    doc = page(
        c.post(
            "/admin/utilisateurs",
            data={"csrf": csrf, "email": "p@example.fr", "name": "P", "password": PASSWORD, "role": "porteur"},
        ),
        422,
    )
    assert "Un porteur l'est d'un projet" in doc.by_id("f-project-id-erreur").text
    doc = page(
        c.post(
            "/admin/utilisateurs",
            data={"csrf": csrf, "email": "ANA@example.fr", "name": "Ana bis", "password": PASSWORD},
        ),
        409,
    )
    assert "existe déjà" in doc.by_id("f-email-erreur").text
    with app.state.session_factory() as session:
        assert session.scalars(select(User).where(User.email == "p@example.fr")).first() is None


def test_grants_activation_and_password(app, client, admin) -> None:
    c, csrf = admin
    uid, _ = add_user(app, "olivia@example.fr", [("observateur", None, REGION_A)])
    base = f"/admin/utilisateurs/{uid}"
    doc = page(c.get(base))
    assert doc.find("h1").text == "olivia"
    [grant] = user_row(app, "olivia@example.fr").grants

    r = c.post(f"{base}/roles", data={"csrf": csrf, "role": "consultant", "region": "Bretagne"})
    assert r.status_code == 303 and r.headers["location"] == f"{base}?ok=role_ajoute"
    assert {(g.role, g.region) for g in user_row(app, "olivia@example.fr").grants} == {
        ("observateur", REGION_A),
        ("consultant", "Bretagne"),
    }
    doc = page(c.post(f"{base}/roles", data={"csrf": csrf, "role": "consultant", "region": "Bretagne"}), 409)
    assert "déjà attribué" in doc.by_id("resume-erreurs").text
    doc = page(c.post(f"{base}/roles", data={"csrf": csrf, "role": "admin", "region": "Bretagne"}), 422)
    assert "global" in doc.by_id("f-role-erreur").text
    doc = page(c.post(f"{base}/roles", data={"csrf": csrf}), 422)
    assert "obligatoire" in doc.by_id("f-role-erreur").text

    r = c.post(f"{base}/roles/{grant.id}/retirer", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{base}?ok=role_retire"
    assert [(g.role, g.region) for g in user_row(app, "olivia@example.fr").grants] == [("consultant", "Bretagne")]

    # Deactivate: the person can no longer log in; reactivate.
    assert page(c.get(base)).by_id("btn-desactiver") is not None
    r = c.post(f"{base}/activation", data={"csrf": csrf, "active": "0"})
    assert r.status_code == 303 and r.headers["location"] == f"{base}?ok=compte_desactive"
    assert not user_row(app, "olivia@example.fr").active and not can_log_in(app, "olivia@example.fr", PASSWORD)
    assert page(c.get(base)).by_id("etat-compte").text == "Désactivé"
    assert c.post(f"{base}/activation", data={"csrf": csrf, "active": "1"}).status_code == 303
    assert can_log_in(app, "olivia@example.fr", PASSWORD)

    # Reset the password.
    doc = page(c.post(f"{base}/mot-de-passe", data={"csrf": csrf, "password": "court"}), 422)
    assert "au moins 10 caractères" in doc.by_id("f-password-erreur").text
    r = c.post(f"{base}/mot-de-passe", data={"csrf": csrf, "password": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == f"{base}?ok=mot_de_passe_modifie"
    assert can_log_in(app, "olivia@example.fr", NEW_PASSWORD) and not can_log_in(app, "olivia@example.fr", PASSWORD)

    # An admin cannot lock themselves out; a form without the session token is refused.
    me = user_row(app, "ana@example.fr")
    doc = page(c.post(f"/admin/utilisateurs/{me.id}/activation", data={"csrf": csrf, "active": "0"}), 409)
    assert "votre propre compte" in doc.by_id("resume-erreurs").text
    doc = page(c.post(f"/admin/utilisateurs/{me.id}/roles/{me.grants[0].id}/retirer", data={"csrf": csrf}), 409)
    assert user_row(app, "ana@example.fr").grants
    page(c.post(f"{base}/activation", data={"active": "0"}), 403)
    assert user_row(app, "olivia@example.fr").active
    page(c.get("/admin/utilisateurs/999999"), 404)
    page(c.get("/admin/utilisateurs/abc"), 404)


def test_a_key_is_shown_once_and_only_its_hash_is_kept(app, client, admin) -> None:
    c, csrf = admin
    pid = client.post(f"{API}/projects", json=project_body(REGION_A)).json()["id"]
    doc = page(c.get("/admin/cles"))
    form = doc.by_id("form-cle")
    assert {ctl.get("name") for ctl in controls(form)} == {
        "name",
        "scopes",
        "consultant",
        "regions",
        "project_ids",
        "expires_in_days",
    }
    scopes = doc.by_id("f-scopes")
    assert scopes.tag == "fieldset" and scopes.find("legend").text.startswith("Portées")
    assert doc.by_id(f"f-project-ids-{pid}") is not None

    r = c.post(
        "/admin/cles",
        data={
            "csrf": csrf,
            "name": "Vilogia – suivi",
            "scopes": ["read", "write"],
            "regions": f"{REGION_A}\n",
            "project_ids": pid,
            "expires_in_days": "30",
        },
    )
    doc = page(r, 200)
    assert r.headers["cache-control"] == "no-store"
    assert "location" not in r.headers
    key = doc.by_id("nouvelle-cle").get("value")
    assert key.startswith("rf_") and label_of(doc, doc.by_id("nouvelle-cle")) == "Clé d'API"
    prefix = doc.by_id("prefixe-cle").text
    assert key.startswith(prefix + "_")

    with app.state.session_factory() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one()
        assert row.secret_hash == sha256_hex(key)
        assert key not in repr([getattr(row, col.key) for col in ApiKey.__table__.c])
        assert row.scopes == ["read", "write"] and row.regions == [REGION_A] and row.project_ids == [pid]
        assert row.created_by == "user:ana@example.fr" and row.expires_at is not None

    # The key works, and the list shows its prefix, never the key.
    r = client.get(f"{API}/projects/{pid}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    listing = c.get("/admin/cles")
    assert key not in listing.text and key.split("_", 2)[2] not in listing.text
    doc = page(listing)
    row_node = doc.by_id(f"cle-{row.id}")
    assert prefix in row_node.text and "Vilogia – suivi" in row_node.text and REGION_A in row_node.text

    # Revoke: a confirmation page, then the POST; the key no longer opens the API.
    doc = page(c.get(f"/admin/cles/{row.id}/revoquer"))
    assert doc.by_id("form-revocation").get("action") == f"/admin/cles/{row.id}/revoquer"
    r = c.post(f"/admin/cles/{row.id}/revoquer", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin/cles?ok=cle_revoquee"
    assert client.get(f"{API}/projects/{pid}", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    doc = page(c.get(r.headers["location"]))
    assert doc.by_id("confirmation") is not None
    assert "Révoquée" in doc.by_id(f"cle-{row.id}").text and doc.by_id(f"revoquer-{row.id}") is None
    page(c.post(f"/admin/cles/{row.id}/revoquer", data={}), 403)
    page(c.post("/admin/cles/999999/revoquer", data={"csrf": csrf}), 404)


def test_key_form_errors_in_french(app, client, admin) -> None:
    c, csrf = admin
    doc = page(c.post("/admin/cles", data={"csrf": csrf, "name": "", "expires_in_days": "trente"}), 422)
    assert "obligatoire" in doc.by_id("f-name-erreur").text
    assert "nombre entier" in doc.by_id("f-expires-in-days-erreur").text
    assert value_of(doc.by_id("f-expires-in-days")) == "trente"
    doc = page(c.post("/admin/cles", data={"csrf": csrf, "name": "K", "expires_in_days": "0"}), 422)
    assert "supérieure ou égale à 1" in doc.by_id("f-expires-in-days-erreur").text
    doc = page(c.post("/admin/cles", data={"csrf": csrf, "name": "K"}), 422)
    assert "au moins un élément" in doc.by_id("f-scopes-erreur").text.lower()
    assert "f-scopes-erreur" in doc.by_id("f-scopes").get("aria-describedby")
    doc = page(c.post("/admin/cles", data={"csrf": csrf, "name": "K", "scopes": "read", "consultant": "1"}), 422)
    assert "portée write" in doc.by_id("f-consultant-erreur").text
    assert value_of(doc.by_id("f-scopes-read")) == "read" and value_of(doc.by_id("f-consultant")) == "1"
    with app.state.session_factory() as session:
        assert session.scalars(select(ApiKey).where(ApiKey.name == "K")).first() is None


def test_every_administration_page_is_for_admins() -> None:
    from app.accounts.admin_pages import router
    from app.authorization.rules import ADMIN, RULES

    assert {RULES[r.name].need for r in router.routes} == {ADMIN}
    assert all(r.path.startswith("/admin") for r in router.routes)
