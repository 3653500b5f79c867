"""Portfolio exports: CSV and XLSX of the projects the caller may read (filters of GET /projects)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.exchange import exports
from app.http.dependencies import Authorized, ClockDep, PrincipalDep, ReadUow
from app.projects.filters import ProjectFiltersDep

router = APIRouter(prefix="/exports", tags=["exports"], dependencies=[Authorized])


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@router.get(
    "/projects.csv",
    name="export_projects_csv",
    response_class=Response,
    summary="The portfolio as CSV (UTF-8 with BOM), same filters as GET /projects",
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "One row per project the caller may read; dates are YYYY-MM-DD.",
        }
    },
)
def export_projects_csv(
    uow: ReadUow,
    clock: ClockDep,
    principal: PrincipalDep,
    filters: ProjectFiltersDep,
    separator: Annotated[
        Literal["comma", "semicolon"],
        Query(description="Field separator: `semicolon` for spreadsheets set up for French (which expect `;`)."),
    ] = "comma",
) -> Response:
    today = clock.today()
    rows = exports.rows_of(exports.portfolio(uow, visible_to=principal, today=today, filters=filters.search_args()))
    body = exports.to_csv(rows, separator=exports.SEPARATORS[separator])
    return Response(
        body, media_type="text/csv; charset=utf-8", headers=_attachment(f"regieflow-projets-{today.isoformat()}.csv")
    )


@router.get(
    "/projects.xlsx",
    name="export_projects_xlsx",
    response_class=Response,
    summary="The portfolio as an Excel workbook, same rows as the CSV",
    responses={
        200: {
            "content": {exports.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "One sheet, a header row, frozen panes, dates as dates.",
        }
    },
)
def export_projects_xlsx(
    uow: ReadUow, clock: ClockDep, principal: PrincipalDep, filters: ProjectFiltersDep
) -> Response:
    today = clock.today()
    rows = exports.rows_of(exports.portfolio(uow, visible_to=principal, today=today, filters=filters.search_args()))
    return Response(
        exports.to_xlsx(rows),
        media_type=exports.XLSX_MEDIA_TYPE,
        headers=_attachment(f"regieflow-projets-{today.isoformat()}.xlsx"),
    )
