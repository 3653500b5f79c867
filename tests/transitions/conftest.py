"""app/transitions: firing transitions (API, services, races), the audit chain and `verify`, the cost
in SQL statements, the guards' facts read as aggregates (test_fact_aggregates.py)."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
