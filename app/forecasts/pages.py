"""The project page's forecast block (templates/forecasts/project_block.html): a template global, so the
project page's handler does not need to know about forecasts."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from app.core.clock import Clock
from app.forecasts.service import HISTORY_GENERATING, project_forecast
from app.http.dependencies import unit_of_work
from app.projects.service import get_project
from app.web.charts import date_fr
from app.web.templating import templates
from workflow.forecast import Basis
from workflow.vocabulary import STATE_LABELS

BASIS_LABELS = {
    Basis.KIND_REGION: "projets de même type dans la région",
    Basis.NATIONAL: "projets de toute la France",
    Basis.PLAN: "plan (historique insuffisant)",
}


def block(request: Request, project_id: str) -> dict[str, Any] | None:
    """What the forecast block shows, or None for a closed project (labelled or abandoned)."""
    clock: Clock = request.app.state.clock
    try:
        pid = uuid.UUID(str(project_id))
    except ValueError:
        return None
    with unit_of_work(request, write=False) as uow:
        p = get_project(uow, pid)  # why_late's snapshot loads only the evidence its guards read
        f = project_forecast(uow, p, clock.today())
    if f.current_step is None:
        return None
    return {
        "f": f,
        "basis_label": BASIS_LABELS[f.basis] if f.basis else "",
        "step_label": STATE_LABELS[f.current_step],
        "plan_on": date_fr(f.plan_label_on),
        "p50_on": date_fr(f.p50_label_on),
        "p80_on": date_fr(f.p80_label_on),
        "horizon_on": date_fr(f.horizon_on),
        "steps": [
            {
                "label": STATE_LABELS[s.step],
                "n": s.sample_size,
                "p50": round(s.p50_days),
                "p80": round(s.p80_days),
            }
            for s in f.steps
        ],
        "why_late": [
            {"code": w.code, "message": w.message, "since": date_fr(w.unmet_since), "days": w.days} for w in f.why_late
        ],
    }


templates.env.globals["project_forecast"] = block
templates.env.globals["history_generating"] = HISTORY_GENERATING.is_set
