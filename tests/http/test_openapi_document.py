"""The OpenAPI document says exactly what the API does (issue 11, §6): how to authenticate, which
formats validation enforces, every status each route answers, and an explorer that works offline.

The statuses are checked against behaviour, not against a list: every operation of the document is
called with a generated set of bad requests (no credentials, bad credentials, unknown ids, a body
that is not JSON or not sent as JSON, a stale or unreadable If-Match, an invalid Idempotency-Key…)
and each answer's status must be one the document declares for that operation, as a problem+json.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from app.core import schemas
from app.core.settings import Settings
from app.http.application import create_app
from tests.support.accounts import add_user, login
from tests.support.api import API, is_problem, project_at


def _document(**overrides: Any) -> dict[str, Any]:
    application = create_app(Settings(database_url="sqlite://", **overrides))
    try:
        return application.openapi()
    finally:
        application.state.engine.dispose()


DOC = _document()
METHODS = ("get", "put", "post", "delete", "patch")
OPERATIONS = [
    (path, method, op) for path, item in DOC["paths"].items() for method, op in item.items() if method in METHODS
]
PUBLIC = {
    ("/api/v1/health", "get"),
    ("/api/v1/health/live", "get"),  # probes and metrics (app.observability): for the platform, not people
    ("/api/v1/health/ready", "get"),
    ("/metrics", "get"),  # REGIEFLOW_METRICS_TOKEN, when set, is checked by the endpoint itself
    ("/api/v1/auth/login", "post"),
    ("/calendars/{token}.ics", "get"),
}


# --- security -------------------------------------------------------------------------------------
def test_the_document_declares_the_api_key_and_the_session_cookie() -> None:
    schemes = DOC["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"]
    cookie = [name for name, s in schemes.items() if s["type"] == "apiKey" and s["in"] == "cookie"]
    assert len(bearer) == 1 and len(cookie) == 1, schemes
    assert schemes[cookie[0]]["name"] == "regieflow_session"
    csrf = [name for name, s in schemes.items() if s["type"] == "apiKey" and s["in"] == "header"]
    assert [schemes[name]["name"] for name in csrf] == ["X-CSRF-Token"]
    for path, method, op in OPERATIONS:
        assert "security" in op, (method, path)
        if (path, method) in PUBLIC:
            assert op["security"] == [], (method, path)
            continue
        alternatives = op["security"]
        assert {bearer[0]: []} in alternatives, (method, path)
        session = next(a for a in alternatives if cookie[0] in a)
        # A write with the cookie needs its CSRF token too (both in one requirement: AND).
        assert (csrf[0] in session) == (method != "get"), (method, path, session)


def test_the_public_operations_are_exactly_those_that_answer_without_credentials() -> None:
    assert {(p, m) for p, m, op in OPERATIONS if op["security"] == []} == PUBLIC


# --- formats --------------------------------------------------------------------------------------
def _schema(name: str) -> dict[str, Any]:
    return DOC["components"]["schemas"][name]


def _string_schema(prop: dict[str, Any]) -> dict[str, Any]:
    return next((s for s in prop.get("anyOf", [prop]) if s.get("type") == "string"), prop)


def test_identifiers_declare_their_patterns() -> None:
    declared = {
        ("CommuneIn", "insee_code"): schemas.INSEE_PATTERN,
        ("QpvIn", "code"): schemas.QPV_PATTERN,
        ("AssociationIn", "rna"): schemas.RNA_PATTERN,
        ("AssociationIn", "siret"): schemas.SIRET_PATTERN,
    }
    for (model, field), pattern in declared.items():
        prop = _string_schema(_schema(model)["properties"][field])
        assert prop["pattern"] == pattern and prop["maxLength"] > 0, (model, field, prop)


def test_every_bound_uses_the_json_schema_keywords() -> None:
    """pydantic writes `ge`/`le` for a bound after a validator (Int, then Field(ge=1)): JSON Schema tools
    ignore those, so the document renames them, everywhere."""
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("integer", "number", "string", "array"):
                found.extend(f"{where}.{k}" for k in ("ge", "le", "gt", "lt", "min_length", "max_length") if k in node)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(DOC, "")
    assert found == []
    stakeholder = _schema("ApprovalIn")["properties"]["stakeholder_id"]
    assert (stakeholder["minimum"], stakeholder["maximum"]) == (1, 2**31 - 1)


def test_page_sizes_declare_the_configured_maximum() -> None:
    """REGIEFLOW_MAX_PAGE_SIZE bounds every page size (a route may bound its own lower), and the
    document follows the setting."""
    for document, bound in (
        (DOC, Settings(database_url="sqlite://").max_page_size),
        (_document(max_page_size=37, default_page_size=20), 37),
    ):
        sizes = {
            (path, p["name"]): next(s for s in p["schema"].get("anyOf", [p["schema"]]) if s.get("type") == "integer")[
                "maximum"
            ]
            for path, item in document["paths"].items()
            for op in item.values()
            for p in op.get("parameters", [])
            if p["in"] == "query" and p["name"] in ("page_size", "limit")
        }
        assert all(maximum <= bound for maximum in sizes.values()), sizes
        assert sizes[(f"{API}/projects", "page_size")] == sizes[(f"{API}/events", "limit")] == bound


def test_every_text_of_a_body_declares_what_it_refuses() -> None:
    """Every string a body takes declares a pattern (control characters are refused in all of them),
    a format, or an enumeration; and a maximum length unless it is an enumeration or a date."""
    bodies = {
        ref["$ref"].rsplit("/", 1)[1]
        for _, _, op in OPERATIONS
        for media in op.get("requestBody", {}).get("content", {}).values()
        for ref in [media["schema"]]
        if "$ref" in ref
    }
    seen = 0
    pending = list(bodies)
    while pending:
        name = pending.pop()
        for field, prop in _schema(name).get("properties", {}).items():
            for node in [prop, *prop.get("anyOf", []), prop.get("items", {})]:
                if "$ref" in node:
                    nested = node["$ref"].rsplit("/", 1)[1]
                    if nested not in bodies:
                        bodies.add(nested)
                        pending.append(nested)
                if node.get("type") == "string":
                    seen += 1
                    assert {"pattern", "format", "enum", "const"} & node.keys(), (name, field, node)
                    if "pattern" in node and re.search(r"[*+]|\{\d+,\}", node["pattern"]):
                        assert "maxLength" in node, (name, field, node)  # else the pattern bounds the length
    assert seen > 30


class _Probe(schemas.Body):
    name: schemas.Name
    note: schemas.Text | None = None
    insee: schemas.InseeCode | None = None
    qpv: schemas.QpvCode | None = None
    rna: schemas.Rna | None = None
    siret: schemas.Siret | None = None


def matches(pattern: str, value: str) -> bool:
    """JSON Schema's (ECMA-262) reading of an anchored pattern: `$` is the very end (Python's `$` also
    matches before a final line feed)."""
    assert pattern.endswith("$")
    return re.search(pattern[:-1] + r"\Z", value) is not None


def _accepted(**values: Any) -> bool:
    try:
        _Probe.model_validate({"name": "x", **values})
    except ValidationError:
        return False
    return True


# Characters that exercise every class the patterns tell apart: digits, ASCII letters of both cases,
# spaces of several kinds, dots, controls (C0, C1, tab, LF), non-ASCII letters and digits.
TRICKY = st.sampled_from(list("0123456789AaBbQqPpNnWwZz .-_\t\n\r\x00\x0b\x1f\x7f\x85\u00a0\u2003éß٣²"))
TEXT = st.one_of(st.text(TRICKY, max_size=22), st.text(max_size=22))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(["insee", "qpv", "rna", "note", "name"]), TEXT)
def test_a_declared_pattern_accepts_exactly_what_validation_accepts(field: str, value: str) -> None:
    """Over generated text, a value matches the document's pattern (and length) if and only if the API
    accepts it: the document neither hides a rule nor promises what the API refuses."""
    prop = _string_schema(_Probe.model_json_schema()["properties"][field])
    declared = matches(prop["pattern"], value) and len(value) <= prop.get("maxLength", 10**6)
    assert declared == _accepted(**{field: value}), (field, value, prop)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(TRICKY, max_size=22), st.from_regex(schemas.SIRET_PATTERN, fullmatch=True)))
def test_a_siret_the_api_accepts_matches_its_pattern(value: str) -> None:
    """SIRET: the pattern is necessary (the Luhn check digit is the API's own rule on top)."""
    assume(len(value) <= 20)
    if _accepted(siret=value):
        assert matches(schemas.SIRET_PATTERN, value), value


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([schemas.INSEE_PATTERN, schemas.QPV_PATTERN, schemas.RNA_PATTERN]).flatmap(
        lambda p: st.tuples(st.just(p), st.from_regex(p, fullmatch=True))
    )
)
def test_values_generated_from_a_pattern_are_accepted(case: tuple[str, str]) -> None:
    pattern, value = case
    field = {schemas.INSEE_PATTERN: "insee", schemas.QPV_PATTERN: "qpv", schemas.RNA_PATTERN: "rna"}[pattern]
    assume(len(value) <= _string_schema(_Probe.model_json_schema()["properties"][field])["maxLength"])
    assert _accepted(**{field: value}), (field, value)


def test_integer_bounds_hold_as_declared() -> None:
    adapter = TypeAdapter(schemas.Id)
    for value, ok in ((0, False), (1, True), (2**31 - 1, True), (2**31, False), (True, False)):
        try:
            adapter.validate_python(value)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == ok, value


# --- statuses: declared == answered ----------------------------------------------------------------
def _declared(path: str, method: str) -> set[int]:
    return {int(code) for code in DOC["paths"][path][method]["responses"] if code.isdigit()}


def _concrete(path: str, project_id: str, *, unknown: bool) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "project_id":
            return str(uuid.uuid4()) if unknown else project_id
        if name == "trigger":
            return "definir_contours"
        if name == "token":
            return "x" * 20
        return "999999" if unknown else "1"

    return re.sub(r"\{(\w+)\}", value, path)


def _bad_requests(path: str, method: str, op: dict[str, Any], project_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, request arguments) of the bad requests this operation can be sent."""
    url = _concrete(path, project_id, unknown=False)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("no credentials", {"url": url, "auth": None}),
        ("malformed bearer", {"url": url, "headers": {"Authorization": "Basic abc"}, "auth": None}),
        ("unknown key", {"url": url, "headers": {"Authorization": "Bearer rf_0000dead_nope"}, "auth": None}),
        ("unknown ids", {"url": _concrete(path, project_id, unknown=True)}),
        ("malformed ids", {"url": re.sub(r"\{\w+\}", "%C2%B2", path)}),
        ("unknown query", {"url": url, "params": {"page": "x", "page_size": "0", "limit": "-1", "after": "?"}}),
    ]
    if "requestBody" in op:
        cases += [
            ("malformed JSON", {"url": url, "content": b'{"name": ', "headers": {"Content-Type": "application/json"}}),
            (
                "not UTF-8",
                {"url": url, "content": b'{"name": "\xff"}', "headers": {"Content-Type": "application/json"}},
            ),
            ("form data", {"url": url, "data": {"name": "x"}}),
            ("empty object", {"url": url, "json": {}}),
            ("wrong types", {"url": url, "json": {"name": 3, "label": [], "stakeholder_id": "x", "extra": 1}}),
            ("a list", {"url": url, "json": [1, 2]}),
        ]
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in op.get("parameters", [])):
        cases += [
            ("stale If-Match", {"url": url, "headers": {"If-Match": '"999"'}, "json": {}}),
            ("weak If-Match", {"url": url, "headers": {"If-Match": 'W/"1"'}, "json": {}}),
            ("unreadable If-Match", {"url": url, "headers": {"If-Match": "nope"}, "json": {}}),
        ]
    if method != "get" and path.startswith("/api/v1/"):
        cases.append(("bad Idempotency-Key", {"url": url, "headers": {"Idempotency-Key": '""'}, "json": {}}))
    return cases


def _walk(app: Any, client: TestClient, project_id: str) -> tuple[list[str], set[int]]:
    """Send every operation its bad requests; the answers whose status the document does not declare."""
    undeclared: list[str] = []
    answered: set[int] = set()
    with TestClient(app, raise_server_exceptions=False) as anonymous:
        for path, method, op in OPERATIONS:
            for label, request in _bad_requests(path, method, op, project_id):
                request = dict(request)
                caller = anonymous if request.pop("auth", "keep") is None else client
                headers = {**caller.headers, **request.pop("headers", {})}
                if method in ("get", "delete"):
                    for body_arg in ("json", "content", "data"):
                        request.pop(body_arg, None)
                r = caller.request(method.upper(), headers=headers, **request)
                answered.add(r.status_code)
                if r.status_code >= 500 or r.status_code not in _declared(path, method):
                    undeclared.append(f"{method.upper()} {path} [{label}] → {r.status_code} {r.text[:160]}")
                elif r.status_code >= 400:
                    assert is_problem(r), (method, path, label, r.headers, r.text)
    return undeclared, answered


def test_every_answer_to_a_bad_request_is_declared(app: Any, client: TestClient) -> None:
    """With a consultant's API key: the project routes' refusals, and the admin routes' 403."""
    project = project_at(client, "faisabilite", start=date(2026, 1, 5))
    undeclared, answered = _walk(app, client, project["id"])
    assert undeclared == []
    # The requests above do reach every kind of refusal (the test would prove little otherwise).
    assert {400, 401, 403, 404, 412, 415, 422} <= answered, answered


def test_every_answer_to_an_admin_is_declared(app: Any, client: TestClient) -> None:
    """With an admin's session cookie and its CSRF token: the admin routes' own refusals (unknown users,
    grants and keys: 404; a second grant of the same role, an e-mail already taken: 409)."""
    project = project_at(client, "groupe_projet", start=date(2026, 1, 5))
    add_user(app, "admin-statuts@example.fr", [("admin", None, None)])
    with TestClient(app, raise_server_exceptions=False) as admin:
        login(admin, "admin-statuts@example.fr")
        undeclared, answered = _walk(app, admin, project["id"])
        login(admin, "admin-statuts@example.fr")  # the walk logged out (POST /auth/logout) too
        user = admin.post(f"{API}/admin/users", json={"email": "p@example.fr", "name": "P", "password": "x" * 16})
        assert user.status_code == 201, user.text
        conflicts = [
            ("post", "/api/v1/admin/users", {"email": "p@example.fr", "name": "P", "password": "x" * 16}),
            ("post", f"{API}/admin/users/{{user_id}}/grants", {"role": "observateur", "region": "Bretagne"}),
            ("post", f"{API}/admin/users/{{user_id}}/grants", {"role": "observateur", "region": "Bretagne"}),
        ]
        for method, path, body in conflicts:
            r = admin.request(method.upper(), path.replace("{user_id}", str(user.json()["id"])), json=body)
            answered.add(r.status_code)
            if r.status_code not in _declared(path, method):
                undeclared.append(f"{method.upper()} {path} → {r.status_code} {r.text[:160]}")
    assert undeclared == []
    assert {404, 409, 422} <= answered, answered


def test_undocumented_methods_answer_405_with_allow(client: TestClient) -> None:
    for path, item in DOC["paths"].items():
        missing = [m for m in METHODS if m not in item]
        url = _concrete(path, str(uuid.uuid4()), unknown=True)
        for method in missing:
            r = client.request(method.upper(), url)
            assert r.status_code == 405 and is_problem(r), (method, path, r.status_code)
            allowed = {m.strip().lower() for m in r.headers["Allow"].split(",")}
            assert set(item) <= allowed, (method, path, r.headers["Allow"])


# --- offline explorer -----------------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]
        self._in_script = tag == "script" and "src" not in values

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_the_docs_page_loads_only_local_assets(anon_client: TestClient) -> None:
    r = anon_client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    links = _Links()
    links.feed(r.text)
    assert links.urls and links.inline_scripts == 0, r.text
    for url in links.urls:
        assert url.startswith("/") and not url.startswith("//"), url
    assert "http://" not in r.text and "https://" not in r.text
    csp = r.headers["content-security-policy"]
    assert "http" not in csp and "'unsafe-inline'" not in csp, csp
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for url in links.urls:
        asset = anon_client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
        suffix = url[url.rfind(".") :]
        assert asset.headers["content-type"].startswith(kinds[suffix]), (url, asset.headers["content-type"])
    init = anon_client.get("/docs/init.js").text
    assert '"url": "/openapi.json"' in init and '"validatorUrl": null' in init
    assert "http" not in init
