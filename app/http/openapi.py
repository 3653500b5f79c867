"""The OpenAPI document, completed with what every route can answer besides its own results.

FastAPI documents what a route declares (its model, its `responses=`) and its own 422. Every route
of the API can also answer problems (RFC 9457) that come from the layers around it: a body that is
not JSON (400), no or bad credentials (401), a refused function (403), a body over the size limit
(413), a body not sent as application/json (415), a throttled login (429). This module adds those,
once, from the same facts the service uses (the access rules, whether the route takes a body), and
gives every error answer the `application/problem+json` media type and one `Problem` schema, so that
the document says what clients really receive (schemathesis checks status codes and media types against it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.authorization.rules import PUBLIC, RULES
from app.http.problems import HTTP_TITLES, PROBLEM

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


LOGIN_ROUTES = frozenset({"login"})


def _extra_codes(route: APIRoute, operation: dict[str, Any]) -> dict[int, str]:
    extra: dict[int, str] = {}
    if "requestBody" in operation:
        extra[400] = "The body is not well-formed JSON, or not UTF-8 (code `json_illisible`)"
        extra[413] = "The body is larger than REGIEFLOW_MAX_BODY_BYTES"
        if "application/json" in operation["requestBody"].get("content", {}):
            extra[415] = (
                "The body is sent without `Content-Type: application/json` (code `type_de_contenu_non_pris_en_charge`)"
            )
    need = RULES[route.name].need if route.name in RULES else PUBLIC
    if need != PUBLIC:
        extra[401] = "No valid credentials (API key or session)"
        extra[403] = "Your role, scope or CSRF token does not allow this"
    if route.name in LOGIN_ROUTES:
        extra[429] = "Too many failed attempts (see Retry-After)"
    if operation.get("parameters") or "requestBody" in operation:
        extra[422] = "Invalid input"
    return extra


def complete(document: dict[str, Any], routes: list[tuple[str, APIRoute]]) -> dict[str, Any]:
    """Add the problems every route can answer, with their media type and schema (in place).
    `routes`: each route with its full path (prefix included), as the document names it."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, route in routes:
        path_item = document.get("paths", {}).get(path)
        if not path_item or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = path_item.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in _extra_codes(route, operation).items():
                responses.setdefault(str(code), {"description": description})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM: {"schema": REF}}
                    if not response.get("description"):
                        response["description"] = HTTP_TITLES.get(int(code), "Error")
    return document


def install(app: FastAPI, routes: list[tuple[str, APIRoute]]) -> None:
    """Serve the completed document at /openapi.json (FastAPI builds and caches it; we complete it once)."""
    build = app.openapi
    completed: list[int] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if id(document) not in completed:
            complete(document, routes)
            completed[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its document
