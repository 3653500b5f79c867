"""SQL statements per page do not grow with the number of projects (issue 13): the porteur's home,
« Mes échéances », the project page and the portfolio, counted like tests/transitions/test_statement_counts.py
(a before_cursor_execute listener on the app's engine, each page counted on its second load) with 5 and
with 60 projects. « Mes échéances » reads its open opinion requests in one bounded statement and the home its
cards' open items in two (app/home/collaboration.py), whatever the number of projects."""

from __future__ import annotations

import uuid

from tests.support.accounts import add_user, browser
from tests.support.api import create_project, project_at
from tests.transitions.test_statement_counts import START, counting

PAGES = ("/", "/echeances", "/projets", "/projets?q=regie", "/projets/{pid}")


def _count(c, engine, path: str) -> int:
    c.get(path)
    with counting(engine) as seen:
        r = c.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return len(seen)


def test_statements_per_page_do_not_depend_on_the_number_of_projects(app, client) -> None:
    engine = app.state.engine
    pid = project_at(client, "validation", start=START)["id"]
    mine = [project_at(client, "contours", start=START, name=f"Régie du porteur n°{i}")["id"] for i in range(2)]
    for i in range(12):  # more than COLLABORATION_PROJECTS due already
        create_project(client, name=f"Régie n°{i}", started_on=START.isoformat())
    add_user(app, "porteur@example.fr", [("porteur", uuid.UUID(p), None) for p in [pid, *mine]])
    add_user(app, "consultant@example.fr", [("consultant", None, None)])

    def counts() -> dict[str, int]:
        out = {}
        with browser(app, "porteur@example.fr", login_page=True) as c:
            out["/ (porteur)"] = _count(c, engine, "/")
        with browser(app, "consultant@example.fr", login_page=True) as c:
            for page in PAGES[1:]:
                out[page] = _count(c, engine, page.format(pid=pid))
        return out

    small = counts()
    for i in range(45):
        create_project(client, name=f"Régie supplémentaire n°{i}", started_on=START.isoformat())
    large = counts()
    assert small == large, (small, large)
