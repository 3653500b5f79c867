"""The full export of the database, for admins (the CLI `regieflow export` writes the same bytes)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.http.dependencies import Authorized, ClockDep, uow_factory

router = APIRouter(prefix="/admin", tags=["administration"], dependencies=[Authorized])


@router.get(
    "/export",
    name="admin_export",
    response_class=Response,
    summary="Full JSON export of the database (every table but sessions, login throttles, idempotency records)",
    responses={
        200: {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "The `regieflow-dump` document that `regieflow import FILE` loads into an "
            "empty database. Holds password and key hashes: keep it safe.",
        }
    },
)
def admin_export(request: Request, clock: ClockDep) -> Response:
    from app.exchange import dump  # lazy: only this route needs it, not the start (issue 17)

    body = dump.export_json(uow_factory(request))
    name = f"regieflow-export-{clock.today().isoformat()}.json"
    return Response(
        body.encode("utf-8"),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
