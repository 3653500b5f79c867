"""A server key that cannot be read (development's key file unreadable) is the server's problem, said
plainly: 503 problem+json in French, no path of the server shown, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.settings import Settings
from tests.support.api import API, create_project


@pytest.fixture
def keyless(app, settings: Settings, tmp_path: Path):
    """The app with no REGIEFLOW_SECRET_KEY and a key 'file' that is a directory (unreadable)."""
    broken = tmp_path / "secret.key"
    broken.mkdir()
    before = app.state.settings
    app.state.settings = settings.model_copy(update={"secret_key": None, "secret_key_file": broken})
    yield app
    app.state.settings = before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/projects/{pid}/needs", {"label": "Un besoin"}),
        ("post", "/projects/{pid}/transitions/abandonner", {"reason": "Essai"}),
        ("post", "/webhooks", {"url": "https://example.org/hook"}),
    ],
)
def test_writes_without_a_readable_key_are_503_and_write_nothing(client, keyless, method, path, body) -> None:
    pid = _project_with_key(client, keyless)
    version = client.get(f"{API}/projects/{pid}").json()["version"]
    r = getattr(client, method)(f"{API}{path.format(pid=pid)}", json=body)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "cle_serveur_indisponible"
    assert "REGIEFLOW_SECRET_KEY" in problem["detail"]
    assert str(keyless.state.settings.secret_key_file) not in r.text  # no server path shown
    assert client.get(f"{API}/projects/{pid}").json()["version"] == version


def _project_with_key(client, app) -> str:
    """A project, created while the key is readable (the test's REGIEFLOW_SECRET_KEY)."""
    keyless = app.state.settings
    app.state.settings = keyless.model_copy(update={"secret_key": Settings().secret_key})
    try:
        return str(create_project(client)["id"])
    finally:
        app.state.settings = keyless
