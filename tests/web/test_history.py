"""A project's history in words (app/projects/history_view.py): real names, what changed, every event type
in French, filters by kind, paging."""

from __future__ import annotations

import re
from pathlib import Path

import app.http.application  # noqa: F401 - every concept registers its event labels on import
from app.projects.history_view import EVENT_TYPES, FILTERS
from app.webhooks.service import EVENT_TYPES as WRITTEN_TYPES
from tests.support.accounts import browser
from tests.support.api import API, create_project, post, put
from tests.support.html import csrf_of, html_of
from tests.web.test_pages import _consultant_browser, get_page

APP = Path(__file__).resolve().parents[2] / "app"


def _types_in_the_code() -> set[str]:
    """Every event type a service hands to record_change, read from the source."""
    found: set[str] = set()
    for path in APP.rglob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r"record_change\(\s*[^)]*?\"([a-z_]+\.[a-z_]+)\"", text, flags=re.S))
        found |= set(re.findall(r"\"(evidence\.(?:created|updated))\" if", text))
    return found


def test_every_event_type_the_code_writes_has_a_french_label() -> None:
    written = set(WRITTEN_TYPES) | _types_in_the_code()
    assert {"project.created", "deadline.status_changed", "evidence.deleted", "document.created"} <= written
    missing = sorted(t for t in written if t not in EVENT_TYPES)
    assert not missing, f"event types without a French label in app/projects/history_view.py: {missing}"
    assert all(label and label[0].isupper() and "." not in label for label in EVENT_TYPES.values())


def test_history_names_people_and_says_what_changed(app, client) -> None:
    pid = create_project(client, name="Régie des Tilleuls")["id"]
    with _consultant_browser(app) as c:
        doc = get_page(c, f"/projets/{pid}")
        pilot = {"name": "Nolwenn Riou", "category": "mouvement", "is_amo_pilot": True}
        r = c.post(  # through the page form: the actor is the signed-in consultant
            f"/projets/{pid}/preuves/stakeholders",
            data={"csrf": csrf_of(doc), **{k: str(v) for k, v in pilot.items()}} | {"is_amo_pilot": "on"},
        )
        assert r.status_code == 303, html_of(r).text[:400]
    put(client, f"/projects/{pid}/feasibility", {"annual_charges": 420000, "market_income": 0, "non_market_income": 0})
    put(client, f"/projects/{pid}/feasibility", {"annual_charges": 450000, "market_income": 0, "non_market_income": 0})
    client.patch(f"{API}/projects/{pid}", json={"lead_name": "Amina Benali"})
    need = post(client, f"/projects/{pid}/needs", {"label": "Entretien des halls"})
    assert client.delete(f"{API}/projects/{pid}/needs/{need['id']}").status_code == 204
    with browser(app, "claire@example.fr", login_page=True) as c:
        doc = get_page(c, f"/projets/{pid}")
        rows = doc.by_id("table-historique").find("tbody").find_all("tr")
        by_seq = {int(tr.get("data-seq")): tr for tr in rows}
        texts = [tr.text for tr in rows]
        actors = {tr.one("td", cls="actor").text for tr in rows}
        # real names: the consultant by name, the key by its name; never "user:…" or "key:…"
        assert "Claire Martin" in actors and "Clé d'API « Mouvement des Régies – tests »" in actors
        assert not any(re.match(r"^(user|key|system):", a) for a in actors)
        assert any("Ajout : Groupe projet — Nolwenn Riou (Mouvement des Régies) — pilote (AMO)" in t for t in texts)
        assert any("Charges annuelles prévues : 420 000 € → 450 000 €" in t for t in texts), "\n".join(texts)
        assert any("Porteur : — → Amina Benali" in t for t in texts)
        assert any("Retrait : Besoins du territoire — Entretien des halls" in t for t in texts)
        assert by_seq[1].one("span", cls="what").text == "Projet créé"
        # filters by kind: the dossier only
        link = doc.by_id("filtres-historique").one("a", data_kind="dossier")
        only = get_page(c, link.get("href"))
        types = {tr.get("data-type") for tr in only.by_id("table-historique").find("tbody").find_all("tr")}
        assert types == {"evidence.created", "evidence.updated", "evidence.deleted"}
        assert only.by_id("filtres-historique").one("a", aria_current="page").text == FILTERS["dossier"][0]
        # an unknown kind shows everything; paging keeps the kind
        assert len(get_page(c, f"/projets/{pid}?quoi=pirate").by_id("table-historique").find_all("tr")) == len(rows) + 1


def test_link_answers_are_named_in_the_history(app, client) -> None:
    """An answer given through an opinion request's link (actor « lien:avis-N ») is the stakeholder's,
    named, not « Anonyme »."""
    from datetime import timedelta

    from app.projects import history_view
    from tests.support.api import advance
    from tests.support.clock import TODAY

    start = TODAY - timedelta(days=200)
    pid = create_project(client, started_on=start.isoformat())["id"]
    advance(client, pid, "validation", start=start)
    sh = {s["category"]: s for s in client.get(f"{API}/projects/{pid}/stakeholders").json()}
    req = post(
        client,
        f"/projects/{pid}/opinion-requests",
        {
            "stakeholder_id": sh["bailleur_social"]["id"],
            "email": "bailleur@example.fr",
            "due_on": (TODAY + timedelta(days=10)).isoformat(),
            "message": "Votre avis, s'il vous plaît.",
        },
    )
    with app.state.session_factory() as s:
        names = history_view.actor_names(s, [f"lien:avis-{req['id']}", "lien:avis-999999", "lien:autre"])
    assert names[f"lien:avis-{req['id']}"] == f"{req['stakeholder_name']} (par le lien de demande d'avis)"
    assert names["lien:avis-999999"] == "Partie prenante (par un lien de demande d'avis)"
    assert "Anonyme" not in names.values()
