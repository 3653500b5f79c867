"""The portfolio search ignores case and accents, on SQLite as on PostgreSQL, and covers the name, the
région, the département (code or name), the communes, the QPV and the lead (app/projects/repository.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.projects.repository import fold
from tests.support.api import API, create_project, post


def _names(client, q: str) -> set[str]:
    r = client.get(f"{API}/projects", params={"q": q, "limit": 50})
    assert r.status_code == 200, r.text
    return {p["name"] for p in r.json()["items"]}


def test_accents_and_capitals_do_not_matter(client) -> None:
    ile = create_project(
        client,
        name="Régie de Quartier de la Grande Île",
        region="Auvergne-Rhône-Alpes",
        departement="69",
        lead_name="Émilie Œuvray",
    )["id"]
    create_project(client, name="Régie de Territoire du Val de Sambre", region="Hauts-de-France", departement="59")
    post(client, f"/projects/{ile}/communes", {"insee_code": "69256"})
    post(client, f"/projects/{ile}/qpvs", {"code": "QP069041", "name": "Grande Île"})
    grande = {"Régie de Quartier de la Grande Île"}
    for q in ("Île", "île", "ILE", "ile", "grande ile", "GRANDE ÎLE"):
        assert _names(client, q) == grande, q
    assert _names(client, "rhone") == grande  # the région, without its accent
    assert _names(client, "emilie") == grande and _names(client, "OEUVRAY") == grande  # the lead, Œ → oe
    assert _names(client, "vaulx") == grande  # a commune's official name (Vaulx-en-Velin)
    assert _names(client, "qp069041") == grande  # a QPV's code
    assert _names(client, "Nord") == {"Régie de Territoire du Val de Sambre"}  # the département's name
    assert _names(client, "69") == grande  # and its code
    assert _names(client, "%") == set() and _names(client, "_") == set()  # LIKE's wildcards are plain text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_the_database_folds_exactly_like_python(app, value: str) -> None:
    with app.state.session_factory() as session:
        assert session.scalar(text("SELECT rf_fold(:v)"), {"v": value}) == fold(value)
