"""Opinion requests end to end against a real SMTP server: the request mail, the personal link (no
account), the answer that writes an approval marked as given by the stakeholder and feeds the avis_*
guards, superseding answers, and every way a link must fail (guessed, revoked, replaced, expired,
replayed, another request's)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.core.unit_of_work import UnitOfWorkFactory
from app.mail.service import send_due
from tests.mail.smtp import Sink, link_in, text_of
from tests.support.accounts import browser
from tests.support.api import API, advance, create_project, fire
from tests.support.clock import TODAY


def mail_settings(app: Any, port: int) -> Any:
    return app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})


def send(app: Any, port: int) -> Any:
    uows = UnitOfWorkFactory(app.state.session_factory, app.state.settings)
    return send_due(uows, mail_settings(app, port), app.state.clock)


def at_validation(client: TestClient) -> tuple[str, dict[str, int]]:
    pid = create_project(client, started_on=(TODAY - timedelta(days=200)).isoformat())["id"]
    advance(client, pid, "validation", start=TODAY - timedelta(days=200))
    stakeholders = client.get(f"{API}/projects/{pid}/stakeholders").json()
    return pid, {s["category"]: s["id"] for s in stakeholders}


def ask(client: TestClient, pid: str, stakeholder_id: int, email: str, days: int = 14) -> dict[str, Any]:
    r = client.post(
        f"{API}/projects/{pid}/opinion-requests",
        json={
            "stakeholder_id": stakeholder_id,
            "email": email,
            "due_on": (TODAY + timedelta(days=days)).isoformat(),
            "message": "Merci de nous donner l'avis de votre organisme sur la création de la régie.",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def link_of(sink: Sink, email: str) -> str:
    return link_in(sink.to(email)[-1], "/avis/")


def unmet(client: TestClient, pid: str, trigger: str) -> set[str]:
    rows = client.get(f"{API}/projects/{pid}/transitions").json()["triggers"]
    row = next(t for t in rows if t["trigger"] == trigger)
    return {u["code"] for u in row["unmet"]}


def test_a_landlord_answers_through_the_link_and_the_guard_turns_green(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    pid, ids = at_validation(client)
    # the approvals of the other three categories are recorded as before; the landlord's is asked for
    for category in ("habitant", "collectivite", "partenaire_socio_economique"):
        r = client.post(
            f"{API}/projects/{pid}/approvals",
            json={"stakeholder_id": ids[category], "verdict": "favorable", "given_on": TODAY.isoformat()},
        )
        assert r.status_code == 201, r.text
    assert unmet(client, pid, "lancer_prefiguration") == {"avis_bailleur"}
    req = ask(client, pid, ids["bailleur_social"], "bailleur@vilogia.example")
    assert req["status"] == "en_attente" and req["answer"] is None
    assert send(app, port).sent == 1
    (mail,) = sink.to("bailleur@vilogia.example")
    assert "Avis sollicité" in str(mail["Subject"]) and mail.get_content_type() == "multipart/alternative"
    assert "26 novembre 2026" not in text_of(mail) and "10 décembre 2026" in text_of(mail)  # due date in French
    link = link_of(sink, "bailleur@vilogia.example")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64

    page = anon_client.get(link)
    assert page.status_code == 200 and "Régie des Trois Quartiers" in page.text and "Donner votre avis" in page.text
    r = anon_client.post(
        link, data={"verdict": "favorable", "comment": "Le conseil d'administration approuve."}, follow_redirects=False
    )
    assert r.status_code == 303
    shown = anon_client.get(link)
    assert (
        shown.status_code == 200
        and "Avis <strong>favorable</strong>" in shown.text
        and "Envoyer mon avis" not in shown.text
    )

    assert unmet(client, pid, "lancer_prefiguration") == set()
    approvals = client.get(f"{API}/projects/{pid}/approvals").json()
    given = [a for a in approvals if a["stakeholder_id"] == ids["bailleur_social"]]
    assert len(given) == 1 and given[0]["verdict"] == "favorable"
    answers = client.get(f"{API}/projects/{pid}/opinion-answers").json()
    assert answers[0]["via"] == "lien" and answers[0]["approval_id"] == given[0]["id"]
    events = [e["type"] for e in client.get(f"{API}/projects/{pid}/events?page_size=200").json()["items"]]
    assert events[-3:] == ["opinion.requested", "evidence.created", "opinion.answered"]
    # the link works once: a replay is refused and changes nothing
    again = anon_client.post(link, data={"verdict": "defavorable"}, follow_redirects=False)
    assert again.status_code == 409
    assert len(client.get(f"{API}/projects/{pid}/approvals").json()) == len(approvals)
    fire(client, pid, "lancer_prefiguration")


def test_a_reserved_answer_approves_and_keeps_its_reservations(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    """« Favorable avec réserves » approves (DOMAIN.md: answers are favorable | reserve | defavorable;
    aucun_avis_defavorable = no unfavourable approval stands): the guards count it as favourable, and the
    answer, the approval, its summary and the history keep saying « avec réserves » and the comment."""
    sink, port = smtp
    pid, ids = at_validation(client)
    for category in ("habitant", "collectivite", "partenaire_socio_economique"):
        client.post(
            f"{API}/projects/{pid}/approvals",
            json={"stakeholder_id": ids[category], "verdict": "favorable", "given_on": TODAY.isoformat()},
        )
    ask(client, pid, ids["bailleur_social"], "b@exemple.fr")
    send(app, port)
    link = link_of(sink, "b@exemple.fr")
    page = anon_client.get(link)
    assert "compte comme non favorable" not in page.text and "Favorable avec réserves" in page.text
    r = anon_client.post(link, data={"verdict": "reserve", "comment": "Locaux ?"}, follow_redirects=False)
    assert r.status_code == 303
    assert unmet(client, pid, "lancer_prefiguration") == set()
    (answer,) = client.get(f"{API}/projects/{pid}/opinion-answers").json()
    assert answer["verdict"] == "reserve" and answer["comment"] == "Locaux ?"
    approval = client.get(f"{API}/projects/{pid}/approvals/{answer['approval_id']}").json()
    assert approval["verdict"] == "favorable" and approval["source"] == "lien"
    assert approval["comment"] == "Avis favorable avec réserves. Locaux ?"
    with browser(app, "lecteur@regie.example", [("observateur", None, None)]) as b:
        assert "Favorable avec réserves" in b.get(f"/projets/{pid}/preuves/approvals").text
        assert "avis favorable avec réserves" in b.get(f"/projets/{pid}").text
    fire(client, pid, "lancer_prefiguration")


def test_links_that_must_not_work(
    app: Any, client: TestClient, anon_client: TestClient, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    pid, ids = at_validation(client)
    first = ask(client, pid, ids["bailleur_social"], "un@exemple.fr")
    ask(client, pid, ids["collectivite"], "deux@exemple.fr")
    send(app, port)
    one, two = link_of(sink, "un@exemple.fr"), link_of(sink, "deux@exemple.fr")
    # guessed (and malformed) tokens: one neutral page, 404
    for guess in ("/avis/" + "A" * 43, "/avis/x", "/avis/" + "é" * 10, "/avis/" + "a" * 500):
        r = anon_client.get(guess)
        assert r.status_code == 404 and "pas ou plus valable" in r.text
    # a link shows only its own request
    page_two = anon_client.get(two)
    assert (
        "deux@exemple.fr" not in page_two.text
        and "Vilogia" not in page_two.text
        and "Ville de Roubaix" in page_two.text
    )
    # revoked: 410, neutral; then re-sent: the old link stays dead, the new one works
    assert client.post(f"{API}/projects/{pid}/opinion-requests/{first['id']}/revoke").json()["status"] == "revoque"
    assert anon_client.get(one).status_code == 410
    assert anon_client.post(one, data={"verdict": "favorable"}, follow_redirects=False).status_code == 410
    resent = client.post(f"{API}/projects/{pid}/opinion-requests/{first['id']}/resend").json()
    assert resent["status"] == "en_attente" and resent["sent_count"] == 2
    send(app, port)
    new_one = link_of(sink, "un@exemple.fr")
    # the replaced token is no longer stored at all: unknown, the same neutral page
    assert new_one != one and anon_client.get(one).status_code == 404 and anon_client.get(new_one).status_code == 200
    # expired: 30 days after the due date by default
    app.state.clock.set(TODAY + timedelta(days=14 + 31))
    r = anon_client.get(two)
    assert r.status_code == 410 and "pas ou plus valable" in r.text
    assert client.get(f"{API}/projects/{pid}/opinion-requests").json()[1]["status"] == "expire"


def test_the_token_is_stored_hashed_and_the_sent_mail_forgets_it(
    app: Any, client: TestClient, smtp: tuple[Sink, int]
) -> None:
    from sqlalchemy import select

    from app.mail.models import OutgoingMail
    from app.opinions.models import OpinionRequest

    sink, port = smtp
    pid, ids = at_validation(client)
    ask(client, pid, ids["bailleur_social"], "b@exemple.fr")
    send(app, port)
    token = link_of(sink, "b@exemple.fr").rsplit("/", 1)[1]
    with app.state.session_factory() as session:
        req = session.scalars(select(OpinionRequest)).one()
        assert req.token_hash != token and len(req.token_hash) == 64
        row = session.scalars(select(OutgoingMail).where(OutgoingMail.kind == "opinion_request")).one()
        assert row.status == "sent" and token not in row.text_body and token not in row.html_body


def test_an_account_holder_answers_their_own_request_only(app: Any, client: TestClient) -> None:
    import uuid

    from tests.support.accounts import add_user, login

    pid, ids = at_validation(client)
    req = ask(client, pid, ids["collectivite"], "elu@roubaix.example")
    add_user(app, "elu@roubaix.example", [("observateur", uuid.UUID(pid), None)])
    add_user(app, "autre@roubaix.example", [("observateur", uuid.UUID(pid), None)])
    url = f"{API}/projects/{pid}/opinion-requests/{req['id']}/answer"
    with TestClient(app, raise_server_exceptions=False) as other:
        login(other, "autre@roubaix.example")
        assert other.post(url, json={"verdict": "favorable"}).status_code == 403
    with TestClient(app, raise_server_exceptions=False) as elu:
        login(elu, "elu@roubaix.example")
        r = elu.post(url, json={"verdict": "favorable", "comment": "Délibération du conseil municipal."})
        assert r.status_code == 201 and r.json()["via"] == "compte"
        assert elu.post(url, json={"verdict": "defavorable"}).status_code == 409
    approval = next(
        a for a in client.get(f"{API}/projects/{pid}/approvals").json() if a["stakeholder_id"] == ids["collectivite"]
    )
    assert approval["verdict"] == "favorable"


def test_request_input_is_checked(client: TestClient) -> None:
    pid, ids = at_validation(client)
    base = f"{API}/projects/{pid}/opinion-requests"
    past = (TODAY - timedelta(days=1)).isoformat()
    cases = [
        {"stakeholder_id": ids["bailleur_social"], "email": "x@y.fr", "due_on": past, "message": "m"},
        {"stakeholder_id": ids["mouvement"], "email": "x@y.fr", "due_on": TODAY.isoformat(), "message": "m"},
        {"stakeholder_id": 99999, "email": "x@y.fr", "due_on": TODAY.isoformat(), "message": "m"},
        {"email": "x@y.fr", "due_on": TODAY.isoformat(), "message": "m"},
        {
            "stakeholder_id": ids["bailleur_social"],
            "email": "pas-une-adresse",
            "due_on": TODAY.isoformat(),
            "message": "m",
        },
    ]
    for body in cases:
        r = client.post(base, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # a new stakeholder is added to the group with its category
    r = client.post(
        base,
        json={
            "stakeholder_name": "Partenaires Emploi",
            "category": "partenaire_socio_economique",
            "email": "p@e.fr",
            "due_on": TODAY.isoformat(),
            "message": "Votre avis ?",
        },
    )
    assert r.status_code == 201, r.text
    names = [s["name"] for s in client.get(f"{API}/projects/{pid}/stakeholders").json()]
    assert "Partenaires Emploi" in names


def test_two_answers_at_once_on_one_link_one_wins(app: Any, client: TestClient, committed_db: Any) -> None:
    """Real threads, each with its own connection (committed database): exactly one answer, one approval."""
    import threading

    from sqlalchemy import select

    from app.evidence.models import Approval
    from app.opinions.models import OpinionAnswer

    pid, ids = at_validation(client)
    ask(client, pid, ids["bailleur_social"], "b@exemple.fr")
    from app.mail.models import OutgoingMail

    with app.state.session_factory() as s:
        body = s.scalars(select(OutgoingMail.text_body)).one()
    from app.mail.service import _unseal

    assert "/avis/" not in body  # sealed in the outbox: the link exists in clear only in the sent message
    body = _unseal(body, app.state.settings)
    link = "/avis/" + body.split("/avis/", 1)[1].split()[0]
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def answer(verdict: str) -> None:
        with TestClient(app, raise_server_exceptions=False) as c:
            barrier.wait()
            codes.append(c.post(link, data={"verdict": verdict}, follow_redirects=False).status_code)

    threads = [threading.Thread(target=answer, args=(v,)) for v in ("favorable", "defavorable", "reserve", "favorable")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [303, 409, 409, 409], codes
    with app.state.session_factory() as s:
        assert len(list(s.scalars(select(OpinionAnswer)))) == 1
        given = [a for a in s.scalars(select(Approval)) if a.source == "lien"]
        assert len(given) == 1
