"""Uploads of document files reach their route without passing through memory.

The app's body limits buffer a request body whole (app.http.middleware: 1 MiB, read in full before
the app runs) and the Idempotency-Key layer reads it to fingerprint it. For the few upload routes
(POST a document or a new version, API and pages), this middleware, placed outside those layers,
reads the multipart body itself as it arrives: the file part goes chunk by chunk into an anonymous
temporary file (gone with the process whatever happens), its size counted (413 past
REGIEFLOW_DOCUMENTS_MAX_FILE_BYTES), its SHA-256 and whether it is UTF-8 text computed on the way.
The layers inside then see a small url-encoded body: the form's text fields plus the file's name,
size and SHA-256 (so an Idempotency-Key retried with another file is told apart). The route finds
the spooled file in the request scope (`spooled`). A client that disconnects or stalls (more than
REGIEFLOW_BODY_TIMEOUT_SECONDS between two chunks) leaves nothing behind: the temporary file is
closed, no route runs, no row is written.

A stakeholder's answer through a personal link (POST /avis/{token}, app/opinions/pages.py) streams its
deliberation the same way; the link is its own credential, and its page answers every refusal in its
form (the French reason beside the field, what was typed kept): a file too large is not answered here
but handed to the route as `error` (status 413, field `file`) after the rest of the body is read and
dropped (up to LINK_DRAIN_BYTES, so that the browser reads the page), the text fields kept."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlencode

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.documents.detect import HEAD_BYTES, TextCheck

SCOPE_KEY = "regieflow.upload"
UPLOAD_PATH = re.compile(
    r"^(?:(?:/api/v1/projects/[^/]+/documents|/projets/[^/]+/pieces)(?:/[^/]+/versions)?|/avis/[^/]+)/?$"
)
LINK_PATH = re.compile(r"^/avis/[^/]+/?$")  # an opinion request's personal link (app/opinions/pages.py)
MAX_FIELDS = 16
MAX_FIELD_BYTES = 8192
LINK_FIELD_BYTES = 4 * 5000 + 64  # the answer's comment: 5,000 characters of up to 4 bytes in UTF-8
LINK_DRAIN_BYTES = 64 * 1024 * 1024  # past a refused file, how much more of the body is read and dropped
# Whether a link can still be answered, (app, path) -> bool, registered by app.opinions.pages: the body
# sent to a dead, answered or unknown link is not read at all (no temporary file for whoever guesses).
LINK_CHECKS: list[Callable[[Any, str], bool]] = []
ENVELOPE = 1024 * 1024  # room for the multipart envelope and text fields around the file


@dataclass
class Spooled:
    """A multipart upload as the middleware read it: text fields, and the one file part if any."""

    fields: dict[str, str] = field(default_factory=dict)
    file: IO[bytes] | None = None
    filename: str = ""
    size: int = 0
    sha256: str = ""
    head: bytes = b""
    text: bool = True
    complete: bool = False  # the file part reached its closing boundary
    error: str | None = None  # a French reason why the body could not be read (the route answers it)
    error_status: int | None = None  # its HTTP status (413: the file is too large; 422, 400 otherwise)
    error_field: str | None = None  # the form field it concerns (None: the file or the whole form)


def spooled(scope: Scope) -> Spooled | None:
    value = scope.get(SCOPE_KEY)
    return value if isinstance(value, Spooled) else None


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class _Reader:
    """python-multipart callbacks: text fields into memory (bounded), the file part into a temp file."""

    def __init__(self, result: Spooled, max_file: int, max_field: int = MAX_FIELD_BYTES) -> None:
        self.result = result
        self.max_file = max_file
        self.max_field = max_field
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.name: str | None = None
        self.is_file = False
        self.data = bytearray()
        self.parts = 0
        self.digest = hashlib.sha256()
        self.text = TextCheck()

    def on_part_begin(self) -> None:
        self.disposition, self.name, self.is_file, self.data = b"", None, False, bytearray()
        self.parts += 1
        if self.parts > MAX_FIELDS:
            raise _Refused(422, f"Trop de champs dans le formulaire (au plus {MAX_FIELDS}).")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]
        if len(self.header_name) > MAX_FIELD_BYTES:
            raise _Refused(400, "En-tête de partie multipart trop long.")

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]
        if len(self.header_value) > MAX_FIELD_BYTES:
            raise _Refused(400, "En-tête de partie multipart trop long.")

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name")
        if name is None:
            raise _Refused(400, "Partie multipart sans nom (Content-Disposition: form-data; name=…).")
        self.name = _decode(name)
        if b"filename" in options:
            if self.name != "file" or self.result.file is not None:
                raise _Refused(422, "Envoyez un seul fichier, dans le champ « file ».")
            self.is_file = True
            self.result.filename = _decode(options[b"filename"])[:255]
            self.result.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the middleware; anonymous: nothing left behind, whatever happens

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self.is_file:
            self.data += chunk
            if len(self.data) > self.max_field:
                if self.name is not None and self.name not in self.result.fields:  # what was typed, cut
                    self.result.fields[self.name] = bytes(self.data[: self.max_field]).decode("utf-8", "ignore")
                self.result.error_field = self.name
                raise _Refused(422, f"Champ « {self.name} » trop long.")
            return
        result = self.result
        result.size += len(chunk)
        if result.size > self.max_file:
            result.error_field = "file"
            raise _Refused(413, f"Fichier trop volumineux : au plus {_mb(self.max_file)}.")
        if len(result.head) < HEAD_BYTES:
            result.head += chunk[: HEAD_BYTES - len(result.head)]
        self.digest.update(chunk)
        self.text.feed(chunk)
        assert result.file is not None
        result.file.write(chunk)

    def on_part_end(self) -> None:
        if self.is_file:
            self.text.feed(b"", final=True)
            self.result.text = self.text.ok
            self.result.sha256 = self.digest.hexdigest()
            self.result.complete = True
            return
        if self.name is not None and self.name not in self.result.fields:
            try:
                self.result.fields[self.name] = bytes(self.data).decode("utf-8")
            except UnicodeDecodeError:
                raise _Refused(422, f"Champ « {self.name} » : texte UTF-8 attendu.") from None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} Mo" if n >= 1024 * 1024 else f"{n} octets"


class UploadBodies:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not UPLOAD_PATH.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        ctype, options = parse_options_header(headers.get(b"content-type", b"").decode("latin-1"))
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            await self.app(scope, receive, send)  # the route explains that a multipart form is expected
            return
        link = bool(LINK_PATH.match(scope.get("path", "")))
        if not link and b"authorization" not in headers and b"cookie" not in headers:
            await self.app(scope, receive, send)  # no credentials: the body limits apply, the route answers 401
            return
        settings = scope["app"].state.settings
        max_file: int = settings.documents_max_file_bytes
        timeout: float = settings.body_timeout_seconds
        length = headers.get(b"content-length", b"")
        if not link and length.isdigit() and int(length) > max_file + ENVELOPE:
            await _refuse(scope, send, 413, f"Fichier trop volumineux : au plus {_mb(max_file)}.")
            return
        result = Spooled()
        if link and LINK_CHECKS:
            path = str(scope.get("path", ""))
            if not await anyio.to_thread.run_sync(LINK_CHECKS[0], scope["app"], path):
                await self._forward(scope, receive, send, result)  # the route says the link is dead
                return
        try:
            await self._read(scope, receive, send, result, boundary, max_file, timeout)
        finally:
            if result.file is not None:
                result.file.close()

    async def _read(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        result: Spooled,
        boundary: bytes,
        max_file: int,
        timeout: float,
    ) -> None:
        link = bool(LINK_PATH.match(scope.get("path", "")))
        reader = _Reader(result, max_file, LINK_FIELD_BYTES if link else MAX_FIELD_BYTES)
        callbacks: Any = {
            name: getattr(reader, name)
            for name in (
                "on_part_begin",
                "on_part_data",
                "on_part_end",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
            )
        }
        more = True  # whether the client has more of the body to send
        try:
            parser = MultipartParser(boundary, callbacks)
            while True:
                with anyio.move_on_after(timeout) as waited:
                    message = await receive()
                if waited.cancelled_caught:
                    await _refuse(
                        scope, send, 408, f"Le fichier n'a pas progressé pendant {timeout:g} secondes.", close=True
                    )
                    return
                if message["type"] == "http.disconnect":
                    return  # a cut upload: nothing was written anywhere but the anonymous temp file
                more = bool(message.get("more_body", False))
                parser.write(message.get("body", b""))
                if not more:
                    break
            parser.finalize()
        except _Refused as refusal:
            if refusal.status in (413,) and not link:
                await _refuse(scope, send, refusal.status, refusal.message, close=True)
                return
            result.error, result.error_status = refusal.message, refusal.status
            if link:  # the link's page answers in its form: the rest of the body is read and dropped
                if result.file is not None and refusal.status == 413:
                    result.file.close()
                    result.file = None
                if more and not await _drain(receive, timeout):
                    await _refuse(
                        scope, send, 408, f"L'envoi n'a pas progressé pendant {timeout:g} secondes.", close=True
                    )
                    return
        except (FormParserError, ValueError):
            result.error = "Formulaire multipart illisible."
        if result.file is not None and not result.complete and result.error is None:
            result.error = "Envoi incomplet : le fichier n'a pas été reçu en entier."
        if result.file is not None:
            result.file.seek(0)
        await self._forward(scope, receive, send, result)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, result: Spooled) -> None:
        fields = dict(result.fields)
        if result.file is not None:
            fields |= {"file_name": result.filename, "file_size": str(result.size), "file_sha256": result.sha256}
        body = urlencode(sorted(fields.items())).encode()
        headers = [(k, v) for k, v in scope.get("headers", []) if k not in (b"content-type", b"content-length")]
        headers += [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ]
        inner = dict(scope, headers=headers)
        inner[SCOPE_KEY] = result
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the client's disconnect

        await self.app(inner, replay, send)


async def _drain(receive: Receive, timeout: float) -> bool:
    """Read and drop the rest of a request body (at most LINK_DRAIN_BYTES); False when it stalled."""
    dropped = 0
    while dropped <= LINK_DRAIN_BYTES:
        with anyio.move_on_after(timeout) as waited:
            message = await receive()
        if waited.cancelled_caught:
            return False
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return True
        dropped += len(message.get("body", b""))
    return True  # past the bound: the route answers, the server closes the connection


async def _refuse(scope: Scope, send: Send, status: int, message: str, *, close: bool = False) -> None:
    """Answer before the route runs: problem+json on the API, a short French page otherwise."""
    path = str(scope.get("path", ""))
    codes = {413: "fichier_trop_volumineux", 408: "requete_trop_lente"}
    if path.startswith("/api/"):
        body = json.dumps(
            {
                "type": f"urn:regieflow:problem:{codes.get(status, 'requete_invalide')}",
                "title": "Fichier refusé",
                "status": status,
                "code": codes.get(status, "requete_invalide"),
                "detail": message,
                "instance": path,
            },
            ensure_ascii=False,
        ).encode()
        media = b"application/problem+json"
    else:
        parts = path.split("/")
        second = parts[2] if len(parts) > 2 else ""
        if parts[1:2] == ["avis"]:  # the opinion link: back to its own page (its token is no project id)
            back = f'<a href="/avis/{_html(second)}">Retour à la demande d\'avis</a>'
        else:
            back = f'<a href="/projets/{_html(second)}#pieces">Retour au projet</a>'
        body = (
            '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Fichier refusé</title></head>'
            f"<body><main><h1>Fichier refusé</h1><p>{message}</p><p>{back}</p></main></body></html>"
        ).encode()
        media = b"text/html; charset=utf-8"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the body is not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _html(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
