"""Idempotency-Key on every write of the API (IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A POST, PUT, PATCH or DELETE under /api/v1 that carries `Idempotency-Key` is recorded per caller (the
principal's label) and key, with its method, path and the SHA-256 of its raw body. (PUT and DELETE are
idempotent in state, but each one that runs writes an event: a retried one would write a second.)

- first time: the request runs; its record is marked `committed` INSIDE the transaction that applies
  its effect (a before-commit hook of the unit of work, see app.uow), then its response is stored
  (`done`) and replayed to any retry within the retention period (REGIEFLOW_IDEMPOTENCY_RETENTION_HOURS,
  24 h) with `Idempotency-Replayed: true`;
- same key, another body (or another path or method): 422 `idempotence_cle_reutilisee`;
- same key while the first request still runs: 409 `idempotence_en_cours` (with Retry-After);
- the first request failed without committing anything (any 4xx/5xx): the key is released, a retry runs;
- the first request committed but died before its response was stored (crash between COMMIT and the
  write of the response): the effect is never repeated; a retry gets 409 `idempotence_deja_appliquee`,
  which names the events the first request wrote, so the client can read the resulting resource;
- a record left `in_progress` (not committed) for REGIEFLOW_IDEMPOTENCY_STALE_SECONDS is taken to be a
  request that died: a retry takes it over. If the first request was only slow and reaches its COMMIT
  after that, its before-commit hook finds the record taken over and rolls the effect back.

Routes that write through the unit of work (every project route, webhooks) get the atomic marking;
the few that commit on their own (administration, login) store their response after the fact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError, Refusal
from app.http.problems import problem
from app.idempotency.models import IdempotencyRecord
from app.projects.repository import NEW_EVENTS

HEADER = "idempotency-key"


REPLAYED = "Idempotency-Replayed"


MAX_KEY_LENGTH = 255


STATE_KEY = "regieflow_idempotency"


REPLAYED_HEADERS = ("content-type", "location", "etag", "retry-after", "cache-control")


PREFIX = "/api/v1/"


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


# --- the before-commit hook ----------------------------------------------------------------------
def hooks_for(request: Request) -> list[Any]:
    """What a writing unit of work must run before COMMIT for this request (nothing without a key)."""
    attempt: Attempt | None = request.scope.get("state", {}).get(STATE_KEY)
    return [] if attempt is None else [_commit_hook(attempt)]


def _commit_hook(attempt: Attempt) -> Any:
    def mark_committed(session: Session) -> None:
        effect = [
            {"project_id": str(e.project_id), "seq": e.seq, "type": e.type} for e in session.info.get(NEW_EVENTS, [])
        ]
        result = session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == attempt.record_id,
                IdempotencyRecord.created_at == attempt.started,
                IdempotencyRecord.state == "in_progress",
            )
            .values(state="committed", response_body=json.dumps({"events": effect}))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            return
        row = session.get(IdempotencyRecord, attempt.record_id)
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
        if principal is None:  # not authenticated: the route answers 401 (or the login runs, unkeyed)
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
        digest = hashlib.sha256(body).hexdigest()
        settings = application.state.settings
        now = application.state.clock.now()
        outcome = await run_in_threadpool(
            begin,
            application.state.session_factory,
            caller=principal,
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

        scope.setdefault("state", {})[STATE_KEY] = outcome
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
            await run_in_threadpool(finish, application.state.session_factory, outcome, 500, [], b"")
            raise
        await run_in_threadpool(finish, application.state.session_factory, outcome, status, headers, b"".join(sent))


def _caller(application: Any, scope: Scope) -> str | None:
    from app.accounts.authentication import authenticate

    try:
        principal = authenticate(StarletteRequest(scope))
    except Refusal:
        return None
    return principal.label if principal.authenticated else None


def begin(
    factory: Any,
    *,
    caller: str,
    key: str,
    path: str,
    body_hash: str,
    now: datetime,
    retention: timedelta,
    stale: timedelta,
    method: str = "POST",
) -> Attempt | Response:
    """Take the key for this request, or the answer to give instead of running it."""
    for _ in range(3):
        with factory() as session:
            row = session.scalars(
                select(IdempotencyRecord).where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
            ).one_or_none()
            if row is None:
                row = IdempotencyRecord(
                    caller=caller,
                    key=key,
                    method=method,
                    path=path,
                    body_hash=body_hash,
                    state="in_progress",
                    created_at=now,
                    expires_at=now + retention,
                )
                session.add(row)
                try:
                    session.commit()
                except IntegrityError:  # another request with this key got in first: look again
                    session.rollback()
                    continue
                return Attempt(row.id, now)
            if row.expires_at <= now:  # an expired record: the key is free again
                taken = session.execute(
                    update(IdempotencyRecord)
                    .where(IdempotencyRecord.id == row.id, IdempotencyRecord.expires_at == row.expires_at)
                    .values(
                        method=method,
                        path=path,
                        body_hash=body_hash,
                        state="in_progress",
                        created_at=now,
                        expires_at=now + retention,
                        response_status=None,
                        response_headers=None,
                        response_body=None,
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount
                session.commit()
                if taken == 1:
                    return Attempt(row.id, now)
                continue
            if row.path != path or row.body_hash != body_hash or row.method != method:
                return problem(
                    422,
                    "idempotence_cle_reutilisee",
                    "Clé d'idempotence réutilisée",
                    "Cette clé d'idempotence a déjà servi pour une autre requête (autre corps ou autre "
                    "adresse) : utilisez une nouvelle clé pour une nouvelle requête.",
                    path,
                )
            if row.state == "done":
                return _replay(row)
            if row.state == "committed":
                return _already_applied(row, path)
            if now - row.created_at < stale:
                return problem(
                    409,
                    "idempotence_en_cours",
                    "Requête en cours",
                    "Une requête portant cette clé d'idempotence est encore en cours : réessayez dans un instant.",
                    path,
                    headers={"Retry-After": "1"},
                )
            taken = session.execute(  # the first attempt died before committing: take the key over
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == row.id,
                    IdempotencyRecord.state == "in_progress",
                    IdempotencyRecord.created_at == row.created_at,
                )
                .values(created_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            session.commit()
            if taken == 1:
                return Attempt(row.id, now)
    return problem(
        409,
        "idempotence_en_cours",
        "Requête en cours",
        "Une requête portant cette clé d'idempotence est encore en cours : réessayez dans un instant.",
        path,
        headers={"Retry-After": "1"},
    )


def _replay(row: IdempotencyRecord) -> Response:
    headers = dict(row.response_headers or {})
    headers[REPLAYED] = "true"
    media = headers.pop("content-type", None)
    return Response(
        content=(row.response_body or "").encode(),
        status_code=row.response_status or 200,
        headers=headers,
        media_type=media,
    )


def _already_applied(row: IdempotencyRecord, path: str) -> Response:
    try:
        events = json.loads(row.response_body or "{}").get("events", [])
    except ValueError:
        events = []
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


def finish(factory: Any, attempt: Attempt, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Store the response of a request that committed (or succeeded); release the key of one that failed."""
    with factory() as session:
        row = session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.id == attempt.record_id).with_for_update()
        ).one_or_none()
        if row is None or row.created_at != attempt.started:
            return  # purged, or taken over by a retry: not ours any more
        if row.state == "in_progress" and status >= 400:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == row.id))
        elif row.state in ("in_progress", "committed") and status < 500:
            kept = {}
            for name, value in headers:
                lname = name.decode("latin-1").lower()
                if lname in REPLAYED_HEADERS:
                    kept[lname] = value.decode("latin-1")
            row.state, row.response_status, row.response_headers = "done", status, kept
            row.response_body = body.decode("utf-8", errors="replace")
        else:
            return  # committed but answered 5xx: keep "committed", a retry is told it was applied
        session.commit()


def purge(session: Session, now: datetime) -> int:
    """Delete expired records (the worker calls this)."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    return result.rowcount or 0
