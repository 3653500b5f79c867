"""The OpenAPI document, completed with what every route accepts and answers besides its own results.

FastAPI documents what a route declares (its model, its `responses=`) and its own 422. This module
completes the document once, centrally, from the same facts the service uses, so that no endpoint has
to repeat them:

- security: the two ways in (a partner API key, `Authorization: Bearer rf_…`, and a person's session
  cookie, with `X-CSRF-Token` on writes), declared as security schemes and, on each operation, the
  ones it accepts, from its access rule (app.authorization.rules.RULES): public routes accept none;
- statuses: every problem (RFC 9457) a route can answer from the layers around it, derived from its
  access rule, its method, its path parameters, its body and its headers (see `_derived`), plus the
  refusals some services raise (`SERVICE_REFUSALS`); each with the `application/problem+json` media
  type and one `Problem` schema;
- formats: bounds pydantic writes under its own names when a constraint follows a validator (`ge`,
  `le`…) are renamed to JSON Schema's (`minimum`, `maximum`…), and the page sizes get the
  REGIEFLOW_MAX_PAGE_SIZE bound the service applies.

Schemathesis (tests/http/test_contract.py, .ci/run) checks status codes, media types, schemas and
authentication against this document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.accounts.authentication import SESSION_COOKIE
from app.authorization.rules import ADMIN, AUTHENTICATED, CREATE, PUBLIC, RULES
from app.core.inputs import SINGLE_LINE_PATTERN
from app.feed.endpoints import read_feed_route
from app.feed.service import CURSOR_PREFIX
from app.http.problems import HTTP_TITLES, PROBLEM
from app.projects.filters import ProjectFilters

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable (see DOMAIN.md for the guard codes); "
    "refused transitions list every unmet guard in `unmet`, invalid input lists `errors`.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "unmet": {
            "type": "array",
            "items": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
    "additionalProperties": True,
}


REF = {"$ref": "#/components/schemas/Problem"}


# --- security -------------------------------------------------------------------------------------
API_KEY, SESSION, CSRF = "cleApi", "session", "csrf"

SECURITY_SCHEMES: dict[str, Any] = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "rf_<prefix>_<secret>",
        "description": "A partner API key (`regieflow keys create`, or POST /api/v1/admin/api-keys), "
        "sent as `Authorization: Bearer rf_…`.",
    },
    SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A person's session cookie, set by POST /api/v1/auth/login (HttpOnly).",
    },
    CSRF: {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "With the session cookie, every write sends back the `csrf_token` the login answered.",
    },
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def security_of(route: APIRoute, method: str) -> list[dict[str, list[str]]]:
    """The alternatives an operation accepts: none for a public route; otherwise an API key, or a
    session cookie (with its CSRF token on a write)."""
    if _need(route) == PUBLIC:
        return []
    session: dict[str, list[str]] = {SESSION: []} if method in SAFE_METHODS else {SESSION: [], CSRF: []}
    return [{API_KEY: []}, session]


def _need(route: APIRoute) -> str:
    return RULES[route.name].need if route.name in RULES else PUBLIC


# --- statuses -------------------------------------------------------------------------------------
LOGIN_ROUTES = frozenset({"login"})


API_PREFIX = "/api/v1/"

REFUSED = {ADMIN: "Admins only", CREATE: "Your role may not create a project"}

# Descriptions FastAPI writes by default: replaced by the reasons the completion knows.
_GENERIC = frozenset({"", "Validation Error"})

# What some services refuse beyond what a route's shape tells (grep `raise` in app/*/service.py).
SERVICE_REFUSALS: dict[str, dict[int, str]] = {
    "create_user": {
        404: "A grant names a project that does not exist",
        409: "A user already has this e-mail address (code `conflit`)",
    },
    "add_grant": {409: "The user already has this role (code `conflit`)"},
    "create_api_key": {404: "The key is tied to a project that does not exist"},
    "create_webhook": {403: "The caller may read no project: nothing to subscribe to"},
    "redeliver_webhook": {409: "The subscription is disabled"},
    "create_calendar": {404: "The project does not exist or you may not read it"},
    "import_projects": {403: "A project of the file is outside your reach"},
}


def _derived(route: APIRoute, method: str, operation: dict[str, Any], path: str) -> dict[int, list[str]]:
    """What an operation can answer from its shape (access rule, method, parameters, body, headers) and
    from its service's refusals: each status with its reasons."""
    reasons: dict[int, list[str]] = {}

    def add(code: int, reason: str) -> None:
        reasons.setdefault(code, []).append(reason)

    need = _need(route)
    params = operation.get("parameters", [])
    headers = {p["name"].lower() for p in params if p.get("in") == "header"}
    has_body = "requestBody" in operation
    write = method not in SAFE_METHODS
    if has_body:
        add(400, "The body is not well-formed JSON, or not UTF-8 (code `json_illisible`)")
        add(408, "The body was not wholly received within REGIEFLOW_BODY_TIMEOUT_SECONDS (code `requete_trop_lente`)")
        add(413, "The body is larger than REGIEFLOW_MAX_BODY_BYTES")
        if "application/json" in operation["requestBody"].get("content", {}):
            add(
                415,
                "The body is sent without `Content-Type: application/json` (code `type_de_contenu_non_pris_en_charge`)",
            )
    if need != PUBLIC:
        add(401, "No valid credentials (API key or session)")
        if need != AUTHENTICATED:
            add(403, REFUSED.get(need, "Your role or scope does not allow this on this project"))
        if write:
            add(403, "With the session cookie: a write without its X-CSRF-Token")
    if any(p.get("in") == "path" for p in params):
        add(404, "Nothing at this address, or nothing you may read (a project you may not read looks missing)")
    if write and "{project_id}" in path:
        add(409, "The project is closed, or was changed by a concurrent request (code `modification_concurrente`)")
    if "if-match" in headers:
        add(412, "If-Match names another version than the project's (a weak tag never matches)")
    for code, reason in SERVICE_REFUSALS.get(route.name, {}).items():
        add(code, reason)
    if params or has_body:
        add(422, "Invalid input: `errors` lists each field with a French message")
    if write and path.startswith(API_PREFIX) and need != PUBLIC:
        add(400, "An unusable Idempotency-Key header (code `idempotence_cle_invalide`)")
        add(
            409,
            "Idempotency-Key: the first request with this key still runs (`idempotence_en_cours`) or "
            "committed without its answer being kept (`idempotence_deja_appliquee`)",
        )
        add(422, "Idempotency-Key reused for another request (code `idempotence_cle_reutilisee`)")
        add(
            503,
            "The server key (REGIEFLOW_SECRET_KEY) cannot be read: nothing was written "
            "(code `cle_serveur_indisponible`)",
        )
    if route.name in LOGIN_ROUTES:
        add(429, "Too many failed attempts (see Retry-After)")
    add(431, "A header, or the headers together, over REGIEFLOW_MAX_HEADER_BYTES (code `en_tetes_trop_volumineux`)")
    return reasons


# --- formats --------------------------------------------------------------------------------------
# pydantic writes a bound that follows a validator (app.core.schemas.Int, then Field(ge=1)) under its
# own keyword; JSON Schema's names are these.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_LENGTHS = {"min_length": "minLength", "max_length": "maxLength"}
PAGE_SIZE_PARAMETERS = frozenset({"page_size", "limit"})

# What some routes check in a query parameter beyond its annotation, declared once from the code that
# checks it rather than in every endpoint, for every route that depends on that code: the projects'
# list filters refuse control characters in their texts (app.projects.filters), the change feed reads
# only its own cursors (app.feed.service.decode_cursor).
_FILTER_TEXT = {"pattern": SINGLE_LINE_PATTERN}
QUERY_FORMATS: list[tuple[Callable[..., Any], dict[str, dict[str, Any]]]] = [
    (ProjectFilters, {"q": _FILTER_TEXT, "region": _FILTER_TEXT}),
    (read_feed_route, {"after": {"pattern": rf"^(?:(?:{re.escape(CURSOR_PREFIX)})?[0-9]{{1,18}})?$"}}),
]


def _depends_on(route: APIRoute, function: object) -> bool:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is function:
            return True
        stack.extend(dependant.dependencies)
    return False


def _normalise(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for theirs, ours in _BOUNDS.items():
                if theirs in node and isinstance(node[theirs], (int, float)) and not isinstance(node[theirs], bool):
                    node.setdefault(ours, node.pop(theirs))
        if node.get("type") in ("string", "array"):
            for theirs, ours in _LENGTHS.items():
                if theirs in node and isinstance(node[theirs], int):
                    key = ours if node["type"] == "string" else ours.replace("Length", "Items")
                    node.setdefault(key, node.pop(theirs))
        for value in node.values():
            _normalise(value)
    elif isinstance(node, list):
        for value in node:
            _normalise(value)


def _declare_query_formats(route: APIRoute, operation: dict[str, Any]) -> None:
    formats = {k: v for function, table in QUERY_FORMATS if _depends_on(route, function) for k, v in table.items()}
    for param in operation.get("parameters", []):
        extra = formats.get(param["name"]) if param.get("in") == "query" else None
        if extra is None:
            continue
        schema = param.get("schema", {})
        for node in [schema, *schema.get("anyOf", [])]:
            target = node.get("items", node) if node.get("type") == "array" else node
            if target.get("type") == "string":
                target.update(extra)


def _bound_page_sizes(operation: dict[str, Any], max_page_size: int | None) -> None:
    if max_page_size is None:
        return
    for param in operation.get("parameters", []):
        if param.get("in") == "query" and param.get("name") in PAGE_SIZE_PARAMETERS:
            schema = param.get("schema", {})
            for node in [schema, *schema.get("anyOf", [])]:
                if node.get("type") == "integer":
                    node["maximum"] = min(node.get("maximum", max_page_size), max_page_size)


def complete(
    document: dict[str, Any], routes: list[tuple[str, APIRoute]], *, max_page_size: int | None = None
) -> dict[str, Any]:
    """Add security, the problems every route can answer (with their media type and schema) and the
    formats' JSON Schema names (in place). `routes`: each route with its full path (prefix included),
    as the document names it; `max_page_size`: REGIEFLOW_MAX_PAGE_SIZE."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    # The document describes the API: a page (HTML, for people) that forgot include_in_schema=False
    # is left out rather than documented with statuses and security that are not a page's.
    documented = {path for path, _ in routes}
    for path in [p for p in document.get("paths", {}) if p not in documented]:
        del document["paths"][path]
    for path, route in routes:
        path_item = document.get("paths", {}).get(path)
        if not path_item or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = path_item.get(method.lower())
            if operation is None:
                continue
            operation["security"] = security_of(route, method)
            _bound_page_sizes(operation, max_page_size)
            _declare_query_formats(route, operation)
            responses = operation.setdefault("responses", {})
            for code, reasons in sorted(_derived(route, method, operation, path).items()):
                response = responses.setdefault(str(code), {})
                if response.get("description", "") in _GENERIC:
                    response["description"] = ". ".join(dict.fromkeys(reasons)) + "."
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM: {"schema": REF}}
                    if not response.get("description"):
                        response["description"] = HTTP_TITLES.get(int(code), "Error")
            operation["responses"] = dict(sorted(responses.items()))
    _normalise(document)
    return document


def install(app: FastAPI, routes: list[tuple[str, APIRoute]]) -> None:
    """Serve the completed document at /openapi.json (FastAPI builds and caches it; we complete it once)."""
    build = app.openapi
    completed: list[int] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if id(document) not in completed:
            complete(document, routes, max_page_size=app.state.settings.max_page_size)
            completed[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its document
