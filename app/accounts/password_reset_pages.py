"""Pages of "Mot de passe oublié" (app/accounts/password_reset.py): the request form, the answer (the
same whether the address is known or not), and the new password's form behind the link.

The request form carries a CSRF token as the login form does (nobody is logged in): a random value in a
strict, HTTP-only cookie scoped to the form's path and the same value in a hidden field; a POST whose
two do not match is refused (403) with the form again, in French. Another site cannot make a browser
ask for reset mails."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.accounts import password_reset as reset
from app.core.security import new_token, same
from app.http.dependencies import unit_of_work
from app.web.templating import PageRoute, render
from workflow.errors import InvalidInput

router = APIRouter(route_class=PageRoute)

FORGOT_PATH = "/mot-de-passe-oublie"
FORGOT_CSRF_COOKIE = "regieflow_forgot_csrf"
FORM_EXPIRED = "Le formulaire a expiré : merci de saisir de nouveau votre adresse et de le renvoyer."
NO_ADDRESS = "Indiquez l'adresse e-mail de votre compte."


async def _form(request: Request) -> dict[str, str]:
    try:
        form = await request.form()
    except Exception:
        return {}
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _form_page(request: Request, email: str = "", error: str | None = None, status: int = 200) -> Response:
    """The request form with a fresh CSRF token (cookie and hidden field)."""
    token = new_token(16)
    context = {"sent": False, "email": email, "csrf": token, "error": error}
    response = render(request, "accounts/forgot.html", context, status)
    settings = request.app.state.settings
    secure = settings.secure_cookies if settings.secure_cookies is not None else request.url.scheme == "https"
    response.set_cookie(FORGOT_CSRF_COOKIE, token, httponly=True, samesite="strict", path=FORGOT_PATH, secure=secure)
    return response


@router.get(FORGOT_PATH, name="page_forgot_password")
def page_forgot_password(request: Request) -> Response:
    return _form_page(request)


@router.post(FORGOT_PATH, name="page_forgot_password_submit")
async def page_forgot_password_submit(request: Request) -> Response:
    form = await _form(request)
    email = form.get("email", "")[:300]
    cookie = request.cookies.get(FORGOT_CSRF_COOKIE, "")
    if not cookie or len(cookie) > 100 or not same(cookie, form.get("csrf", "")[:100]):
        return _form_page(request, email.strip()[:254], FORM_EXPIRED, 403)
    if not email.strip():
        return _form_page(request, "", NO_ADDRESS, 422)
    return _forgot(request, email)


def _forgot(request: Request, email: str) -> Response:
    with unit_of_work(request) as uow:
        reset.request_reset(uow, request.app.state.settings, request.app.state.clock, email)
    answer = reset.same_answer(request.app.state.settings)
    response = render(request, "accounts/forgot.html", {"sent": True, "email": "", "message": answer})
    response.delete_cookie(FORGOT_CSRF_COOKIE, path=FORGOT_PATH)
    return response


@router.get("/mot-de-passe/nouveau/{token}", name="page_reset_password")
def page_reset_password(request: Request, token: str) -> Response:
    with unit_of_work(request, write=False) as uow:
        live = reset.link_is_live(uow, request.app.state.clock, token)
    if not live:
        return render(request, "accounts/reset.html", {"dead": True, "message": reset.DEAD_LINK}, 410)
    return render(request, "accounts/reset.html", {"dead": False, "token": token, "errors": {}})


@router.post("/mot-de-passe/nouveau/{token}", name="page_reset_password_submit")
async def page_reset_password_submit(request: Request, token: str) -> Response:
    form = await _form(request)
    return _reset(request, token, form.get("password", ""), form.get("confirm", ""))


def _reset(request: Request, token: str, password: str, confirm: str) -> Response:
    try:
        with unit_of_work(request) as uow:
            done = reset.use_reset(uow, request.app.state.clock, token, password, confirm)
    except InvalidInput as exc:
        errors = {exc.field or "password": exc.message}
        return render(request, "accounts/reset.html", {"dead": False, "token": token, "errors": errors}, 422)
    if not done:
        return render(request, "accounts/reset.html", {"dead": True, "message": reset.DEAD_LINK}, 410)
    return render(
        request,
        "message.html",
        {"title": "Mot de passe changé", "message": "Votre mot de passe est changé. Connectez-vous avec le nouveau."},
    )
