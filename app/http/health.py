"""Health probes: the historical check (liveness and a database round trip), liveness alone (the process
answers: restart it otherwise) and readiness (the database answers and its schema is the code's: send
it traffic otherwise not)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.http.dependencies import Authorized, unit_of_work

router = APIRouter(tags=["workflow"], dependencies=[Authorized])


@router.get("/health", tags=["health"], summary="Liveness and database check")
def health(request: Request) -> dict[str, str]:
    with unit_of_work(request, write=False) as uow:
        uow.session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get(
    "/health/live",
    name="health_live",
    tags=["health"],
    summary="Liveness: the process answers (no database call)",
)
def live() -> dict[str, str]:
    return {"status": "ok"}


class Readiness(BaseModel):
    status: Literal["ok", "indisponible"]
    database: Literal["ok", "indisponible"]
    schema_: Literal["ok", "migrations_en_attente", "inconnu"] = Field(alias="schema")
    revision: str | None = Field(description="The schema revision the database holds")
    expected_revision: str = Field(description="The schema revision this code expects (the last migration)")


NOT_READY = {
    "model": Readiness,
    "description": "Not ready: the database does not answer, or its schema is not the code's (migrations pending)",
}


@router.get(
    "/health/ready",
    name="health_ready",
    tags=["health"],
    summary="Readiness: the database answers and holds the schema revision this code expects",
    response_model=Readiness,
    responses={503: NOT_READY},
)
def ready(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {"database": "ok", "schema": "ok", "expected_revision": head_revision()}
    try:
        with unit_of_work(request, write=False) as uow:
            revision = uow.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        checks.update(database="indisponible", schema="inconnu", revision=None)
    else:
        checks["revision"] = revision
        if revision != checks["expected_revision"]:
            checks["schema"] = "migrations_en_attente"
    ok = checks["database"] == "ok" and checks["schema"] == "ok"
    return JSONResponse({"status": "ok" if ok else "indisponible", **checks}, status_code=200 if ok else 503)


@lru_cache(maxsize=1)
def head_revision() -> str:
    from app.core.migrate import revisions

    return revisions()[-1]
