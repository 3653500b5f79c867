"""One log line and one latency observation per request, and the request id.

The id comes from the client's `X-Request-ID` when it is a sane token (a proxy or a partner system
that already traces the call), otherwise it is made here; either way it is sent back in the response's
`X-Request-ID` and written on every log record of the request. The route is logged as its template
(`/api/v1/projects/{project_id}`), never the raw path: paths can carry tokens (opinion links, calendar
feeds) and the metric's label set stays bounded."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import REQUEST_LOGGER, request_id
from app.observability.metrics import REQUEST_SECONDS

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
log = logging.getLogger(REQUEST_LOGGER)


class RequestTelemetry:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before it starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode("ascii"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = _route(scope)
            REQUEST_SECONDS.labels(method, route, str(status)).observe(elapsed)
            log.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "principal": _principal_kind(scope),
                    "request_id": rid,
                },
            )
            request_id.reset(token)


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == HEADER:
            return value.decode("ascii") if _SANE.fullmatch(value) else None
    return None


def _route(scope: Scope) -> str:
    """The matched route's template with the prefix it was included under (FastAPI hands over the route
    of the included router, whose template lacks the prefix: the prefix is what the request's path has
    before the part the route matched)."""
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None)
    regex = getattr(route, "path_regex", None)
    path = scope.get("path", "")
    if isinstance(template, str) and regex is not None and isinstance(path, str):
        if regex.fullmatch(path):
            return template
        for i, char in enumerate(path):
            if char == "/" and i and regex.fullmatch(path[i:]):
                return path[:i] + template
        return template
    return "/static" if str(path).startswith("/static/") else "(unrouted)"


def _principal_kind(scope: Scope) -> str:
    principal = scope.get("state", {}).get("principal")
    kind = getattr(principal, "kind", None)
    return kind if isinstance(kind, str) else "anonymous"
