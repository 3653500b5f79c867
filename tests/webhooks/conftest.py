"""app/webhooks: subscriptions, signed deliveries to a loopback receiver, retries, the worker."""

from tests.support.accounts import fast_passwords
from tests.support.webhooks import loopback, receiver

__all__ = ["fast_passwords", "loopback", "receiver"]
