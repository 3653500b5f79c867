"""Pages for project leads and consultants (French): portfolio, project, transitions, re-plan, new
project, workflow. Server-rendered, no JavaScript; every refusal is the same one the API gives.

Access: every route names its rule in app.authorization.rules.RULES and depends on `PageUser`
(app.web.templating), the same check as the API. Writes go through the same service functions as the
API, one transaction each, and answer with POST/redirect/GET and a fixed confirmation message
(`?ok=<code>`).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.authorization.rules import Ability, Principal
from app.core.errors import NotFound, Refusal
from app.evidence import guidance
from app.evidence.registry import KINDS
from app.http.dependencies import actor_of
from app.projects.models import Project
from app.projects.pages import Failure, _parse_date, _project_id, _project_response, _status_of, _uow
from app.projects.service import get_project, plan_of
from app.transitions.description import describe
from app.transitions.schemas import TransitionBody
from app.transitions.service import fire_transition, transitions_view
from app.web import charts, wording
from app.web.forms import form_version, translate
from app.web.templating import FLASH_MESSAGES, PageRedirect, PageRoute, PageUser, render
from workflow import deadlines as dl
from workflow import machine as wf
from workflow.errors import GuardsUnmet, InvalidInput, UnknownTrigger
from workflow.vocabulary import (
    CONSULTANT_ONLY,
    STATE_LABELS,
    STEPS,
    TERMINAL,
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


# --- confirmation: what a move will do, before it is done --------------------------------------------
# Every move but a pause and its resumption goes through a page that says what will happen (GET), whose
# form does it (POST, with the session's CSRF token): no step, label or abandon by a stray click.
CONFIRMED = frozenset(t for t in Trigger if t not in (Trigger.SUSPENDRE, Trigger.REPRENDRE))


def consequences(trigger: Trigger, p: Project, today: date) -> list[str]:
    """What firing `trigger` today will do to the project, in plain French (the confirmation page)."""
    state = State(p.state)
    plan = plan_of(p)
    here = STATE_LABELS[state]
    if trigger == Trigger.LABELLISER:
        within = p.horizon_on >= today
        return [
            "Le label sera attribué : la régie sera labellisée et le projet sera clos.",
            "Son dossier ne pourra plus être modifié ; le label est inscrit dans l'historique.",
            f"Label attribué {'dans' if within else 'au-delà de'} l'horizon de {p.horizon_months} mois "
            f"({wording.date_fr(p.horizon_on)}).",
        ]
    if trigger == Trigger.ABANDONNER:
        return [
            f"Le projet sera abandonné à l'étape « {here} » et clos définitivement.",
            "Plus aucune étape ne pourra être franchie et son dossier ne pourra plus être modifié.",
            "Le motif sera inscrit dans l'historique. Cette action ne peut pas être annulée.",
        ]
    dest = _dest(trigger)
    if dest is None or dest not in STEPS:
        return []
    months = plan.months(dest)
    due = dl.add_months(today, months)
    lines = [
        f"Le projet passera de l'étape « {here} » à l'étape « {STATE_LABELS[dest]} ».",
        f"Cette étape est prévue pour {months} mois : avec une date d'effet aujourd'hui, son échéance sera le "
        f"{wording.date_fr(due)}.",
    ]
    if state in STEPS and STEPS.index(dest) < STEPS.index(state):
        lines.append("C'est un retour en arrière : les éléments déjà enregistrés sont conservés, le motif est inscrit.")
    if trigger == Trigger.AJOURNER_LABEL:
        lines.append("Les réserves de l'expertise devront être levées avant une nouvelle demande d'expertise.")
    return lines


@router.get("/projets/{project_id}/transitions/{trigger}", name="page_fire_confirm")
def fire_confirm(request: Request, project_id: str, trigger: str, principal: PageUser) -> Response:
    pid = _project_id(project_id)
    if trigger not in {t.value for t in Trigger}:
        raise UnknownTrigger(f"Déclencheur inconnu : « {trigger[:40]} ».")
    if Trigger(trigger) not in CONFIRMED:
        raise PageRedirect(f"/projets/{pid}#action-{trigger}")
    return _confirm_response(request, principal, pid, Trigger(trigger))


def _confirm_response(
    request: Request, principal: Principal, pid: uuid.UUID, trigger: Trigger, failure: Failure | None = None
) -> Response:
    today: date = request.app.state.clock.today()
    with _uow(request, write=False) as uow:
        p = get_project(uow, pid, with_evidence=True)
        view = transitions_view(p, today)
        abilities = principal.abilities(p.id, p.region)
        closed = State(p.state) in TERMINAL
        t = next((v for v in view.triggers if v.trigger == trigger), None)
        context: dict[str, Any] = {
            "section": "portefeuille",
            "project_id": str(p.id),
            "project_name": p.name,
            "version": p.version,
            "trigger": trigger.value,
            "label": TRIGGER_LABELS[trigger],
            "state_label": STATE_LABELS[State(p.state)],
            "available": t is not None and not closed,
            "allowed": t is not None and t.allowed,
            "unmet": [(u.code, u.message) for u in t.unmet] if t else [],
            "reason_required": t.reason_required if t else False,
            "permitted": Ability.WRITE in abilities
            and (Ability.CONSULTANT in abilities or trigger not in CONSULTANT_ONLY),
            "consequences": consequences(trigger, p, today),
            "failure": failure,
            "today": today,
            "danger": trigger == Trigger.ABANDONNER,
        }
    return render(request, "transition_confirm.html", context, status_code=failure.status if failure else 200)


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
        if Trigger(trigger) in CONFIRMED:  # refused from its confirmation page: said there, focused
            return _confirm_response(request, principal, pid, Trigger(trigger), failure)
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
