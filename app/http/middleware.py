"""Security headers on every response. Pages get a strict Content-Security-Policy (no inline
scripts); so does the OpenAPI explorer at /docs, whose assets the app serves itself.

Limits on what a request may take: body size (413), header size (431), and the time to send the body
(408). The header and timeout limits read the settings from `app.state.settings` on each request."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


# The OpenAPI explorer (app.http.docs) loads its assets and its start-up script from the app itself;
# it calls the API and reads its SVG icons as data: URLs.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path", "").startswith("/docs") else STRICT_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(scope, send)
                    return
        seen = 0
        started = False
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # The app may catch _TooLarge while parsing the body and answer on its own (FastAPI turns
                # any error of body reading into a 400): drop that answer, the 413 below replaces it.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):  # the 413 below answers it
            await self.app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await _problem(
            scope,
            send,
            413,
            "requete_trop_volumineuse",
            "Requête trop volumineuse",
            f"Le corps de la requête dépasse {self.max_bytes} octets.",
        )


class HeaderSizeLimit:
    """431 when one header value, or all the headers together, exceed REGIEFLOW_MAX_HEADER_BYTES: `regieflow
    serve` refuses such a request head already (400, uvicorn's h11 limit); this holds under any other server."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = int(_setting(scope, "max_header_bytes", self.max_bytes))
        headers = scope.get("headers", [])
        total = sum(len(name) + len(value) + 4 for name, value in headers)  # "name: value\r\n"
        if total > limit or any(len(value) > limit for _name, value in headers):
            await _problem(
                scope,
                send,
                431,
                "en_tetes_trop_volumineux",
                "En-têtes de requête trop volumineux",
                f"Les en-têtes de la requête dépassent {limit} octets.",
                close=True,
            )
            return
        await self.app(scope, receive, send)


class BodyReadTimeout:
    """408 when the request body is not wholly received within REGIEFLOW_BODY_TIMEOUT_SECONDS, counted from
    the first read. The body is read in full before the app is called, so the app never sees part of one."""

    def __init__(self, app: ASGIApp, timeout_seconds: float) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timeout = float(_setting(scope, "body_timeout_seconds", self.timeout_seconds))
        messages: list[Message] = []
        with anyio.move_on_after(timeout) as deadline:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            await _problem(
                scope,
                send,
                408,
                "requete_trop_lente",
                "Requête trop lente",
                f"Le corps de la requête n'a pas été reçu en entier en {timeout:g} secondes.",
                close=True,
            )
            return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()  # after the body: waits for the client to disconnect

        await self.app(scope, replay, send)


def _setting(scope: Scope, name: str, default: Any) -> Any:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return getattr(settings, name, default)


async def _problem(
    scope: Scope, send: Send, status: int, code: str, title: str, detail: str, *, close: bool = False
) -> None:
    body = json.dumps(
        {
            "type": f"urn:regieflow:problem:{code}",
            "title": title,
            "status": status,
            "code": code,
            "detail": detail,
            "instance": scope.get("path"),
        },
        ensure_ascii=False,
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the request is not read: the connection cannot carry another one
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
