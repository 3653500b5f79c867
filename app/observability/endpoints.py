"""GET /metrics: the Prometheus text exposition (app.observability.metrics)."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request, Response

from app.core.errors import Unauthenticated
from app.http.dependencies import Authorized, unit_of_work
from app.observability.metrics import exposition

router = APIRouter(tags=["health"], dependencies=[Authorized])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/metrics",
    name="metrics",
    response_class=Response,
    summary="Prometheus metrics (text exposition format); needs the bearer REGIEFLOW_METRICS_TOKEN when set",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The metrics."},
        401: {"description": "REGIEFLOW_METRICS_TOKEN is set and the request does not carry it"},
    },
)
def metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode()):
            raise Unauthenticated("Jeton de métriques absent ou incorrect (Authorization: Bearer …).")
    with unit_of_work(request, write=False) as uow:
        body = exposition(uow.session, now=time.time())
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
