"""app/observability: request lines and ids, /metrics, health probes, worker heartbeats."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
