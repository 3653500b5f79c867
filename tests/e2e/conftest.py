"""End-to-end fixtures: the app served by a real uvicorn on a free port, driven by Debian's chromium
through Playwright (nothing downloads a browser). Screenshots go to tests/artifacts/ (ignored by git)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serving import served

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Headless, and quiet on a closed network: no background connections, no component updates.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="session")
def _server(_one_app) -> Iterator[str]:
    with served(_one_app) as url:
        yield url


@pytest.fixture
def live_server(_server: str, committed_db, app) -> str:
    """The served app's base URL, with this test's empty tables, settings and clock (via `app`).

    The server answers from its own threads while the test writes from its own: the data is committed
    for real (`committed_db`), not kept in one rolled-back transaction."""
    return _server


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's chromium, headless, through Playwright (tests/support/accounts.py's `browser` is a
    TestClient playing a person's browser, for the page tests)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server, locale="fr-FR", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
