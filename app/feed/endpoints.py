"""The change feed: GET /events?after=<cursor> across every project the caller may read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.feed.schemas import FeedPage
from app.feed.service import decode_cursor, read_feed
from app.http.dependencies import Authorized, PrincipalDep, ReadUow, SettingsDep
from workflow.errors import InvalidInput

router = APIRouter(tags=["feed"], dependencies=[Authorized])


@router.get(
    "/events",
    response_model=FeedPage,
    name="read_feed",
    summary="Every event of the projects you may read, in commit order, after a cursor",
    description="Start without `after`; then pass the `next_cursor` of each answer as `after`. "
    "Positions are given at commit time in commit order, so polling this way never "
    "misses nor repeats an event. `next_cursor` is opaque: store it as given.",
)
def read_feed_route(
    uow: ReadUow,
    principal: PrincipalDep,
    settings: SettingsDep,
    after: Annotated[str | None, Query(max_length=40, description="The next_cursor of the previous answer.")] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Events per answer (default REGIEFLOW_DEFAULT_PAGE_SIZE, at most REGIEFLOW_MAX_PAGE_SIZE).",
        ),
    ] = None,
) -> FeedPage:
    position = decode_cursor(after)
    if position is None:
        raise InvalidInput("Curseur illisible : passez le next_cursor d'une réponse précédente.", "after")
    size = limit or settings.default_page_size
    if size > settings.max_page_size:
        raise InvalidInput(f"limit ne peut pas dépasser {settings.max_page_size}.", "limit")
    return read_feed(uow, visible_to=principal, after=position, limit=size)
