"""Slow and oversized requests against a served application: a body trickled byte by byte gets 408 once
REGIEFLOW_BODY_TIMEOUT_SECONDS has passed (and nothing of it reaches a handler), a header block over
REGIEFLOW_MAX_HEADER_BYTES is refused (400 from uvicorn's h11 limit, or 431 from the app), and the server
keeps serving others."""

from __future__ import annotations

import json
import select as sockets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.projects.models import Project
from tests.support import serving
from tests.support.api import API, make_key

LIMIT = 16_384  # REGIEFLOW_MAX_HEADER_BYTES's default, given to uvicorn as `regieflow serve` does
SERVE_OPTIONS: dict[str, Any] = {"http": "h11", "h11_max_incomplete_event_size": LIMIT, "timeout_keep_alive": 5}


@pytest.fixture(scope="module")
def _served_app(_one_app: Any) -> Iterator[str]:
    with serving.served(_one_app, **SERVE_OPTIONS) as url:
        yield url


@pytest.fixture
def served(_served_app: str, committed_db: Any, app: Any) -> str:
    """The served app's base URL with this test's (committed, emptied) tables, settings and clock."""
    return _served_app


def project_count(app: Any) -> int:
    with app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Project)) or 0)


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def read_answer(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection or `within` seconds pass."""
    sock.settimeout(within)
    data = b""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(body) >= length:
                    break
    except TimeoutError:
        pass
    return data


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_a_trickled_body_gets_408_within_the_timeout_and_writes_nothing(app: Any, served: str) -> None:
    app.state.settings = app.state.settings.model_copy(update={"body_timeout_seconds": 1.0})
    key, _ = make_key(app)
    body = json.dumps(
        {"name": "Régie lente", "kind": "regie_de_quartier", "region": "Bretagne", "initiator": "habitants"}
    ).encode()
    head = (
        f"POST {API}/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    before = project_count(app)
    stop = threading.Event()
    with socket.create_connection(address(served)) as sock:
        sock.sendall(head)

        def trickle() -> None:
            for i in range(len(body)):
                if stop.wait(1.0):
                    return
                try:
                    sock.sendall(body[i : i + 1])
                except OSError:
                    return

        started = time.monotonic()
        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        answer = read_answer(sock, within=6)
        elapsed = time.monotonic() - started
        stop.set()
        sender.join(timeout=3)
    assert status_of(answer) == 408, answer[:300]
    assert elapsed < 4, elapsed
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    assert b"application/problem+json" in head_part.lower()
    problem = json.loads(payload)
    assert problem["code"] == "requete_trop_lente" and problem["status"] == 408
    assert "secondes" in problem["detail"]
    assert project_count(app) == before
    assert httpx.get(f"{served}{API}/health").status_code == 200


def test_a_body_sent_in_time_is_served_whole(app: Any, served: str) -> None:
    app.state.settings = app.state.settings.model_copy(update={"body_timeout_seconds": 5.0})
    key, _ = make_key(app)
    body = {"name": "Régie rapide", "kind": "regie_de_quartier", "region": "Bretagne", "initiator": "habitants"}
    r = httpx.post(f"{served}{API}/projects", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 201, r.text
    assert project_count(app) == 1


def test_a_one_megabyte_header_is_refused_and_others_are_still_served(app: Any, served: str) -> None:
    before = project_count(app)
    with socket.create_connection(address(served)) as sock:
        request = f"GET {API}/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".encode() + b"a" * 1_048_576 + b"\r\n\r\n"
        # In 4 KB pieces, stopping as soon as the server answers: bytes sent after it has closed would make
        # its kernel reset the connection, and the answer would be lost.
        for start in range(0, len(request), 4096):
            if sockets.select([sock], [], [], 0.01)[0]:
                break
            sock.sendall(request[start : start + 4096])
        answer = read_answer(sock, within=5)
    assert status_of(answer) in (400, 431), answer[:300]
    assert project_count(app) == before
    assert httpx.get(f"{served}{API}/health").status_code == 200


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(min_value=LIMIT - 600, max_value=LIMIT + 600))
def test_header_sizes_around_the_limit(app: Any, served: str, size: int) -> None:
    """Over the limit: refused (400 by uvicorn, or 431). Well under it (the rest of the head fits): served."""
    r = httpx.get(f"{served}{API}/health", headers={"X-Pad": "a" * size})
    if size > LIMIT:
        assert r.status_code in (400, 431), r.status_code
    elif size <= LIMIT - 400:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code in (200, 400, 431)
    assert httpx.get(f"{served}{API}/health").status_code == 200


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(min_value=1024, max_value=4096), limit=st.sampled_from([1024, 2048, 3000]))
def test_the_app_answers_431_whatever_server_runs_it(app: Any, anon_client: Any, size: int, limit: int) -> None:
    """Without uvicorn's limit (the ASGI test client): a header value over REGIEFLOW_MAX_HEADER_BYTES is 431
    problem+json in French; one that leaves room for the other headers is served."""
    app.state.settings = app.state.settings.model_copy(update={"max_header_bytes": limit})
    r = anon_client.get(f"{API}/health", headers={"X-Pad": "a" * size})
    if size > limit:
        assert r.status_code == 431
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "en_tetes_trop_volumineux"
        assert "octets" in r.json()["detail"]
    elif size <= limit - 400:
        assert r.status_code == 200
    else:
        assert r.status_code in (200, 431)
