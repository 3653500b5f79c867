"""app/deadline_watch: the deadline scan, its status-change events, the worker that runs it, and the CLI."""

from tests.support.webhooks import loopback, receiver

__all__ = ["loopback", "receiver"]
