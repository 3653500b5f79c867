"""Pages for project leads and consultants (French): portfolio, project, transitions, re-plan, new
project, workflow. Server-rendered, no JavaScript; every refusal is the same one the API gives.

Access: every route names its rule in app.authorization.rules.RULES and depends on `PageUser`
(app.web.templating), the same check as the API. Writes go through the same service functions as the
API, one transaction each, and answer with POST/redirect/GET and a fixed confirmation message
(`?ok=<code>`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.core.errors import NotFound, Refusal
from app.evidence import guidance
from app.evidence.registry import KINDS
from app.http.dependencies import actor_of
from app.projects.pages import Failure, _parse_date, _project_id, _project_response, _status_of, _uow
from app.transitions.description import describe
from app.transitions.schemas import TransitionBody
from app.transitions.service import fire_transition
from app.web import charts
from app.web.forms import form_version, translate
from app.web.templating import FLASH_MESSAGES, PageRedirect, PageRoute, PageUser, render
from workflow import machine as wf
from workflow.errors import GuardsUnmet, InvalidInput, UnknownTrigger
from workflow.vocabulary import (
    STATE_LABELS,
    STEPS,
    TRIGGER_LABELS,
    State,
    Trigger,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def _dest(trigger: Trigger) -> State | None:
    for transitions in wf.MACHINE.events[trigger.value].transitions.values():
        for tr in transitions:
            return State(tr.dest) if tr.dest else None
    return None


def _flash_for(trigger: Trigger) -> str:
    if trigger == Trigger.LABELLISER:
        return "Le label a été attribué : la régie est labellisée."
    if trigger == Trigger.ABANDONNER:
        return "Le projet a été abandonné ; le motif est inscrit dans l'historique."
    if trigger == Trigger.SUSPENDRE:
        return "Le projet est suspendu : ses délais sont gelés jusqu'à sa reprise."
    if trigger == Trigger.REPRENDRE:
        return "Le projet a repris ; ses échéances ont été décalées de la durée de la suspension."
    dest = _dest(trigger)
    return f"Transition enregistrée : le projet est maintenant à l'étape « {STATE_LABELS[dest]} »." if dest else ""


# --- writes from the project page ------------------------------------------------------------------
@router.post("/projets/{project_id}/transitions/{trigger}", name="page_fire")
def fire(
    request: Request,
    project_id: str,
    trigger: str,
    principal: PageUser,
    reason: Annotated[str, Form()] = "",
    effective_on: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
) -> Response:
    pid = _project_id(project_id)
    if trigger not in {t.value for t in Trigger}:
        raise UnknownTrigger(f"Déclencheur inconnu : « {trigger[:40]} ».")
    try:
        when = _parse_date(effective_on, "effective_on")
        try:
            body = TransitionBody(reason=reason or None, effective_on=when)
        except ValidationError as exc:
            error = exc.errors()[0]  # the reason (the date is already read): too long, or a control character
            message = translate(error) if error.get("type") == "value_error" else "Le motif dépasse 2000 caractères."
            raise InvalidInput(message, "reason") from None
        with _uow(request, write=True) as uow:
            fire_transition(
                uow,
                pid,
                trigger,
                body,
                expected_version=form_version(version),
                actor=actor_of(request),
                clock=request.app.state.clock,
            )
    except NotFound:
        raise
    except Refusal as exc:
        unmet = tuple((u.code, u.message) for u in exc.unmet) if isinstance(exc, GuardsUnmet) else ()
        failure = Failure(
            _status_of(exc),
            exc.message if not unmet else "Conditions non remplies :",
            trigger,
            unmet,
            reason[:2000],
            effective_on[:20],
            field=getattr(exc, "field", None),
        )
        return _project_response(request, principal, pid, failure=failure)
    raise PageRedirect(f"/projets/{pid}?ok=transition-{trigger}")


# --- the workflow ------------------------------------------------------------------------------------
@router.get("/workflow", name="page_workflow_old")
def workflow_page_old(request: Request, principal: PageUser) -> Response:
    """The former address of « Le parcours » (bookmarks keep working)."""
    raise PageRedirect("/parcours")


@router.get("/parcours", name="page_workflow")
def workflow_page(request: Request, principal: PageUser) -> Response:
    settings = request.app.state.settings
    described = describe(settings.step_months, settings.horizon_months)
    steps = []
    for st in STEPS:
        forward = guidance.FORWARD_TRIGGER[st]
        guards = wf.guards_of(forward, st.value)
        steps.append(
            {
                "number": STEPS.index(st) + 1,
                "state": st.value,
                "label": STATE_LABELS[st],
                "months": settings.step_months.get(st.value),
                "trigger": forward.value,
                "trigger_label": TRIGGER_LABELS[forward],
                "guards": [
                    (g.code, g.message, [KINDS[k].label for k in guidance.GUARD_KINDS.get(g.code, ())])
                    for g in guards
                    if g.code in guidance.GUARD_KINDS
                ],
                "kinds": [KINDS[k].label for k in guidance.STEP_KINDS[st]],
                "how_to": guidance.how_to(st),
            }
        )
    others = [t for t in described.transitions if t.trigger not in guidance.FORWARD_TRIGGER.values()]
    return render(
        request,
        "workflow.html",
        {
            "section": "workflow",
            "steps": steps,
            "others": others,
            "horizon_months": settings.horizon_months,
            "total_months": sum(settings.step_months.values()),
            "mermaid": described.mermaid,
            "diagram": charts.workflow_diagram(),
            "state_labels": STATE_LABELS,
        },
    )


FLASH_MESSAGES.update({f"transition-{t.value}": _flash_for(t) for t in Trigger})
