"""Webhooks under test: a real HTTP receiver on loopback, the application allowed to reach it, a worker
on the test database, and the deliveries as the API lists them."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core.unit_of_work import UnitOfWorkFactory
from app.projects.models import OutboxMessage
from app.webhooks.worker import Worker

API = "/api/v1"


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every POST; answers are scripted in order
    (`script(500, (429, {"Retry-After": "120"}))`), then `default`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: deque[tuple[int, dict[str, str]]] = deque()
        self.default: tuple[int, dict[str, str]] = (204, {})
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.requests.append(
                        {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "path": self.path}
                    )
                    status, headers = receiver.answers.popleft() if receiver.answers else receiver.default
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/regieflow"

    def script(self, *answers: int | tuple[int, dict[str, str]]) -> None:
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
