"""app/http: problem+json answers, security headers, the OpenAPI document and its contract, the
snapshots of routes and commands taken before the layout moved code.

The schemathesis pytest plugin is switched off for the suite (`-p no:schemathesis` in pyproject.toml:
importing it costs half a second at every start, tests/unit included); it is registered here, for
test_contract.py, when pytest first enters this folder."""

import pytest

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    from schemathesis.pytest import plugin

    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "schemathesis-for-the-contract-tests")
