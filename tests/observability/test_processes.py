"""`regieflow serve --workers 2`, as an operator runs it (the real entry point, in its own process): on
PostgreSQL two server processes answer and /metrics sums what both served; on SQLite, which lets one
process write at a time, it is refused in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.observability.metrics import samples
from tests.fixtures.database import sibling_database
from tests.support.serving import free_port

pytestmark = pytest.mark.slow  # starts three processes


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_serve_with_two_processes(database_url: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    url = sibling_database(database_url, "processes", tmp_path_factory)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGIEFLOW_", "PROMETHEUS_"))}
    env |= {"REGIEFLOW_DATABASE_URL": url, "REGIEFLOW_SECRET_KEY": os.environ["REGIEFLOW_SECRET_KEY"]}
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--port", str(port)]
    if make_url(url).get_backend_name() == "sqlite":
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1].startswith("Error: --workers needs PostgreSQL")
        return
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.communicate(timeout=5)
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=10) as client:
            ids = {client.get("/api/v1/health/live").headers["x-request-id"] for _ in range(40)}
            text = client.get("/metrics").text
        assert len(ids) == 40
        served = sum(
            v
            for labels, v in samples(text, "regieflow_http_request_duration_seconds_count")
            if labels["route"] == "/api/v1/health/live"
        )
        assert served == 40  # whichever process answered each, the scrape counts them all
        assert len(children_of(server.pid)) >= 2  # uvicorn's two server processes
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, server.stderr.read().decode() if server.stderr else ""
