"""The data file and its lookups: counts, package data, search by name and code, suggestions."""

from __future__ import annotations

import gzip
import itertools
import json
import tomllib
import unicodedata
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.reference.cog import MAX_RESULTS, cog, departement_of_code, normalize

ROOT = Path(__file__).resolve().parents[2]
COMMUNES = sorted(cog().communes.values(), key=lambda c: c.code)


# --- the data file -------------------------------------------------------------------------------------
def test_the_data_file_holds_18_regions_101_departements_and_the_communes() -> None:
    data = cog()
    assert len(data.regions) == 18
    assert len(data.departements) == 101
    assert 34_800 <= len(data.communes) <= 35_000  # 34,875 communes (type COM) in the COG 2026
    assert {d.region for d in data.departements} == {r.code for r in data.regions}
    assert {c.departement for c in data.communes.values()} == {d.code for d in data.departements}
    # France only: no collectivité d'outre-mer (975 Saint-Pierre-et-Miquelon, 987 Polynésie…)
    assert data.departement("975") is None and data.commune("97502") is None and data.commune("98735") is None
    # Arrondissements municipaux are not communes; their city is
    assert data.commune("75056").name == "Paris" and data.commune("75119") is None
    assert data.commune("13055").name == "Marseille" and data.commune("69123").name == "Lyon"


def test_the_data_file_ships_in_the_package_with_its_source_licence_and_vintage() -> None:
    folder = resources.files("app.reference").joinpath("data")
    raw = json.loads(gzip.decompress(folder.joinpath("cog.json.gz").read_bytes()))
    assert raw["source"]["package"] == "@etalab/decoupage-administratif"
    assert raw["source"]["vintage"] == "2026" and raw["source"]["version"] == "6.0.0"
    assert "Licence Ouverte" in raw["source"]["licence"]
    source = folder.joinpath("SOURCE.md").read_text(encoding="utf-8")
    assert "Licence Ouverte" in source and "6.0.0" in source and "COG 2026" in source
    assert "34875 communes" in source
    # `pip install .` ships it: the package data of pyproject.toml names both files
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = project["tool"]["setuptools"]["package-data"]["app.reference"]
    assert {"data/cog.json.gz", "data/SOURCE.md"} <= set(shipped)
    # and the script that makes it is in the repository
    assert (ROOT / "scripts" / "build_cog.py").is_file()


def test_the_data_is_read_once() -> None:
    assert cog() is cog()


# --- names --------------------------------------------------------------------------------------------
def test_normalize_ignores_accents_case_hyphens_apostrophes_and_saint_abbreviations() -> None:
    assert normalize("L'Haÿ-les-Roses") == normalize("l hay   les ROSES") == "l hay les roses"
    assert normalize("Saint-Étienne") == normalize("ST ETIENNE") == normalize("st-étienne")
    assert normalize("Œting") == "oeting"
    assert normalize("  ") == ""


def _typed(name: str, style: int) -> str:
    """A name as someone may type it: without accents, in capitals or small letters, spaces for dashes."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return [plain.upper(), plain.lower().replace("-", " "), name.replace("'", " ").lower(), plain.replace("-", "")][
        style
    ]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(COMMUNES), st.integers(0, 3))
def test_a_commune_is_found_by_its_name_typed_without_accents_case_or_dashes(commune, style) -> None:
    data = cog()
    query = _typed(commune.name, style)
    found = data.search(query, limit=MAX_RESULTS)
    homonyms = data.named(commune.name)
    assert commune in homonyms
    # exact matches come first: every commune of that name before anything else
    assert found[: len(homonyms)] == homonyms[:MAX_RESULTS] or commune in found
    glued = normalize(commune.name).replace(" ", "")  # "La Garde" and "Lagarde" are both exact for LAGARDE
    assert all(normalize(c.name).replace(" ", "") == glued for c in found[: len(homonyms)])


def _rank(query: str, commune) -> int:
    name = normalize(commune.name)
    glued, compact = name.replace(" ", ""), query.replace(" ", "")
    if name == query or glued == compact:
        return 0
    if name.startswith(query) or glued.startswith(compact):
        return 1
    return 2 if " " + query in name else 3


def test_search_ranks_exact_then_prefix_then_words_then_contains_largest_first() -> None:
    data = cog()
    names = [c.name for c in data.search("saint denis", limit=50)]
    assert names[:2] == ["Saint-Denis", "Saint-Denis"]  # La Réunion (97411) and Seine-Saint-Denis (93066)
    assert [c.code for c in data.search("saint denis", limit=2)] == ["97411", "93066"]  # the largest first
    for query in ("saint denis", "roses", "bourg", "y"):
        found = data.search(query, limit=50)
        ranks = [_rank(normalize(query), c) for c in found]
        assert ranks == sorted(ranks), query  # exact, then prefix, then a word, then anywhere
        for a, b in itertools.pairwise(found):
            if _rank(normalize(query), a) == _rank(normalize(query), b):
                assert a.population >= b.population, query
    assert "l hay les roses" in [normalize(c.name) for c in data.search("roses", limit=50)]  # a word inside
    assert data.search("lhaylesroses", limit=5)[0].code == "94038"  # spaces forgotten
    assert data.search("l'hay", limit=5)[0].code == "94038"


def test_search_by_the_start_of_a_code_and_within_a_departement() -> None:
    data = cog()
    found = data.search("5951", limit=50)
    assert found and all(c.code.startswith("5951") for c in found)
    assert [c.code for c in found] == sorted(c.code for c in found)
    assert data.search("2a00", limit=3)[0].code == "2A001"
    only = data.search("saint", limit=50, departement="93")
    assert only and all(c.departement == "93" for c in only)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=150), st.integers(-5, 500))
def test_search_is_bounded_and_never_fails(query: str, limit: int) -> None:
    found = cog().search(query, limit=limit)
    assert len(found) <= min(max(limit, 0), MAX_RESULTS)


# --- codes ----------------------------------------------------------------------------------------------
def test_lookup_by_code() -> None:
    data = cog()
    roubaix = data.commune("59512")
    assert (roubaix.name, roubaix.departement) == ("Roubaix", "59")
    assert data.commune(" 2a004 ").name == "Ajaccio"
    assert data.commune("99999") is None
    assert data.region_of(data.departement("974")).name == "La Réunion"
    assert data.region_of(data.departement("2B")).name == "Corse"
    assert departement_of_code("97411") == "974" and departement_of_code("59512") == "59"


def test_suggestions_for_an_unknown_code() -> None:
    data = cog()
    # an arrondissement municipal, a commune déléguée: the commune it belongs to, first
    assert data.suggestions("75119")[0].code == "75056"
    assert "arrondissement municipal de Paris (75056)" in data.describe_former("75119")
    assert data.suggestions("13203")[0].code == "13055"
    # a code of the old Corsican numbering (20…): the 2A/2B code that replaced it
    assert data.suggestions("20004")[0].code == "2A004"
    # otherwise the closest codes of the same département
    close = data.suggestions("59999")
    assert close and all(c.departement == "59" for c in close)
    # the name, when given, first
    assert data.suggestions("59998", name="Roubaix")[0].code == "59512"
    # an unknown département and no name: nothing to offer
    assert data.suggestions("96123") == []


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(COMMUNES), st.integers(1, 999))
def test_every_unknown_code_of_a_departement_gets_real_communes_of_that_departement(commune, delta) -> None:
    data = cog()
    dep = commune.departement
    rest = commune.code[len(dep) :]
    code = dep + f"{(int(rest) + delta) % 1000:0{len(rest)}d}"
    if data.commune(code) is not None or code in data.former:
        return
    found = data.suggestions(code)
    assert 1 <= len(found) <= 5
    assert all(data.commune(c.code) == c and c.departement == dep for c in found)


@pytest.mark.parametrize(
    ("text", "name"),
    [("hauts de france", "Hauts-de-France"), ("ILE-DE-FRANCE", "Île-de-France"), ("32", "Hauts-de-France")],
)
def test_a_region_by_its_name_however_written_or_its_code(text: str, name: str) -> None:
    assert cog().region(text).name == name
    assert cog().region_named(name).name == name
    assert cog().region_named(text) is None or text == name


def test_regions_are_alphabetical_and_departements_in_code_order() -> None:
    data = cog()
    assert [r.name for r in data.regions][:3] == ["Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté", "Bretagne"]
    codes = [d.code for d in data.departements]
    assert codes[18:21] == ["19", "2A", "2B"] and codes[-5:] == ["971", "972", "973", "974", "976"]
    assert [d.code for d in data.departements_of(data.region("Corse"))] == ["2A", "2B"]
