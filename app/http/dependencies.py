"""Typed dependencies shared by every route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.authentication import authenticate, record_key_use
from app.authorization.rules import (
    ADMIN,
    AUTHENTICATED,
    CREATE,
    PUBLIC,
    Ability,
    Principal,
    ProjectAccess,
    check_project,
    needs_for,
)
from app.authorization.rules import ANONYMOUS as ANON_PRINCIPAL
from app.core.clock import ANONYMOUS, Actor, Clock
from app.core.errors import Forbidden, NotFound, Unauthenticated
from app.core.identifiers import parse_uuid
from app.core.security import same
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory


# Dependencies that do no I/O are `async def`: FastAPI runs a sync dependency in its thread pool, and
# that hop costs more than the work (docs/PERFORMANCE.md §1). Those that touch the database stay sync.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def unit_of_work(request: Request, *, write: bool = True, effect: bool = True) -> UnitOfWork:
    """The one way a request reaches the database (API routes, pages and the access check alike).

    A write's unit of work carries the Idempotency-Key hook, so that the key's record is marked in
    the same transaction as the effect. `effect=False`: a write that is not the request's effect (the
    access check recording a key's last use, a login counting a failure) does not carry it."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    settings = request.app.state.settings  # the server key's source (the event chain)
    if not write:
        return UnitOfWork(factory, write=False, settings=settings)
    if not effect:
        return UnitOfWork(factory, settings=settings)
    from app.idempotency.middleware import hooks_for

    return UnitOfWork(factory, before_commit=hooks_for(request), settings=settings)


def uow_factory(request: Request) -> UnitOfWorkFactory:
    """Units of work on the application's database, for a route that needs several (a full export)."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return UnitOfWorkFactory(factory, request.app.state.settings)


async def _write_uow(request: Request) -> UnitOfWork:
    return unit_of_work(request)


def _read_uow(request: Request) -> Iterator[UnitOfWork]:
    with unit_of_work(request, write=False) as uow:
        yield uow


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


CSRF_HEADER = "x-csrf-token"


CSRF_REFUSAL = "Jeton CSRF manquant ou invalide (en-tête X-CSRF-Token)."


def check_access(
    request: Request, route_name: str, *, csrf_sent: str | None, bearer: bool = True, csrf_refusal: str = CSRF_REFUSAL
) -> Principal:
    """Who is calling, and may they do what route `route_name` does here? The one check behind every
    API route (`authorize`) and every page (app.web.templating.page_access).

    The rule comes from app.authorization.rules.RULES by route name (a route without a rule cannot be served:
    create_app checks it). A project the caller may not read raises NotFound, like a missing one; a
    refused function raises Forbidden; no credentials raise Unauthenticated. `csrf_sent` is the token
    a cookie session sent with a write (the X-CSRF-Token header, or a page form's hidden field).
    `bearer=False` (pages) ignores API keys: pages are for people, with a session cookie.
    """
    need = needs_for(route_name, request.path_params)
    if need == PUBLIC:  # the health check and the login answer whatever credentials come along
        request.state.principal = ANON_PRINCIPAL
        return ANON_PRINCIPAL
    # One short reading unit of work (a plain BEGIN on SQLite: no write lock) for the caller and, when the
    # route names a project, its region. A key's last use, when due, is written after it, in a unit of
    # work of its own (record_key_use), refused or not; never the request's effect (no Idempotency-Key hook).
    try:
        with unit_of_work(request, write=False) as uow:
            return _check(
                request,
                uow,
                need,
                csrf_sent=csrf_sent,
                bearer=bearer,
                csrf_refusal=csrf_refusal,
                at_locked_read=route_name in RULE_AT_LOCKED_READ,
            )
    finally:
        record_key_use(request)


# Routes that apply the rule on the path's project to the row they read anyway, locked, before writing
# anything (a transition: app/transitions/store.py reads the project's region in its locked read): the
# check authenticates the caller and leaves them a ProjectAccess (ProjectAccessDep) instead of reading
# the region in a statement of its own. Each must depend on ProjectAccessDep and apply it
# (tests/http/test_access_at_locked_read.py holds both to it).
RULE_AT_LOCKED_READ = frozenset({"fire_transition"})
PROJECT_ACCESS = "project_access"  # request.state: the ProjectAccess left to such a route


def _check(
    request: Request,
    uow: UnitOfWork,
    need: str,
    *,
    csrf_sent: str | None,
    bearer: bool,
    csrf_refusal: str,
    at_locked_read: bool = False,
) -> Principal:
    principal = authenticate(request, uow) if bearer or "authorization" not in request.headers else ANON_PRINCIPAL
    request.state.principal = principal
    if not principal.authenticated:
        raise Unauthenticated("Authentification requise : clé d'API (Authorization: Bearer …) ou session.")
    if (
        principal.via_cookie
        and request.method not in SAFE_METHODS
        and (not principal.csrf_token or not same(csrf_sent or "", principal.csrf_token))
    ):
        raise Forbidden(csrf_refusal)
    if need == AUTHENTICATED:
        return principal
    if need == ADMIN:
        if not principal.is_admin:
            raise Forbidden("Réservé aux administrateurs.")
        return principal
    if need == CREATE:
        if not principal.can_create:
            raise Forbidden("Votre rôle ne permet pas de créer un projet.")
        return principal
    project_id = parse_uuid(request.path_params.get("project_id"))
    if project_id is None:
        if "project_id" in request.path_params and not bearer:
            raise NotFound("Projet introuvable.")  # a page answers 404 for a malformed project id
        return principal  # the path is invalid: parameter validation answers 422
    if at_locked_read:
        setattr(request.state, PROJECT_ACCESS, ProjectAccess(principal, project_id, need))
        return principal
    check_project(principal, project_id, uow.projects.region_of(project_id), need)
    return principal


def authorize(request: Request) -> Principal:
    """Every API route depends on this (see check_access)."""
    route = request.scope.get("route")
    return check_access(request, getattr(route, "name", ""), csrf_sent=request.headers.get(CSRF_HEADER))


def actor_of(request: Request) -> Actor:
    """Who the audit log names for this request (its authenticated principal)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or not principal.authenticated:
        return ANONYMOUS
    kind, _, ident = principal.label.partition(":")
    return Actor(kind, ident, principal.name)


async def _actor(request: Request) -> Actor:
    return actor_of(request)


async def _principal(request: Request) -> Principal:
    return getattr(request.state, "principal", None) or ANON_PRINCIPAL


_NOTHING_ALLOWED = ProjectAccess(ANON_PRINCIPAL, None, Ability.READ)


async def _project_access(request: Request) -> ProjectAccess:
    """The rule on the path's project that check_access left to a route of RULE_AT_LOCKED_READ (nothing
    allowed if it left none)."""
    access: ProjectAccess | None = getattr(request.state, PROJECT_ACCESS, None)
    return access or _NOTHING_ALLOWED


# What an If-Match that is not an ETag of ours stands for: a version no project has and no ETag can
# name (the pattern below reads digits only). The service refuses it like any stale version;
# app.http.problems words the refusal for the header.
UNREADABLE_VERSION = -1
# What a weak tag (`W/"3"`) stands for: If-Match compares strongly (RFC 9110 §13.1.1), so a weak
# tag never matches, whatever version it names; refused like UNREADABLE_VERSION, worded apart.
WEAK_VERSION = -2
_ETAG = re.compile(r'^\s*"([0-9]{1,12})"\s*$', re.ASCII)  # ASCII digits: not `"٣"`
_WEAK_ETAG = re.compile(r'^\s*W/"[^"]*"\s*$', re.ASCII)


def parse_if_match(value: str | None) -> int | None:
    """`If-Match: "7"` → 7; `*` or absent → None (no precondition); anything else can never match:
    WEAK_VERSION for a weak tag (`W/"7"`: If-Match uses the strong comparison, RFC 9110 §13.1.1),
    UNREADABLE_VERSION otherwise. The service refuses both with 412 once the request is otherwise
    valid and its project exists (RFC 9110 §13.2.1: a request that would fail without the
    precondition answers that failure, say 422 or 404, not 412)."""
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if not match:
        return WEAK_VERSION if _WEAK_ETAG.match(value) else UNREADABLE_VERSION
    return int(match.group(1))


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(max_length=100, description='ETag of the version you read, e.g. "3"; 412 if the project changed since.'),
    ] = None,
) -> int | None:
    return parse_if_match(if_match)


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def json_of(model: BaseModel, *, version: int | None = None, status_code: int = 200) -> Response:
    """A response carrying a model the route already built (and so validated): FastAPI would validate
    it again against the route's response_model, in another thread-pool hop, before encoding it. The
    response_model stays on the route for the OpenAPI document; the contract tests hold the two equal."""
    response = Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
    if version is not None:
        response.headers["ETag"] = etag(version)
    return response


SettingsDep = Annotated[Settings, Depends(_settings)]


ClockDep = Annotated[Clock, Depends(_clock)]


WriteUow = Annotated[UnitOfWork, Depends(_write_uow)]


ReadUow = Annotated[UnitOfWork, Depends(_read_uow)]


ActorDep = Annotated[Actor, Depends(_actor)]


PrincipalDep = Annotated[Principal, Depends(_principal)]


ProjectAccessDep = Annotated[ProjectAccess, Depends(_project_access)]


Authorized = Depends(authorize)


IfMatch = Annotated[int | None, Depends(_if_match)]


class Paging:
    def __init__(
        self,
        request: Request,
        page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
        page_size: Annotated[
            int | None, Query(ge=1, description="Items per page (bounded by the REGIEFLOW_MAX_PAGE_SIZE setting).")
        ] = None,
    ) -> None:
        settings: Settings = request.app.state.settings
        size = page_size or settings.default_page_size
        if size > settings.max_page_size:
            from workflow.errors import InvalidInput

            raise InvalidInput(f"page_size ne peut pas dépasser {settings.max_page_size}.", "page_size")
        self.page, self.page_size = page, size

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


PagingDep = Annotated[Paging, Depends()]
