"""app/reference: the official geographic code shipped with the package — the data file and its
lookups (test_cog.py, no database), the reference API, the territory of projects (API, pages, the
`territoire_defini` guard) and migration 0006."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
