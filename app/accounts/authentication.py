"""Authentication: API keys (Bearer), session cookies for people, login with throttling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request

from app.accounts.models import User, WebSession
from app.authorization.rules import ANONYMOUS, Principal, key_principal, user_principal
from app.core.clock import Clock
from app.core.errors import Throttled, Unauthenticated
from app.core.security import new_token, same, sha256_hex, split_api_key, verify_password
from app.core.unit_of_work import UnitOfWork

SESSION_COOKIE = "regieflow_session"


KEY_TOUCH_EVERY = timedelta(seconds=60)


BAD_KEY = "Clé d'API invalide, expirée ou révoquée."


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("En-tête Authorization attendu : « Bearer <clé d'API> ».")
    return value.strip()


def authenticate(request: Request, uow: UnitOfWork | None = None) -> Principal:
    """The caller, from a Bearer key or a session cookie; anonymous when neither is sent.

    `uow`: read in the caller's unit of work (check_access reuses it, one connection per request). A
    key's last use is recorded at most every KEY_TOUCH_EVERY: in `uow` itself when it is a writing one
    (then it commits, so it must not carry the request's Idempotency-Key hook:
    `unit_of_work(request, effect=False)`); from a reading one (a plain BEGIN on SQLite, which takes no
    write lock), it is left to `record_key_use`, which the caller runs once that unit of work is closed.
    Without `uow` (the Idempotency-Key middleware, the bench server), a reading unit of work of its own,
    then record_key_use."""
    if uow is None:
        from app.http.dependencies import unit_of_work

        try:
            with unit_of_work(request, write=False) as own:
                return authenticate(request, own)
        finally:
            record_key_use(request)
    clock: Clock = request.app.state.clock
    now = clock.now()
    key = _bearer(request)
    if key is not None:
        return _key_caller(request, uow, key, now)
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) < 200:
        ws = uow.accounts.web_session(sha256_hex(token))
        if ws is not None and ws.expires_at > now:
            user = uow.accounts.active_user(ws.user_id)
            if user is not None:
                return user_principal(user, via_cookie=True, csrf_token=ws.csrf_token, session_id=ws.id)
    return ANONYMOUS


KEY_USE = "regieflow_key_use"  # request.state: (key id, when), the last use record_key_use still has to write


def _key_caller(request: Request, uow: UnitOfWork, key: str, now: datetime) -> Principal:
    prefix = split_api_key(key)
    if prefix is None:
        raise Unauthenticated(BAD_KEY)
    row = uow.accounts.api_key_for_authentication(prefix)
    if (
        row is None
        or not same(row.secret_hash, sha256_hex(key))
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise Unauthenticated(BAD_KEY)
    principal = key_principal(row)
    if row.last_used_at is None or now - row.last_used_at > KEY_TOUCH_EVERY:
        if uow.writes:
            uow.accounts.touch_api_key(row.id, now, unless_since=now - KEY_TOUCH_EVERY)
            uow.commit()
        else:
            setattr(request.state, KEY_USE, (row.id, now))
    return principal


def record_key_use(request: Request) -> None:
    """Write the key's last use that `authenticate` found due while reading in a reading unit of work:
    one UPDATE in a short writing unit of work of its own (BEGIN IMMEDIATE on SQLite), once the reading
    one is closed (one connection per request at a time). At most once per key every KEY_TOUCH_EVERY."""
    due: tuple[int, datetime] | None = getattr(request.state, KEY_USE, None)
    if due is None:
        return
    delattr(request.state, KEY_USE)
    from app.http.dependencies import unit_of_work

    key_id, now = due
    with unit_of_work(request, effect=False) as uow:
        uow.accounts.touch_api_key(key_id, now, unless_since=now - KEY_TOUCH_EVERY)
        uow.commit()


# --- login, throttled ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ThrottlePolicy:
    """`max_failures` attempts per e-mail and `max_failures_per_address` per client address within
    `window`; the key that reaches its limit is blocked for `block`."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    block: timedelta = timedelta(minutes=15)
    max_failures_per_address: int = 50


THROTTLED = "Trop de tentatives de connexion : réessayez plus tard."
WRONG_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."


def _reserve(uow: UnitOfWork, limits: list[tuple[str, int]], now: datetime, policy: ThrottlePolicy) -> list[datetime]:
    """Take one attempt of every key (the e-mail first, then the address: always in that order, so two
    logins never wait on each other's rows), or none: a blocked key raises Throttled, and the unit of
    work, left without a commit, gives back the attempts already taken."""
    starts = []
    for key, limit in limits:
        start = uow.accounts.reserve_attempt(key, now=now, window=policy.window, block=policy.block, limit=limit)
        if start is None:
            until = uow.accounts.blocked_until(key) or now + policy.block  # unblocked meanwhile: rare
            raise Throttled(THROTTLED, max(1, int((until - now).total_seconds()) + 1))
        starts.append(start)
    return starts


@dataclass(frozen=True)
class LoginResult:
    user: User
    token: str
    csrf_token: str
    expires_at: datetime


def login(
    uow: UnitOfWork,
    email: str,
    password: str,
    *,
    client_ip: str,
    now: datetime,
    lifetime: timedelta,
    policy: ThrottlePolicy,
) -> LoginResult:
    """Check the password; never say which of e-mail or password was wrong. `uow` must not carry the
    request's Idempotency-Key hook: it commits a refused attempt too.

    The attempt is reserved first, atomically and committed, then the password is checked (argon2id,
    outside any transaction): N simultaneous attempts on one account check at most
    `policy.max_failures` passwords between them, and once the account's attempts are all taken even
    the right password is refused (429) until the block ends. A reserved attempt counts as a failure
    unless the password is right: then the account's failures are forgotten and the address gets its
    attempt back, so a shared address is blocked by failures only."""
    email = email.strip().lower().replace("\x00", "\ufffd")  # the login form too: PostgreSQL refuses NUL
    email_key, address_key = f"email:{email}"[:300], f"ip:{client_ip}"[:300]
    limits = [(email_key, policy.max_failures), (address_key, policy.max_failures_per_address)]
    _, address_window = _reserve(uow, limits, now, policy)
    user = uow.accounts.user_by_email(email)
    stored_hash = user.password_hash if user is not None and user.active else None
    uow.commit()  # the attempt is spent from here on, whatever happens to this request
    if not verify_password(stored_hash, password) or user is None:
        raise Unauthenticated(WRONG_CREDENTIALS)
    current = uow.accounts.active_user(user.id)  # not deactivated while the password was checked
    if current is None:
        raise Unauthenticated(WRONG_CREDENTIALS)
    uow.accounts.forget_throttle(email_key)
    uow.accounts.release_attempt(address_key, window_start=address_window, limit=policy.max_failures_per_address)
    token, csrf = new_token(), new_token()
    expires = now + lifetime
    uow.accounts.add_web_session(
        WebSession(
            token_hash=sha256_hex(token), user_id=current.id, csrf_token=csrf, created_at=now, expires_at=expires
        )
    )
    uow.accounts.purge_web_sessions(now)
    uow.accounts.purge_throttles(now, policy.window)
    current.last_login_at = now
    uow.commit()
    return LoginResult(current, token, csrf, expires)


def logout(uow: UnitOfWork, session_id: int | None) -> None:
    if session_id is not None:
        uow.accounts.end_web_session(session_id)
        uow.commit()
