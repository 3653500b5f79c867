"""Logging a person in over HTTP: what the API's /auth/login and the login page share."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import lru_cache

from fastapi import Request, Response

from app.accounts import authentication
from app.accounts.authentication import SESSION_COOKIE, LoginResult, ThrottlePolicy
from app.core.clock import Clock
from app.core.settings import Settings
from app.http.dependencies import unit_of_work

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The key of a request whose X-Forwarded-For the server in front of the application (uvicorn's
# proxy_headers) believed although REGIEFLOW_TRUSTED_PROXIES trusts no one: its true peer is unknown.
UNVERIFIED_FORWARD = "relais-non-verifie"


def _address(text: str) -> Address | None:
    """An address as written in a peer or an X-Forwarded-For entry (`1.2.3.4:56`, `[::1]:56` too);
    IPv4-mapped IPv6 as IPv4."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in networks)


def _key(address: Address | None, written: str) -> str:
    """What failures are counted under: the address, an IPv6 address's /64 (one subscriber's prefix:
    anyone holds a whole /64), or the peer as written when it is no address (a Unix socket)."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else written[:100]


def client_ip(request: Request, trusted_proxies: list[str]) -> str:
    """The client's address for the login throttle. X-Forwarded-For is believed only from a peer in
    REGIEFLOW_TRUSTED_PROXIES: walking it from the right (each proxy appends the peer it saw), the
    first entry that is not a trusted proxy is the client (an unreadable entry stops the walk at the
    last trusted hop).

    The peer is `request.client`, which uvicorn's proxy_headers may already have replaced by an entry of
    X-Forwarded-For when the real peer is in uvicorn's forwarded_allow_ips (by default 127.0.0.1 and
    ::1). Such a peer appears in the header: it is believed only if trusted proxies are configured
    (then `regieflow serve` gives uvicorn the same list) and every hop after it is one of them;
    otherwise all such requests share one key, UNVERIFIED_FORWARD, so that a forged header never buys
    a fresh counter."""
    networks = _networks(tuple(trusted_proxies))
    peer_text = request.client.host if request.client else "inconnu"
    peer = _address(peer_text)
    chain = [e.strip() for h in request.headers.getlist("x-forwarded-for") for e in h.split(",")]
    chain = [e for e in chain if e]
    if not chain:
        return _key(peer, peer_text)
    hops = [_address(e) for e in chain]
    if _trusted(peer, networks):
        client = peer
        for hop in reversed(hops):
            if hop is None:
                break
            client = hop
            if not _trusted(hop, networks):
                break
        return _key(client, peer_text)
    if peer is None:  # no address (a Unix socket, a test client): forged if it was taken from the header
        return UNVERIFIED_FORWARD if any(peer_text in e for e in chain) else _key(peer, peer_text)
    if peer in hops:
        after = hops[len(hops) - 1 - hops[::-1].index(peer) + 1 :]
        if networks and all(_trusted(h, networks) for h in after):
            return _key(peer, peer_text)
        return UNVERIFIED_FORWARD
    return _key(peer, peer_text)


def policy(settings: Settings) -> ThrottlePolicy:
    minutes = timedelta(minutes=settings.login_block_minutes)
    return ThrottlePolicy(settings.login_max_failures, minutes, minutes, settings.login_max_failures_per_address)


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
            client_ip=client_ip(request, settings.trusted_proxies),
            now=clock.now(),
            lifetime=timedelta(hours=settings.session_hours),
            policy=policy(settings),
        )
