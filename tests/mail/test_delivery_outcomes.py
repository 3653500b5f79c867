"""The outbox's promise, "never lost, never sent twice", against a real SMTP server on loopback
(review of issue 15): a temporary refusal (greylisting: 450 at RCPT TO) is retried, a refused login or
sender and an unreachable server are retried with backoff and given up after the schedule,
a row that cannot even be built does not stop the others, and
a worker whose lease ran out (another took the row again) neither sends nor records it."""

from __future__ import annotations

from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from app.core.unit_of_work import UnitOfWorkFactory
from app.mail import service as mail
from app.mail.models import OutgoingMail
from tests.mail.smtp import Sink, free_port


def _settings(app: Any, port: int) -> Any:
    return app.state.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})


def _queue(app: Any, uows: UnitOfWorkFactory, to: str) -> int:
    with uows() as uow:
        mail_id = mail.queue(
            uow,
            app.state.clock,
            kind="password_reset",
            to=to,
            template="password_reset",
            context={"name": "Amina", "link": "http://x/mot-de-passe/nouveau/t", "minutes": 60},
            settings=app.state.settings,
        )
        uow.commit()
    assert mail_id is not None
    return mail_id


def _row(app: Any, mail_id: int) -> tuple[str, int, str | None]:
    with app.state.session_factory() as s:
        row = s.get(OutgoingMail, mail_id)
        assert row is not None
        return row.status, row.attempts, row.last_error


class Greylisting(Sink):
    """The first RCPT TO of each address gets 450 (try later); the next ones pass."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address not in self.seen:
            self.seen.add(address)
            return "450 4.7.1 Greylisted, please try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


class Refusing(Sink):
    def __init__(self, where: str, reply: str) -> None:
        super().__init__()
        self.where, self.reply = where, reply

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.where == "MAIL":
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.where == "RCPT":
            return self.reply
        return await super().handle_RCPT(server, session, envelope, address, options)


def _serve(handler: Sink) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def test_a_greylisted_recipient_is_retried_then_sent(app: Any) -> None:
    sink = Greylisting()
    controller, port = _serve(sink)
    try:
        settings = _settings(app, port)
        uows = UnitOfWorkFactory(app.state.session_factory, settings)
        mail_id = _queue(app, uows, "mairie@roubaix.example")
        assert mail.send_due(uows, settings, app.state.clock).retried == 1
        status, attempts, error = _row(app, mail_id)
        assert (status, attempts) == ("pending", 1) and "450" in (error or "")
        app.state.clock.advance(seconds=settings.mail_retry_schedule_seconds[0])
        assert mail.send_due(uows, settings, app.state.clock).sent == 1
        assert len(sink.messages) == 1 and _row(app, mail_id)[0] == "sent"
    finally:
        controller.stop()


def test_a_permanent_recipient_refusal_fails_that_mail_only(app: Any) -> None:
    sink = Refusing("RCPT", "550 5.1.1 No such user")
    controller, port = _serve(sink)
    try:
        settings = _settings(app, port)
        uows = UnitOfWorkFactory(app.state.session_factory, settings)
        mail_id = _queue(app, uows, "personne@roubaix.example")
        assert mail.send_due(uows, settings, app.state.clock).failed == 1
        assert _row(app, mail_id)[0] == "failed"
    finally:
        controller.stop()


def test_a_refused_login_or_sender_is_retried_on_the_schedule_then_given_up(app: Any) -> None:
    """A configuration refusal ends the round: the mail tried counts its attempt, the others wait as
    long without one; after the schedule's last wait each is `failed` with the server's reply."""
    for reply in ("530 5.7.0 Authentication required", "553 5.7.1 Sender address rejected"):
        sink = Refusing("MAIL", reply)
        controller, port = _serve(sink)
        try:
            settings = _settings(app, port).model_copy(update={"mail_retry_schedule_seconds": [10]})
            uows = UnitOfWorkFactory(app.state.session_factory, settings)
            ids = [_queue(app, uows, f"{n}-{reply[:3]}@exemple.fr") for n in range(3)]
            report = mail.send_due(uows, settings, app.state.clock)
            assert (report.sent, report.failed, report.retried) == (0, 0, 3)
            assert [_row(app, i)[:2] for i in ids] == [("pending", 1), ("pending", 0), ("pending", 0)]
            assert all(reply[:3] in (_row(app, i)[2] or "") for i in ids)
            for _ in range(6):  # each mail is tried in its turn, twice at most with a one-wait schedule
                app.state.clock.advance(seconds=10)
                mail.send_due(uows, settings, app.state.clock)
            for mail_id in ids:
                status, attempts, error = _row(app, mail_id)
                assert (status, attempts) == ("failed", 2) and reply[:3] in (error or ""), (reply, error)
            assert sink.messages == []
        finally:
            controller.stop()


def test_an_unreachable_server_is_given_up_after_the_schedule_and_measured(app: Any) -> None:
    """Nothing listens on the port: the mail waits 10 then 20 seconds, then is `failed` with the last
    error; /metrics moves it from the `email` queue to `email_failed`."""
    from fastapi.testclient import TestClient

    from app.observability.metrics import samples

    def metric(client: TestClient, queue: str) -> float:
        text = client.get("/metrics").text
        return sum(v for lab, v in samples(text, "regieflow_queue_depth") if lab.get("queue") == queue)

    settings = _settings(app, free_port()).model_copy(
        update={"mail_retry_schedule_seconds": [10, 20], "smtp_timeout_seconds": 2.0}
    )
    uows = UnitOfWorkFactory(app.state.session_factory, settings)
    mail_id = _queue(app, uows, "mairie@roubaix.example")
    with TestClient(app) as client:
        assert (metric(client, "email"), metric(client, "email_failed")) == (1, 0)
        clock = app.state.clock
        assert mail.send_due(uows, settings, clock).retried == 1
        status, attempts, error = _row(app, mail_id)
        assert (status, attempts) == ("pending", 1) and "injoignable" in (error or "")
        clock.advance(seconds=9)
        assert mail.send_due(uows, settings, clock).attempted == 0  # the backoff is waited
        clock.advance(seconds=1)
        assert mail.send_due(uows, settings, clock).retried == 1
        assert _row(app, mail_id)[:2] == ("pending", 2)
        clock.advance(seconds=19)
        assert mail.send_due(uows, settings, clock).attempted == 0
        clock.advance(seconds=1)
        assert mail.send_due(uows, settings, clock).failed == 1
        status, attempts, error = _row(app, mail_id)
        assert (status, attempts) == ("failed", 3) and "injoignable" in (error or "")
        clock.advance(days=30)
        assert mail.send_due(uows, settings, clock).attempted == 0  # given up for good
        assert (metric(client, "email"), metric(client, "email_failed")) == (0, 1)


def test_a_row_that_cannot_be_built_does_not_stop_the_round(app: Any) -> None:
    sink = Sink()
    controller, port = _serve(sink)
    try:
        settings = _settings(app, port)
        uows = UnitOfWorkFactory(app.state.session_factory, settings)
        bad = _queue(app, uows, "a@exemple.fr")
        good = _queue(app, uows, "b@exemple.fr")
        with app.state.session_factory() as s:  # a header no message may carry (written behind the API)
            s.execute(update(OutgoingMail).where(OutgoingMail.id == bad).values(to_address="a@exemple.fr\nBcc: x"))
            s.commit()
        report = mail.send_due(uows, settings, app.state.clock)
        assert report.sent == 1 and report.retried == 1
        assert _row(app, good)[0] == "sent" and _row(app, bad)[0] == "pending"
        assert "inattendue" in (_row(app, bad)[2] or "")
    finally:
        controller.stop()


def test_a_worker_whose_lease_ran_out_neither_sends_nor_records(app: Any) -> None:
    sink = Sink()
    controller, port = _serve(sink)
    try:
        settings = _settings(app, port)
        uows = UnitOfWorkFactory(app.state.session_factory, settings)
        clock = app.state.clock
        mail_id = _queue(app, uows, "mairie@roubaix.example")
        (first,) = mail.claim(uows, settings, clock.now(), set())  # worker A, then slow
        clock.advance(seconds=settings.mail_lease_seconds + 1)
        (second,) = mail.claim(uows, settings, clock.now(), set())  # worker B takes it again
        assert first.id == second.id == mail_id and second.attempts == first.attempts + 1
        assert mail._renew(uows, settings, clock, first) is None  # A no longer holds it: sends nothing
        mine = mail._renew(uows, settings, clock, second)
        assert mine is not None
        report = mail.SendReport()
        outcome = mail._send_one(uows, settings, mine)
        mail._record(uows, settings, clock, first, mail.Outcome(False, "A", "permanent"), report)  # ignored
        mail._record(uows, settings, clock, mine, outcome, report)
        assert len(sink.messages) == 1 and report.sent == 1 and report.failed == 0
        with app.state.session_factory() as s:
            assert s.scalars(select(OutgoingMail.status)).one() == "sent"
    finally:
        controller.stop()
