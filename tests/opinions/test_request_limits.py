"""Opinion requests cannot flood a mailbox (review of issue 15, item 3): one plain address per request
(a property over odd inputs), and so many requests a day per project, re-sendings per request and
request mails per address — 429 problem+json in French on the API, a French message on the page, and
exactly the allowed number when requests arrive at the same time."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.utils import getaddresses
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.mail.models import OutgoingMail
from app.opinions import limits
from app.opinions.models import OpinionRequest
from tests.opinions.test_opinions import at_validation
from tests.support.api import API
from tests.support.clock import TODAY
from workflow.errors import InvalidInput

FORBIDDEN = set(',;<>"()[]\\ \t\r\n:%!@')


@given(st.text(max_size=300))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_is_one_plain_address_or_refused_in_french(text: str) -> None:
    try:
        address = limits.single_address(text)
    except InvalidInput as err:
        assert err.field == "email" and "Une seule adresse" in err.message
        return
    local, _, domain = address.partition("@")
    assert address.count("@") == 1 and len(address) <= 254 and len(local) <= 64
    assert not FORBIDDEN & set(local) and not FORBIDDEN & set(domain) and address.isascii()
    assert getaddresses([address]) == [("", address)]


ODD = [
    "a@b.fr,victim@x.fr",
    "a@b.fr, victim@x.fr",
    "a@b.fr;victim@x.fr",
    "a@b.fr,victim.x.fr",
    "Mairie <a@b.fr>",
    "<a@b.fr>",
    '"victim@x.fr" <a@b.fr>',
    '"a,b"@x.fr',
    "a@b.fr (commentaire)",
    "a@b.fr\r\nBcc: victim@x.fr",
    "a@b.fr\nvictim@x.fr",
    "a@b.fr\x00",
    "victim%x.fr@b.fr",
    "x!victim@b.fr",
    "a@[127.0.0.1]",
    "a@localhost",
    "a@b.fr.",
    "a..b@x.fr",
    ".a@x.fr",
    "a@-b.fr",
    "é@b.fr",
    "a@bé.fr",
    "a" * 65 + "@b.fr",
    "a@" + "b" * 64 + ".fr",
    "a@" + ".".join(["b" * 60] * 5) + ".fr",
    "",
    "   ",
]


@pytest.mark.parametrize("text", ODD)
def test_odd_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        limits.single_address(text)


@given(
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s),
    st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=1, max_size=3),
    st.sampled_from(["fr", "org", "example", "xn--qxam"]),
)
def test_plain_addresses_pass_unchanged(local: str, labels: list[str], tld: str) -> None:
    address = f"{local}@{'.'.join(labels)}.{tld}"
    assert limits.single_address(f"  {address} ") == address


def _ask(client: TestClient, pid: str, stakeholder_id: int, email: str) -> Any:
    return client.post(
        f"{API}/projects/{pid}/opinion-requests",
        json={
            "stakeholder_id": stakeholder_id,
            "email": email,
            "due_on": (TODAY + timedelta(days=14)).isoformat(),
            "message": "Votre avis ?",
        },
    )


def _is_429_in_french(r: Any, words: str) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert words in r.json()["detail"] and int(r.headers["Retry-After"]) > 0


def test_the_api_refuses_a_list_of_addresses(client: TestClient) -> None:
    pid, ids = at_validation(client)
    r = _ask(client, pid, ids["bailleur_social"], "a@b.fr,victim.x.fr")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "Une seule adresse" in r.text or "e-mail" in r.text


def test_resending_is_limited_per_request_per_day(app: Any, client: TestClient) -> None:
    pid, ids = at_validation(client)
    req = _ask(client, pid, ids["bailleur_social"], "bailleur@vilogia.example").json()
    resend = f"{API}/projects/{pid}/opinion-requests/{req['id']}/resend"
    for _ in range(limits.RESENDS_PER_REQUEST_PER_DAY):
        assert client.post(resend).status_code == 200
    _is_429_in_french(client.post(resend), "renvoyée 3 fois aujourd")
    app.state.clock.advance(days=1)
    assert client.post(resend).status_code == 200  # a new day


def test_mails_to_one_address_are_limited_per_day_across_projects(app: Any, client: TestClient) -> None:
    sent = 0
    while sent < limits.MAILS_PER_ADDRESS_PER_DAY:
        pid, ids = at_validation(client)
        assert _ask(client, pid, ids["bailleur_social"], "Victime@Exemple.fr").status_code == 201
        sent += 1
    pid, ids = at_validation(client)
    _is_429_in_french(_ask(client, pid, ids["collectivite"], "victime@exemple.fr"), "Cette adresse a déjà reçu")
    assert _ask(client, pid, ids["collectivite"], "mairie@exemple.fr").status_code == 201  # another address


def test_new_requests_are_limited_per_project_per_day(app: Any, client: TestClient) -> None:
    pid, ids = at_validation(client)
    for n in range(limits.REQUESTS_PER_PROJECT_PER_DAY):
        assert _ask(client, pid, ids["bailleur_social"], f"b{n}@exemple.fr").status_code == 201
    _is_429_in_french(_ask(client, pid, ids["bailleur_social"], "encore@exemple.fr"), "20 demandes d'avis")


def test_the_page_says_it_in_french_beside_the_address(app: Any, client: TestClient) -> None:
    from tests.support.accounts import browser

    pid, ids = at_validation(client)
    req = _ask(client, pid, ids["bailleur_social"], "bailleur@vilogia.example").json()
    with browser(app, "conseil@exemple.fr", [("consultant", None, None)]) as b:
        token = {"csrf": b.csrf}
        for _ in range(limits.RESENDS_PER_REQUEST_PER_DAY):
            assert b.post(f"/projets/{pid}/avis/{req['id']}/renvoyer", data=token).status_code == 303
        page = b.post(f"/projets/{pid}/avis/{req['id']}/renvoyer", data=token)
        assert page.status_code == 429 and "renvoyée 3 fois aujourd" in page.text
        # the address got 1 + 3 mails today; one more request passes, the next is refused beside it
        form = token | {
            "stakeholder": str(ids["collectivite"]),
            "email": "a@b.fr, victim@x.fr",
            "due_on": (TODAY + timedelta(days=14)).isoformat(),
            "message": "Votre avis ?",
        }
        bad = b.post(f"/projets/{pid}/avis", data=form)
        assert bad.status_code == 422 and "erreur-email" in bad.text and "victim@x.fr" in bad.text
        one_more = form | {"email": "bailleur@vilogia.example"}
        assert b.post(f"/projets/{pid}/avis", data=one_more).status_code == 303
        full = b.post(f"/projets/{pid}/avis", data=one_more)
        assert full.status_code == 429 and "Cette adresse a déjà reçu" in full.text and "erreur-email" in full.text


@pytest.mark.usefixtures("committed_db")
def test_requests_at_the_same_time_pass_only_as_many_as_allowed(app: Any, client: TestClient) -> None:
    """Ten creations to one address at once, over two projects: exactly MAILS_PER_ADDRESS_PER_DAY pass."""
    projects = [at_validation(client) for _ in range(2)]
    codes: list[int] = []
    lock = threading.Lock()

    barrier = threading.Barrier(10)

    def one(n: int) -> None:
        pid, ids = projects[n % 2]
        with TestClient(app, raise_server_exceptions=False, headers=dict(client.headers)) as c:
            barrier.wait()
            r = _ask(c, pid, ids["bailleur_social"], "victime@exemple.fr")
        with lock:
            codes.append(r.status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] * limits.MAILS_PER_ADDRESS_PER_DAY + [429] * (10 - limits.MAILS_PER_ADDRESS_PER_DAY)
    with app.state.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(OpinionRequest)) == limits.MAILS_PER_ADDRESS_PER_DAY
        assert s.scalar(select(func.count()).select_from(OutgoingMail)) == limits.MAILS_PER_ADDRESS_PER_DAY
