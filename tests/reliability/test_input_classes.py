"""Issue 11, §1: whole classes of hostile input, generated (Hypothesis), never a 500 and never a change.

Classes: numbers written with non-ASCII digits (every Unicode digit, numeric and letter-number
character) or with thousands of digits, in identifiers, cursors, page numbers and integer form fields;
control characters (U+0000–U+001F, U+007F–U+009F) in bodies, forms and query strings; `%` and `_` in
searches; integers, floats and booleans where a date is expected; and any stored text, exported to
iCalendar, CSV and XLSX. Each test asserts the status (404, 422 or the page's French error), and that
nothing was written (the project's version, the number of projects).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.identifiers import parse_uuid
from app.core.inputs import ascii_id, ascii_int, has_control, single_line
from app.exchange.exports import FORMULA_LEADS
from app.feed.service import decode_cursor
from app.web.forms import form_int
from tests.support.accounts import browser
from tests.support.api import API, create_project
from tests.support.evidence import CREATE_BODIES
from tests.support.hostile import CONTROLS, NON_ASCII_DIGITS
from tests.support.html import html_of
from workflow.vocabulary import STEPS

# --- the classes -------------------------------------------------------------------------------------
DIGITS = "0123456789"

unicode_numbers = st.builds(
    lambda before, odd, after: before + odd + after,
    st.text(DIGITS, max_size=4),
    st.text(st.sampled_from(NON_ASCII_DIGITS), min_size=1, max_size=4),
    st.text(DIGITS, max_size=4),
)
huge_numbers = st.one_of(
    st.builds(lambda a, b: a + b, st.sampled_from(DIGITS[1:]), st.text(DIGITS, min_size=18, max_size=6000)),
    st.integers(min_value=2**63).map(str),
    st.integers(max_value=-1).map(str),
)
hostile_numbers = st.one_of(unicode_numbers, huge_numbers)


SHORT_TEXT = st.text("abcdé ", min_size=0, max_size=8)


def with_control(base: st.SearchStrategy[str] = SHORT_TEXT) -> Any:
    """A text holding at least one control character, anywhere (at either end included)."""
    return st.builds(lambda a, c, b: a + c + b, base, st.text(st.sampled_from(CONTROLS), min_size=1, max_size=3), base)


# Any text a database could hold (no surrogate, no NUL: PostgreSQL refuses it), hostile where it counts.
stored_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=60),
    st.builds(
        lambda lead, rest: lead + rest,
        st.sampled_from([*FORMULA_LEADS, " =", "\r\n", '"', ";", ","]),
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30),
    ),
)
not_a_date = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["20261126", "2026-11-26T00:00:00", "2026-W48-4", "1700000000", "٢٠٢٦-١١-٢٦", " 2026-11-26"]),
)

HTTP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PURE = settings(max_examples=1000, deadline=None)


def _status(r: Any, *expected: int) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:500])
    assert r.status_code in expected, (r.status_code, r.text[:500])


def _count(client: Any) -> int:
    return int(client.get(f"{API}/projects?page_size=1").json()["total"])


def _version(client: Any, pid: str) -> int:
    return int(client.get(f"{API}/projects/{pid}").json()["version"])


# --- 1. numbers: the shared strict parser --------------------------------------------------------------
@PURE
@given(hostile_numbers)
def test_the_strict_parser_reads_ascii_digits_only_and_never_raises(text: str) -> None:
    assert ascii_int(text) is None
    assert ascii_id(text) is None
    assert form_int(text) is None
    assert decode_cursor(text) is None and decode_cursor("fs_" + text) is None
    assert parse_uuid(text) is None or text.isascii()  # 32 ASCII digits are a UUID


@PURE
@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_the_strict_parser_reads_every_ascii_number_it_bounds(n: int) -> None:
    assert ascii_int(str(n)) == n and decode_cursor(f"fs_{n}") == n
    assert ascii_id(str(n)) == (n if 1 <= n < 2**31 else None)


@PURE
@given(st.text(st.sampled_from("0123456789abcdef٠١٢٣٤٥٦٧٨٩²{}-:"), min_size=30, max_size=45))
def test_uuids_are_ascii_hexadecimal(text: str) -> None:
    parsed = parse_uuid(text)
    assert parsed is None or (text.isascii() and "{" not in text and ":" not in text)


# --- 1. numbers over HTTP: API cursor, page routes and forms ---------------------------------------------
@HTTP
@given(hostile_numbers)
def test_feed_cursor_with_hostile_numbers_is_422(client, text: str) -> None:
    for after in (text[:40], "fs_" + text[:37]):
        _status(client.get(f"{API}/events", params={"after": after}), 422)


@pytest.fixture
def consultant(app: Any) -> Any:
    with browser(app, "claire@example.fr", [("consultant", None, None)]) as c:
        yield c


@pytest.fixture
def admin(app: Any) -> Any:
    with browser(app, "ana@example.fr", [("admin", None, None)]) as c:
        yield c


@HTTP
@given(hostile_numbers)
def test_page_identifiers_with_hostile_numbers_are_404(client, consultant, admin, text: str) -> None:
    pid = create_project(client)["id"]
    for path in (
        f"/projets/{pid}/preuves/stakeholders/{text}",
        f"/projets/{pid}/preuves/stakeholders/{text}/supprimer",
        f"/projets/{text}",
    ):
        _status(consultant.get(path), 404)
    _status(consultant.post(f"/projets/{pid}/preuves/stakeholders/{text}", data={"csrf": consultant.csrf}), 404)
    for path in (f"/admin/utilisateurs/{text}", f"/admin/cles/{text}/revoquer"):
        _status(admin.get(path), 404)
    assert _version(client, pid) == 1


@HTTP
@given(hostile_numbers, hostile_numbers)
def test_page_numbers_with_hostile_numbers_fall_back_to_the_first_page(
    client, consultant, page: str, size: str
) -> None:
    pid = create_project(client)["id"]
    _status(consultant.get("/projets", params={"page": page[:100], "par_page": size[:100]}), 200)
    _status(consultant.get(f"/projets/{pid}", params={"historique": page[:10]}), 200)


@HTTP
@given(hostile_numbers, st.sampled_from(["mois_prefiguration", "horizon_months"]))
def test_replan_form_with_hostile_numbers_is_the_pages_french_error(client, consultant, text: str, field: str) -> None:
    pid = create_project(client)["id"]
    months = {f"mois_{s.value}": "6" for s in STEPS}
    data = {"csrf": consultant.csrf, **months, "horizon_months": "36", "reason": "Essai", field: text}
    r = consultant.post(f"/projets/{pid}/plan", data=data)
    _status(r, 422)
    assert "invalide" in r.text or "mois" in r.text
    assert _version(client, pid) == 1


@HTTP
@given(hostile_numbers)
def test_integer_form_fields_with_hostile_numbers_are_refused_beside_the_field(client, consultant, text: str) -> None:
    pid = create_project(client)["id"]
    r = consultant.post(
        f"/projets/{pid}/preuves/feasibility", data={"csrf": consultant.csrf, "annual_charges": text, "version": "1"}
    )
    _status(r, 422)
    assert html_of(r).by_id("f-annual-charges-erreur") is not None
    assert _version(client, pid) == 1


@HTTP
@given(hostile_numbers)
def test_api_integer_fields_and_if_match_with_hostile_numbers_never_write(client, text: str) -> None:
    pid = create_project(client)["id"]
    _status(client.put(f"{API}/projects/{pid}/feasibility", json={"annual_charges": text}), 422)
    _status(client.get(f"{API}/projects", params={"page": text[:50]}), 422)
    r = client.post(
        f"{API}/projects/{pid}/needs", json={"label": "Besoin"}, headers={"If-Match": f'"{text[:40]}"'.encode()}
    )
    _status(r, 412, 422)
    assert _version(client, pid) == 1


# --- 2. control characters: API bodies and queries, page forms and query strings -----------------------
@HTTP
@given(with_control(), st.sampled_from(["name", "region", "lead_name"]))
def test_api_refuses_control_characters_in_single_line_fields(client, text: str, field: str) -> None:
    before = _count(client)
    body = {"name": "Régie", "kind": "regie_de_quartier", "region": "Hauts-de-France"} | {field: text}
    _status(client.post(f"{API}/projects", json=body), 422)
    pid = create_project(client)["id"]
    _status(client.patch(f"{API}/projects/{pid}", json={field: text}), 422)
    _status(client.post(f"{API}/projects/{pid}/needs", json={"label": text}), 422)
    assert _count(client) == before + 1 and _version(client, pid) == 1


@HTTP
@given(with_control().filter(lambda t: has_control(t.replace("\t", "").replace("\n", "").replace("\r", ""))))
def test_api_refuses_control_characters_in_multi_line_text_but_tab_and_line_breaks(client, text: str) -> None:
    pid = create_project(client)["id"]
    _status(client.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin", "description": text}), 422)
    _status(client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": text}), 422)
    assert _version(client, pid) == 1
    ok = client.post(f"{API}/projects/{pid}/needs", json={"label": "Besoin", "description": "une\nnote\r\n\tfin"})
    assert ok.status_code == 201, ok.text


@HTTP
@given(with_control(), st.sampled_from(["q", "region"]))
def test_api_search_refuses_control_characters(client, text: str, param: str) -> None:
    _status(client.get(f"{API}/projects", params={param: text}), 422)
    _status(client.get(f"{API}/exports/projects.csv", params={param: text}), 422)


@HTTP
@given(with_control(), st.sampled_from(["q", "region", "etape", "tri", "page"]))
def test_pages_refuse_control_characters_in_the_portfolio_query(consultant, text: str, param: str) -> None:
    r = consultant.get("/projets", params={param: text})
    _status(r, 422)
    assert "caractère de contrôle" in r.text


@HTTP
@given(with_control(), st.sampled_from(["name", "organisation"]))
def test_page_forms_refuse_control_characters_beside_the_field(client, consultant, text: str, field: str) -> None:
    pid = create_project(client)["id"]
    data = {"csrf": consultant.csrf, "name": "Amina Benali", "category": "habitant"} | {field: text}
    r = consultant.post(f"/projets/{pid}/preuves/stakeholders", data=data)
    _status(r, 422)
    error = html_of(r).by_id(f"f-{field}-erreur")
    assert error is not None and "Caractère interdit" in error.text, r.text[:3000]
    assert _version(client, pid) == 1


@HTTP
@given(with_control())
def test_new_project_and_transition_forms_refuse_control_characters(client, consultant, text: str) -> None:
    before = _count(client)
    data = {"csrf": consultant.csrf, "name": text, "kind": "regie_de_quartier", "region": "Hauts-de-France"}
    r = consultant.post("/projets/nouveau", data=data)
    _status(r, 422)
    assert "Caractère interdit" in r.text or (not text.strip() and "Le formulaire contient des erreurs" in r.text)
    pid = create_project(client)["id"]
    if has_control(text.replace("\t", "").replace("\n", "").replace("\r", "")):
        r = consultant.post(f"/projets/{pid}/transitions/suspendre", data={"csrf": consultant.csrf, "reason": text})
        _status(r, 422)
        assert "Caractère interdit" in r.text
    assert _count(client) == before + 1 and _version(client, pid) == 1


# --- 3. any stored text, exported ----------------------------------------------------------------------
def _store(app: Any, pid: str, **fields: str) -> None:
    from app.projects.models import Project

    with app.state.session_factory() as session:
        p = session.get(Project, uuid.UUID(pid))
        for name, value in fields.items():
            setattr(p, name, value)
        session.commit()


@HTTP
@given(stored_text, stored_text, stored_text)
def test_every_exporter_survives_any_stored_text(app, client, anon_client, name: str, region: str, lead: str) -> None:
    from icalendar import Calendar
    from openpyxl import load_workbook

    pid = create_project(client)["id"]
    _store(app, pid, name=name, region=region, lead_name=lead)
    url = client.post(f"{API}/calendars", json={"project_id": pid}).json()["url"]
    r = anon_client.get("/" + url.split("://", 1)[1].split("/", 1)[1])
    _status(r, 200)
    for line in r.content.split(b"\r\n"):  # content lines end with CRLF, and hold no other line break
        assert b"\r" not in line and b"\n" not in line
    events = Calendar.from_ical(r.content).walk("VEVENT")
    assert events and all(single_line(name) in str(e["SUMMARY"]) for e in events)

    r = client.get(f"{API}/exports/projects.csv")
    _status(r, 200)
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    row = next(row for row in rows if row[0] == pid)
    assert len(row) == len(rows[0])
    for cell in (row[1], row[3], row[7]):
        assert not has_control(cell)
        assert not cell.lstrip(" ").startswith(FORMULA_LEADS) or cell.startswith("'")
    r = client.get(f"{API}/exports/projects.xlsx")
    _status(r, 200)
    sheet = load_workbook(io.BytesIO(r.content)).active
    cells = next(row for row in sheet.iter_rows() if row[0].value == pid)
    for cell in (cells[1], cells[3], cells[7]):
        assert cell.data_type == "s" and not has_control(str(cell.value or ""))


# --- 4. search: % and _ are letters ---------------------------------------------------------------------
@HTTP
@given(st.text(st.sampled_from("%_\\"), min_size=1, max_size=6))
def test_percent_and_underscore_are_not_wildcards(client, consultant, q: str) -> None:
    create_project(client, name="Régie de l'Alma", region="Hauts-de-France", lead_name="Amina")
    r = client.get(f"{API}/projects", params={"q": q})
    _status(r, 200)
    assert r.json()["total"] == 0, q
    page = consultant.get("/projets", params={"q": q})
    _status(page, 200)
    assert "Régie de l&#39;Alma" not in page.text and "Régie de l'Alma" not in page.text


def test_percent_and_underscore_match_themselves(client) -> None:
    create_project(client, name="Régie 100% solidaire_2")
    create_project(client, name="Régie 1000 solidaires")
    for q, n in (("100%", 1), ("e_2", 1), ("0%", 1), ("%", 1), ("_", 1), ("solidaire", 2)):
        assert client.get(f"{API}/projects", params={"q": q}).json()["total"] == n, q


# --- 5. dates are ISO strings -------------------------------------------------------------------------
DATE_FIELDS = {  # every kind of evidence with a date, and its date field
    "site-visits": "visited_on",
    "association": "declared_on",
    "hires": "start_on",
    "expertises": "conducted_on",
    "feasibility": "conclusion_on",
    "approvals": "given_on",
}


@HTTP
@given(not_a_date, st.sampled_from(sorted(DATE_FIELDS)))
def test_integers_and_other_non_iso_values_are_not_dates(client, value: Any, kind: str) -> None:
    before = _count(client)
    body = {"name": "Régie", "kind": "regie_de_quartier", "region": "Hauts-de-France", "started_on": value}
    _status(client.post(f"{API}/projects", json=body), 422)
    pid = create_project(client)["id"]
    _status(
        client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "m", "effective_on": value}), 422
    )
    field = DATE_FIELDS[kind]
    method = client.put if kind in ("association", "feasibility") else client.post
    r = method(f"{API}/projects/{pid}/{kind}", json=CREATE_BODIES[kind] | {field: value})
    _status(r, 422)
    assert field in r.text  # refused for its date, not for another field
    assert _count(client) == before + 1 and _version(client, pid) == 1


def test_iso_dates_still_work(client) -> None:
    body = {"name": "Régie", "kind": "regie_de_quartier", "region": "Hauts-de-France", "started_on": "2026-01-05"}
    r = client.post(f"{API}/projects", json=body)
    assert r.status_code == 201 and r.json()["started_on"] == "2026-01-05", r.text
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r.json()["started_on"])
