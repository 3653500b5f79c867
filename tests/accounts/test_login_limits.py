"""Login limits that hold under concurrency: bursts of parallel attempts fired at a served application
(uvicorn in a thread, as `regieflow serve` runs it: proxy_headers on, 127.0.0.1 trusted by uvicorn),
argon2 verifications counted, per-account and per-address limits, X-Forwarded-For only from trusted
proxies."""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.requests import Request

from app.accounts.login import UNVERIFIED_FORWARD, client_ip
from app.accounts.models import LoginThrottle, WebSession
from app.core import security
from tests.support import serving
from tests.support.accounts import PASSWORD, REGION_A, add_user
from tests.support.api import API

WRONG = "Adresse e-mail ou mot de passe incorrect."
THROTTLED = "Trop de tentatives de connexion : réessayez plus tard."
BAD = "mauvais mot de passe"


class CountingHasher(PasswordHasher):
    """Argon2id with cheap parameters that counts its verifications and makes each one last `delay`
    (what a real argon2id check costs): the window in which parallel attempts used to slip through.
    `gate`, when set, holds every wrong password's check until it opens."""

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.delay, self.calls, self.lock = delay, 0, threading.Lock()
        self.gate: threading.Event | None = None

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.calls += 1
        if self.gate is not None and password != PASSWORD:
            self.gate.wait(30)
        time.sleep(self.delay)
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch, fast_passwords: None) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(security, "_hasher", counting)
    return counting


@pytest.fixture(scope="module")
def _served_app(_one_app: Any) -> Iterator[str]:
    """The application served by uvicorn with the options `regieflow serve` gives it (proxy_headers on,
    uvicorn's default forwarded_allow_ips: 127.0.0.1 and ::1)."""
    with serving.served(_one_app, proxy_headers=True, forwarded_allow_ips="127.0.0.1,::1") as url:
        yield url


@pytest.fixture
def served(_served_app: str, committed_db: Any, app: Any) -> str:
    """The served app's base URL with this test's (committed, emptied) tables, settings and clock."""
    return _served_app


def limits(app: Any, **changes: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update=changes)


def burst(base: str, attempts: list[tuple[str, str, dict[str, str]]]) -> list[httpx.Response]:
    """Fire every (e-mail, password, headers) login at once, one thread and connection each."""
    barrier = threading.Barrier(len(attempts))
    answers: list[httpx.Response | None] = [None] * len(attempts)

    def one(i: int) -> None:
        email, password, headers = attempts[i]
        with httpx.Client(base_url=base, timeout=60) as c:
            barrier.wait(timeout=30)
            answers[i] = c.post(f"{API}/auth/login", json={"email": email, "password": password}, headers=headers)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(attempts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(a is not None for a in answers), "a login got no answer"
    return [a for a in answers if a is not None]


def assert_refusals_say_nothing(answers: list[httpx.Response], block_minutes: int) -> None:
    for r in answers:
        assert r.status_code in (401, 429), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "regieflow_session" not in r.headers.get("set-cookie", "")
        if r.status_code == 401:
            assert r.json()["detail"] == WRONG
        else:
            assert r.json()["detail"] == THROTTLED
            assert 0 < int(r.headers["Retry-After"]) <= block_minutes * 60 + 1


def counters(app: Any) -> dict[str, int]:
    with app.state.session_factory() as s:
        return {r.key: r.failures for r in s.scalars(select(LoginThrottle))}


def sessions(app: Any) -> int:
    with app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(WebSession)) or 0)


# --- one account: N parallel wrong passwords check at most the limit ----------------------------
@pytest.mark.parametrize(("limit", "size"), [(5, 10), (5, 40), (1, 12), (3, 25), (5, 5)])
def test_a_burst_of_wrong_passwords_checks_at_most_the_limit(app, served, hasher, limit, size) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    limits(app, login_max_failures=limit)
    answers = burst(served, [("ana@example.fr", BAD, {})] * size)
    checked = hasher.calls
    assert checked == min(size, limit), f"{checked} passwords checked for a limit of {limit}"
    assert [r.status_code for r in answers].count(401) == min(size, limit)
    assert [r.status_code for r in answers].count(429) == size - min(size, limit)
    assert_refusals_say_nothing(answers, app.state.settings.login_block_minutes)
    assert counters(app)["email:ana@example.fr"] == min(size, limit)
    # Blocked now, the right password too, and it costs no verification.
    r = httpx.post(f"{served}{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
    assert (r.status_code == 429) == (size >= limit) and hasher.calls == checked + (size < limit)


def test_bursts_of_random_sizes_and_unknown_accounts(app, served, hasher) -> None:
    """Property-style: bursts of generated sizes, on a known account and on an unknown e-mail alike
    (a burst on a name nobody has checks the dummy hash, as many times and no more)."""
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    rng = random.Random(11)
    limit = app.state.settings.login_max_failures
    for round_, size in enumerate(rng.sample(range(2, 48), 4)):
        email = "ana@example.fr" if round_ % 2 == 0 else f"personne{round_}@example.fr"
        before = hasher.calls
        with app.state.session_factory() as s:  # a fresh account counter (the address has 50)
            s.query(LoginThrottle).delete()
            s.commit()
        answers = burst(served, [(email, BAD, {})] * size)
        assert hasher.calls - before == min(size, limit), (size, email)
        assert_refusals_say_nothing(answers, app.state.settings.login_block_minutes)


def test_the_right_password_inside_a_burst_gets_no_session_once_the_limit_is_taken(app, served, hasher) -> None:
    """The wrong passwords' checks are held open: the limit is taken by attempts still being checked,
    and the right password sent meanwhile is refused without a check and without a session."""
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    limit = app.state.settings.login_max_failures
    hasher.gate = threading.Event()
    results: list[list[httpx.Response]] = []
    firing = threading.Thread(target=lambda: results.append(burst(served, [("ana@example.fr", BAD, {})] * 40)))
    firing.start()
    try:
        deadline = time.monotonic() + 30
        while hasher.calls < limit and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the other 35 are answered 429 meanwhile
        assert hasher.calls == limit
        r = httpx.post(f"{served}{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
        assert r.json()["detail"] == THROTTLED and "regieflow_session" not in r.headers.get("set-cookie", "")
    finally:
        hasher.gate.set()
        firing.join(timeout=60)
    assert hasher.calls == limit and sessions(app) == 0
    assert sorted(x.status_code for x in results[0]) == [401] * limit + [429] * (40 - limit)


def test_a_right_password_before_the_limit_logs_in_and_forgives(app, served, hasher) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    limit = app.state.settings.login_max_failures
    burst(served, [("ana@example.fr", BAD, {})] * (limit - 1))
    r = httpx.post(f"{served}{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
    assert r.status_code == 200 and sessions(app) == 1
    assert "email:ana@example.fr" not in counters(app)  # forgotten: the next mistake is the first
    assert [x.status_code for x in burst(served, [("ana@example.fr", BAD, {})] * 2)] == [401, 401]


# --- one address: a much higher limit, and only failures count -----------------------------------
def test_one_address_failures_do_not_lock_out_other_accounts_below_its_own_limit(app, served, hasher) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    settings = app.state.settings
    assert (settings.login_max_failures, settings.login_max_failures_per_address) == (5, 50)
    # 40 failures from 127.0.0.1 on eight other accounts: each of those accounts is blocked…
    answers = burst(served, [(f"autre{i % 8}@example.fr", BAD, {}) for i in range(40)])
    assert [r.status_code for r in answers].count(401) == 40 and hasher.calls == 40
    r = httpx.post(f"{served}{API}/auth/login", json={"email": "autre0@example.fr", "password": BAD})
    assert r.status_code == 429
    # …but Ana logs in from the same address.
    r = httpx.post(f"{served}{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert counters(app)["ip:127.0.0.1"] == 40  # her attempt was given back


def test_a_burst_from_one_address_checks_at_most_its_limit(app, served, hasher) -> None:
    add_user(app, "ana@example.fr", [("observateur", None, REGION_A)])
    limits(app, login_max_failures_per_address=12)
    answers = burst(served, [(f"victime{i}@example.fr", BAD, {}) for i in range(40)])
    assert hasher.calls == 12 and [r.status_code for r in answers].count(401) == 12
    assert_refusals_say_nothing(answers, app.state.settings.login_block_minutes)
    r = httpx.post(f"{served}{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
    assert r.status_code == 429  # the address is blocked, for everyone
    with TestClient(app, raise_server_exceptions=False, client=("198.51.100.7", 50000)) as other:
        r = other.post(f"{API}/auth/login", json={"email": "ana@example.fr", "password": PASSWORD})
        assert r.status_code == 200  # another address is not


def test_successful_logins_do_not_use_up_an_address(app) -> None:
    """An office behind one address: its people's successful logins are not failures."""
    limits(app, login_max_failures_per_address=3)
    for i in range(10):
        add_user(app, f"p{i}@example.fr", [("observateur", None, REGION_A)])
    with TestClient(app, raise_server_exceptions=False, client=("192.0.2.10", 50000)) as c:
        for i in range(10):
            assert (
                c.post(f"{API}/auth/login", json={"email": f"p{i}@example.fr", "password": PASSWORD}).status_code == 200
            )
        for i in range(3):
            r = c.post(f"{API}/auth/login", json={"email": f"p{i}@example.fr", "password": BAD})
            assert r.status_code == 401
        r = c.post(f"{API}/auth/login", json={"email": "p9@example.fr", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


# --- X-Forwarded-For: only from trusted proxies --------------------------------------------------
def test_a_forged_forwarded_for_buys_no_fresh_counter(app, served, hasher) -> None:
    """uvicorn (proxy_headers, 127.0.0.1 trusted by default) puts the header's address in the request;
    with REGIEFLOW_TRUSTED_PROXIES empty the application does not believe it: 30 forged addresses are one."""
    limits(app, login_max_failures_per_address=8)
    assert app.state.settings.trusted_proxies == []
    rng = random.Random(4)
    forged = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(30)]
    answers = burst(served, [(f"x{i}@example.fr", BAD, {"X-Forwarded-For": a}) for i, a in enumerate(forged)])
    assert hasher.calls == 8 and [r.status_code for r in answers].count(429) == 22
    assert set(counters(app)) >= {f"ip:{UNVERIFIED_FORWARD}"}
    assert not any(k == f"ip:{a}" for k in counters(app) for a in forged)


def test_forwarded_for_is_believed_from_a_trusted_proxy(app, served, hasher) -> None:
    limits(app, login_max_failures_per_address=2, trusted_proxies=["127.0.0.1/32"])
    clients = [f"203.0.113.{i}" for i in range(1, 11)]
    answers = burst(served, [(f"x{i}@example.fr", BAD, {"X-Forwarded-For": a}) for i, a in enumerate(clients)])
    assert [r.status_code for r in answers] == [401] * 10  # ten clients, one failure each
    assert {f"ip:{a}" for a in clients} <= set(counters(app))
    for _ in range(2):
        httpx.post(
            f"{served}{API}/auth/login",
            json={"email": "y@example.fr", "password": BAD},
            headers={"X-Forwarded-For": "203.0.113.1"},
        )
    r = httpx.post(
        f"{served}{API}/auth/login",
        json={"email": "z@example.fr", "password": BAD},
        headers={"X-Forwarded-For": "203.0.113.1"},
    )
    assert r.status_code == 429
    r = httpx.post(
        f"{served}{API}/auth/login",
        json={"email": "z@example.fr", "password": BAD},
        headers={"X-Forwarded-For": "203.0.113.2"},
    )
    assert r.status_code == 401


def test_an_untrusted_peer_forwarded_for_is_ignored(app) -> None:
    limits(app, login_max_failures_per_address=3, trusted_proxies=["10.0.0.0/8"])
    with TestClient(app, raise_server_exceptions=False, client=("198.51.100.20", 40000)) as c:
        codes = [
            c.post(
                f"{API}/auth/login",
                json={"email": f"u{i}@example.fr", "password": BAD},
                headers={"X-Forwarded-For": f"192.0.2.{i}"},
            ).status_code
            for i in range(6)
        ]
    assert codes == [401, 401, 401, 429, 429, 429]
    assert counters(app)["ip:198.51.100.20"] == 3


def request_from(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    if peer is not None:
        scope["client"] = (peer, 5000)
    return Request(scope)


PROXIES = ["10.0.0.0/8", "2001:db8:ffff::/48"]
CASES: list[tuple[Callable[[], Request], list[str], str]] = [
    (lambda: request_from("198.51.100.1"), [], "198.51.100.1"),
    (lambda: request_from("198.51.100.1", "192.0.2.1"), PROXIES, "198.51.100.1"),  # untrusted peer
    (lambda: request_from("10.0.0.1", "192.0.2.1"), [], "10.0.0.1"),
    (lambda: request_from("10.0.0.1", "192.0.2.1"), PROXIES, "192.0.2.1"),
    (lambda: request_from("10.0.0.1", "6.6.6.6, 192.0.2.1, 10.1.1.1"), PROXIES, "192.0.2.1"),  # chain
    (lambda: request_from("10.0.0.1", "6.6.6.6", "192.0.2.1:443"), PROXIES, "192.0.2.1"),  # two headers, a port
    (lambda: request_from("10.0.0.1", "192.0.2.1, garbage, 10.2.2.2"), PROXIES, "10.2.2.2"),  # stops at the junk
    (lambda: request_from("10.0.0.1", "10.9.9.9, 10.8.8.8"), PROXIES, "10.9.9.9"),  # all proxies: the first
    (lambda: request_from("::ffff:10.0.0.1", "192.0.2.1"), PROXIES, "192.0.2.1"),  # IPv4-mapped peer
    (lambda: request_from("2001:db8:ffff::1", "2001:db8:1:2:3:4:5:6"), PROXIES, "2001:db8:1:2::/64"),
    (lambda: request_from("2001:db8:1:2::9"), [], "2001:db8:1:2::/64"),  # one /64, one counter
    # What uvicorn's proxy_headers leaves: the peer taken from the header.
    (lambda: request_from("192.0.2.1", "192.0.2.1"), [], UNVERIFIED_FORWARD),
    (lambda: request_from("192.0.2.1", "192.0.2.1, 127.0.0.1"), [], UNVERIFIED_FORWARD),
    (lambda: request_from("garbage", "garbage"), [], UNVERIFIED_FORWARD),
    (lambda: request_from("192.0.2.1", "192.0.2.1, 10.3.3.3"), PROXIES, "192.0.2.1"),
    (lambda: request_from("192.0.2.1", "192.0.2.1, 127.0.0.1"), PROXIES, UNVERIFIED_FORWARD),
    (lambda: request_from(None), [], "inconnu"),
]


@pytest.mark.parametrize(("make", "proxies", "expected"), CASES)
def test_client_address(make: Callable[[], Request], proxies: list[str], expected: str) -> None:
    assert client_ip(make(), [str(ipaddress.ip_network(p)) for p in proxies]) == expected
