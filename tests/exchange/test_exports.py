"""Portfolio exports: CSV (BOM, `;` option) and XLSX hold the same rows as GET /projects, for what the
caller may read only."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.exchange.exports import HEADER
from tests.support.accounts import add_user, login
from tests.support.api import API, create_project, project_at

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _portfolio(client: TestClient) -> dict[str, dict]:
    a = project_at(
        client,
        "faisabilite",
        start=date(2025, 1, 6),
        name="Régie de l'Alma",
        region="Hauts-de-France",
        lead_name="Amina Benali",
    )
    b = project_at(
        client, "groupe_projet", start=date(2026, 10, 1), name="Régie du Blosne", region="Bretagne", departement="35"
    )
    c = project_at(client, "labellisee", start=date(2023, 3, 1), name="Régie des Coteaux", region="Occitanie")
    return {"a": a, "b": b, "c": c}


def _csv(r, sep: str = ",") -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf"), r.content[:10]  # UTF-8 byte-order mark
    text = r.content.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text), delimiter=sep))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)


def test_csv_xlsx_and_filters(client: TestClient) -> None:
    """One portfolio (building it is the slow part), three checks."""
    ps = _portfolio(client)
    _check_csv(client, ps)
    _check_xlsx(client)
    _check_filters(client, ps)


def _check_csv(client: TestClient, ps: dict[str, dict]) -> None:
    """The CSV rows are the list's rows, with a BOM; `separator=semicolon` gives the same rows with `;`."""
    listed = client.get(f"{API}/projects", params={"page_size": 200}).json()["items"]
    rows = _csv(client.get(f"{API}/exports/projects.csv"))
    assert rows[0] == HEADER
    assert [r[0] for r in rows[1:]] == [p["id"] for p in listed]  # same order as the list (status first)
    by_id = {r[0]: dict(zip(HEADER, r, strict=True)) for r in rows[1:]}
    for p in listed:
        row = by_id[p["id"]]
        for name in (
            "name",
            "kind",
            "region",
            "state",
            "state_label",
            "started_on",
            "state_entered_on",
            "horizon_on",
            "labelled_on",
            "lead_name",
        ):
            assert row[name] == ("" if p[name] is None else str(p[name])), name
        assert row["status"] == (p["status"] or "")
        assert row["step_due_on"] == (p["step_due_on"] or "")
        assert row["projected_label_on"] == (p["projected_label_on"] or "")
        assert row["version"] == str(p["version"])
    assert by_id[ps["c"]["id"]]["labelled_on"] == ps["c"]["labelled_on"] != ""
    assert by_id[ps["a"]["id"]]["name"] == "Régie de l'Alma"  # UTF-8 survives
    semi = _csv(client.get(f"{API}/exports/projects.csv", params={"separator": "semicolon"}), sep=";")
    assert semi == rows
    raw = client.get(f"{API}/exports/projects.csv", params={"separator": "semicolon"}).content.decode("utf-8-sig")
    assert raw.splitlines()[0] == ";".join(HEADER)
    assert client.get(f"{API}/exports/projects.csv", params={"separator": "tab"}).status_code == 422
    assert "attachment" in client.get(f"{API}/exports/projects.csv").headers["content-disposition"]


def _check_xlsx(client: TestClient) -> None:
    """The workbook holds the CSV's rows, with real dates, a bold header and frozen panes."""
    rows = _csv(client.get(f"{API}/exports/projects.csv"))
    r = client.get(f"{API}/exports/projects.xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.active
    assert ws.freeze_panes == "C2"
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    assert list(values[0]) == HEADER
    assert all(c.font.bold for c in ws[1])
    assert [[_cell(v) for v in row] for row in values] == rows
    started = HEADER.index("started_on")
    assert all(isinstance(row[started], datetime) for row in values[1:])  # dates are dates, not text
    assert ws.cell(row=2, column=started + 1).number_format == "dd/mm/yyyy"
    assert all(isinstance(row[HEADER.index("version")], int) for row in values[1:])


def _check_filters(client: TestClient, ps: dict[str, dict]) -> None:
    """The filters are the list's own."""
    for params in (
        {"state": "faisabilite"},
        {"region": "Bretagne"},
        {"q": "coteaux"},
        {"status": "dans_les_temps"},
        {"kind": "regie_de_quartier", "sort": "-name"},
    ):
        listed = [p["id"] for p in client.get(f"{API}/projects", params=params).json()["items"]]
        exported = [r[0] for r in _csv(client.get(f"{API}/exports/projects.csv", params=params))[1:]]
        assert exported == listed, params
    assert [r[0] for r in _csv(client.get(f"{API}/exports/projects.csv", params={"state": "faisabilite"}))[1:]] == [
        ps["a"]["id"]
    ]
    # The export routes take exactly the list's filters (and nothing of its paging).
    doc = client.get("/openapi.json").json()["paths"]
    listing = {p["name"] for p in doc[f"{API}/projects"]["get"]["parameters"]} - {"page", "page_size"}
    assert {p["name"] for p in doc[f"{API}/exports/projects.xlsx"]["get"]["parameters"]} == listing
    assert {p["name"] for p in doc[f"{API}/exports/projects.csv"]["get"]["parameters"]} == listing | {"separator"}


def test_a_porteur_exports_only_their_projects(app, client: TestClient) -> None:
    ps = {"a": create_project(client), "b": create_project(client, name="Régie du Blosne", region="Bretagne")}
    add_user(app, "porteuse@example.fr", [("porteur", uuid.UUID(ps["b"]["id"]), None)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "porteuse@example.fr")
        rows = _csv(c.get(f"{API}/exports/projects.csv"))
        assert [r[0] for r in rows[1:]] == [ps["b"]["id"]]
        ws = load_workbook(io.BytesIO(c.get(f"{API}/exports/projects.xlsx").content)).active
        assert [row[0] for row in ws.iter_rows(min_row=2, values_only=True)] == [ps["b"]["id"]]
    with TestClient(app, raise_server_exceptions=False) as anon:
        assert anon.get(f"{API}/exports/projects.csv").status_code == 401
        assert anon.get(f"{API}/exports/projects.xlsx").status_code == 401


def test_cells_that_look_like_formulas_stay_text(client: TestClient) -> None:
    p = create_project(client, name='=HYPERLINK("http://example.org")', lead_name="@Claire")
    rows = _csv(client.get(f"{API}/exports/projects.csv"))
    row = dict(zip(HEADER, rows[1], strict=True))
    assert row["id"] == p["id"]
    assert row["name"] == '\'=HYPERLINK("http://example.org")' and row["lead_name"] == "'@Claire"
    ws = load_workbook(io.BytesIO(client.get(f"{API}/exports/projects.xlsx").content)).active
    cell = ws.cell(row=2, column=HEADER.index("name") + 1)
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://example.org")'


def test_control_characters_do_not_break_the_workbook(client: TestClient, app) -> None:
    """The API refuses them now; a row stored before (or by hand) still exports, on one line."""
    from app.projects.models import Project

    body = {"name": "Régie\x07 du bip", "kind": "regie_de_quartier", "region": "Hauts-de-France"}
    assert client.post(f"{API}/projects", json=body).status_code == 422
    pid = create_project(client, name="Régie du bip")["id"]
    with app.state.session_factory() as session:  # a workbook (XML) cannot hold U+0007
        session.get(Project, uuid.UUID(pid)).name = "Régie\x07 du bip"
        session.commit()
    assert _csv(client.get(f"{API}/exports/projects.csv"))[1][1] == "Régie  du bip"
    r = client.get(f"{API}/exports/projects.xlsx")
    assert r.status_code == 200, r.text
    assert load_workbook(io.BytesIO(r.content)).active.cell(row=2, column=2).value == "Régie  du bip"
