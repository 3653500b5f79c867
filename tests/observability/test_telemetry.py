"""One log line per request (text or JSON) with its request id, route template, status, duration and
principal kind; the id sent back in X-Request-ID; Prometheus metrics for requests, transitions, queues
and worker heartbeats; liveness and readiness."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from app.observability.logs import REQUEST_LOGGER, JsonFormatter, RequestIdFilter
from app.observability.metrics import samples
from tests.support.api import create_project, fire
from tests.support.webhooks import worker as make_worker


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the request logger writes, one JSON object per line."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger(REQUEST_LOGGER)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def metric(client: TestClient, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    return sum(v for lab, v in samples(text, name) if all(lab.get(k) == want for k, want in labels.items()))


def test_one_json_line_per_request_with_route_template_and_request_id(client: TestClient, lines: io.StringIO) -> None:
    pid = create_project(client)["id"]
    lines.truncate(0)
    lines.seek(0)
    r = client.get(f"/api/v1/projects/{pid}")
    assert r.status_code == 200
    rid = r.headers["x-request-id"]
    [line] = records(lines)
    assert line["route"] == "/api/v1/projects/{project_id}"  # the template: no id, no token in logs
    assert pid not in json.dumps(line)
    assert line["method"] == "GET" and line["status"] == 200 and line["principal"] == "key"
    assert line["request_id"] == rid and len(rid) == 32
    assert line["duration_ms"] >= 0 and line["level"] == "info" and line["logger"] == REQUEST_LOGGER


def test_refusals_before_routing_are_logged_too(anon_client: TestClient, lines: io.StringIO) -> None:
    r = anon_client.post("/api/v1/projects", content=b"x" * (70 * 1024), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    [line] = records(lines)
    assert line["status"] == 413 and line["principal"] == "anonymous"
    assert line["request_id"] == r.headers["x-request-id"]


def test_a_sane_incoming_request_id_is_kept(anon_client: TestClient, lines: io.StringIO) -> None:
    r = anon_client.get("/api/v1/health/live", headers={"X-Request-ID": "proxy-7f3a:42"})
    assert r.headers["x-request-id"] == "proxy-7f3a:42"
    assert records(lines)[0]["request_id"] == "proxy-7f3a:42"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_any_incoming_request_id_is_replaced_unless_sane(anon_client: TestClient, sent: bytes) -> None:
    """Whatever a client sends as X-Request-ID (controls, spaces, non-ASCII, 300 bytes), what comes back
    and what is logged is a short token of safe characters: a log line cannot be forged through it."""
    sent = sent.replace(b"\r", b"").replace(b"\n", b"")
    r = anon_client.get("/api/v1/health/live", headers=[(b"X-Request-ID", sent)])
    assert r.status_code == 200
    got = r.headers["x-request-id"]
    assert 1 <= len(got) <= 128 and all(c.isalnum() or c in "._:@/+=-" for c in got) and got.isascii()


def test_text_log_lines_name_the_request(app: FastAPI, anon_client: TestClient) -> None:
    from app.core.settings import Settings
    from app.observability.logs import configure_logging

    out = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings(database_url="sqlite://", log_format="text"), stream=out)
        anon_client.get("/api/v1/health/live")
        logging.getLogger("regieflow.test").warning("inside no request")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    text = out.getvalue()
    assert "GET /api/v1/health/live 200" in text
    assert "inside no request" in text


def test_metrics_count_requests_by_route_and_transitions_by_outcome(client: TestClient) -> None:
    route = "/api/v1/projects/{project_id}/transitions/{trigger}"
    before_done = metric(client, "regieflow_transitions_total", trigger="suspendre", outcome="done")
    before_refused = metric(client, "regieflow_transitions_total", trigger="definir_contours", outcome="refused")
    before_requests = metric(client, "regieflow_http_request_duration_seconds_count", route=route)
    pid = create_project(client)["id"]
    fire(client, pid, "definir_contours", expect=409)  # no pilot, no group: refused
    fire(client, pid, "suspendre", reason="Pause estivale")
    assert metric(client, "regieflow_transitions_total", trigger="suspendre", outcome="done") == before_done + 1
    assert (
        metric(client, "regieflow_transitions_total", trigger="definir_contours", outcome="refused")
        == before_refused + 1
    )
    assert metric(client, "regieflow_http_request_duration_seconds_count", route=route) == before_requests + 2
    assert metric(client, "regieflow_http_request_duration_seconds_count", route=route, status="409") >= 1


def test_queue_depth_and_age_follow_the_outbox_and_heartbeats_follow_the_worker(
    app: FastAPI, client: TestClient
) -> None:
    assert metric(client, "regieflow_queue_depth", queue="webhooks_fanout") == 0
    assert metric(client, "regieflow_workers_known") == 0
    pid = create_project(client)["id"]
    fire(client, pid, "suspendre", reason="Pause")
    assert metric(client, "regieflow_queue_depth", queue="webhooks_fanout") == 2  # created + transitioned
    assert metric(client, "regieflow_queue_oldest_age_seconds", queue="webhooks_fanout") >= 0
    with make_worker(app) as worker:
        worker.run_once(scan=False)
        worker.run_once(scan=False)
    assert metric(client, "regieflow_queue_depth", queue="webhooks_fanout") == 0
    assert metric(client, "regieflow_workers_known") == 1
    assert metric(client, "regieflow_worker_rounds") == 2
    stamp = metric(client, "regieflow_worker_last_round_timestamp_seconds")
    assert stamp == pytest.approx(app.state.clock.now().timestamp(), abs=1)


def test_metrics_need_the_token_when_one_is_set(app: FastAPI, anon_client: TestClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"metrics_token": SecretStr("s3cret-metrics-token")})
    assert anon_client.get("/metrics").status_code == 401
    assert anon_client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    accented = {"Authorization": "Bearer s3cret-metrics-tokén".encode()}
    assert anon_client.get("/metrics", headers=accented).status_code == 401
    ok = anon_client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert "regieflow_http_request_duration_seconds_bucket" in ok.text


def test_liveness_and_readiness(anon_client: TestClient) -> None:
    assert anon_client.get("/api/v1/health/live").json() == {"status": "ok"}
    r = anon_client.get("/api/v1/health/ready")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok"
    assert body["revision"] == body["expected_revision"]


def test_not_ready_when_migrations_are_pending(
    app: FastAPI, anon_client: TestClient, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from app.core.database import make_engine, make_session_factory
    from app.core.migrate import downgrade, revisions
    from tests.fixtures.database import sibling_database

    behind = sibling_database(database_url, "behind", tmp_path_factory)
    downgrade(behind, revisions()[-2])
    engine = make_engine(behind)
    saved = app.state.engine, app.state.session_factory
    app.state.engine, app.state.session_factory = engine, make_session_factory(engine)
    try:
        r = anon_client.get("/api/v1/health/ready")
    finally:
        app.state.engine, app.state.session_factory = saved
        engine.dispose()
    assert r.status_code == 503
    assert r.json()["schema"] == "migrations_en_attente" and r.json()["revision"] == revisions()[-2]


def test_not_ready_when_the_database_does_not_answer(app: FastAPI, anon_client: TestClient, tmp_path: Any) -> None:
    from app.core.database import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path}/missing-dir/none.db")
    saved = app.state.engine, app.state.session_factory
    app.state.engine, app.state.session_factory = engine, make_session_factory(engine)
    try:
        r = anon_client.get("/api/v1/health/ready")
        live = anon_client.get("/api/v1/health/live")
    finally:
        app.state.engine, app.state.session_factory = saved
        engine.dispose()
    assert r.status_code == 503 and r.json()["database"] == "indisponible"
    assert live.status_code == 200  # liveness does not depend on the database


def test_workers_refused_on_sqlite(tmp_path: Any) -> None:
    from tests.fixtures.cli import error_line, invoke_cli

    result = invoke_cli(["serve", "--workers", "2"], env={"REGIEFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.exit_code == 2
    assert "--workers needs PostgreSQL" in error_line(result)


def test_the_email_queue_is_measured(app: FastAPI, client: TestClient) -> None:
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.mail.service import queue

    assert metric(client, "regieflow_queue_depth", queue="email") == 0
    with UnitOfWorkFactory(app.state.session_factory)() as uow:
        for n in range(3):
            queue(
                uow,
                app.state.clock,
                kind="password_reset",
                to=f"personne{n}@example.org",
                template="password_reset",
                context={"name": "Personne", "link": "http://127.0.0.1:8000/x", "minutes": 60},
                secret=True,
                settings=app.state.settings,  # its link is kept encrypted until it is sent
            )
        uow.commit()
    assert metric(client, "regieflow_queue_depth", queue="email") == 3
    assert metric(client, "regieflow_queue_oldest_age_seconds", queue="email") >= 0


def test_logging_follows_stderr_and_keeps_other_handlers(capsys: pytest.CaptureFixture[str]) -> None:
    """`regieflow worker --once` run inside another program (a CliRunner swaps sys.stderr, then closes its
    stand-in): the records after it go to the stderr of the moment, not to a closed stream, and the
    host program's own handlers stay."""
    import sys

    from app.core.settings import Settings
    from app.observability.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    stand_in, real = io.StringIO(), sys.stderr
    try:
        sys.stderr = stand_in
        configure_logging(Settings(database_url="sqlite://"))
        configure_logging(Settings(database_url="sqlite://"))  # twice: still one handler of ours
        logging.getLogger("regieflow.test").warning("pendant")
        sys.stderr = real
        stand_in.close()
        logging.getLogger("regieflow.test").warning("après")
        ours = [h for h in root.handlers if h.get_name() == "regieflow"]
        assert len(ours) == 1 and foreign in root.handlers
    finally:
        sys.stderr = real
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "après" in err and "Logging error" not in err
