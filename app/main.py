"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app import __version__
from app.api import evidence, meta, problems, projects
from app.api.limits import BodySizeLimit
from app.clock import Clock
from app.db import make_engine, make_session_factory
from app.settings import Settings, get_settings

API_PREFIX = "/api/v1"

DESCRIPTION = """
regieflow runs the creation of a *Régie de Quartier* or *Régie de Territoire*, from the local
*groupe projet* to the label granted by the Mouvement des Régies: one state machine per project,
guarded transitions, the evidence each step needs, and deadlines against the three-year horizon.

Errors are `application/problem+json` (RFC 9457) with a stable `code`; refused transitions list
every unmet guard in `unmet`. Reads return an `ETag`; send it back in `If-Match` on writes to be
refused with 412 if someone changed the project in between.
"""


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="regieflow", version=__version__, description=DESCRIPTION, docs_url="/docs",
                  redoc_url=None, openapi_url="/openapi.json")
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = clock or Clock(settings.tz)

    problems.install(app)
    app.include_router(projects.router, prefix=API_PREFIX)
    app.include_router(evidence.router, prefix=API_PREFIX)
    app.include_router(meta.router, prefix=API_PREFIX)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
