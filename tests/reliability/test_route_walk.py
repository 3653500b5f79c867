"""Issue 11, §1: every route of the API and of the pages, walked with generated hostile values.

For each route (method × path, taken from the application itself, so a new route is walked as soon as
it exists), Hypothesis builds requests whose path parameters, query parameters, headers and body fields
are each either a plausible value (the seeded project, its evidence ids, real kinds and triggers) or a
hostile one: any Unicode text (every category but lone surrogates), control characters, numbers written
with non-ASCII digits or with thousands of digits, huge and negative integers, floats, booleans, nulls,
deeply nested JSON, very long strings, path tricks, markup and format strings; bodies as JSON, form or
multipart, sometimes with a Content-Type that does not match. Each request must:

- never answer a 5xx;
- change nothing when it is refused (any 4xx) or when its method is safe (GET, HEAD, OPTIONS): the
  whole database is fingerprinted before and after (all tables, minus what a refusal legitimately
  writes: login throttling, idempotency records, sessions, and last-used timestamps).

The API is walked with an unrestricted consultant key, the pages with a consultant's session (and its
CSRF token, so that forms are parsed rather than refused at the door); admin routes with an admin's
session. `REGIEFLOW_FUZZ_EXAMPLES` sets the examples per route (default 10; the long run in
docs/RELIABILITY.md used more), `REGIEFLOW_FUZZ_RANDOM=1` a new random seed, and `REGIEFLOW_FUZZ_LOG` a
file that receives one line per request (area, method, path, status) for the figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.evidence.registry import KINDS
from app.http.application import API_PREFIX, api_routes, page_routes, root_routes
from app.tables import metadata
from tests.support.accounts import REGION_A, browser
from tests.support.evidence import CREATE_BODIES, seed_project
from tests.support.hostile import CONTROLS, NON_ASCII_DIGITS
from workflow.vocabulary import STEPS, Trigger

EXAMPLES = int(os.environ.get("REGIEFLOW_FUZZ_EXAMPLES", "10"))
STATS = os.environ.get("REGIEFLOW_FUZZ_LOG")  # a file to append "area method path status" lines to
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# What a refused request may legitimately write, and columns that move on every authenticated read.
VOLATILE_TABLES = {"login_throttles", "idempotency_keys", "web_sessions"}
VOLATILE_COLUMNS = {"last_used_at", "last_login_at"}

# --- the routes ------------------------------------------------------------------------------------


def _walked() -> list[tuple[str, str, str]]:
    """(method, full path template, area) for every route; area: api, admin_api, page, admin_page."""
    out: list[tuple[str, str, str]] = []
    for prefix, routes, area in (
        (API_PREFIX, api_routes(), "api"),
        ("", root_routes(), "api"),
        ("", page_routes(), "page"),
    ):
        for route in routes:
            path = prefix + route.path
            zone = ("admin_" + area) if "/admin" in path else area
            out += [(m, path, zone) for m in sorted(route.methods or ()) if m != "HEAD"]
    return sorted(set(out))


ROUTES = _walked()

# --- the hostile values ---------------------------------------------------------------------------
TRICKS = [
    "",
    " ",
    "0",
    "-1",
    "00000000000000000000001",
    "1e309",
    "NaN",
    "Infinity",
    "true",
    "null",
    "..",
    "../../etc/passwd",
    "%2e%2e%2f",
    "%00",
    "\u202e\u0645\u0631\u062d\u0628\u0627",  # right-to-left override
    "\u200b\ufeff",  # zero-width characters
    "<script>alert(1)</script>",
    "{{7*7}}{% raw %}",
    "%s%n%x{0}",
    "' OR 1=1 --",
    "%_%",
    "é" * 3000,
    "🏳️‍🌈" * 50,
    "W" + "9" * 400,
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "+2026-01-01",
    "2026-1-1",
]
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
control_text = st.builds(
    lambda a, c, b: a + c + b,
    st.text(max_size=5),
    st.text(st.sampled_from(CONTROLS), min_size=1, max_size=3),
    st.text(max_size=5),
)
odd_digits = st.text(st.sampled_from(NON_ASCII_DIGITS), min_size=1, max_size=6)
huge_digits = st.builds(lambda n: "9" * n, st.integers(19, 5000))
hostile_text = st.one_of(st.sampled_from(TRICKS), any_text, control_text, odd_digits, huge_digits)
hostile_number = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, -(2**63) - 1, 2**200]),
    st.floats(allow_nan=False, allow_infinity=False),
)


def deep(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


hostile_json = st.one_of(
    hostile_text,
    hostile_number,
    st.booleans(),
    st.none(),
    st.integers(1, 300).map(deep),
    st.lists(hostile_text, max_size=4),
    st.dictionaries(hostile_text, hostile_text, max_size=3),
)

# --- plausible values, so that requests get past the first check ------------------------------------
TEMPLATE_FIELDS = sorted(
    set(
        re.findall(
            r'name="([a-z_][a-z_0-9]*)"', " ".join(p.read_text("utf-8") for p in Path("templates").rglob("*.html"))
        )
    )
)
BODY_FIELDS = sorted({k for body in CREATE_BODIES.values() for k in body})
FIELD_NAMES = sorted(set(TEMPLATE_FIELDS) | set(BODY_FIELDS) | {"name", "reason", "effective_on", "region", "kind"})
QUERY_NAMES = sorted(
    {"q", "page", "page_size", "par_page", "sort", "tri", "order", "status", "statut", "region", "kind", "step"}
    | {"etape", "after", "limit", "dry_run", "as_of", "format", "type", "next", "cursor"}
)
TRIGGERS = [t.value for t in Trigger]
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "",
    "*/*",
    "application/merge-patch+json",
]
ACCEPTS = [
    "*/*",
    "application/json",
    "text/html",
    "text/csv",
    "application/problem+json",
    "image/png",
    "text/html;q=0, */*;q=0",
]
HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def header_value() -> st.SearchStrategy[str]:
    latin = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
    return st.one_of(
        st.text(HEADER_CHARS, max_size=40),
        latin,
        st.sampled_from(['W/"1"', '"1"', '"0"', "*", '"' + "9" * 300 + '"', "1", '""', '"-1"']),
    )


class Seeded:
    """The project and the values that reach past the first check of each route."""

    def __init__(self, pid: str, items: dict[str, int | None]) -> None:
        self.pid = pid
        ids = [str(v) for v in items.values() if v is not None]
        self.by_name: dict[str, list[str]] = {
            "project_id": [pid],
            "pid": [pid],
            "kind": sorted(KINDS),
            "trigger": TRIGGERS,
            "step": [s.value for s in STEPS],
        }
        self.ids = ids or ["1"]

    def plausible(self, name: str) -> st.SearchStrategy[str]:
        values = self.by_name.get(name) or (
            [*self.ids, "1"] if name.endswith("id") else [self.pid, "1", *sorted(KINDS)]
        )
        return st.sampled_from(values)

    def value(self, name: str) -> st.SearchStrategy[str]:
        return st.one_of(self.plausible(name), self.plausible(name), hostile_text)


# --- the database fingerprint -------------------------------------------------------------------------
def fingerprint(app: Any) -> str:
    digest = hashlib.sha256()
    with app.state.session_factory() as session:
        for table in metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            columns = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
            order = list(table.primary_key.columns) or columns
            for row in session.execute(select(*columns).order_by(*order)):
                digest.update(repr((table.name, tuple(row))).encode())
    return digest.hexdigest()


# --- the walk ---------------------------------------------------------------------------------------
@pytest.fixture
def walkers(app: Any, client: Any) -> Iterator[dict[str, Any]]:
    pid, items = seed_project(client, REGION_A)
    with (
        browser(app, "claire@example.fr", [("consultant", None, None)]) as consultant,
        browser(app, "ana@example.fr", [("admin", None, None)]) as admin,
    ):
        yield {"seeded": Seeded(pid, items), "api": client, "page": consultant, "admin": admin}


def _path(template: str, seeded: Seeded, data: st.DataObject) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        value = data.draw(seeded.value(name), label=f"path:{name}")
        return quote(value, safe="") if value else "%20"

    return re.sub(r"\{([^}]+)\}", fill, template)


_DOCUMENT: dict[str, Any] = {}


def _operation(app: Any, method: str, template: str) -> dict[str, Any]:
    """The route's operation in the application's OpenAPI document ({} for pages, which it omits)."""
    if not _DOCUMENT:
        _DOCUMENT.update(app.openapi())
    return _DOCUMENT.get("paths", {}).get(template, {}).get(method.lower(), {})


def _declared_query(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]


def _body_fields(operation: dict[str, Any]) -> list[str]:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref:
        schema = _DOCUMENT.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    return sorted(schema.get("properties", {})) or BODY_FIELDS


def _request(
    app: Any, method: str, template: str, area: str, who: dict[str, Any], data: st.DataObject
) -> dict[str, Any]:
    seeded: Seeded = who["seeded"]
    operation = _operation(app, method, template)
    path = _path(template, seeded, data)
    names = sorted(set(_declared_query(operation)) | set(data.draw(st.lists(st.sampled_from(QUERY_NAMES), max_size=3))))
    params = [(n, data.draw(st.one_of(seeded.value(n), hostile_text), label=f"query:{n}")) for n in names]
    headers: dict[str, str] = {}
    for header in data.draw(
        st.lists(
            st.sampled_from(["If-Match", "Idempotency-Key", "Accept", "X-Forwarded-For", "Range", "Cookie"]), max_size=3
        )
    ):
        headers[header] = data.draw(
            st.sampled_from(ACCEPTS) if header == "Accept" else header_value(), label=f"header:{header}"
        )
    request: dict[str, Any] = {"method": method, "url": path, "params": params, "headers": headers}
    if method in SAFE_METHODS or (method == "DELETE" and not data.draw(st.booleans())):
        return request
    page = area.endswith("page")
    fields = FIELD_NAMES if page else _body_fields(operation)
    chosen = data.draw(st.lists(st.sampled_from(fields), max_size=6, unique=True), label="fields")
    shape = data.draw(
        st.sampled_from(["form", "json", "raw", "multipart"] if page else ["json", "json", "raw", "form"])
    )
    if shape == "json":
        body = {f: data.draw(st.one_of(seeded.value(f), hostile_json), label=f"body:{f}") for f in chosen}
        whole = data.draw(st.one_of(st.just(body), hostile_json), label="json")
        request["content"] = json.dumps(whole, ensure_ascii=data.draw(st.booleans())).encode("utf-8", "surrogatepass")
        headers.setdefault("Content-Type", data.draw(st.sampled_from(CONTENT_TYPES[:1] * 3 + CONTENT_TYPES)))
    elif shape == "raw":
        request["content"] = data.draw(st.binary(max_size=300))
        headers.setdefault("Content-Type", data.draw(st.sampled_from(CONTENT_TYPES)))
    else:
        form = {f: data.draw(st.one_of(seeded.value(f), hostile_text), label=f"form:{f}") for f in chosen}
        if page and data.draw(st.integers(0, 9)) > 0:
            form["csrf"] = who["admin" if area.startswith("admin") else "page"].csrf
        if shape == "multipart":
            request["files"] = {k: (None, v.encode("utf-8", "surrogatepass")) for k, v in form.items()} or {
                "x": (None, b"")
            }
        else:
            request["data"] = form
    return request


def _client(area: str, who: dict[str, Any]) -> Any:
    return who["admin"] if area.startswith("admin") else who["page" if area == "page" else "api"]


HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("REGIEFLOW_FUZZ_RANDOM") is None,
)


@pytest.mark.parametrize(("method", "template", "area"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@HOSTILE
@given(data=st.data())
def test_every_route_survives_hostile_values(app, walkers, method: str, template: str, area: str, data) -> None:
    request = _request(app, method, template, area, walkers, data)
    http = _client(area, walkers)
    if area.startswith("admin") and template.startswith(API_PREFIX):
        request["headers"].setdefault("X-CSRF-Token", http.csrf)
    before = fingerprint(app)
    try:
        r = http.request(**request)
    except (UnicodeEncodeError, ValueError) as err:  # the client itself could not send it (not a server answer)
        if "header" in str(err).lower() or isinstance(err, UnicodeEncodeError):
            return
        raise
    if STATS:  # the figures in docs/RELIABILITY.md: one line per request
        with open(STATS, "a", encoding="utf-8") as log:
            log.write(f"{area}\t{method}\t{template}\t{r.status_code}\n")
    assert r.status_code < 500, (request, r.status_code, r.text[:800])
    if r.status_code >= 400 or method in SAFE_METHODS:
        assert fingerprint(app) == before, (request, r.status_code, r.text[:300])


def test_the_walk_covers_every_route() -> None:
    """The walk is built from the application's own route lists: each of them is in it."""
    walked = {(m, p) for m, p, _ in ROUTES}
    for prefix, routes in ((API_PREFIX, api_routes()), ("", root_routes()), ("", page_routes())):
        for route in routes:
            for method in set(route.methods or ()) - {"HEAD"}:
                assert (method, prefix + route.path) in walked
    assert len(ROUTES) > 80


def test_the_fingerprint_sees_a_write_and_ignores_a_read(app, client) -> None:
    """The "nothing changed" check can fail: one accepted write moves the fingerprint, a read does not."""
    pid, _ = seed_project(client, REGION_A)
    before = fingerprint(app)
    assert client.get(f"{API_PREFIX}/projects/{pid}").status_code == 200
    assert fingerprint(app) == before
    r = client.post(f"{API_PREFIX}/projects/{pid}/needs", json={"label": "Un besoin de plus"})
    assert r.status_code == 201, r.text
    assert fingerprint(app) != before
