"""The health check: liveness and a round trip to the database."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from app.http.dependencies import Authorized, unit_of_work

router = APIRouter(tags=["workflow"], dependencies=[Authorized])


@router.get("/health", tags=["health"], summary="Liveness and database check")
def health(request: Request) -> dict[str, str]:
    with unit_of_work(request, write=False) as uow:
        uow.session.execute(text("SELECT 1"))
    return {"status": "ok"}
