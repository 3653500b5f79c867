"""Two `regieflow worker` processes at once, as an operator runs them (issue 17, part 3): real
subprocesses polling one database, a real webhook receiver and a real SMTP server on loopback. Every
webhook delivery and every e-mail goes out exactly once, and both processes stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from pydantic import SecretStr

from app.core.unit_of_work import UnitOfWorkFactory
from app.mail import service as mail
from app.mail.models import OutgoingMail
from app.webhooks.models import WebhookDelivery
from tests.mail.smtp import Sink, smtp
from tests.support.api import create_project
from tests.support.webhooks import Receiver, configure, count, subscribe

__all__ = ["smtp"]

SECRET = "k" * 40
PROJECTS = 10
MAILS = 12


def _wait(predicate: Any, timeout: float, what: str, procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in procs:
            assert p.poll() is None, f"a worker exited early ({p.returncode}): {p.stderr.read() if p.stderr else ''}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.usefixtures("committed_db")
def test_two_worker_processes_deliver_every_webhook_and_mail_exactly_once(
    app: Any, client: Any, database_url: str, receiver: Receiver, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    configure(app, webhook_allow_private_targets=True, secret_key=SecretStr(SECRET))
    subscribe(client, receiver.url)
    subscribe(client, receiver.url + "/bis")
    receiver.delay = 0.01  # each delivery takes a little time, so both processes find work
    for i in range(PROJECTS):
        create_project(client, name=f"Régie des processus {i}")
    settings = app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    uows = UnitOfWorkFactory(app.state.session_factory, settings)
    with uows() as uow:
        for i in range(MAILS):
            queued = mail.queue(
                uow,
                app.state.clock,
                kind="password_reset",
                to=f"personne{i}@exemple.fr",
                template="password_reset",
                context={"name": f"Personne {i}", "link": f"http://x/mot-de-passe/nouveau/{i}", "minutes": 60},
                settings=settings,
            )
            assert queued is not None
        uow.commit()

    env = os.environ | {
        "REGIEFLOW_DATABASE_URL": database_url,
        "REGIEFLOW_SECRET_KEY": SECRET,
        "REGIEFLOW_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "REGIEFLOW_SMTP_HOST": "127.0.0.1",
        "REGIEFLOW_SMTP_PORT": str(port),
        "REGIEFLOW_WORKER_POLL_SECONDS": "0.2",
    }
    cmd = [sys.executable, "-m", "app.cli", "worker"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    try:
        _wait(lambda: len(receiver.requests) >= 2 * PROJECTS, 90, "the webhook deliveries", procs)
        _wait(lambda: len(sink.messages) >= MAILS, 60, "the e-mails", procs)
        time.sleep(1.0)  # a few more rounds of both workers: nothing may go out a second time
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs  # SIGTERM: each finishes its round and exits 0

    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 2 * PROJECTS and len(set(ids)) == 2 * PROJECTS  # each event × subscription once
    assert count(app, WebhookDelivery, WebhookDelivery.status == "succeeded") == 2 * PROJECTS
    recipients = sorted(str(m["To"]) for m in sink.messages)
    assert recipients == sorted(f"personne{i}@exemple.fr" for i in range(MAILS))  # each mail once
    assert count(app, OutgoingMail, OutgoingMail.status == "sent") == MAILS
    assert len({m["Message-ID"] for m in sink.messages}) == MAILS
