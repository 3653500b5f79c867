"""The portfolio's French export says « Dernière activité » on the day the change happened where the
service runs (Europe/Paris), as the pages do: a change at 00:30 in Paris is not dated the UTC day before."""

from __future__ import annotations

import csv
import io
from datetime import date

from tests.support.accounts import add_user, browser
from tests.support.api import create_project


def test_last_activity_in_the_export_is_a_paris_day(app, client, clock) -> None:
    clock.advance(hours=12, minutes=30)  # 00:30 on 27 November in Paris, 23:30 on the 26th in UTC
    assert clock.today() == date(2026, 11, 27)
    pid = create_project(client, name="Régie de Minuit")["id"]
    add_user(app, "m@example.fr", [("consultant", None, None)])
    with browser(app, "m@example.fr", login_page=True) as c:
        r = c.get("/projets/export.csv")
    assert r.status_code == 200, r.text
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in text.splitlines()[0] else ","))
    header, body = rows[0], rows[1:]
    [row] = [line for line in body if pid in line]
    cell = row[header.index("Dernière activité")]
    assert cell.startswith("27/11/2026") or cell.startswith("2026-11-27"), cell
