"""Every page state a browser test reaches: axe-core (shipped by axe-playwright-python, nothing
downloaded) finds no violation, and a screenshot at 1366 and at 375 px lands in tests/artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import ARTIFACTS

WIDTHS = {"1366": (1366, 900), "375": (375, 812)}
CHECKED: list[str] = []  # the page states checked in this run (the closing note counts them)


def axe_violations(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return list(results.response.get("violations", []))


def check(page, name: str, *, both_widths: bool = True) -> None:
    """axe on the page as it is now, at 1366 and at 375 px (each layout is a page state of its own;
    fails on any violation), nothing wider than the screen at 375 px, and a screenshot at each width;
    the viewport is restored afterwards. `both_widths=False`: the current width only."""
    size = page.viewport_size or {"width": 1366, "height": 900}
    current = "375" if size["width"] <= 400 else "1366"
    widths = [current, "1366" if current == "375" else "375"] if both_widths else [current]
    for label in widths:
        w, h = WIDTHS[label]
        page.set_viewport_size({"width": w, "height": h})
        violations = axe_violations(page)
        assert not violations, f"{name} at {label} px: " + json.dumps(
            [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in violations],
            ensure_ascii=False,
        )
        if label == "375":
            no_overflow(page, f"{name} at 375 px")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(size)
    CHECKED.append(name)


def no_overflow(page, name: str) -> None:
    """Nothing wider than the screen at 375 px but what scrolls on purpose (a chart's box)."""
    wide = page.evaluate("""() => document.documentElement.scrollWidth - document.documentElement.clientWidth""")
    if wide > 1:
        culprits = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                .filter(e => !e.closest('.chart, .scroll-x, .table-wrap'))
                .slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
        )
        raise AssertionError(f"{name}: the page is {wide}px wider than the screen: {culprits}")


def report(path: Path = ARTIFACTS / "axe.json") -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"states": len(CHECKED), "violations": 0, "pages": CHECKED}, ensure_ascii=False))
