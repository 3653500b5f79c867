"""Issue 11, §6: the API says exactly what it does, in French.

Classes, generated (Hypothesis): bytes that are not JSON (400 `json_illisible`), bodies sent with any
other Content-Type than JSON (415, naming application/json), invalid JSON bodies on several routes and
any JSON against every request schema of the API (every error worded in French by the one table of
app.core.messages, no English sentence of pydantic's in a problem), weak and strong If-Match tags (a
weak tag never matches: 412). A refused request changes nothing.
"""

from __future__ import annotations

import email.message
import json
from typing import Any

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from app.core.messages import TRANSLATED_TYPES, translate
from app.http.application import api_routes
from app.http.dependencies import UNREADABLE_VERSION, WEAK_VERSION, parse_if_match
from tests.support.api import API, assert_problem, create_project, footprint
from tests.support.evidence import CREATE_BODIES

HTTP = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PURE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Words of pydantic's, FastAPI's and Starlette's English messages; none may reach a problem body.
ENGLISH = (
    "Input should",
    "Value error",
    "Field required",
    "Extra inputs",
    "should have",
    "String should",
    "not permitted",
    "JSON decode",
    "There was an error",
    "Assertion failed",
    "Unprocessable",
    "is not a valid",
)


def assert_french(body: dict[str, Any]) -> None:
    text = json.dumps(body, ensure_ascii=False)
    for marker in ENGLISH:
        assert marker not in text, (marker, body)


def body_routes(pid: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, a valid body) on a few JSON routes of one project (and the collection)."""
    return [
        ("POST", f"{API}/projects", {"name": "Autre régie", "kind": "regie_de_quartier", "region": "Bretagne"}),
        ("PATCH", f"{API}/projects/{pid}", {"lead_name": "Nadia"}),
        ("POST", f"{API}/projects/{pid}/needs", dict(CREATE_BODIES["needs"])),
        ("POST", f"{API}/projects/{pid}/stakeholders", dict(CREATE_BODIES["stakeholders"])),
        ("PUT", f"{API}/projects/{pid}/feasibility", dict(CREATE_BODIES["feasibility"])),
        ("POST", f"{API}/projects/{pid}/transitions/suspendre", {"reason": "pause"}),
    ]


def _unchanged(client: Any, pid: str, before: Any) -> None:
    assert footprint(client, pid) == before


@pytest.fixture
def project(client: Any) -> str:
    return str(create_project(client)["id"])


# --- 400: a body that is not JSON ------------------------------------------------------------------------
def _not_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return True
    return False


not_json = st.one_of(
    st.binary(min_size=1, max_size=200),
    st.text(min_size=1, max_size=80).map(lambda t: t.encode()),
    st.sampled_from([b'{"name": ', b"{'name': 'x'}", b"[1,]", b'{"a" 1}', b"\xff\xfe{", b'{"name": "\xff"}', b"nul"]),
).filter(_not_json)


def test_malformed_json_is_400_in_french_and_documented(client, project) -> None:
    for method, url, _ in body_routes(project):
        r = client.request(method, url, content=b'{"name": ', headers={"content-type": "application/json"})
        body = assert_problem(r, 400, "json_illisible")
        assert "JSON" in body["detail"] and "errors" not in body
        assert_french(body)
    # Not UTF-8: Starlette cannot even decode it (its own English 400 before).
    r = client.post(f"{API}/projects", content=b'{"name": "\xe9"}', headers={"content-type": "application/json"})
    assert_french(assert_problem(r, 400, "json_illisible"))
    document = client.get("/openapi.json").json()
    for path, method in (("/api/v1/projects", "post"), ("/api/v1/projects/{project_id}", "patch")):
        responses = document["paths"][path][method]["responses"]
        assert "400" in responses and "415" in responses, responses.keys()
        assert "application/problem+json" in responses["400"]["content"]
        assert "application/problem+json" in responses["415"]["content"]


@HTTP
@given(data=not_json, route=st.integers(min_value=0, max_value=5))
def test_any_bytes_that_are_not_json_answer_400_in_french(client, project, data: bytes, route: int) -> None:
    before = footprint(client, project)
    method, url, _ = body_routes(project)[route]
    r = client.request(method, url, content=data, headers={"content-type": "application/json"})
    assert_french(assert_problem(r, 400, "json_illisible"))
    _unchanged(client, project, before)


# --- 415: a body sent as something else than JSON --------------------------------------------------------
TOKEN = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789.+-"), min_size=1, max_size=12)


def _is_json_type(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    sub = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (sub == "json" or sub.endswith("+json"))


content_types = st.one_of(
    st.sampled_from(
        [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "text/json",
            "application/jsonx",
            "application/octet-stream",
        ]
    ),
    st.builds(lambda a, b: f"{a}/{b}", st.sampled_from(["text", "application", "image", "multipart", "x"]), TOKEN),
    TOKEN,
).filter(lambda t: not _is_json_type(t))


def test_form_data_and_text_on_a_json_route_are_415_naming_json(client, project) -> None:
    before = footprint(client, project)
    r = client.patch(f"{API}/projects/{project}", data={"lead_name": "Nadia"})
    body = assert_problem(r, 415, "type_de_contenu_non_pris_en_charge")
    assert "application/json" in body["detail"] and body["expected"] == "application/json"
    assert_french(body)
    r = client.post(
        f"{API}/projects/{project}/needs", content=b'{"label": "B"}', headers={"content-type": "text/plain"}
    )
    assert_problem(r, 415, "type_de_contenu_non_pris_en_charge")
    # A body without a Content-Type is not JSON either.
    r = client.post(f"{API}/projects/{project}/needs", content=b'{"label": "B"}')
    assert_problem(r, 415, "type_de_contenu_non_pris_en_charge")
    _unchanged(client, project, before)
    # JSON with parameters still is JSON.
    r = client.post(
        f"{API}/projects/{project}/needs",
        content=b'{"label": "B"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201, r.text


@HTTP
@given(content_type=content_types, route=st.integers(min_value=0, max_value=5))
def test_any_other_content_type_answers_415_naming_json(client, project, content_type: str, route: int) -> None:
    before = footprint(client, project)
    method, url, valid = body_routes(project)[route]
    r = client.request(method, url, content=json.dumps(valid).encode(), headers={"content-type": content_type})
    body = assert_problem(r, 415, "type_de_contenu_non_pris_en_charge")
    assert "application/json" in body["detail"]
    assert_french(body)
    _unchanged(client, project, before)


# --- 422: every validation message in French ---------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "2024-13-40", "W12", "QP0", "59 512", "x" * 3000, "1.5", "true"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def invalid_bodies(draw: Any, valid: dict[str, Any]) -> Any:
    """A valid body with fields changed, removed or added; now and then anything at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    body = dict(valid)
    keys = [*valid, "name", "label", "kind", "category", "started_on", "effective_on", "status", "inconnu"]
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()) and key in body:
            del body[key]
        else:
            body[key] = draw(json_values)
    return body


@HTTP
@given(data=st.data(), route=st.integers(min_value=0, max_value=5))
def test_invalid_bodies_get_french_messages_only(client, project, data: Any, route: int) -> None:
    method, url, valid = body_routes(project)[route]
    r = client.request(method, url, json=data.draw(invalid_bodies(valid)))
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        body = assert_problem(r, r.status_code)
        assert_french(body)
        for error in body.get("errors", []):
            assert error["message"], body
            if "type" in error:
                assert error["type"] in TRANSLATED_TYPES, error


def _schemas() -> list[tuple[str, Any]]:
    return [
        (f"{sorted(r.methods)[0]} {r.path}", r.body_field.field_info.annotation)
        for r in api_routes()
        if isinstance(r, APIRoute) and r.body_field is not None
    ]


SCHEMAS = _schemas()


@st.composite
def against_a_schema(draw: Any) -> tuple[str, Any, Any]:
    name, annotation = draw(st.sampled_from(SCHEMAS))
    fields = sorted(getattr(annotation, "model_fields", {})) or ["name", "label", "url", "events"]
    if draw(st.integers(0, 4)) == 0:
        value = draw(json_values)
    else:
        value = draw(st.dictionaries(st.sampled_from([*fields, "inconnu"]), json_values, max_size=len(fields) + 1))
    return name, annotation, value


@PURE
@given(against_a_schema())
def test_every_error_of_every_api_schema_is_worded_by_the_table(case: tuple[str, Any, Any]) -> None:
    """Whatever JSON reaches whichever request schema of the API, each pydantic error type it raises is
    one the table words in French (not the fallback), and the sentence carries no English."""
    name, annotation, value = case
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        for error in exc.errors():
            assert error["type"] in TRANSLATED_TYPES, (name, error)
            message = translate(error)
            assert message and not any(marker in message for marker in ENGLISH), (name, error, message)


# --- If-Match: strong comparison -----------------------------------------------------------------------------
@PURE
@given(st.integers(min_value=0, max_value=10**12 - 1), st.sampled_from(["", " ", "  "]))
def test_strong_tags_read_their_version_and_weak_tags_never_match(n: int, pad: str) -> None:
    assert parse_if_match(f'{pad}"{n}"{pad}') == n
    assert parse_if_match(f'{pad}W/"{n}"{pad}') == WEAK_VERSION
    assert parse_if_match(f'w/"{n}"') == UNREADABLE_VERSION  # the weak prefix is case-sensitive
    assert parse_if_match(f"{n}") == UNREADABLE_VERSION


def test_a_weak_tag_of_the_current_version_is_412_and_says_why(client, project) -> None:
    before = footprint(client, project)
    current = client.get(f"{API}/projects/{project}").headers["etag"]
    weak = f"W/{current}"
    r = client.patch(f"{API}/projects/{project}", json={"lead_name": "A"}, headers={"If-Match": weak})
    body = assert_problem(r, 412, "version_perimee")
    assert "faible" in body["detail"] and "forte" in body["detail"], body
    r = client.post(f"{API}/projects/{project}/needs", json={"label": "B"}, headers={"If-Match": weak})
    assert_problem(r, 412, "version_perimee")
    _unchanged(client, project, before)
    r = client.patch(f"{API}/projects/{project}", json={"lead_name": "A"}, headers={"If-Match": current})
    assert r.status_code == 200, r.text


@HTTP
@given(offset=st.integers(min_value=-3, max_value=3))
def test_weak_tags_never_match_and_hide_no_404_or_422(client, project, offset: int) -> None:
    before = footprint(client, project)
    version = before[0] + offset
    weak = {"If-Match": f'W/"{max(version, 0)}"'}
    assert_problem(client.patch(f"{API}/projects/{project}", json={"lead_name": "X"}, headers=weak), 412)
    assert_problem(client.patch(f"{API}/projects/{project}", json={"lead_name": 5}, headers=weak), 422)
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(client.patch(f"{API}/projects/{missing}", json={"lead_name": "X"}, headers=weak), 404)
    _unchanged(client, project, before)
