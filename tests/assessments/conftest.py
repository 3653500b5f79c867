"""app/assessments: the success-conditions grid and reservations, and the guards of issue 12, over HTTP."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
