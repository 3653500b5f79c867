"""Logging a person in over HTTP: what the API's /auth/login and the login page share."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response

from app.accounts import authentication
from app.accounts.authentication import SESSION_COOKIE, LoginResult, ThrottlePolicy
from app.core.clock import Clock
from app.core.settings import Settings
from app.http.dependencies import unit_of_work


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


def log_in(request: Request, settings: Settings, clock: Clock, email: str, password: str) -> LoginResult:
    """Check the password (throttled) and open a session. A refusal commits its failure counters, so the
    unit of work is not the request's effect: it carries no Idempotency-Key hook."""
    with unit_of_work(request, effect=False) as uow:
        return authentication.login(
            uow,
            email,
            password,
            client_ip=client_ip(request),
            now=clock.now(),
            lifetime=timedelta(hours=settings.session_hours),
            policy=policy(settings),
        )
