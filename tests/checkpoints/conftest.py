"""app/checkpoints and the tamper evidence of issue 11 §5: the keyed chain, signed checkpoints, and
`regieflow verify` catching every class of change made behind the service's back (both databases)."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
