"""Typed dependencies shared by every route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response

from app.clock import ANONYMOUS, Actor, Clock
from app.errors import PreconditionFailed
from app.settings import Settings
from app.uow import UnitOfWork


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _clock(request: Request) -> Clock:
    return request.app.state.clock


def _write_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.session_factory)


def _read_uow(request: Request) -> Iterator[UnitOfWork]:
    with UnitOfWork(request.app.state.session_factory, write=False) as uow:
        yield uow


def _actor(request: Request) -> Actor:
    return getattr(request.state, "actor", None) or ANONYMOUS


_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,12})"\s*$')


def parse_if_match(value: str | None) -> int | None:
    """`If-Match: "7"` → 7; `*` or absent → None (no precondition); anything else can never match."""
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if not match:
        raise PreconditionFailed("En-tête If-Match illisible : attendu une étiquette comme \"3\" (voir ETag).")
    return int(match.group(1))


def _if_match(if_match: Annotated[str | None, Header(max_length=100, description='ETag of the version you '
                                                      'read, e.g. "3"; 412 if the project changed since.')] = None
              ) -> int | None:
    return parse_if_match(if_match)


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


SettingsDep = Annotated[Settings, Depends(_settings)]
ClockDep = Annotated[Clock, Depends(_clock)]
WriteUow = Annotated[UnitOfWork, Depends(_write_uow)]
ReadUow = Annotated[UnitOfWork, Depends(_read_uow)]
ActorDep = Annotated[Actor, Depends(_actor)]
IfMatch = Annotated[int | None, Depends(_if_match)]


class Paging:
    def __init__(self, request: Request,
                 page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
                 page_size: Annotated[int | None, Query(ge=1, description="Items per page (bounded by the "
                                                        "REGIEFLOW_MAX_PAGE_SIZE setting).")] = None) -> None:
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
