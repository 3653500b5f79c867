"""The health check: liveness and a round trip to the database."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from app.http.dependencies import Authorized

router = APIRouter(tags=["workflow"], dependencies=[Authorized])


@router.get("/health", tags=["health"], summary="Liveness and database check")
def health(request: Request) -> dict[str, str]:
    with request.app.state.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok"}
