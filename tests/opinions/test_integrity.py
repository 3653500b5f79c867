"""The stakeholder's own answer is theirs (review of issue 15): once given through an opinion request it
is neither rewritten nor removed by the project, nor superseded by an approval someone records, and
every approval says whether the stakeholder gave it or who recorded it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import RoleGrant, User
from tests.mail.smtp import Sink
from tests.opinions.test_opinions import ask, at_validation, link_of, send, unmet
from tests.support.accounts import add_user, login
from tests.support.api import API
from tests.support.clock import TODAY


def _given_through_link(
    app: Any, client: TestClient, anon: TestClient, smtp: tuple[Sink, int], verdict: str
) -> tuple[str, dict[str, int], dict[str, Any]]:
    sink, port = smtp
    pid, ids = at_validation(client)
    for category in ("habitant", "collectivite", "partenaire_socio_economique"):
        client.post(
            f"{API}/projects/{pid}/approvals",
            json={"stakeholder_id": ids[category], "verdict": "favorable", "given_on": TODAY.isoformat()},
        )
    ask(client, pid, ids["bailleur_social"], "bailleur@vilogia.example")
    send(app, port)
    r = anon.post(link_of(sink, "bailleur@vilogia.example"), data={"verdict": verdict}, follow_redirects=False)
    assert r.status_code == 303
    approvals = client.get(f"{API}/projects/{pid}/approvals").json()
    (given,) = [a for a in approvals if a["stakeholder_id"] == ids["bailleur_social"]]
    return pid, ids, given


def test_the_project_cannot_rewrite_remove_or_supersede_the_stakeholders_answer(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    pid, ids, given = _given_through_link(app, client, anon_client, smtp, "defavorable")
    assert given["source"] == "lien" and given["verdict"] == "defavorable"
    recorded = [a for a in client.get(f"{API}/projects/{pid}/approvals").json() if a["id"] != given["id"]]
    assert {a["source"] for a in recorded} == {None}
    assert "aucun_avis_defavorable" in unmet(client, pid, "lancer_prefiguration")
    add_user(app, "porteur@regie.example", [("porteur", uuid.UUID(pid), None)])
    url = f"{API}/projects/{pid}/approvals/{given['id']}"
    with TestClient(app, raise_server_exceptions=False) as porteur:
        login(porteur, "porteur@regie.example")
        patched = porteur.patch(url, json={"verdict": "favorable"})
        assert patched.status_code == 409 and "nouvelle demande d'avis" in patched.json()["detail"]
        assert porteur.delete(url).status_code == 409
        # a recorded approval dated after it would supersede it: refused too
        later = porteur.post(
            f"{API}/projects/{pid}/approvals",
            json={"stakeholder_id": ids["bailleur_social"], "verdict": "favorable", "given_on": TODAY.isoformat()},
        )
        assert later.status_code == 409, later.text
        # one dated before it supersedes nothing: it may be recorded (history)
        earlier = porteur.post(
            f"{API}/projects/{pid}/approvals",
            json={
                "stakeholder_id": ids["bailleur_social"],
                "verdict": "favorable",
                "given_on": (TODAY - timedelta(days=3)).isoformat(),
            },
        )
        assert earlier.status_code == 201, earlier.text
        # ...but may not then be moved after it
        moved = porteur.patch(
            f"{API}/projects/{pid}/approvals/{earlier.json()['id']}", json={"given_on": TODAY.isoformat()}
        )
        assert moved.status_code == 409
        # the pages refuse the same (the item page offers no form, the delete is refused)
        page = porteur.get(f"/projets/{pid}/preuves/approvals/{given['id']}")
        assert page.status_code == 200 and 'id="avis-donne"' in page.text and 'id="form-preuve"' not in page.text
        listing = porteur.get(f"/projets/{pid}/preuves/approvals")
        assert "donné par la partie prenante, par le lien envoyé à bailleur@vilogia.example" in listing.text
        assert f'id="supprimer-{given["id"]}"' not in listing.text
        assert "enregistré par" in listing.text
    after = client.get(url).json()
    assert (after["verdict"], after["source"]) == ("defavorable", "lien")
    assert "aucun_avis_defavorable" in unmet(client, pid, "lancer_prefiguration")


def test_someone_who_can_change_the_project_cannot_pose_as_the_stakeholder(app: Any, client: TestClient) -> None:
    pid, ids = at_validation(client)
    add_user(app, "porteur@regie.example", [("porteur", uuid.UUID(pid), None)])
    add_user(app, "elu@roubaix.example", [("observateur", uuid.UUID(pid), None)])
    body = {"stakeholder_id": ids["bailleur_social"], "due_on": TODAY.isoformat(), "message": "?"}
    with TestClient(app, raise_server_exceptions=False) as porteur:
        login(porteur, "porteur@regie.example")
        # a request addressed to the porteur's own address (any case) is refused, beside the field
        for address in ("porteur@regie.example", "Porteur@Regie.example"):
            r = porteur.post(f"{API}/projects/{pid}/opinion-requests", json=body | {"email": address})
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
        # an observer's address is fine; the porteur who asked still cannot answer it
        ok = porteur.post(f"{API}/projects/{pid}/opinion-requests", json=body | {"email": "elu@roubaix.example"})
        assert ok.status_code == 201, ok.text
        answer = f"{API}/projects/{pid}/opinion-requests/{ok.json()['id']}/answer"
        assert porteur.post(answer, json={"verdict": "favorable"}).status_code == 403
    # the observer was given write access since: no longer the stakeholder's voice
    add_user(app, "elu2@roubaix.example", [("observateur", uuid.UUID(pid), None)])
    other = client.post(f"{API}/projects/{pid}/opinion-requests", json=body | {"email": "elu2@roubaix.example"})
    assert other.status_code == 201
    with app.state.session_factory() as s:
        user = s.scalars(select(User).where(User.email == "elu2@roubaix.example")).one()
        s.add(RoleGrant(user_id=user.id, role="porteur", project_id=uuid.UUID(pid)))
        s.commit()
    with TestClient(app, raise_server_exceptions=False) as elu2:
        login(elu2, "elu2@roubaix.example")
        url = f"{API}/projects/{pid}/opinion-requests/{other.json()['id']}/answer"
        assert elu2.post(url, json={"verdict": "favorable"}).status_code == 403
    with TestClient(app, raise_server_exceptions=False) as elu:
        login(elu, "elu@roubaix.example")
        assert elu.post(answer, json={"verdict": "favorable"}).status_code == 201
    approvals = [a for a in client.get(f"{API}/projects/{pid}/approvals").json() if a["source"] is not None]
    assert [a["source"] for a in approvals] == ["compte"]


def test_live_links_never_rest_in_clear_in_the_outbox(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    from app.mail.models import OutgoingMail

    sink, port = smtp
    pid, ids = at_validation(client)
    first = ask(client, pid, ids["bailleur_social"], "bailleur@vilogia.example")

    def rows() -> list[tuple[str, str, str]]:
        with app.state.session_factory() as s:
            found = s.scalars(
                select(OutgoingMail).where(OutgoingMail.kind == "opinion_request").order_by(OutgoingMail.id)
            )
            return [(r.status, r.text_body, r.html_body) for r in found]

    ((status, text, html),) = rows()
    assert status == "pending" and "/avis/" not in text and "/avis/" not in html and "lien-chiffre" in text
    # re-sent before the first mail went: the first (its link dead) is given up and wiped, one mail leaves
    r = client.post(f"{API}/projects/{pid}/opinion-requests/{first['id']}/resend")
    assert r.status_code == 200, r.text
    (old, new) = rows()
    assert old[0] == "failed" and "lien-chiffre" not in old[1] + old[2] and new[0] == "pending"
    assert send(app, port).sent == 1
    (message,) = sink.to("bailleur@vilogia.example")
    assert anon_client.get(link_of(sink, "bailleur@vilogia.example")).status_code == 200
    assert "lien-chiffre" not in message.as_string()
    assert all("lien-chiffre" not in t and "/avis/" not in t for _, t, _ in rows())
    # a revoked request's mail not sent yet is given up too
    second = ask(client, pid, ids["collectivite"], "mairie@roubaix.example")
    assert client.post(f"{API}/projects/{pid}/opinion-requests/{second['id']}/revoke").status_code == 200
    assert rows()[-1][0] == "failed" and "lien-chiffre" not in rows()[-1][1]
    assert send(app, port).attempted == 0


def test_a_failed_secret_mail_is_wiped(app: Any, client: TestClient, smtp: tuple[Sink, int]) -> None:
    from app.mail.models import OutgoingMail

    sink, port = smtp

    async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 No such user"

    sink.handle_RCPT = refuse  # type: ignore[method-assign]
    pid, ids = at_validation(client)
    ask(client, pid, ids["collectivite"], "personne@roubaix.example")
    assert send(app, port).failed == 1
    with app.state.session_factory() as s:
        row = s.scalars(select(OutgoingMail)).one()
        assert row.status == "failed" and "lien-chiffre" not in row.text_body and "/avis/" not in row.text_body


def test_an_answered_link_shows_what_was_judged_and_expires(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    from tests.documents.conftest import pdf_bytes

    sink, port = smtp
    pid, ids = at_validation(client)

    def upload(title: str) -> int:
        r = client.post(
            f"{API}/projects/{pid}/documents",
            files={"file": ("cr.pdf", pdf_bytes(), "application/pdf")},
            data={"kind": "compte_rendu_validation", "title": title},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    before = upload("CR de la réunion")
    req = ask(client, pid, ids["bailleur_social"], "b@exemple.fr")
    send(app, port)
    link = link_of(sink, "b@exemple.fr")
    assert anon_client.post(link, data={"verdict": "favorable"}, follow_redirects=False).status_code == 303
    app.state.clock.advance(days=1)
    later = upload("CR confidentiel")
    page = anon_client.get(link)
    assert page.status_code == 200 and "CR de la réunion" in page.text and "CR confidentiel" not in page.text
    assert anon_client.get(f"{link}/pieces/{before}").status_code == 200
    assert anon_client.get(f"{link}/pieces/{later}").status_code == 404
    # past the link's expiry, answered or not, it shows nothing
    expires = client.get(f"{API}/projects/{pid}/opinion-requests/{req['id']}").json()["link_expires_at"]
    from datetime import datetime

    app.state.clock.set(datetime.fromisoformat(expires).date() + timedelta(days=1))
    assert anon_client.get(link).status_code == 410
    assert anon_client.get(f"{link}/pieces/{before}").status_code == 410


def test_line_breaks_survive_the_content_security_policy(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    """style-src 'self' blocks inline style attributes: the pages keep line breaks with the .prewrap class."""
    from tests.support.accounts import browser

    sink, port = smtp
    pid, ids = at_validation(client)
    ask(client, pid, ids["bailleur_social"], "b@exemple.fr")
    send(app, port)
    link = link_of(sink, "b@exemple.fr")
    anon_client.post(link, data={"verdict": "favorable", "comment": "Ligne 1\nLigne 2"}, follow_redirects=False)
    page = anon_client.get(link)
    assert "style-src 'self'" in page.headers["content-security-policy"]
    assert ' style="' not in page.text and page.text.count('class="prewrap"') >= 2
    with browser(app, "c@regie.example", [("consultant", None, None)]) as b:
        b.post(f"/projets/{pid}/messages", data={"csrf": b.csrf, "body": "Bonjour\nà tous"})
        b.post(f"/projets/{pid}/notes", data={"csrf": b.csrf, "body": "Note\nsur deux lignes"})
        project = b.get(f"/projets/{pid}").text
    assert ' style="' not in project and project.count('<p class="prewrap">') >= 2


def test_an_answer_is_judged_again_under_the_lock(app: Any, client: TestClient, smtp: tuple[Sink, int]) -> None:
    """The link was looked up, then (before the answer took the project's lock) the request was re-sent
    or revoked: the answer is refused, nothing is written. An account answer on an expired request too."""
    from app.core.errors import Conflict
    from app.core.security import sha256_hex
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.opinions import service
    from app.opinions.models import OpinionAnswer

    sink, port = smtp
    pid, ids = at_validation(client)
    req = ask(client, pid, ids["bailleur_social"], "b@exemple.fr")
    send(app, port)
    token = link_of(sink, "b@exemple.fr").rsplit("/", 1)[1]
    uows = UnitOfWorkFactory(app.state.session_factory, app.state.settings)
    clock = app.state.clock
    for interloper in ("resend", "revoke"):
        with uows() as uow:
            looked = service.by_token(uow, token, clock.now())
            assert looked.state == "ouvert" and looked.request is not None
            r = client.post(f"{API}/projects/{pid}/opinion-requests/{req['id']}/{interloper}")
            assert r.status_code == 200, r.text
            try:
                service.answer_request(
                    uow,
                    clock,
                    looked.request,
                    verdict="favorable",
                    comment=None,
                    via="lien",
                    actor=service.link_actor(looked.request),
                    token_hash=sha256_hex(token),
                )
                raise AssertionError(f"answered after a {interloper}")
            except Conflict:
                pass
        send(app, port)
        token = link_of(sink, "b@exemple.fr").rsplit("/", 1)[1]
        with app.state.session_factory() as s:
            assert s.scalars(select(OpinionAnswer)).first() is None
    # an account answer on an expired request
    late = ask(client, pid, ids["collectivite"], "elu@roubaix.example", days=1)
    add_user(app, "elu@roubaix.example", [("observateur", uuid.UUID(pid), None)])
    app.state.clock.set(TODAY + timedelta(days=200))
    with TestClient(app, raise_server_exceptions=False) as elu:
        login(elu, "elu@roubaix.example")
        answer = elu.post(f"{API}/projects/{pid}/opinion-requests/{late['id']}/answer", json={"verdict": "favorable"})
        assert answer.status_code == 409, answer.text
