"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepted, for the tests to read."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Sink:
    """What the server accepted, in order; `hold` makes the next conversation wait at RCPT TO until
    `release` is set (a worker can then be killed mid-send)."""

    messages: list[EmailMessage] = field(default_factory=list)
    hold: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    refuse_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.hold is not None and self.hold.is_set():
            self.hold.clear()
            self.held.set()
            import asyncio

            while not self.release.is_set():
                await asyncio.sleep(0.01)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse_next:
                self.refuse_next -= 1
                return "451 Réessayez plus tard"
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            self.messages.append(msg)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        sink.release.set()
        controller.stop()


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def link_in(msg: EmailMessage, path: str) -> str:
    """The path of the first link to `path` in the mail's text (e.g. "/avis/")."""
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}[A-Za-z0-9_\-./]+)", text_of(msg))
    assert found, text_of(msg)
    return found.group(1)
