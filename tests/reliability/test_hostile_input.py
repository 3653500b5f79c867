"""Hostile input is refused with a 4xx problem, never a 500: oversized and streamed bodies, deeply
nested JSON, huge pages, long strings and headers, NUL characters, numbers and dates out of range.

(The schema-driven fuzzing is bench/fuzz.py with schemathesis; see docs/RELIABILITY.md.)
"""

from __future__ import annotations

import json

import pytest

from tests.support.api import API, create_project

LONG = "é" * 20_000  # 40 KB of UTF-8, under the tests' 64 KB body limit


def _problem(r, *statuses: int) -> dict:
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    return r.json()


def test_body_over_the_limit_is_413_even_without_content_length(client, settings) -> None:
    pid = create_project(client)["id"]
    chunk = b'{"label": "' + b"x" * 1024

    def stream():
        yield chunk
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    r = client.post(f"{API}/projects/{pid}/needs", content=stream(), headers={"Content-Type": "application/json"})
    _problem(r, 413)


@pytest.mark.parametrize("depth", [200, 5_000, 30_000])
def test_deeply_nested_json_is_refused(client, depth: int) -> None:
    pid = create_project(client)["id"]
    body = '{"label": ' + "[" * depth + "]" * depth + "}"
    r = client.post(f"{API}/projects/{pid}/needs", content=body, headers={"Content-Type": "application/json"})
    _problem(r, 422, 400)


@pytest.mark.parametrize(
    "query",
    [
        "page_size=1000000000",
        "page_size=0",
        "page_size=-5",
        "page=0",
        "page=1000000000000",
        "page_size=201",
        "page=abc",
    ],
)
def test_huge_or_absurd_pages_are_422(client, query: str) -> None:
    _problem(client.get(f"{API}/projects?{query}"), 422)
    pid = create_project(client)["id"]
    _problem(client.get(f"{API}/projects/{pid}/events?{query}"), 422)


def test_far_page_is_empty_not_an_error(client) -> None:
    create_project(client)
    r = client.get(f"{API}/projects?page=100000&page_size=200")
    assert r.status_code == 200 and r.json()["items"] == []


@pytest.mark.parametrize("field", ["name", "region", "lead_name", "departement"])
def test_long_strings_are_422(client, field: str) -> None:
    body = {"name": "Régie", "kind": "regie_de_quartier", "region": "Hauts-de-France"} | {field: LONG}
    _problem(client.post(f"{API}/projects", json=body), 422)


def test_long_strings_in_evidence_reason_query_path_and_headers(client) -> None:
    pid = create_project(client)["id"]
    _problem(client.post(f"{API}/projects/{pid}/stakeholders", json={"name": LONG, "category": "habitant"}), 422)
    _problem(client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": LONG}), 422)
    _problem(client.get(f"{API}/projects", params={"q": "x" * 5000}), 422)
    _problem(client.post(f"{API}/projects/{pid}/transitions/{'x' * 5000}"), 422, 404)
    _problem(
        client.post(
            f"{API}/projects/{pid}/transitions/suspendre",
            json={"reason": "motif"},
            headers={"If-Match": '"' + "1" * 5000 + '"'},
        ),
        422,
        412,
    )


@pytest.mark.parametrize("value", ["Régie\x00de l'Alma", "\x00", "ok\ud800"])
def test_nul_and_lone_surrogates_are_refused_or_stored_never_500(client, value: str) -> None:
    body = json.dumps({"name": value, "kind": "regie_de_quartier", "region": "Hauts-de-France"})
    r = client.post(f"{API}/projects", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (201, 422), (r.status_code, r.text[:300])


@pytest.mark.parametrize("amount", [10**30, -1, 2**63])
def test_numbers_out_of_range_are_422(client, amount: int) -> None:
    pid = create_project(client)["id"]
    r = client.put(f"{API}/projects/{pid}/feasibility", json={"annual_charges": amount})
    _problem(r, 422)


def test_year_one_is_an_odd_but_harmless_start(client) -> None:
    body = {"name": "Régie", "kind": "regie_de_quartier", "region": "Hauts-de-France", "started_on": "0001-01-01"}
    r = client.post(f"{API}/projects", json=body)
    assert r.status_code in (201, 422), r.text[:300]
    if r.status_code == 201:
        for path in ("", "/schedule", "/transitions", "/events"):
            assert client.get(f"{API}/projects/{r.json()['id']}{path}").status_code == 200


@pytest.mark.parametrize("day", ["9999-12-31", "2026-02-30", "1e9", "-0001-01-01"])
def test_dates_out_of_range_are_422(client, day: str) -> None:
    body = {"name": "Régie", "kind": "regie_de_quartier", "region": "Hauts-de-France", "started_on": day}
    _problem(client.post(f"{API}/projects", json=body), 422)
    pid = create_project(client)["id"]
    _problem(client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "m", "effective_on": day}), 422)


def test_many_repeated_query_parameters_are_422(client) -> None:
    _problem(client.get(f"{API}/projects?" + "&".join(["region=x"] * 500)), 422)
    _problem(client.get(f"{API}/projects?" + "&".join(["state=contours"] * 50)), 422)


@pytest.mark.parametrize("query", ["q=%00", "q=ab%00cd", "region=%00", "region=Hauts%00"])
def test_nul_in_query_parameters_is_refused_or_harmless(client, query: str) -> None:
    r = client.get(f"{API}/projects?{query}")
    assert r.status_code in (200, 422), (r.status_code, r.text[:300])


def test_booleans_are_not_numbers_and_numbers_are_not_booleans(client) -> None:
    """Found by schemathesis: `{"annual_charges": true}` was stored as 1 (pydantic's lax mode)."""
    pid = create_project(client)["id"]
    refused = [
        ("PUT", "/feasibility", {"annual_charges": True}),
        ("PUT", "/feasibility", {"market_income": False}),
        (
            "POST",
            "/markets",
            {"label": "Entretien", "buyer_name": "Ville", "buyer_category": "collectivite", "annual_amount": True},
        ),
        ("POST", "/stakeholders", {"name": "Mme A", "category": "habitant", "is_amo_pilot": "yes"}),
        ("POST", "/stakeholders", {"name": "Mme B", "category": "habitant", "is_amo_pilot": 1}),
        ("POST", "/approvals", {"stakeholder_id": True, "verdict": "favorable", "given_on": "2026-01-05"}),
    ]
    for method, path, body in refused:
        r = client.request(method, f"{API}/projects/{pid}{path}", json=body)
        assert r.status_code == 422, (path, body, r.text)
    assert client.get(f"{API}/projects/{pid}").json()["version"] == 1  # nothing written
    # digits as text still count (the pages' forms send text), and real booleans still work
    assert (
        client.put(f"{API}/projects/{pid}/feasibility", json={"annual_charges": "250000"}).json()["annual_charges"]
        == 250000
    )
    r = client.post(
        f"{API}/projects/{pid}/stakeholders", json={"name": "Mme C", "category": "mouvement", "is_amo_pilot": True}
    )
    assert r.status_code == 201 and r.json()["is_amo_pilot"] is True
