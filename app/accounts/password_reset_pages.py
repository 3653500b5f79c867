"""Pages of "Mot de passe oublié" (app/accounts/password_reset.py): the request form, the answer (the
same whether the address is known or not), and the new password's form behind the link."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.accounts import password_reset as reset
from app.http.dependencies import unit_of_work
from app.web.templating import PageRoute, render
from workflow.errors import InvalidInput

router = APIRouter(route_class=PageRoute)


async def _form(request: Request) -> dict[str, str]:
    try:
        form = await request.form()
    except Exception:
        return {}
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.get("/mot-de-passe-oublie", name="page_forgot_password")
def page_forgot_password(request: Request) -> Response:
    return render(request, "accounts/forgot.html", {"sent": False, "email": ""})


@router.post("/mot-de-passe-oublie", name="page_forgot_password_submit")
async def page_forgot_password_submit(request: Request) -> Response:
    email = (await _form(request)).get("email", "")[:300]
    return _forgot(request, email)


def _forgot(request: Request, email: str) -> Response:
    with unit_of_work(request) as uow:
        reset.request_reset(uow, request.app.state.settings, request.app.state.clock, email)
    answer = reset.same_answer(request.app.state.settings)
    return render(request, "accounts/forgot.html", {"sent": True, "email": "", "message": answer})


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
