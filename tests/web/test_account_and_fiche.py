"""« Modifier la fiche » (the project's descriptive fields, with the version check) and « Changer mon mot
de passe » (the signed-in person's own password)."""

from __future__ import annotations

import uuid

from tests.support.accounts import PASSWORD, add_user, browser
from tests.support.api import API, create_project
from tests.support.html import csrf_of, form_data, html_of
from tests.web.test_pages import get_page


def test_editing_the_fiche_with_the_version_check(app, client) -> None:
    pid = create_project(client, name="Régie des Tilleuls")["id"]
    add_user(app, "porteuse@example.fr", [("porteur", uuid.UUID(pid), None)], name="Alex Martin")
    with browser(app, "porteuse@example.fr", login_page=True) as c:
        page = get_page(c, f"/projets/{pid}")
        assert page.by_id("lien-modifier-fiche").get("href") == f"/projets/{pid}/fiche"
        doc = get_page(c, f"/projets/{pid}/fiche")
        form = doc.by_id("form-fiche")
        assert form.one("input", name="version").get("value") == "1"
        assert form.by_id("champ-name").get("value") == "Régie des Tilleuls"
        # a refusal beside its field, what was typed kept, nothing written
        r = c.post(form.get("action"), data=form_data(form, name="   "))
        assert r.status_code == 422
        bad = html_of(r)
        assert bad.by_id("erreur-name").text.startswith("Indiquez le nom du projet")
        assert bad.by_id("champ-name").get("aria-invalid") == "true" and bad.by_id("erreur").has("autofocus")
        # stale: someone changed the project since the form was read → 412, nothing written
        client.patch(f"{API}/projects/{pid}", json={"description": "Changée ailleurs"})
        r = c.post(form.get("action"), data=form_data(form, lead_name="Alex Martin"))
        assert r.status_code == 412 and "a changé depuis votre lecture" in html_of(r).by_id("erreur").text
        assert client.get(f"{API}/projects/{pid}").json()["lead_name"] is None
        # a fresh form saves, and the history says what changed and who did it
        form = get_page(c, f"/projets/{pid}/fiche").by_id("form-fiche")
        r = c.post(form.get("action"), data=form_data(form, lead_name="Alex Martin", conventionnement="aci"))
        assert (r.status_code, r.headers["location"]) == (303, f"/projets/{pid}?ok=fiche#fiche")
        doc = get_page(c, r.headers["location"])
        assert doc.by_id("confirmation").text.startswith("La fiche du projet a été modifiée")
        latest = doc.by_id("table-historique").find("tbody").find("tr")
        assert "Porteur : — → Alex Martin" in latest.text
        assert "Conventionnement : Aucun pour l'instant → ACI" in latest.text
        assert latest.one("td", cls="actor").text == "Alex Martin"
    project = client.get(f"{API}/projects/{pid}").json()
    assert project["lead_name"] == "Alex Martin" and project["conventionnement"] == "aci"


def test_an_observer_reads_the_fiche_form_but_cannot_save(app, client) -> None:
    pid = create_project(client, region="Bretagne")["id"]
    add_user(app, "obs@example.fr", [("observateur", None, "Bretagne")])
    with browser(app, "obs@example.fr", login_page=True) as c:
        doc = get_page(c, f"/projets/{pid}/fiche")
        assert doc.by_id("form-fiche") is None and doc.by_id("lecture-seule") is not None
        r = c.post(f"/projets/{pid}/fiche", data={"csrf": csrf_of(doc), "name": "Pirate", "version": "1"})
        assert r.status_code == 403


def test_changing_my_own_password(app) -> None:
    add_user(app, "claire@example.fr", [("consultant", None, None)], name="Claire Martin")
    with browser(app, "claire@example.fr", login_page=True) as c:
        doc = get_page(c, "/compte/mot-de-passe")
        form = doc.by_id("form-mot-de-passe")
        wrong = c.post(
            form.get("action"),
            data=form_data(
                form,
                current_password="pas-le-bon",
                password="nouveau-mot-de-passe",
                confirmation="nouveau-mot-de-passe",
            ),
        )
        assert wrong.status_code == 422
        assert html_of(wrong).by_id("erreur-current_password").text == "Le mot de passe actuel est incorrect."
        short = c.post(
            form.get("action"), data=form_data(form, current_password=PASSWORD, password="court", confirmation="court")
        )
        assert short.status_code == 422 and "au moins" in html_of(short).by_id("erreur-password").text
        typo = c.post(
            form.get("action"),
            data=form_data(
                form, current_password=PASSWORD, password="nouveau-mot-de-passe", confirmation="nouveau-mot-de-pass"
            ),
        )
        assert typo.status_code == 422 and html_of(typo).by_id("erreur-confirmation") is not None
        ok = c.post(
            form.get("action"),
            data=form_data(
                form, current_password=PASSWORD, password="nouveau-mot-de-passe", confirmation="nouveau-mot-de-passe"
            ),
        )
        assert (ok.status_code, ok.headers["location"]) == (303, "/connexion?ok=mot-de-passe")
        assert c.get("/projets").status_code == 303  # signed out: every session closed
    assert browser(app, "claire@example.fr", password="nouveau-mot-de-passe", login_page=True) is not None
    with browser(app, "claire@example.fr", password="nouveau-mot-de-passe", login_page=True) as c:
        assert get_page(c, "/projets").one("h1").text == "Portefeuille des projets"


def test_current_password_guesses_are_throttled(app) -> None:
    """A stolen session guesses the current password no faster than the login page: the same counter
    (5 failures per 15 minutes), 429 and a French message beside the field; the right password, once
    blocked, is refused too until the block ends; before that, it forgets the failures."""
    add_user(app, "p@example.fr", [("consultant", None, None)])
    with browser(app, "p@example.fr", login_page=True) as c:
        form = get_page(c, "/compte/mot-de-passe").by_id("form-mot-de-passe")

        def attempt(current: str) -> int:
            data = form_data(form, current_password=current, password="nouveau mot de passe 1")
            return c.post(form.get("action"), data=data | {"confirmation": "nouveau mot de passe 1"}).status_code

        assert [attempt(f"essai {i}") for i in range(4)] == [422] * 4
        assert attempt(PASSWORD + "x") == 422  # the fifth failure: the account's attempts are all taken
        r = c.post(
            form.get("action"),
            data=form_data(form, current_password=PASSWORD, password="nouveau mot de passe 1")
            | {"confirmation": "nouveau mot de passe 1"},
        )
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert html_of(r).by_id("erreur-current_password").text.startswith("Trop d'essais du mot de passe actuel")
    with app.state.session_factory() as s:
        from app.accounts.models import User
        from app.core.security import verify_password

        user = s.query(User).filter_by(email="p@example.fr").one()
        assert verify_password(user.password_hash, PASSWORD)  # unchanged


def test_the_right_current_password_forgets_the_failures(app) -> None:
    add_user(app, "q@example.fr", [("consultant", None, None)])
    with browser(app, "q@example.fr", login_page=True) as c:
        form = get_page(c, "/compte/mot-de-passe").by_id("form-mot-de-passe")
        for i in range(4):
            assert c.post(form.get("action"), data=form_data(form, current_password=f"essai {i}")).status_code == 422
        # right current password, new one too short: refused for the new one, the failures forgotten
        short = c.post(
            form.get("action"), data=form_data(form, current_password=PASSWORD, password="court", confirmation="court")
        )
        assert short.status_code == 422 and html_of(short).by_id("erreur-password") is not None
        for i in range(4):
            assert c.post(form.get("action"), data=form_data(form, current_password=f"encore {i}")).status_code == 422


def test_changing_the_password_kills_pending_reset_links(app) -> None:
    """A « mot de passe oublié » link asked before the change can no longer set another password."""
    from datetime import timedelta

    from app.accounts import password_reset
    from app.accounts.password_reset import PasswordReset
    from app.core.security import new_token, sha256_hex
    from app.core.unit_of_work import UnitOfWorkFactory

    uid, _ = add_user(app, "r@example.fr", [("consultant", None, None)])
    token = new_token(32)
    with app.state.session_factory() as s:
        now = app.state.clock.now()
        s.add(
            PasswordReset(
                user_id=uid, token_hash=sha256_hex(token), created_at=now, expires_at=now + timedelta(hours=1)
            )
        )
        s.commit()
    uow_of = UnitOfWorkFactory(app.state.session_factory, app.state.settings)
    with uow_of() as uow:
        assert password_reset.link_is_live(uow, app.state.clock, token)
    with browser(app, "r@example.fr", login_page=True) as c:
        form = get_page(c, "/compte/mot-de-passe").by_id("form-mot-de-passe")
        data = form_data(form, current_password=PASSWORD, password="nouveau mot de passe 1")
        r = c.post(form.get("action"), data=data | {"confirmation": "nouveau mot de passe 1"})
        assert r.status_code == 303
    with uow_of() as uow:
        assert not password_reset.link_is_live(uow, app.state.clock, token)


def test_closed_project_fiche_is_not_editable_by_post(app, client) -> None:
    """The form of a closed project is read-only; its POST is refused too (409, nothing written)."""
    from tests.support.api import fire

    pid = create_project(client, name="Régie Close")["id"]
    fire(client, pid, "abandonner", reason="Pas de local")
    add_user(app, "c@example.fr", [("consultant", None, None)])
    with browser(app, "c@example.fr", login_page=True) as c:
        doc = get_page(c, f"/projets/{pid}/fiche")
        assert doc.by_id("lecture-seule") is not None
        data = {"csrf": csrf_of(doc), "name": "Renommée après coup", "kind": "regie_de_quartier"}
        r = c.post(f"/projets/{pid}/fiche", data=data | {"conventionnement": "aucun", "version": "2"})
        assert r.status_code == 409 and "clos" in html_of(r).by_id("erreur").text
    assert client.get(f"{API}/projects/{pid}").json()["name"] == "Régie Close"


def test_after_a_stale_form_the_next_save_goes_through(app, client) -> None:
    """After « a changé depuis votre lecture » (412), the form carries the new version with what was
    typed: saving again, knowingly, works."""
    pid = create_project(client, name="Régie des Lilas")["id"]
    add_user(app, "e@example.fr", [("consultant", None, None)])
    with browser(app, "e@example.fr", login_page=True) as c:
        form = get_page(c, f"/projets/{pid}/fiche").by_id("form-fiche")
        client.patch(f"{API}/projects/{pid}", json={"description": "Changée ailleurs"})
        r = c.post(form.get("action"), data=form_data(form, lead_name="Alex Martin"))
        assert r.status_code == 412
        again = html_of(r).by_id("form-fiche")
        assert again.one("input", name="version").get("value") == "2"
        assert again.by_id("champ-lead_name").get("value") == "Alex Martin"
        assert c.post(again.get("action"), data=form_data(again)).status_code == 303
    assert client.get(f"{API}/projects/{pid}").json()["lead_name"] == "Alex Martin"
