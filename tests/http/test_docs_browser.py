"""/docs in a real browser (Debian's chromium via Playwright), on a closed network: the explorer loads
from the application alone, lists the operations, authorises with an API key and calls the API with it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import make_key
from tests.support.serving import served

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"]

pytestmark = pytest.mark.slow


@pytest.fixture
def live(_one_app: Any, committed_db: Any, app: Any) -> Iterator[str]:
    with served(_one_app) as url:
        yield url


def test_the_explorer_authorises_with_a_key_and_calls_the_api(live: str, app: Any) -> None:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    key, _ = make_key(app, name="Explorateur")
    # Playwright's sync API refuses to start where another one runs (tests/e2e keeps a browser open
    # for the session in the same pytest worker): this one runs in a thread of its own.
    failures: list[BaseException] = []

    def run() -> None:
        try:
            _journey(live, key)
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive(), "the browser journey did not end within 5 minutes"
    if failures:
        raise failures[0]


def _journey(live: str, key: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            requested: list[str] = []
            problems: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(f"{live}/docs")
            page.wait_for_selector(".opblock", timeout=90_000)  # a 1.5 MB bundle reading a large document
            assert page.locator(".opblock").count() > 50
            assert [u for u in requested if not u.startswith(live)] == []

            page.locator("button.authorize").first.click()
            bearer = page.locator(".auth-container").filter(has_text="cleApi")
            bearer.locator("input").fill(key)
            bearer.locator("button.authorize").click()
            page.locator("button.close-modal").click()

            workflow = page.locator(".opblock").filter(has_text="/api/v1/workflow").first
            workflow.locator(".opblock-summary").click()
            workflow.locator("button.try-out__btn").click()
            with page.expect_response(lambda r: r.url.endswith("/api/v1/workflow")) as answer:
                workflow.locator("button.execute").click()
            assert answer.value.status == 200
            assert answer.value.request.headers["authorization"] == f"Bearer {key}"
            assert (
                workflow.locator(".live-responses-table tr.response .response-col_status").first.inner_text().strip()
                == "200"
            )
            assert [u for u in requested if not u.startswith(live)] == [] and problems == []
        finally:
            browser.close()
