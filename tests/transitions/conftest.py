"""app/transitions: firing transitions (API, services, races), the audit chain and `verify`, the cost
in SQL statements; the service over a fake unit of work (test_transition_service.py: no database)."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
