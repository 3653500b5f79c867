"""Server-rendered pages (French). Login and logout live here; people get a session cookie."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app import auth
from app.api.auth import client_ip, policy, set_session_cookie
from app.authz import Principal
from app.errors import Throttled, Unauthenticated
from app.security import new_token, same

ROOT = Path(__file__).resolve().parent.parent.parent
templates = Jinja2Templates(directory=str(ROOT / "templates"))
LOGIN_CSRF_COOKIE = "regieflow_login_csrf"

router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    principal: Principal = getattr(request.state, "principal", None) or auth.ANONYMOUS
    base = {"request": request, "principal": principal, "csrf_token": principal.csrf_token}
    return templates.TemplateResponse(request, name, base | context, status_code=status_code)


def current(request: Request) -> Principal:
    principal = auth.authenticate(request) if "authorization" not in request.headers else auth.ANONYMOUS
    request.state.principal = principal
    return principal


def check_form_csrf(request: Request, sent: str) -> bool:
    principal: Principal = request.state.principal
    return bool(principal.csrf_token) and same(sent or "", principal.csrf_token or "")


@router.get("/", name="home")
def home(request: Request) -> Response:
    principal = current(request)
    if not principal.authenticated:
        return RedirectResponse(request.url_for("login_page").path, status_code=303)
    return render(request, "home.html", {})


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
    return value if value.startswith("/") and not value.startswith("//") and len(value) < 500 else "/"


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
