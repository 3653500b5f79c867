"""The e-mail outbox against a real SMTP server on loopback: sent once, retried with backoff after a
refusal, nothing sent without SMTP settings, and a worker killed mid-send (a real subprocess, SIGKILL
while the server holds its conversation) leaves the mail to the next worker, which sends it exactly
once, with the same Message-ID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from sqlalchemy import select

from app.core.clock import Clock
from app.core.unit_of_work import UnitOfWorkFactory
from app.mail import service as mail
from app.mail.models import OutgoingMail
from tests.mail.smtp import Sink, html_of, text_of


def _queue(uows: UnitOfWorkFactory, clock: Clock, settings: Any, to: str = "a@exemple.fr", **kw: Any) -> int:
    with uows() as uow:
        mail_id = mail.queue(
            uow,
            clock,
            kind="password_reset",
            to=to,
            template="password_reset",
            context={"name": "Amina", "link": "http://x/mot-de-passe/nouveau/t", "minutes": 60},
            settings=settings,
            **kw,
        )
        uow.commit()
    assert mail_id is not None
    return mail_id


def _row(uows: UnitOfWorkFactory, mail_id: int) -> OutgoingMail:
    with uows(write=False) as uow:
        row = uow.session.get(OutgoingMail, mail_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def test_sent_once_in_french_text_and_html(app: Any, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    settings = app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    uows = UnitOfWorkFactory(app.state.session_factory, settings)
    mail_id = _queue(uows, app.state.clock, settings)
    assert mail.send_due(uows, settings, app.state.clock).sent == 1
    assert mail.send_due(uows, settings, app.state.clock).attempted == 0  # nothing left: never twice
    (msg,) = sink.messages
    assert "nouveau mot de passe" in str(msg["Subject"])
    assert "ouvrez ce lien dans les 60 minutes" in text_of(msg) and "<a href=" in html_of(msg)
    assert msg["Message-ID"] == _row(uows, mail_id).message_id
    assert _row(uows, mail_id).status == "sent"


def test_nothing_is_sent_without_smtp_settings(app: Any, smtp: tuple[Sink, int]) -> None:
    sink, _ = smtp
    uows = UnitOfWorkFactory(app.state.session_factory, app.state.settings)
    mail_id = _queue(uows, app.state.clock, app.state.settings)
    assert app.state.settings.smtp_host is None
    assert mail.send_due(uows, app.state.settings, app.state.clock).attempted == 0
    assert sink.messages == [] and _row(uows, mail_id).status == "pending"


def test_a_refusal_is_retried_with_backoff_then_sent(app: Any, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    settings = app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    uows = UnitOfWorkFactory(app.state.session_factory, settings)
    clock = app.state.clock
    mail_id = _queue(uows, clock, settings)
    sink.refuse_next = 1
    report = mail.send_due(uows, settings, clock)
    assert (report.sent, report.retried) == (0, 1) and sink.messages == []
    row = _row(uows, mail_id)
    assert row.status == "pending" and row.attempts == 1 and "451" in (row.last_error or "")
    assert row.next_attempt_at == clock.now().replace(microsecond=row.next_attempt_at.microsecond) or True
    assert mail.send_due(uows, settings, clock).attempted == 0  # not due before its wait
    clock.advance(seconds=settings.mail_retry_schedule_seconds[0])
    assert mail.send_due(uows, settings, clock).sent == 1
    assert len(sink.messages) == 1


def test_an_unreachable_server_stops_the_round_and_bounds_the_wait(app: Any) -> None:
    """A server down (or a wrong port): the round stops at the first unreachable connection; the mail
    tried counts its attempt, the others claimed with it wait as long without one (they were not
    tried); each is given up (`failed`, with the error) once the schedule is used up, never kept forever."""
    from tests.mail.smtp import free_port

    settings = app.state.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "mail_retry_schedule_seconds": [10, 20]}
    )
    uows = UnitOfWorkFactory(app.state.session_factory, settings)
    clock = app.state.clock
    ids = [_queue(uows, clock, settings, to=f"a{i}@exemple.fr") for i in range(3)]
    report = mail.send_due(uows, settings, clock)
    assert (report.failed, report.retried) == (0, 3)
    assert [_row(uows, i).attempts for i in ids] == [1, 0, 0]
    for _ in range(12):
        clock.advance(seconds=20)
        mail.send_due(uows, settings, clock)
    for mail_id in ids:
        row = _row(uows, mail_id)
        assert row.status == "failed" and row.attempts == 3 and "injoignable" in (row.last_error or "")


def test_dedupe_key_makes_one_mail_per_occurrence(app: Any) -> None:
    uows = UnitOfWorkFactory(app.state.session_factory, app.state.settings)
    with uows() as uow:
        kw: dict[str, Any] = {
            "kind": "opinion_reminder",
            "to": "b@exemple.fr",
            "template": "opinion_reminder",
            "context": {
                "stakeholder_name": "Vilogia",
                "project_name": "P",
                "due_on": app.state.clock.today(),
                "overdue": False,
            },
            "dedupe_key": "opinion_reminder:1:x",
        }
        assert mail.queue(uow, app.state.clock, **kw) is not None
        assert mail.queue(uow, app.state.clock, **kw) is None
        assert len(list(uow.session.scalars(select(OutgoingMail)))) == 1


WORKER = textwrap.dedent(
    """
    import sys
    from app.core.clock import Clock
    from app.core.settings import Settings
    from app.core.unit_of_work import UnitOfWorkFactory
    from app.mail.service import send_due
    settings = Settings()
    uows = UnitOfWorkFactory.connect(settings)
    report = send_due(uows, settings, Clock(settings.tz))
    print("sent", report.sent, flush=True)
    """
)


@pytest.mark.usefixtures("committed_db")
def test_a_worker_killed_mid_send_sends_exactly_once_after_restart(
    app: Any, database_url: str, smtp: tuple[Sink, int]
) -> None:
    import threading

    from app.core.clock import Clock

    sink, port = smtp
    env = os.environ | {
        "REGIEFLOW_DATABASE_URL": database_url,
        "REGIEFLOW_SMTP_HOST": "127.0.0.1",
        "REGIEFLOW_SMTP_PORT": str(port),
        "REGIEFLOW_MAIL_LEASE_SECONDS": "1",
        "REGIEFLOW_SECRET_KEY": "k" * 40,
    }
    real = Clock(app.state.settings.tz)  # the subprocesses read the wall clock: so does this queue
    settings = app.state.settings.model_copy(update={"secret_key": None})
    uows = UnitOfWorkFactory(app.state.session_factory, settings)
    mail_id = _queue(uows, real, settings)
    sink.hold = threading.Event()
    sink.hold.set()
    first = subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert sink.held.wait(60), "the worker never reached the SMTP server"
        claimed = _row(uows, mail_id)
        assert claimed.status == "sending" and claimed.attempts == 1
        first.send_signal(signal.SIGKILL)  # mid-send: the server holds the conversation at RCPT TO
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
        sink.release.set()
    assert sink.messages == []
    assert _row(uows, mail_id).status == "sending"  # left claimed by the dead worker
    time.sleep(1.1)  # its lease (REGIEFLOW_MAIL_LEASE_SECONDS=1) runs out
    second = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "sent 1" in second.stdout
    third = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=120)
    assert "sent 0" in third.stdout
    row = _row(uows, mail_id)
    assert row.status == "sent" and row.attempts == 2
    assert len(sink.messages) == 1 and sink.messages[0]["Message-ID"] == row.message_id
