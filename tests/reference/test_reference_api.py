"""The reference API: régions, départements, communes (search and by code), French 404/422."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.reference.cog import cog
from tests.support.api import API, assert_problem

HTTP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def test_regions_are_the_18_of_the_official_code(client) -> None:
    r = client.get(f"{API}/reference/regions")
    assert r.status_code == 200
    regions = r.json()
    assert len(regions) == 18
    assert {"code": "32", "name": "Hauts-de-France"} in regions
    assert [x["name"] for x in regions] == [x.name for x in cog().regions]


def test_departements_all_or_of_one_region(client) -> None:
    every = client.get(f"{API}/reference/departements").json()
    assert len(every) == 101
    assert {"code": "59", "name": "Nord", "region_code": "32", "region": "Hauts-de-France"} in every
    for region in ("Corse", "corse", "94"):
        corse = client.get(f"{API}/reference/departements", params={"region": region}).json()
        assert [d["code"] for d in corse] == ["2A", "2B"]
    problem = assert_problem(client.get(f"{API}/reference/departements", params={"region": "Atlantide"}), 422)
    assert problem["detail"].startswith("Région inconnue") and problem["errors"][0]["field"] == "region"


def test_communes_by_name_without_accents_or_case(client) -> None:
    r = client.get(f"{API}/reference/communes", params={"q": "SAINT-ETIENNE", "limit": 3})
    assert r.status_code == 200
    first = r.json()[0]
    assert first == {
        "insee_code": "42218",
        "name": "Saint-Étienne",
        "departement": "42",
        "departement_name": "Loire",
        "region": "Auvergne-Rhône-Alpes",
        "population": first["population"],
    }
    assert len(r.json()) == 3
    found = client.get(f"{API}/reference/communes", params={"q": "saint denis", "departement": "93"}).json()
    assert found[0]["insee_code"] == "93066" and all(c["departement"] == "93" for c in found)
    assert client.get(f"{API}/reference/communes", params={"q": "zzzzqqq"}).json() == []
    assert_problem(client.get(f"{API}/reference/communes", params={"q": "x", "departement": "20"}), 422)
    assert_problem(client.get(f"{API}/reference/communes", params={"q": "x", "limit": 51}), 422)
    assert_problem(client.get(f"{API}/reference/communes"), 422)


def test_a_commune_by_code_and_an_unknown_code_with_suggestions(client) -> None:
    r = client.get(f"{API}/reference/communes/2a004")
    assert r.status_code == 200 and r.json()["name"] == "Ajaccio" and r.json()["region"] == "Corse"
    problem = assert_problem(client.get(f"{API}/reference/communes/75119"), 404, "introuvable")
    assert "arrondissement municipal de Paris (75056)" in problem["detail"]
    assert problem["suggestions"][0] == {"insee_code": "75056", "name": "Paris", "departement": "75"}
    problem = assert_problem(client.get(f"{API}/reference/communes/59999"), 404)
    assert problem["suggestions"] and all(s["departement"] == "59" for s in problem["suggestions"])
    assert "Vouliez-vous dire" in problem["detail"]
    problem = assert_problem(client.get(f"{API}/reference/communes/5951"), 422)
    assert problem["detail"].startswith("Code INSEE invalide")


def test_the_reference_needs_credentials(anon_client) -> None:
    assert_problem(anon_client.get(f"{API}/reference/regions"), 401)


def test_openapi_lists_the_regions_and_departements_of_projects(client) -> None:
    doc = client.get("/openapi.json").json()
    create = doc["components"]["schemas"]["ProjectCreate"]["properties"]
    assert create["region"]["enum"] == [r.name for r in cog().regions]
    departement = create["departement"]
    variants = departement.get("anyOf", [departement])
    assert any(v.get("enum") == [d.code for d in cog().departements] for v in variants)
    assert "/api/v1/reference/communes/{insee_code}" in doc["paths"]


def _statuses(r: Any) -> int:
    assert r.status_code in (200, 404, 422), (r.status_code, r.text[:500])
    if r.status_code != 200:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["detail"]  # French words, never empty
    return int(r.status_code)


@HTTP
@given(st.text(max_size=40))
def test_any_string_as_a_code_or_a_query_is_answered_never_a_500(client, text: str) -> None:
    segment = quote(text, safe="")  # any string, as a client puts it in a path
    if segment not in ("", ".", ".."):
        _statuses(client.get(f"{API}/reference/communes/{segment}"))
    _statuses(client.get(f"{API}/reference/communes", params={"q": text}))
    _statuses(client.get(f"{API}/reference/communes", params={"q": "a", "departement": text}))
    _statuses(client.get(f"{API}/reference/departements", params={"region": text}))


@HTTP
@given(st.from_regex(r"[0-9][0-9AB][0-9]{3}", fullmatch=True))
def test_any_well_formed_code_is_a_commune_or_a_404_with_real_suggestions(client, code: str) -> None:
    r = client.get(f"{API}/reference/communes/{code}")
    if _statuses(r) == 200:
        assert cog().commune(code) is not None and r.json()["insee_code"] == code.upper()
    elif r.status_code == 404:
        assert cog().commune(code) is None
        assert all(cog().commune(s["insee_code"]) is not None for s in r.json()["suggestions"])
