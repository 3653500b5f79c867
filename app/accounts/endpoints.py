"""Login and logout for people (session cookie), and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.accounts import authentication
from app.accounts.authentication import SESSION_COOKIE
from app.accounts.login import log_in, set_session_cookie
from app.accounts.schemas import LoginBody, MeRead
from app.http.dependencies import Authorized, ClockDep, PrincipalDep, SettingsDep, WriteUow

router = APIRouter(prefix="/auth", tags=["authentication"], dependencies=[Authorized])


@router.post(
    "/login",
    response_model=MeRead,
    name="login",
    responses={401: {"description": "Wrong e-mail or password"}, 429: {"description": "Too many failures"}},
)
def login(body: LoginBody, request: Request, response: Response, settings: SettingsDep, clock: ClockDep) -> MeRead:
    result = log_in(request, settings, clock, body.email, body.password)
    set_session_cookie(response, request, settings, result)
    roles = sorted({g.role for g in result.user.grants})
    return MeRead(
        kind="user",
        label=f"user:{result.user.email}",
        name=result.user.name,
        roles=roles,
        is_admin="admin" in roles,
        csrf_token=result.csrf_token,
    )


@router.post("/logout", status_code=204, name="logout")
def logout(principal: PrincipalDep, uow: WriteUow) -> Response:
    with uow:
        authentication.logout(uow, principal.session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeRead, name="me")
def me(principal: PrincipalDep) -> MeRead:
    return MeRead(
        kind=principal.kind,
        label=principal.label,
        name=principal.name,
        roles=list(principal.roles),
        is_admin=principal.is_admin,
        csrf_token=principal.csrf_token,
    )
