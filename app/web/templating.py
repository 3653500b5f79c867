"""Server-rendered pages (French). Login and logout live here; people get a session cookie."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from app.accounts.authentication import authenticate
from app.authorization.rules import ANONYMOUS, Principal
from app.core.errors import AppError, Refusal, Unauthenticated
from app.core.security import same
from app.http.dependencies import SAFE_METHODS, check_access, unit_of_work
from app.http.problems import STATUS
from app.web import wording
from workflow.errors import DomainError

ROOT = Path(__file__).resolve().parent.parent.parent


templates = Jinja2Templates(directory=str(ROOT / "templates"))
# French dates and the elided "de" in every template: "1er octobre 2026", "d'Alex" (app/web/wording.py).
templates.env.globals["date_fr"] = wording.date_fr
templates.env.filters["de"] = wording.de


FORM_EXPIRED = "Le formulaire a expiré : rechargez la page puis recommencez."


# Confirmations shown after a POST/redirect/GET: the redirect carries `?ok=<code>`, never a text, so
# nothing a visitor types is ever reflected. Modules add their codes here (app.web.projects, say).
FLASH_MESSAGES: dict[str, str] = {}


class PageRedirect(Exception):
    """Raised by a page (or its dependency) to answer 303 See Other to `location`."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def login_url(request: Request) -> str:
    """The login page, coming back here afterwards (for a GET; a refused POST comes back home)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or target == "/":
        return "/connexion"
    return "/connexion?" + urlencode({"next": target})


def error_page(request: Request, exc: DomainError | AppError) -> HTMLResponse:
    """A domain refusal as a French HTML page with the same status the API would answer."""
    status, title = next(((st, t) for cls, st, t in STATUS if isinstance(exc, cls)), (409, "Refus"))
    return render(request, "message.html", {"title": title, "message": exc.message, "status": status}, status)


class PageRoute(APIRoute):
    """Route class of every page: refusals become HTML (anonymous: a redirect to the login page)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRedirect as exc:
                return RedirectResponse(exc.location, status_code=303)
            except Unauthenticated:
                return RedirectResponse(login_url(request), status_code=303)
            except Refusal as exc:
                return error_page(request, exc)
            except RequestValidationError:
                return render(
                    request,
                    "message.html",
                    {
                        "title": "Requête invalide",
                        "status": 422,
                        "message": "Cette adresse ou ce formulaire contient une valeur invalide.",
                    },
                    422,
                )

        return page_handler


async def page_access(request: Request) -> Principal:
    """The dependency of every page: the same check as the API (app.http.dependencies.check_access, rules
    in app.authorization.rules.RULES by route name), with the session cookie only; a POST must carry the
    session's CSRF token in its hidden field `csrf`. Its unit of work is check_access's."""
    route = request.scope.get("route")
    sent = None
    if request.method not in SAFE_METHODS:
        form = await request.form()
        request.state.form = form  # for handlers that read fields by computed names (sync: no await)
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    return check_access(request, getattr(route, "name", ""), csrf_sent=sent, bearer=False, csrf_refusal=FORM_EXPIRED)


PageUser = Annotated[Principal, Depends(page_access)]


def flash_of(request: Request) -> str | None:
    return FLASH_MESSAGES.get(request.query_params.get("ok", ""))


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    principal: Principal = getattr(request.state, "principal", None) or ANONYMOUS
    base = {"request": request, "principal": principal, "csrf_token": principal.csrf_token, "flash": flash_of(request)}
    return templates.TemplateResponse(request, name, base | context, status_code=status_code)


def current(request: Request) -> Principal:
    """The person behind the session cookie, for a page that serves anyone (logout); API keys are ignored."""
    principal = ANONYMOUS
    if "authorization" not in request.headers:
        with unit_of_work(request, effect=False) as uow:
            principal = authenticate(request, uow)
    request.state.principal = principal
    return principal


def check_form_csrf(request: Request, sent: str) -> bool:
    principal: Principal = request.state.principal
    return bool(principal.csrf_token) and same(sent or "", principal.csrf_token or "")
