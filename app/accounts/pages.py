"""Server-rendered pages (French). Login and logout live here; people get a session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts import service as accounts_service
from app.accounts.authentication import SESSION_COOKIE, logout
from app.accounts.login import log_in, set_session_cookie
from app.accounts.login import policy as login_policy
from app.authorization.rules import ANONYMOUS
from app.core.errors import Throttled, Unauthenticated
from app.core.security import MIN_PASSWORD_LENGTH, new_token, same
from app.http.dependencies import unit_of_work
from app.web.templating import FLASH_MESSAGES, PageRoute, PageUser, check_form_csrf, current, render
from workflow.errors import InvalidInput

LOGIN_CSRF_COOKIE = "regieflow_login_csrf"


router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/connexion", name="login_page")
def login_page(request: Request, next: str = "/") -> Response:
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
def login_submit(
    request: Request,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    request.state.principal = ANONYMOUS
    settings = request.app.state.settings
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    fresh = new_token(16)

    def again(message: str, status_code: int, headers: dict[str, str] | None = None) -> Response:
        resp = render(
            request,
            "login.html",
            {"login_csrf": fresh, "next": _safe_next(next), "email": email, "error": message},
            status_code=status_code,
        )
        _set_login_csrf(resp, request, fresh)
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    if not cookie or not same(cookie, csrf):
        return again("Le formulaire a expiré : merci de vous reconnecter.", 403)
    try:
        result = log_in(request, settings, request.app.state.clock, email, password)
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
            return render(
                request,
                "message.html",
                {"title": "Action refusée", "message": "Le formulaire a expiré : rechargez la page."},
                403,
            )
        with unit_of_work(request) as uow:
            logout(uow, principal.session_id)
    response = RedirectResponse(request.url_for("login_page").path, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- « Changer mon mot de passe »: the signed-in person's own password -------------------------------
FLASH_MESSAGES["mot-de-passe"] = "Votre mot de passe a été changé : connectez-vous avec le nouveau."
TOO_MANY_GUESSES = "Trop d'essais du mot de passe actuel : réessayez dans quelques minutes."


@router.get("/compte/mot-de-passe", name="page_account_password")
def account_password(request: Request, principal: PageUser) -> Response:
    return render(
        request,
        "account_password.html",
        {"section": "compte", "errors": {}, "error": None, "min_length": MIN_PASSWORD_LENGTH},
    )


@router.post("/compte/mot-de-passe", name="page_account_password_change")
def account_password_change(
    request: Request,
    principal: PageUser,
    current_password: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    confirmation: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    errors: dict[str, str] = {}
    if not current_password:
        errors["current_password"] = "Indiquez votre mot de passe actuel."
    if password != confirmation:
        errors["confirmation"] = "La confirmation ne reprend pas le nouveau mot de passe."
    headers: dict[str, str] = {}
    status_code = 422
    if not errors and principal.id is not None:
        try:
            with unit_of_work(request, effect=False) as uow:  # a refused attempt is committed too
                accounts_service.change_own_password(
                    uow,
                    principal.id,
                    current=current_password,
                    new=password,
                    now=request.app.state.clock.now(),
                    policy=login_policy(request.app.state.settings),
                )
        except InvalidInput as exc:
            errors[exc.field or "password"] = exc.message
        except Throttled as exc:
            errors["current_password"] = TOO_MANY_GUESSES
            headers["Retry-After"] = str(exc.retry_after)
            status_code = 429
        else:
            done = RedirectResponse("/connexion?ok=mot-de-passe", status_code=303)
            done.delete_cookie(SESSION_COOKIE, path="/")
            return done
    response = render(
        request,
        "account_password.html",
        {
            "section": "compte",
            "errors": errors,
            "error": "Le mot de passe n'a pas été changé :",
            "min_length": MIN_PASSWORD_LENGTH,
        },
        status_code,
    )
    response.headers.update(headers)
    return response
