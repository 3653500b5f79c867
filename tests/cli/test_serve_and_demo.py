"""`demo` refuses a database that holds projects (exit 2); `serve` on a port in use says so in one line
and exits 2 before anything claims to have started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cli import error_line, invoke_cli

IN_USE = "Address already in use (another server? choose one with --port)."


def test_demo_refuses_a_database_that_holds_projects(sqlite_url: str) -> None:
    env = {"REGIEFLOW_DATABASE_URL": sqlite_url}
    first = invoke_cli(["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "Demo portfolio loaded" in first.stdout
    line = error_line(invoke_cli(["demo"], env=env))
    assert line == (
        "Refused: the database already holds projects: demo not loaded (--force adds the demo projects anyway)."
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another process listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_serve_on_a_busy_port_is_one_line_before_anything(sqlite_url: str, busy_port: int) -> None:
    line = error_line(invoke_cli(["serve", "--port", str(busy_port)], env={"REGIEFLOW_DATABASE_URL": sqlite_url}))
    assert line == f"Error: cannot listen on 127.0.0.1:{busy_port}: {IN_USE}"
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # neither migrated nor created


def test_serve_on_an_unknown_address_is_one_line(sqlite_url: str) -> None:
    line = error_line(
        invoke_cli(["serve", "--host", "no-such-host.invalid"], env={"REGIEFLOW_DATABASE_URL": sqlite_url})
    )
    assert line.startswith("Error: cannot listen on no-such-host.invalid:8000: "), line


def test_the_port_check_lets_a_free_port_through() -> None:
    from app.cli.server import check_port_free

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    check_port_free("127.0.0.1", free)  # no error; and the port is free again afterwards
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", free))


def test_regieflow_serve_on_a_busy_port_never_claims_to_start(sqlite_url: str, busy_port: int, tmp_path: Path) -> None:
    """As a person runs it: the real entry point, uvicorn installed, in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIEFLOW_")}
    env["REGIEFLOW_DATABASE_URL"] = sqlite_url
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--demo", "--port", str(busy_port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "startup complete" not in done.stderr.lower() and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"Error: cannot listen on 127.0.0.1:{busy_port}: {IN_USE}"]
