"""Webhooks under test: a real HTTP receiver on loopback, the application allowed to reach it, a worker
on the test database, and the deliveries as the API lists them; for the target checks, a DNS whose
answers are scripted per call and a network backend that records where the worker connects."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import pytest
from sqlalchemy import func, select

from app.core.unit_of_work import UnitOfWorkFactory
from app.projects.models import OutboxMessage
from app.webhooks.worker import Worker

API = "/api/v1"


Answer = tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every request (any method); answers are scripted in
    order (`script(500, (429, {"Retry-After": "120"}), (500, {}, b"body"))`), then `default`; the body
    is `ok` unless an answer gives one."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: deque[Answer] = deque()
        self.default: Answer = (204, {})
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "method": self.command,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "path": self.path,
                        }
                    )
                    answer = receiver.answers.popleft() if receiver.answers else receiver.default
                status, headers = answer[0], answer[1]
                content = answer[2] if len(answer) == 3 else b"ok"
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/regieflow"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def script(self, *answers: int | Answer) -> None:
        for a in answers:
            self.answers.append(a if isinstance(a, tuple) else (a, {}))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def loopback(app: Any) -> Any:
    """The test application, allowed to call loopback targets (REGIEFLOW_WEBHOOK_ALLOW_PRIVATE_TARGETS)."""
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_private_targets": True})
    return app


def configure(app: Any, **changes: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update=changes)


def worker(app: Any, **kwargs: Any) -> Worker:
    """A worker on the test database, the test clock, and the upper bound of each jittered wait."""
    kwargs.setdefault("jitter", lambda cap: cap)
    return Worker(UnitOfWorkFactory(app.state.session_factory), app.state.settings, clock=app.state.clock, **kwargs)


def subscribe(client: Any, url: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"{API}/webhooks", json={"url": url, **body})
    assert r.status_code == 201, r.text
    return r.json()


def count(app: Any, model: Any, *where: Any) -> int:
    with app.state.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def deliveries(client: Any, webhook_id: int) -> list[dict[str, Any]]:
    r = client.get(f"{API}/webhooks/{webhook_id}/deliveries", params={"page_size": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def outbox_count(app: Any) -> int:
    return count(app, OutboxMessage)


class ScriptedDns:
    """A resolver (app.webhooks.targets.resolver) answering from a script per host name: each call takes
    the next answer, the last one repeats; unknown names do not resolve. `calls` lists the names asked."""

    def __init__(self, answers: dict[str, list[str | list[str]]]) -> None:
        self.answers = {host: deque(script) for host, script in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[Any]:
        self.calls.append(host)
        script = self.answers.get(host)
        if not script:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = script.popleft() if len(script) > 1 else script[0]
        addresses = [answer] if isinstance(answer, str) else answer
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]


class RoutingBackend(httpcore.NetworkBackend):
    """The worker's network under test: records every (address, port) it is asked to connect to, sends
    the addresses in `routes` (public ones, standing for the internet) to a loopback server, and connects
    to anything else for real."""

    def __init__(self, routes: dict[str, int] | None = None) -> None:
        self.routes = routes or {}
        self.connects: list[tuple[str, int]] = []
        self.real = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        if host in self.routes:
            host, port = "127.0.0.1", self.routes[host]
        return self.real.connect_tcp(host, port, timeout=timeout, local_address=local_address)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise httpcore.ConnectError("no unix sockets here")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
