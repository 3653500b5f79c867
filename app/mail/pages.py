"""Pages: a user's e-mail preference (/preferences/e-mail) and the one-click unsubscribe
(/desabonnement/{token}, RFC 8058: a POST with `List-Unsubscribe=One-Click` unsubscribes; a GET shows
a confirmation form, so that a link checker following the URL changes nothing)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.core.clock import Clock
from app.http.dependencies import unit_of_work
from app.mail import service
from app.mail.models import MODES
from app.web.templating import FLASH_MESSAGES, PageRoute, PageUser, render
from workflow.errors import InvalidInput

router = APIRouter(route_class=PageRoute)

FLASH_MESSAGES.update({"preferences-e-mail": "Votre préférence d'e-mail est enregistrée."})


@router.get("/preferences/e-mail", name="page_mail_preferences")
def page_mail_preferences(request: Request, principal: PageUser) -> Response:
    mode = "immediat"
    if principal.kind == "user" and principal.id is not None:
        with unit_of_work(request, write=False) as uow:
            mode = service.mode_of(uow.session, principal.id)
    choices = [(m, service.MODE_LABELS[m]) for m in MODES]
    return render(request, "mail/preferences.html", {"mode": mode, "choices": choices, "error": None})


@router.post("/preferences/e-mail", name="page_mail_preferences_save")
def page_mail_preferences_save(request: Request, principal: PageUser) -> Response:
    form = getattr(request.state, "form", None) or {}
    mode = form.get("mode")
    clock: Clock = request.app.state.clock
    try:
        if principal.kind != "user" or principal.id is None:
            raise InvalidInput("Réservé aux personnes connectées.", "mode")
        with unit_of_work(request) as uow:
            service.set_mode(uow, clock, principal.id, mode if isinstance(mode, str) else "")
    except InvalidInput as exc:
        choices = [(m, service.MODE_LABELS[m]) for m in MODES]
        return render(request, "mail/preferences.html", {"mode": "", "choices": choices, "error": exc.message}, 422)
    return RedirectResponse("/preferences/e-mail?ok=preferences-e-mail", status_code=303)


def _unsubscribe_user(request: Request, token: str) -> int | None:
    return service.user_of_token(request.app.state.settings, token) if len(token) <= 100 else None


@router.get("/desabonnement/{token}", name="unsubscribe_page")
def unsubscribe_page(request: Request, token: str) -> Response:
    if _unsubscribe_user(request, token) is None:
        return render(request, "mail/unsubscribe.html", {"state": "invalide", "token": token}, 404)
    return render(request, "mail/unsubscribe.html", {"state": "confirmer", "token": token})


@router.post("/desabonnement/{token}", name="unsubscribe_one_click")
def unsubscribe_one_click(request: Request, token: str) -> Response:
    user_id = _unsubscribe_user(request, token)
    if user_id is None:
        return render(request, "mail/unsubscribe.html", {"state": "invalide", "token": token}, 404)
    with unit_of_work(request) as uow:
        if uow.accounts.user(user_id) is None:
            return render(request, "mail/unsubscribe.html", {"state": "invalide", "token": token}, 404)
        service.set_mode(uow, request.app.state.clock, user_id, "aucun")
    return render(request, "mail/unsubscribe.html", {"state": "fait", "token": token})
