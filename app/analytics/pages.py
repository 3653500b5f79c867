"""/analyse: the analytics page (consultants and admins), the same figures as GET /api/v1/analytics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.analytics.charts import bar_chart
from app.analytics.service import analytics, is_analyst
from app.core.clock import Clock
from app.http.dependencies import unit_of_work
from app.web.charts import date_fr
from app.web.templating import PageRoute, PageUser, render, templates
from workflow.vocabulary import STATE_LABELS, Status

router = APIRouter(route_class=PageRoute)

STATUS_LABELS = {
    Status.EN_RETARD.value: "en retard",
    Status.A_RISQUE.value: "à risque",
    Status.DANS_LES_TEMPS.value: "dans les temps",
}

templates.env.globals["can_analyse"] = is_analyst


@router.get("/analyse", response_class=HTMLResponse, name="page_analytics")
def page_analytics(request: Request, principal: PageUser) -> HTMLResponse:
    clock: Clock = request.app.state.clock
    with unit_of_work(request, write=False) as uow:
        a = analytics(uow, principal, clock=clock, plan=request.app.state.settings.default_plan)
    times = bar_chart(
        [
            (t.label, t.median_days or 0, f"{t.median_days:.0f} j" if t.median_days is not None else "—", t.plan_days)
            for t in a.step_times
        ]
    )
    years = bar_chart([(str(y.year), y.count, str(y.count), None) for y in a.labels_per_year])
    return render(
        request,
        "analytics/page.html",
        {
            "section": "analyse",
            "a": a,
            "times": times,
            "years": years,
            "state_labels": {s.value: lbl for s, lbl in STATE_LABELS.items()},
            "status_labels": STATUS_LABELS,
            "as_of": date_fr(a.as_of),
        },
    )
