"""app/transitions: firing transitions (API, services, races), the audit chain and `verify`, the cost
in SQL statements."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
