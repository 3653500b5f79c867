"""app/evidence: the evidence of each step, through the API and through the page forms."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
