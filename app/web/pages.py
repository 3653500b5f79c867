"""Server-rendered pages (French). Login and logout live here; people get a session cookie."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from app import auth
from app.api.auth import client_ip, policy, set_session_cookie
from app.api.deps import SAFE_METHODS, check_access
from app.api.problems import STATUS
from app.authz import Principal
from app.errors import Throttled, Unauthenticated
from app.security import new_token, same
from workflow.errors import DomainError

ROOT = Path(__file__).resolve().parent.parent.parent
templates = Jinja2Templates(directory=str(ROOT / "templates"))
LOGIN_CSRF_COOKIE = "regieflow_login_csrf"
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


def error_page(request: Request, exc: DomainError) -> HTMLResponse:
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
            except DomainError as exc:
                return error_page(request, exc)
            except RequestValidationError:
                return render(request, "message.html", {
                    "title": "Requête invalide", "status": 422,
                    "message": "Cette adresse ou ce formulaire contient une valeur invalide."}, 422)

        return page_handler


async def page_access(request: Request) -> Principal:
    """The dependency of every page: the same check as the API (app.api.deps.check_access, rules in
    app.authz.RULES by route name), with the session cookie only; a POST must carry the session's
    CSRF token in its hidden field `csrf`."""
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
    principal: Principal = getattr(request.state, "principal", None) or auth.ANONYMOUS
    base = {"request": request, "principal": principal, "csrf_token": principal.csrf_token,
            "flash": flash_of(request)}
    return templates.TemplateResponse(request, name, base | context, status_code=status_code)


def current(request: Request) -> Principal:
    principal = auth.authenticate(request) if "authorization" not in request.headers else auth.ANONYMOUS
    request.state.principal = principal
    return principal


def check_form_csrf(request: Request, sent: str) -> bool:
    principal: Principal = request.state.principal
    return bool(principal.csrf_token) and same(sent or "", principal.csrf_token or "")


router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/connexion", name="login_page")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    token = new_token(16)
    response = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next), "email": ""})
    _set_login_csrf(response, request, token)
    return response


def _set_login_csrf(response: Response, request: Request, token: str) -> None:
    settings = request.app.state.settings
    secure = settings.secure_cookies if settings.secure_cookies is not None else request.url.scheme == "https"
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/connexion", secure=secure)


def _safe_next(value: str) -> str:
    local = value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value
    return value if local and len(value) < 500 else "/"


@router.post("/connexion", name="login_submit")
def login_submit(request: Request, email: Annotated[str, Form(max_length=254)] = "",
                 password: Annotated[str, Form(max_length=256)] = "", csrf: Annotated[str, Form(max_length=100)] = "",
                 next: Annotated[str, Form(max_length=500)] = "/") -> Response:  # noqa: A002
    request.state.principal = auth.ANONYMOUS
    settings = request.app.state.settings
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    fresh = new_token(16)

    def again(message: str, status_code: int, headers: dict[str, str] | None = None) -> Response:
        resp = render(request, "login.html", {"login_csrf": fresh, "next": _safe_next(next), "email": email,
                                              "error": message}, status_code=status_code)
        _set_login_csrf(resp, request, fresh)
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    if not cookie or not same(cookie, csrf):
        return again("Le formulaire a expiré : merci de vous reconnecter.", 403)
    try:
        with request.app.state.session_factory() as session:
            result = auth.login(session, email, password, client_ip=client_ip(request),
                                now=request.app.state.clock.now(), lifetime=timedelta(hours=settings.session_hours),
                                policy=policy(settings))
    except Throttled as exc:
        return again(exc.message, 429, {"Retry-After": str(exc.retry_after)})
    except Unauthenticated as exc:
        return again(exc.message, 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, request, settings, result)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/connexion")
    return response


@router.post("/deconnexion", name="logout_page")
def logout_page(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    principal = current(request)
    if principal.authenticated:
        if not check_form_csrf(request, csrf):
            return render(request, "message.html", {"title": "Action refusée",
                                                    "message": "Le formulaire a expiré : rechargez la page."}, 403)
        with request.app.state.session_factory() as session:
            auth.logout(session, principal.session_id)
    response = RedirectResponse(request.url_for("login_page").path, status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
