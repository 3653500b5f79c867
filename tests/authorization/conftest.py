"""app/authorization: who may do what, route by route (the access matrix)."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
