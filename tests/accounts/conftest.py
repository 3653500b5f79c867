"""app/accounts: people, role grants, API keys, sessions and login, the administration pages.

Shared fixtures used here: `app`, `client`, `anon_client`, `db`, `cli_env` (tests/fixtures/)."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
