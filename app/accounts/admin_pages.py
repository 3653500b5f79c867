"""Administration pages (admins only): people and their roles at /admin/utilisateurs, partner API keys at
/admin/cles. Every change goes through app.accounts, validated by the API's schemas (app.accounts.schemas)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as PydanticField
from starlette.datastructures import FormData

from app.accounts import service as accounts
from app.accounts.models import ApiKey, RoleGrant
from app.accounts.schemas import ApiKeyCreate, GrantIn, UserCreate, UserPatch
from app.authorization.rules import Principal, Role
from app.core.clock import Clock
from app.core.errors import Conflict, NotFound
from app.core.inputs import ascii_id
from app.core.unit_of_work import UnitOfWork
from app.http.dependencies import unit_of_work
from app.web.forms import Field, FormState, Group, record_validation
from app.web.templating import FLASH_MESSAGES, PageRoute, PageUser, render
from workflow.errors import InvalidInput

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=PageRoute)


FLASH_MESSAGES.update(
    {
        "utilisateur_cree": "Le compte a été créé.",
        "role_ajoute": "Le rôle a été attribué.",
        "role_retire": "Le rôle a été retiré.",
        "compte_desactive": "Le compte a été désactivé : ses sessions ont été fermées.",
        "compte_reactive": "Le compte a été réactivé.",
        "mot_de_passe_modifie": "Le mot de passe a été remplacé : les sessions de ce compte ont été fermées.",
        "cle_revoquee": "La clé a été révoquée : elle ne donne plus accès à l'API.",
    }
)


ROLE_LABELS = {
    Role.ADMIN.value: "Administrateur",
    Role.CONSULTANT.value: "Consultant du Mouvement",
    Role.PORTEUR.value: "Porteur de projet",
    Role.OBSERVATEUR.value: "Observateur",
}


SCOPE_LABELS = {"read": "Lecture", "write": "Écriture"}


MAX_KEY_DAYS = 3650


async def _form(request: Request) -> FormData:
    return await request.form()  # already read (and cached) by page_access for the CSRF field


Form = Annotated[FormData, Depends(_form)]


def _text(data: FormData, name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, name, {"section": "admin"} | context, status)


def _writing(request: Request) -> UnitOfWork:
    return unit_of_work(request)


def _reading(request: Request) -> UnitOfWork:
    """A unit of work that only reads (on SQLite: a plain BEGIN, no write lock)."""
    return unit_of_work(request, write=False)


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def _when(request: Request, value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(_clock(request).tz).strftime("%d/%m/%Y %H:%M")


def _projects(uow: UnitOfWork) -> list[tuple[str, str]]:
    return [(str(pid), f"{name} ({region})") for pid, name, region in uow.accounts.project_choices()]


def _regions(uow: UnitOfWork) -> list[str]:
    return uow.projects.regions()


def _id(value: str, what: str) -> int:
    row_id = ascii_id(value)
    if row_id is None:
        raise NotFound(f"{what} introuvable.")
    return row_id


@router.get("", name="page_admin")
def admin_home(request: Request, principal: PageUser) -> Response:
    return RedirectResponse("/admin/utilisateurs", status_code=303)


# --- users ----------------------------------------------------------------------------------------
def _grant_fields(projects: list[tuple[str, str]]) -> list[Field]:
    return [
        Field(
            "role",
            "Rôle",
            "select",
            options=tuple(ROLE_LABELS.items()),
            blank="— Aucun rôle —",
            hint="Administrateur : global. Consultant : tous les projets ou une région. "
            "Porteur : un projet. Observateur : un projet ou une région.",
        ),
        Field(
            "project_id",
            "Projet",
            "select",
            options=tuple(projects),
            blank="— Aucun projet en particulier —",
            hint="Pour un porteur (obligatoire) ou un observateur d'un seul projet.",
        ),
        Field(
            "region",
            "Région",
            "text",
            datalist="regions-connues",
            hint="Pour un consultant ou un observateur d'une région ; laissez vide pour tous les projets.",
        ),
    ]


def _user_form(projects: list[tuple[str, str]], values: dict[str, str] | None = None) -> FormState:
    account = [
        Field("email", "Adresse e-mail", "email", required=True, autocomplete="off"),
        Field("name", "Nom", "text", required=True, autocomplete="off"),
        Field(
            "password",
            "Mot de passe initial",
            "password",
            required=True,
            autocomplete="new-password",
            hint="10 caractères au moins ; à transmettre à la personne, qui pourra le faire changer.",
        ),
    ]
    return FormState(
        [Group("Compte", account), Group("Rôle et portée (facultatif)", _grant_fields(projects))], values or {}
    )


def _grant_form(projects: list[tuple[str, str]], values: dict[str, str] | None = None) -> FormState:
    fields = _grant_fields(projects)
    fields[0] = replace(fields[0], required=True, blank="— Choisir —")
    return FormState([Group("Attribuer un rôle", fields)], values or {})


def _password_form() -> FormState:
    return FormState(
        [
            Group(
                "Nouveau mot de passe",
                [
                    Field(
                        "password",
                        "Nouveau mot de passe",
                        "password",
                        required=True,
                        autocomplete="new-password",
                        hint="10 caractères au moins. Les sessions ouvertes de ce compte seront fermées.",
                    ),
                ],
            )
        ]
    )


def _grant_body(data: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    values = {n: _text(data, n) for n in ("role", "project_id", "region")}
    body = {n: v.strip() for n, v in values.items() if v.strip()}
    return body, values


GRANT_ALIASES = {"grants.0.role": "role", "grants.0.project_id": "project_id", "grants.0.region": "region"}


def _grant_label(g: RoleGrant, project_names: dict[str, str]) -> str:
    role = ROLE_LABELS.get(g.role, g.role)
    if g.project_id is not None:
        return f"{role} — projet {project_names.get(str(g.project_id), str(g.project_id))}"
    if g.region is not None:
        return f"{role} — région {g.region}"
    return f"{role} — tous les projets" if g.role != Role.ADMIN.value else role


def _users_page(request: Request, form: FormState | None = None, status: int = 200) -> Response:
    with _reading(request) as uow:
        projects = _projects(uow)
        names = dict(projects)
        users = [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "active": u.active,
                "last_login": _when(request, u.last_login_at),
                "grants": [_grant_label(g, names) for g in u.grants],
            }
            for u in accounts.list_users(uow)
        ]
        regions = _regions(uow)
    return _render(
        request, "admin_users.html", {"users": users, "form": form or _user_form(projects), "regions": regions}, status
    )


@router.get("/utilisateurs", name="page_admin_users")
def users_page(request: Request, principal: PageUser) -> Response:
    return _users_page(request)


@router.post("/utilisateurs", name="page_admin_user_create")
def user_create(request: Request, principal: PageUser, data: Form) -> Response:
    values = {n: _text(data, n) for n in ("email", "name", "role", "project_id", "region")}
    grant, _ = _grant_body(data)
    body = {
        "email": values["email"].strip(),
        "name": values["name"],
        "password": _text(data, "password"),
        "grants": [grant] if grant else [],
    }
    status = 422
    with _writing(request) as uow:
        form = _user_form(_projects(uow), values)
        try:
            parsed = UserCreate.model_validate(body)
            user = accounts.create_user(
                uow,
                email=parsed.email,
                name=parsed.name,
                password=parsed.password,
                grants=[(g.role, g.project_id, g.region) for g in parsed.grants],
                now=_clock(request).now(),
            )
            user_id = user.id
        except ValidationError as exc:
            record_validation(form, exc, GRANT_ALIASES)
        except InvalidInput as exc:
            form.fail(exc.field, exc.message)
        except Conflict as exc:  # the only conflict of a creation: the e-mail is taken
            form.fail("email", exc.message)
            status = 409
        except NotFound as exc:
            form.fail("project_id", exc.message)
    if form.failed:
        return _users_page(request, form, status)
    return RedirectResponse(f"/admin/utilisateurs/{user_id}?ok=utilisateur_cree", status_code=303)


def _user_page(
    request: Request,
    principal: Principal,
    user_id: int,
    *,
    grant_form: FormState | None = None,
    password_form: FormState | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    with _reading(request) as uow:
        user = accounts.get_user(uow, user_id)
        projects = _projects(uow)
        names = dict(projects)
        ctx = {
            "user": {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "active": user.active,
                "created": _when(request, user.created_at),
                "last_login": _when(request, user.last_login_at),
                "is_me": principal.id == user.id,
            },
            "grants": [{"id": g.id, "label": _grant_label(g, names)} for g in user.grants],
            "grant_form": grant_form or _grant_form(projects),
            "password_form": password_form or _password_form(),
            "regions": _regions(uow),
            "general": general or [],
        }
    return _render(request, "admin_user.html", ctx, status)


@router.get("/utilisateurs/{user_id}", name="page_admin_user")
def user_page(request: Request, user_id: str, principal: PageUser) -> Response:
    return _user_page(request, principal, _id(user_id, "Utilisateur"))


@router.post("/utilisateurs/{user_id}/roles", name="page_admin_grant_add")
def grant_add(request: Request, user_id: str, principal: PageUser, data: Form) -> Response:
    uid = _id(user_id, "Utilisateur")
    body, values = _grant_body(data)
    status = 422
    with _writing(request) as uow:
        accounts.get_user(uow, uid)  # 404 before anything else
        form = _grant_form(_projects(uow), values)
        try:
            parsed = GrantIn.model_validate(body)
            accounts.add_grant(uow, uid, role=parsed.role, project_id=parsed.project_id, region=parsed.region)
        except ValidationError as exc:
            record_validation(form, exc)
        except InvalidInput as exc:
            form.fail(exc.field, exc.message)
        except Conflict as exc:
            form.fail(None, exc.message)
            status = 409
        except NotFound as exc:
            form.fail("project_id", exc.message)
    if form.failed:
        return _user_page(request, principal, uid, grant_form=form, status=status)
    return RedirectResponse(f"/admin/utilisateurs/{uid}?ok=role_ajoute", status_code=303)


@router.post("/utilisateurs/{user_id}/roles/{grant_id}/retirer", name="page_admin_grant_remove")
def grant_remove(request: Request, user_id: str, grant_id: str, principal: PageUser) -> Response:
    uid, gid = _id(user_id, "Utilisateur"), _id(grant_id, "Rôle")
    with _writing(request) as uow:
        user = accounts.get_user(uow, uid)
        grant = next((g for g in user.grants if g.id == gid), None)
        if grant is not None and uid == principal.id and grant.role == Role.ADMIN.value:
            refusal = (
                "Vous ne pouvez pas retirer votre propre rôle d'administrateur : demandez-le à un autre administrateur."
            )
        else:
            refusal = None
            accounts.remove_grant(uow, uid, gid)
    if refusal:
        return _user_page(request, principal, uid, general=[refusal], status=409)
    return RedirectResponse(f"/admin/utilisateurs/{uid}?ok=role_retire", status_code=303)


@router.post("/utilisateurs/{user_id}/activation", name="page_admin_user_active")
def user_active(request: Request, user_id: str, principal: PageUser, data: Form) -> Response:
    uid = _id(user_id, "Utilisateur")
    active = _text(data, "active") == "1"
    if not active and uid == principal.id:
        return _user_page(
            request, principal, uid, status=409, general=["Vous ne pouvez pas désactiver votre propre compte."]
        )
    with _writing(request) as uow:
        accounts.update_user(uow, uid, active=active)
    code = "compte_reactive" if active else "compte_desactive"
    return RedirectResponse(f"/admin/utilisateurs/{uid}?ok={code}", status_code=303)


@router.post("/utilisateurs/{user_id}/mot-de-passe", name="page_admin_user_password")
def user_password(request: Request, user_id: str, principal: PageUser, data: Form) -> Response:
    uid = _id(user_id, "Utilisateur")
    form = _password_form()
    with _writing(request) as uow:
        accounts.get_user(uow, uid)
        try:
            parsed = UserPatch.model_validate({"password": _text(data, "password")})
            accounts.update_user(uow, uid, password=parsed.password)
        except ValidationError as exc:
            record_validation(form, exc)
        except InvalidInput as exc:
            form.fail(exc.field, exc.message)
    if form.failed:
        return _user_page(request, principal, uid, password_form=form, status=422)
    return RedirectResponse(f"/admin/utilisateurs/{uid}?ok=mot_de_passe_modifie", status_code=303)


# --- API keys -------------------------------------------------------------------------------------
class KeyFormExtras(BaseModel):
    """What the key form asks beyond the API's body: a lifetime in days instead of a date."""

    model_config = ConfigDict(extra="forbid")
    expires_in_days: int | None = PydanticField(None, ge=1, le=MAX_KEY_DAYS)


def _key_form(projects: list[tuple[str, str]], values: dict[str, str] | None = None) -> FormState:
    fields = [
        Field(
            "name",
            "Nom de la clé",
            "text",
            required=True,
            hint="Le système partenaire et son usage, par exemple « Vilogia – suivi ».",
        ),
        Field(
            "scopes",
            "Portées",
            "checkboxes",
            required=True,
            options=tuple(SCOPE_LABELS.items()),
            hint="Lecture seule, ou lecture et écriture.",
        ),
        Field(
            "consultant",
            "Clé du Mouvement des Régies (consultant)",
            "checkbox",
            hint="Peut aussi enregistrer l'expertise, attribuer ou ajourner le label et replanifier ; "
            "demande la portée écriture.",
        ),
    ]
    limits = [
        Field("regions", "Régions", "lines", hint="Une région par ligne ; laissez vide pour toutes."),
        Field(
            "project_ids",
            "Projets",
            "checkboxes",
            options=tuple(projects),
            hint="Cochez pour limiter la clé à ces projets ; aucun : pas de limite par projet.",
        ),
        Field(
            "expires_in_days",
            "Durée de validité (en jours)",
            "number",
            min=1,
            max=MAX_KEY_DAYS,
            hint="Laissez vide pour une clé sans expiration.",
        ),
    ]
    if not projects:
        limits = [f for f in limits if f.name != "project_ids"]
    return FormState([Group("Clé", fields), Group("Restrictions (facultatif)", limits)], values or {})


def _key_status(request: Request, k: ApiKey) -> str:
    if k.revoked_at is not None:
        return f"Révoquée le {_when(request, k.revoked_at)}"
    if k.expires_at is not None and k.expires_at <= _clock(request).now():
        return "Expirée"
    return "Active"


def _keys_page(request: Request, form: FormState | None = None, status: int = 200) -> Response:
    with _reading(request) as uow:
        projects = _projects(uow)
        names = dict(projects)
        keys = [
            {
                "id": k.id,
                "prefix": k.prefix,
                "name": k.name,
                "scopes": ", ".join(SCOPE_LABELS.get(sc, sc) for sc in k.scopes),
                "consultant": k.consultant,
                "regions": ", ".join(k.regions or []),
                "projects": ", ".join(names.get(p, p) for p in (k.project_ids or [])),
                "expires": _when(request, k.expires_at),
                "last_used": _when(request, k.last_used_at),
                "created": _when(request, k.created_at),
                "created_by": k.created_by or "—",
                "status": _key_status(request, k),
                "revoked": k.revoked_at is not None,
            }
            for k in accounts.list_api_keys(uow)
        ]
    return _render(request, "admin_keys.html", {"keys": keys, "form": form or _key_form(projects)}, status)


@router.get("/cles", name="page_admin_keys")
def keys_page(request: Request, principal: PageUser) -> Response:
    return _keys_page(request)


@router.post("/cles", name="page_admin_key_create")
def key_create(request: Request, principal: PageUser, data: Form) -> Response:
    scopes = [v for v in data.getlist("scopes") if isinstance(v, str)]
    project_ids = [v for v in data.getlist("project_ids") if isinstance(v, str)]
    regions = [line.strip() for line in _text(data, "regions").splitlines() if line.strip()]
    values = {
        "name": _text(data, "name"),
        "scopes": "\n".join(scopes),
        "regions": _text(data, "regions"),
        "project_ids": "\n".join(project_ids),
        "expires_in_days": _text(data, "expires_in_days"),
        "consultant": "1" if data.get("consultant") is not None else "",
    }
    now = _clock(request).now()
    with _writing(request) as uow:
        form = _key_form(_projects(uow), values)
        new = None
        days_text = values["expires_in_days"].strip()
        expires_at = None
        try:
            extras = KeyFormExtras.model_validate({"expires_in_days": days_text} if days_text else {})
            expires_at = now + timedelta(days=extras.expires_in_days) if extras.expires_in_days else None
        except ValidationError as exc:
            record_validation(form, exc)
        parsed = None
        try:
            parsed = ApiKeyCreate.model_validate(
                {
                    "name": values["name"],
                    "scopes": scopes,
                    "regions": regions or None,
                    "project_ids": project_ids or None,
                    "expires_at": expires_at,
                    "consultant": bool(values["consultant"]),
                }
            )
        except ValidationError as exc:
            record_validation(form, exc)
        if parsed is not None and not form.failed:
            try:
                new = accounts.create_api_key(
                    uow,
                    name=parsed.name,
                    scopes=parsed.scopes,
                    regions=parsed.regions,
                    project_ids=parsed.project_ids,
                    expires_at=parsed.expires_at,
                    consultant=parsed.consultant,
                    created_by=principal.label,
                    now=now,
                )
            except InvalidInput as exc:
                form.fail(exc.field, exc.message)
            except NotFound as exc:
                form.fail("project_ids", exc.message)
        if new is not None:
            shown = {
                "prefix": new.row.prefix,
                "name": new.row.name,
                "scopes": ", ".join(SCOPE_LABELS.get(sc, sc) for sc in new.row.scopes),
                "expires": _when(request, new.row.expires_at),
            }
    if new is None:
        return _keys_page(request, form, 422)
    key = new.key
    # The key itself, once, in this answer only: never stored, never in a URL, never cached.
    response = _render(request, "admin_key_created.html", {"key": key, "created": shown})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@router.get("/cles/{key_id}/revoquer", name="page_admin_key_revoke_confirm")
def key_revoke_confirm(request: Request, key_id: str, principal: PageUser) -> Response:
    with _reading(request) as uow:
        k = accounts.get_api_key(uow, _id(key_id, "Clé d'API"))
        ctx = {
            "key": {
                "id": k.id,
                "prefix": k.prefix,
                "name": k.name,
                "status": _key_status(request, k),
                "revoked": k.revoked_at is not None,
            }
        }
    return _render(request, "admin_key_revoke.html", ctx)


@router.post("/cles/{key_id}/revoquer", name="page_admin_key_revoke")
def key_revoke(request: Request, key_id: str, principal: PageUser) -> Response:
    kid = _id(key_id, "Clé d'API")
    with _writing(request) as uow:
        accounts.revoke_api_key(uow, key_id=kid, now=_clock(request).now())
    return RedirectResponse("/admin/cles?ok=cle_revoquee", status_code=303)
