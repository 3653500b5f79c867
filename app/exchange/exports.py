"""Portfolio exports for spreadsheets and partner systems: CSV and XLSX, the same rows in both.

Rows are the projects a principal may read, filtered and sorted like GET /api/v1/projects, and each
row shows what that list shows (deadlines and status as of today). Nothing here knows HTTP.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.authorization.rules import Principal
from app.core.inputs import single_line
from app.core.settings import get_settings
from app.core.unit_of_work import UnitOfWork
from app.projects.repository import SearchFilters
from app.projects.schemas import ProjectRead
from app.projects.service import project_read
from workflow.vocabulary import KIND_LABELS, STATUS_LABELS

BATCH = 500


@dataclass(frozen=True)
class Column:
    name: str  # header, in both formats
    get: Callable[[ProjectRead], Any]
    width: int = 14  # XLSX column width (characters)


def _v(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


COLUMNS: tuple[Column, ...] = (
    Column("id", lambda p: str(p.id), 38),
    Column("name", lambda p: p.name, 40),
    Column("kind", lambda p: _v(p.kind), 20),
    Column("region", lambda p: p.region, 24),
    Column("departement", lambda p: p.departement, 12),
    Column("initiator", lambda p: _v(p.initiator)),
    Column("conventionnement", lambda p: _v(p.conventionnement)),
    Column("lead_name", lambda p: p.lead_name, 24),
    Column("state", lambda p: _v(p.state), 16),
    Column("state_label", lambda p: p.state_label, 40),
    Column("status", lambda p: _v(p.status), 16),
    Column("suspended_since", lambda p: p.suspended_since),
    Column("started_on", lambda p: p.started_on),
    Column("state_entered_on", lambda p: p.state_entered_on),
    Column("step_due_on", lambda p: p.step_due_on),
    Column("horizon_on", lambda p: p.horizon_on),
    Column("projected_label_on", lambda p: p.projected_label_on),
    Column("labelled_on", lambda p: p.labelled_on),
    Column("closed_on", lambda p: p.closed_on),
    Column("version", lambda p: p.version, 9),
)


HEADER = [c.name for c in COLUMNS]


# The pages' download (Portefeuille → « Télécharger ») is for people, in French: headers, choices by
# their label and dates as dates. The API's exports keep the column names above, which partner systems
# read (documented in the OpenAPI description); the two share the rows' order and filters.
def _label(labels: dict[Any, str], value: Any) -> str | None:
    return labels.get(value) if value is not None else None


COLUMNS_FR: tuple[Column, ...] = (
    Column("Projet", lambda p: p.name, 40),
    Column("Type", lambda p: KIND_LABELS.get(p.kind), 20),
    Column("Région", lambda p: p.region, 24),
    Column("Département", lambda p: p.departement, 12),
    Column("Porteur", lambda p: p.lead_name, 24),
    Column("Étape", lambda p: p.state_label, 40),
    Column("Statut", lambda p: _label(STATUS_LABELS, p.status), 16),
    Column("Suspendu depuis", lambda p: p.suspended_since),
    Column("Démarrage", lambda p: p.started_on),
    Column("Entrée dans l'étape", lambda p: p.state_entered_on),
    Column("Échéance de l'étape", lambda p: p.step_due_on),
    Column("Horizon", lambda p: p.horizon_on),
    Column("Label projeté", lambda p: p.projected_label_on),
    Column("Labellisée le", lambda p: p.labelled_on),
    Column("Clos le", lambda p: p.closed_on),
    # the day where the service runs (REGIEFLOW_TIMEZONE, Europe/Paris), as the pages show it: not the UTC day
    Column("Dernière activité", lambda p: p.updated_at.astimezone(get_settings().tz).date()),
    Column("Identifiant", lambda p: str(p.id), 38),
)


def rows_fr(projects: Iterator[ProjectRead]) -> list[list[Any]]:
    return [[c.get(p) for c in COLUMNS_FR] for p in projects]


def portfolio(uow: UnitOfWork, *, visible_to: Principal, today: date, filters: SearchFilters) -> Iterator[ProjectRead]:
    """Every project `visible_to` may read, filtered and sorted like the list (all pages)."""
    offset = 0
    while True:
        rows, total = uow.projects.search(today=today, visible_to=visible_to, offset=offset, limit=BATCH, **filters)
        for p in rows:
            yield project_read(p, today)
        offset += BATCH
        if offset >= total or not rows:
            return


def rows_of(projects: Iterator[ProjectRead]) -> list[list[Any]]:
    return [[c.get(p) for c in COLUMNS] for p in projects]


# --- CSV --------------------------------------------------------------------------------------------
SEPARATORS = {"comma": ",", "semicolon": ";"}


BOM = "\ufeff"


# A cell that starts like this is a formula to a spreadsheet (CSV injection, CWE-1236; OWASP's list,
# with the full-width forms some spreadsheets also read): the CSV writes it with a leading apostrophe,
# which spreadsheets show as text and hide; the XLSX stores it as a text cell.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def cell_text(value: str) -> str:
    """Stored text as one line of a cell, whatever was stored (the API refuses control characters, but
    an export must survive an older row or a hand-edited database): every control character, CR and LF
    included, becomes a space."""
    return single_line(value)


def looks_like_formula(text: str) -> bool:
    return text.lstrip(" ").startswith(FORMULA_LEADS)


def _csv_cell(value: Any, *, french_dates: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y") if french_dates else value.isoformat()
    if not isinstance(value, str):
        return str(value)
    text = cell_text(value)
    return "'" + text if looks_like_formula(text) else text


def to_csv(rows: list[list[Any]], *, separator: str = ",", french: bool = False) -> bytes:
    """UTF-8 with a byte-order mark (so that spreadsheets detect UTF-8), CRLF line ends (RFC 4180).
    `french`: the pages' download (COLUMNS_FR rows, dates as dd/mm/yyyy)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=separator, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([c.name for c in COLUMNS_FR] if french else HEADER)
    for row in rows:
        writer.writerow([_csv_cell(v, french_dates=french) for v in row])
    return out.getvalue().encode("utf-8")


# --- XLSX -------------------------------------------------------------------------------------------
DATE_FORMAT = "dd/mm/yyyy"


def to_xlsx(rows: list[list[Any]], *, title: str = "Projets", french: bool = False) -> bytes:
    """One sheet: a bold header row, frozen panes (header and project name stay visible), a filter,
    dates as real dates (shown dd/mm/yyyy) and numbers as numbers. Text is the CSV's, on one line
    (control characters, which a workbook cannot hold in XML 1.0, become spaces), and a text that looks
    like a formula is a text cell, never a formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = title
    columns = COLUMNS_FR if french else COLUMNS
    ws.append([c.name for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([cell_text(v) if isinstance(v, str) else v for v in row])
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c)
            if isinstance(value, date):
                cell.number_format = DATE_FORMAT
            elif isinstance(value, str) and looks_like_formula(cell_text(value)):
                cell.data_type = "s"  # text that looks like a formula stays text (openpyxl reads "=…" as one)
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    ws.freeze_panes = "B2" if french else "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
