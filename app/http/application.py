"""The FastAPI application."""

from __future__ import annotations

from app.core.startup import loading

# Every router, page and schema of the service: no collector passes over what they build (app/core/startup.py).
with loading():
    from fastapi import APIRouter, FastAPI
    from fastapi.routing import APIRoute
    from fastapi.staticfiles import StaticFiles

    from app import __version__
    from app.accounts import admin_endpoints as admin
    from app.accounts import admin_pages, password_reset_pages
    from app.accounts import endpoints as auth
    from app.accounts import pages as accounts_pages
    from app.analytics import endpoints as analytics
    from app.analytics import pages as analytics_pages
    from app.assessments import endpoints as assessments
    from app.assessments import pages as assessments_pages
    from app.authorization.rules import PUBLIC, RULES
    from app.calendars import endpoints as calendars
    from app.core.clock import Clock
    from app.core.database import make_engine, make_session_factory
    from app.core.settings import Settings, get_settings
    from app.documents import endpoints as documents
    from app.documents import pages as documents_pages
    from app.documents.upload import UploadBodies
    from app.evidence import endpoints as evidence
    from app.evidence import pages as evidence_pages
    from app.exchange import dump_endpoints as dump
    from app.exchange import export_endpoints as exports
    from app.exchange import import_endpoints as imports
    from app.feed import endpoints as feed
    from app.forecasts import endpoints as forecasts
    from app.forecasts import pages as forecasts_pages  # noqa: F401  (registers the project page's forecast block)
    from app.home import pages as home_pages
    from app.http import docs, health, openapi, problems
    from app.http.middleware import BodyReadTimeout, BodySizeLimit, HeaderSizeLimit, SecurityHeaders
    from app.idempotency.middleware import IdempotencyMiddleware
    from app.mail import pages as mail_pages
    from app.messages import endpoints as messages
    from app.notifications import endpoints as notifications
    from app.notifications import pages as notifications_pages
    from app.observability import endpoints as observability
    from app.observability.middleware import RequestTelemetry
    from app.opinions import endpoints as opinions
    from app.opinions import pages as opinions_pages
    from app.projects import endpoints as projects_endpoints
    from app.projects import pages as projects_pages
    from app.reference import endpoints as reference
    from app.transitions import description as transitions_description
    from app.transitions import endpoints as transitions_endpoints
    from app.transitions import pages as transitions_pages
    from app.web.templating import ROOT, page_access
    from app.webhooks import endpoints as webhooks

API_PREFIX = "/api/v1"


API_ROUTERS = (
    projects_endpoints.router,
    transitions_endpoints.router,
    evidence.router,
    documents.router,
    assessments.router,
    transitions_description.router,
    health.router,
    auth.router,
    admin.router,
    exports.router,
    calendars.router,
    imports.router,
    dump.router,
    webhooks.router,
    feed.router,
    reference.router,
    opinions.router,  # collaboration (issue 15): opinion requests, messages and notes, notifications
    messages.router,
    notifications.router,
    forecasts.router,  # forecasts (issue 16)
    analytics.router,
)


# Routers served outside /api/v1 that still go through `authorize` (and so need a rule in RULES).
ROOT_ROUTERS = (calendars.feed_router, observability.router)


DESCRIPTION = """
regieflow runs the creation of a *Régie de Quartier* or *Régie de Territoire*, from the local
*groupe projet* to the label granted by the Mouvement des Régies: one state machine per project,
guarded transitions, the evidence each step needs, and deadlines against the three-year horizon.

Authenticate with a partner API key (`Authorization: Bearer rf_…`) or, for people, the session
cookie set by `POST /api/v1/auth/login` (then send `X-CSRF-Token` on writes).
Errors are `application/problem+json` (RFC 9457) with a stable `code`; refused transitions list
every unmet guard in `unmet`. Reads return an `ETag`; send it back in `If-Match` on writes to be
refused with 412 if someone changed the project in between.
Every write (POST, PUT, PATCH, DELETE) accepts an `Idempotency-Key` header: a retry with the same key
and body within 24 hours replays the first answer (`Idempotency-Replayed: true`) instead of doing the
work again.
"""


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="regieflow",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by app.http.docs, from local assets (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = clock or Clock(settings.tz)

    problems.install(app)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    for router in page_routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(ROOT / "templates" / "static")), name="static")
    docs.install(app)
    app.add_middleware(IdempotencyMiddleware)  # inside the body limit: it reads the body to fingerprint it
    # Reads the whole body within REGIEFLOW_BODY_TIMEOUT_SECONDS before anything inside sees it (408 otherwise);
    # inside the body limit, so what it buffers is never more than REGIEFLOW_MAX_BODY_BYTES.
    app.add_middleware(BodyReadTimeout, timeout_seconds=settings.body_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(UploadBodies)  # document uploads stream past the body limits (app.documents.upload)
    app.add_middleware(HeaderSizeLimit, max_bytes=settings.max_header_bytes)  # 431, whatever server runs the app
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestTelemetry)  # outermost: times and logs every answer, refusals included
    check_rules(app)
    openapi.install(
        app, [(API_PREFIX + r.path_format, r) for r in api_routes()] + [(r.path_format, r) for r in root_routes()]
    )
    return app


def api_routes() -> list[APIRoute]:
    """Every route under /api/v1 (paths without the prefix)."""
    return [r for router in API_ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def root_routes() -> list[APIRoute]:
    """The routes outside /api/v1 that `authorize` guards (the calendar feeds)."""
    return [r for router in ROOT_ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def page_routers() -> tuple[APIRouter, ...]:
    """The routers of the HTML pages (French, server-rendered), in the order they are matched."""
    return (
        accounts_pages.router,
        password_reset_pages.router,
        opinions_pages.router,
        notifications_pages.router,
        mail_pages.router,
        home_pages.router,
        projects_pages.router,
        transitions_pages.router,
        evidence_pages.router,
        documents_pages.router,
        assessments_pages.router,
        admin_pages.router,
        analytics_pages.router,  # issue 16
    )


def page_routes() -> list[APIRoute]:
    return [r for router in page_routers() for r in router.routes if isinstance(r, APIRoute)]


def check_rules(app: FastAPI) -> None:
    """Refuse to start if an API route or a page has no access rule: a new route cannot escape authorisation."""
    missing = [r.name for r in (*api_routes(), *root_routes()) if r.name not in RULES]
    if missing:
        raise RuntimeError(f"API routes without an access rule in app.authz.RULES: {missing}")
    missing = [r.name for r in page_routes() if r.name not in RULES]
    if missing:
        raise RuntimeError(f"Pages without an access rule in app.authz.RULES: {missing}")
    unguarded = [r.name for r in page_routes() if RULES[r.name].need != PUBLIC and not _depends_on(r, page_access)]
    if unguarded:
        raise RuntimeError(f"Pages that do not depend on app.web.pages.page_access: {unguarded}")


def _depends_on(route: APIRoute, function: object) -> bool:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is function:
            return True
        stack.extend(dependant.dependencies)
    return False
