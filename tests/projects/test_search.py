"""The portfolio search ignores case and accents, on SQLite as on PostgreSQL, and covers the name, the
région, the département (code or name), the communes, the QPV and the lead (app/projects/repository.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_the_write_path_keeps_the_search_current(client) -> None:
    pid = create_project(client, name="Régie des Tilleuls", region="Bretagne", departement="29")["id"]
    assert _names(client, "tilleuls") == {"Régie des Tilleuls"}
    client.patch(f"{API}/projects/{pid}", json={"name": "Régie de l'Œillet"})
    assert _names(client, "tilleuls") == set() and _names(client, "OEILLET") == {"Régie de l'Œillet"}
    assert _names(client, "régie de l’œillet") == {"Régie de l'Œillet"}  # the typographic apostrophe too
    commune = post(client, f"/projects/{pid}/communes", {"insee_code": "29019"})  # Brest
    assert _names(client, "brest") == {"Régie de l'Œillet"}
    assert client.delete(f"{API}/projects/{pid}/communes/{commune['id']}").status_code == 204
    assert _names(client, "brest") == set()


@settings(max_examples=40, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_folding_is_a_plain_character_mapping(value: str) -> None:
    folded = fold(value)
    assert folded == fold(folded)  # idempotent
    assert folded == "".join(fold(ch) or "" for ch in value)  # character by character: no locale, no context
    assert not any(ch in folded for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZÉÈÊÀÎÔÛÇŒÆéèêàîôûçœæ")


def test_search_folds_decomposed_accents(client) -> None:
    """A name stored or a query typed with combining accents (NFD: "I" + U+0302) is found like the
    composed one."""
    import unicodedata

    create_project(client, name=unicodedata.normalize("NFD", "Régie de l'Île Verte"))
    create_project(client, name="Régie de l'Île Bleue")
    assert _names(client, "ile verte") == {unicodedata.normalize("NFD", "Régie de l'Île Verte")}
    assert _names(client, unicodedata.normalize("NFD", "ÎLE BLEUE")) == {"Régie de l'Île Bleue"}
    assert len(_names(client, "l'île")) == 2
    assert fold(unicodedata.normalize("NFD", "Île-de-France")) == "ile-de-france"
