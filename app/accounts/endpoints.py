"""Login and logout for people (session cookie), and who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from app.accounts import authentication as accounts_authentication
from app.accounts.authentication import SESSION_COOKIE, LoginResult, ThrottlePolicy
from app.accounts.schemas import LoginBody, MeRead
from app.core.settings import Settings
from app.http.dependencies import Authorized, ClockDep, PrincipalDep, SettingsDep

router = APIRouter(prefix="/auth", tags=["authentication"], dependencies=[Authorized])


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "inconnu"


def policy(settings: Settings) -> ThrottlePolicy:
    minutes = timedelta(minutes=settings.login_block_minutes)
    return ThrottlePolicy(settings.login_max_failures, minutes, minutes)


def set_session_cookie(response: Response, request: Request, settings: Settings, result: LoginResult) -> None:
    secure = settings.secure_cookies if settings.secure_cookies is not None else request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def do_login(request: Request, settings: Settings, clock, email: str, password: str) -> LoginResult:
    with request.app.state.session_factory() as session:
        return accounts_authentication.login(
            session,
            email,
            password,
            client_ip=client_ip(request),
            now=clock.now(),
            lifetime=timedelta(hours=settings.session_hours),
            policy=policy(settings),
        )


@router.post(
    "/login",
    response_model=MeRead,
    name="login",
    responses={401: {"description": "Wrong e-mail or password"}, 429: {"description": "Too many failures"}},
)
def login(body: LoginBody, request: Request, response: Response, settings: SettingsDep, clock: ClockDep) -> MeRead:
    result = do_login(request, settings, clock, body.email, body.password)
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
def logout(request: Request, principal: PrincipalDep) -> Response:
    with request.app.state.session_factory() as session:
        accounts_authentication.logout(session, principal.session_id)
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
