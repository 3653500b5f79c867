"""Idempotency-Key on every write of the API (IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A POST, PUT, PATCH or DELETE under /api/v1 that carries `Idempotency-Key` is recorded per caller (the
principal's label) and key, with its method, path and a fingerprint: the SHA-256 of its raw body and its
query string (`?dry_run=true` is another request than `?dry_run=false`; the order of the parameters does
not count). (PUT and DELETE are
idempotent in state, but each one that runs writes an event: a retried one would write a second.)

- first time: the request runs; its record is marked `committed` INSIDE the transaction that applies
  its effect (a before-commit hook of the unit of work, see app.core.unit_of_work), then its response is stored
  (`done`) and replayed to any retry within the retention period (REGIEFLOW_IDEMPOTENCY_RETENTION_HOURS,
  24 h) with `Idempotency-Replayed: true`, once the caller is found to still read every project the
  request touched (its path, its `Location`, the events it wrote): one it no longer reads answers 404
  as if the project did not exist, never the stored answer;
- an answer carrying a secret shown once (an API key, a calendar token, a webhook secret: the route
  marks it, see app.idempotency.secrets) is stored redacted, and its replay says so in French;
- same key, another body (or another query string, path or method): 422 `idempotence_cle_reutilisee`;
- same key while the first request still runs: 409 `idempotence_en_cours` (with Retry-After);
- the first request failed without committing anything (any 4xx/5xx): the key is released, a retry runs;
- the first request committed but died before its response was stored (crash between COMMIT and the
  write of the response): the effect is never repeated; a retry gets 409 `idempotence_deja_appliquee`,
  which names the events the first request wrote, so the client can read the resulting resource;
- a record left `in_progress` (not committed) for REGIEFLOW_IDEMPOTENCY_STALE_SECONDS is taken to be a
  request that died: a retry takes it over. If the first request was only slow and reaches its COMMIT
  after that, its before-commit hook finds the record taken over and rolls the effect back.

Routes that write through a unit of work from app.http.dependencies (projects, evidence, transitions,
webhooks, calendars) get the atomic marking; a route that commits outside one, or commits nothing,
has its response stored after the fact.

The middleware reaches the database through units of work too (see _units_of_work), and every query
on the records is in app.idempotency.repository.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.authorization.rules import Ability, Principal
from app.core.errors import AppError, NotFound, Refusal
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.http.dependencies import uow_factory
from app.http.problems import domain_problem, problem
from app.idempotency.models import IdempotencyRecord
from app.idempotency.repository import IdempotencyRepository
from app.idempotency.secrets import ShownOnce, take_mark
from app.projects.repository import NEW_EVENTS

HEADER = "idempotency-key"


REPLAYED = "Idempotency-Replayed"


MAX_KEY_LENGTH = 255


STATE_KEY = "regieflow_idempotency"


REPLAYED_HEADERS = ("content-type", "location", "etag", "retry-after", "cache-control")


PREFIX = "/api/v1/"


PROJECTS = ":projects"  # in the stored headers (never a header name): the projects the request touched


PROJECT_PATH = re.compile(r"/api/v1/projects/([0-9a-fA-F-]{36})(?:[/?#]|$)")


class IdempotencyTakenOver(AppError):
    """Our record was taken over by a retry (we were taken for dead): our effect must not be applied."""

    code = "idempotence_en_cours"


@dataclass(frozen=True)
class Attempt:
    record_id: int
    started: datetime  # the record's created_at when this attempt took it: its lease token


def parse_key(raw: str) -> str | None:
    """The key from an sf-string (`"…"`, as the draft writes it) or a bare token; None if unusable."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value or len(value) > MAX_KEY_LENGTH or any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
        return None
    return value


STORED_PATH_LENGTH = 500  # idempotency_keys.path


def path_key(path: str) -> str:
    """The request path as stored beside its key: percent-encoded (a NUL or any odd character fits every
    database) and, past the column's length, cut and completed by its SHA-256 (still one path, one key)."""
    encoded = quote(path, safe="/:@!$&'()*+,;=-._~")
    if len(encoded) <= STORED_PATH_LENGTH:
        return encoded
    return encoded[: STORED_PATH_LENGTH - 72] + "#sha256:" + hashlib.sha256(encoded.encode()).hexdigest()


def fingerprint(query: bytes, body: bytes) -> str:
    """SHA-256 of the body and the query string, whose parameters are put in order of name (the values
    of a repeated name keep theirs). Without a query string, the SHA-256 of the body alone."""
    if not query:
        return hashlib.sha256(body).hexdigest()
    # latin-1 both ways: every byte, escaped or not, is one character, so two queries that differ by a
    # byte never share a fingerprint
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    canonical = urlencode(sorted(pairs, key=lambda pair: pair[0]), encoding="latin-1").encode("latin-1")
    return hashlib.sha256(b"?" + canonical + b"\0" + body).hexdigest()


# --- the before-commit hook ----------------------------------------------------------------------
CommitHook = Callable[[Session], None]


def hooks_for(request: Request) -> list[CommitHook]:
    """What a writing unit of work must run before COMMIT for this request (nothing without a key)."""
    attempt: Attempt | None = request.scope.get("state", {}).get(STATE_KEY)
    return [] if attempt is None else [_commit_hook(attempt)]


def _commit_hook(attempt: Attempt) -> CommitHook:
    def mark_committed(session: Session) -> None:
        effect = [
            {"project_id": str(e.project_id), "seq": e.seq, "type": e.type} for e in session.info.get(NEW_EVENTS, [])
        ]
        records = IdempotencyRepository(session)  # the unit of work's own session, inside its transaction
        if records.mark_committed(attempt.record_id, attempt.started, effect):
            return
        row = records.get(attempt.record_id)
        if row is not None and row.created_at == attempt.started and row.state == "committed":
            return  # a second unit of work in the same request: already marked in this request
        raise IdempotencyTakenOver(
            "Cette requête a été reprise par un nouvel essai portant la même clé "
            "d'idempotence : elle n'est pas appliquée."
        )

    return mark_committed


# --- the middleware ------------------------------------------------------------------------------
KEYED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in KEYED_METHODS or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope.get("headers", []) if k == HEADER.encode()), None)
        if raw is None:
            await self.app(scope, receive, send)
            return
        key = parse_key(raw.decode("latin-1"))
        if key is None:
            await problem(
                400,
                "idempotence_cle_invalide",
                "Requête invalide",
                f"En-tête Idempotency-Key invalide : de 1 à {MAX_KEY_LENGTH} caractères ASCII "
                "imprimables, de préférence un UUID entre guillemets.",
                scope["path"],
            )(scope, receive, send)
            return
        application = scope["app"]
        principal = await run_in_threadpool(_caller, application, scope)
        if principal is None or not principal.authenticated:  # the route answers 401 (or the login runs, unkeyed)
            await self.app(scope, receive, send)
            return

        chunks = []
        while True:  # the body goes through the size limit outside us; read it all to fingerprint it
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        digest = fingerprint(scope.get("query_string", b""), body)
        settings = application.state.settings
        now = application.state.clock.now()
        uows = _units_of_work(scope)
        outcome = await run_in_threadpool(
            begin,
            uows,
            caller=principal.label,
            principal=principal,
            key=key,
            method=scope["method"],
            path=scope["path"],
            body_hash=digest,
            now=now,
            retention=timedelta(hours=settings.idempotency_retention_hours),
            stale=timedelta(seconds=settings.idempotency_stale_seconds),
        )
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return

        state = scope.setdefault("state", {})
        state[STATE_KEY] = outcome
        replayed = False

        async def replay_body() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        sent: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            take_mark(state)
            await run_in_threadpool(finish, uows, outcome, 500, [], b"")
            raise
        secret = take_mark(state)
        await run_in_threadpool(
            finish, uows, outcome, status, headers, b"".join(sent), secret=secret, path=scope["path"]
        )


def _units_of_work(scope: Scope) -> UnitOfWorkFactory:
    """Units of work for this middleware, on the application's database.

    The middleware is plain ASGI, outside FastAPI's dependency system: it cannot declare a dependency.
    It builds a Request on its scope and asks the one dependency every route uses
    (app.http.dependencies.uow_factory), so it reaches the database the same way they do. Its units of
    work carry no Idempotency-Key hook: they write the key's record itself, before and after the
    request (the request's own unit of work marks it "committed", see hooks_for)."""
    return uow_factory(Request(scope))


def _caller(application: Any, scope: Scope) -> Principal | None:
    from app.accounts.authentication import authenticate

    try:
        return authenticate(Request(scope))
    except Refusal:
        return None


def begin(
    uows: UnitOfWorkFactory,
    *,
    caller: str,
    key: str,
    path: str,
    body_hash: str,
    now: datetime,
    retention: timedelta,
    stale: timedelta,
    method: str = "POST",
    principal: Principal | None = None,
) -> Attempt | Response:
    """Take the key for this request, or the answer to give instead of running it (a stored answer is
    given only to a `principal` that still reads every project the request touched)."""
    stored_path = path_key(path)
    for _ in range(3):
        with uows() as uow:
            records = uow.idempotency
            row = records.find(caller, key)
            if row is None:
                row = IdempotencyRecord(
                    caller=caller,
                    key=key,
                    method=method,
                    path=stored_path,
                    body_hash=body_hash,
                    state="in_progress",
                    created_at=now,
                    expires_at=now + retention,
                )
                records.add(row)
                try:
                    uow.flush()
                except IntegrityError:  # another request with this key got in first: look again
                    continue
                uow.commit()
                return Attempt(row.id, now)
            if row.expires_at <= now:  # an expired record: the key is free again
                taken = records.renew_expired(
                    row, method=method, path=stored_path, body_hash=body_hash, now=now, expires_at=now + retention
                )
                uow.commit()
                if taken:
                    return Attempt(row.id, now)
                continue
            if row.path != stored_path or row.body_hash != body_hash or row.method != method:
                return problem(
                    422,
                    "idempotence_cle_reutilisee",
                    "Clé d'idempotence réutilisée",
                    "Cette clé d'idempotence a déjà servi pour une autre requête (autre corps ou autre "
                    "adresse) : utilisez une nouvelle clé pour une nouvelle requête.",
                    path,
                )
            if row.state in ("done", "committed") and principal is not None:
                lost = _unreadable(uow, principal, _projects_of(row))
                if lost:
                    return domain_problem(NotFound("Projet introuvable."), path)
            if row.state == "done":
                return _replay(row)
            if row.state == "committed":
                return _already_applied(row, path)
            if now - row.created_at < stale:
                return _in_progress(path)
            taken = records.take_over(row, now)  # the first attempt died before committing: take the key over
            uow.commit()
            if taken:
                return Attempt(row.id, now)
    return _in_progress(path)


def _in_progress(path: str) -> Response:
    return problem(
        409,
        "idempotence_en_cours",
        "Requête en cours",
        "Une requête portant cette clé d'idempotence est encore en cours : réessayez dans un instant.",
        path,
        headers={"Retry-After": "1"},
    )


def _project_ids(texts: Iterable[str]) -> set[str]:
    return {m.group(1).lower() for text in texts for m in PROJECT_PATH.finditer(text)}


def _named_projects(body: bytes) -> set[str]:
    """The `project_id` members anywhere in a JSON answer (an import report, a calendar token…)."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        return set()
    found: set[str] = set()
    stack = [answer]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            value = item.get("project_id")
            if isinstance(value, str):
                found |= {value.lower()}
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _events_of(body: str | None) -> list[dict[str, Any]]:
    """The events a committed record names (its body until the answer is stored)."""
    try:
        events = json.loads(body or "{}").get("events", [])
    except (ValueError, AttributeError):
        return []
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def _projects_of(row: IdempotencyRecord) -> set[str]:
    """The projects the recorded request touched: its path, its Location, the events it wrote."""
    headers = row.response_headers or {}
    found = _project_ids([row.path, headers.get("location", "")])
    if row.state == "committed":
        found |= {str(e.get("project_id")) for e in _events_of(row.response_body)}
    found |= {p for p in headers.get(PROJECTS, "").split(",") if p}
    return found


def _unreadable(uow: UnitOfWork, principal: Principal, project_ids: set[str]) -> bool:
    """Whether some of these projects is one the principal may not read (or that no longer exists)."""
    for text in project_ids:
        try:
            project_id = uuid.UUID(text)
        except ValueError:
            continue
        region = uow.projects.region_of(project_id)
        if region is None or Ability.READ not in principal.abilities(project_id, region):
            return True
    return False


def _replay(row: IdempotencyRecord) -> Response:
    headers = dict(row.response_headers or {})
    headers.pop(PROJECTS, None)
    headers[REPLAYED] = "true"
    media = headers.pop("content-type", None)
    return Response(
        content=(row.response_body or "").encode(),
        status_code=row.response_status or 200,
        headers=headers,
        media_type=media,
    )


def _already_applied(row: IdempotencyRecord, path: str) -> Response:
    events = _events_of(row.response_body)
    effects = [{**e, "project": f"/api/v1/projects/{e['project_id']}"} for e in events]
    return problem(
        409,
        "idempotence_deja_appliquee",
        "Requête déjà appliquée",
        "La requête portant cette clé d'idempotence a bien été appliquée, mais sa réponse n'a pas pu "
        "être conservée (interruption). Ne la renvoyez pas : relisez la ressource concernée "
        "(voir « effects »).",
        path,
        effects=effects,
    )


def finish(
    uows: UnitOfWorkFactory,
    attempt: Attempt,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    *,
    secret: ShownOnce | None = None,
    path: str = "",
) -> None:
    """Store the response of a request that committed (or succeeded); release the key of one that failed.

    `secret`: the answer carries a secret shown once: it is stored redacted (see app.idempotency.secrets).
    The projects the request touched are kept with it, for the access check of a replay."""
    with uows() as uow:
        records = uow.idempotency
        row = records.get(attempt.record_id, for_update=True)
        if row is None or row.created_at != attempt.started:
            return  # purged, or taken over by a retry: not ours any more
        if row.state == "in_progress" and status >= 400:
            records.delete(row.id)
        elif row.state in ("in_progress", "committed") and status < 500:
            kept = {}
            for name, value in headers:
                lname = name.decode("latin-1").lower()
                if lname in REPLAYED_HEADERS and (secret is None or lname not in secret.headers):
                    kept[lname] = value.decode("latin-1")
            touched = _project_ids([path, *(v.decode("latin-1") for n, v in headers if n.lower() == b"location")])
            touched |= _named_projects(body)
            if row.state == "committed":
                touched |= {str(e.get("project_id")) for e in _events_of(row.response_body)}
            if touched:
                kept[PROJECTS] = ",".join(sorted(touched))
            row.state, row.response_status, row.response_headers = "done", status, kept
            row.response_body = body.decode("utf-8", errors="replace") if secret is None else secret.redact(body)
        else:
            return  # committed but answered 5xx: keep "committed", a retry is told it was applied
        uow.commit()
