"""What the grid's kinds need besides their tables and schemas: the facts the guards read, the checks
a write must pass, and one line of French per row. app/evidence/registry.py registers the kinds."""

from __future__ import annotations

from typing import Any

from app.assessments.models import ExpertiseAssessment, Reservation, SelfAssessment
from app.projects.models import Project
from workflow import evidence as ev
from workflow.errors import InvalidInput
from workflow.vocabulary import (
    CONDITION_LABELS,
    EXPERT_LEVEL_LABELS,
    SELF_LEVEL_LABELS,
    STEPS,
    Condition,
    ExpertiseConclusion,
    ExpertLevel,
    SelfLevel,
    State,
)

RESERVING = {ExpertiseConclusion.RESERVES.value, ExpertiseConclusion.DEFAVORABLE.value}


def _day(d: Any) -> str:
    return "" if d is None else d.strftime("%d/%m/%Y")


def _condition(value: str) -> str:
    try:
        return CONDITION_LABELS[Condition(value)]
    except ValueError:
        return value


# --- self-assessment ------------------------------------------------------------------------------------
def check_self_assessment(project: Project, values: dict[str, Any]) -> None:
    """Open from step 2 on (DOMAIN.md): the group has a territory and needs to assess against."""
    from app.core.errors import Conflict

    state = State(project.state)
    if state in STEPS and STEPS.index(state) < 1:
        raise Conflict(
            "L'auto-évaluation de la grille s'ouvre à l'étape 2 (définition des contours du projet) : "
            "passez d'abord cette étape."
        )


def self_assessment_summary(row: SelfAssessment, names: dict[int, str]) -> str:
    level = SELF_LEVEL_LABELS.get(SelfLevel(row.level), row.level).lower()
    text = f"{_condition(row.condition)} : {level} (le {_day(row.assessed_on)})"
    return text + (f" — {row.comment}" if row.comment else "")


# --- the expertise's assessment ---------------------------------------------------------------------------
def _expertise(project: Project, expertise_id: Any) -> Any:
    from app.core.errors import Conflict

    found = next((x for x in project.expertises if x.id == expertise_id), None)
    if found is None:
        raise Conflict("Cette expertise n'est pas une expertise de ce projet : enregistrez-la d'abord.")
    return found


def check_expertise_assessment(project: Project, values: dict[str, Any]) -> None:
    from app.core.errors import Conflict

    _expertise(project, values.get("expertise_id"))
    same = [
        a
        for a in project.expertise_assessments
        if a.expertise_id == values.get("expertise_id")
        and a.condition == values.get("condition")
        and a.id != values.get("id")
    ]
    if same:
        raise Conflict(
            f"Cette expertise évalue déjà « {_condition(str(values.get('condition')))} » : modifiez cette évaluation."
        )


def grade_facts(project: Project) -> tuple[ev.GradeFact, ...]:
    return tuple(ev.GradeFact(a.expertise_id, Condition(a.condition)) for a in project.expertise_assessments)


def expertise_assessment_summary(row: ExpertiseAssessment, names: dict[int, str]) -> str:
    level = EXPERT_LEVEL_LABELS.get(ExpertLevel(row.level), row.level).lower()
    text = f"{_condition(row.condition)} : {level} (expertise n° {row.expertise_id})"
    return text + (f" — {row.comment}" if row.comment else "")


# --- reservations ---------------------------------------------------------------------------------------
def check_reservation(project: Project, values: dict[str, Any]) -> None:
    expertise = _expertise(project, values.get("expertise_id"))
    if expertise.conclusion not in RESERVING:
        from app.core.errors import Conflict

        raise Conflict(
            "Une réserve se rattache à une expertise qui conclut « avec réserves » ou « défavorable » : "
            "indiquez d'abord cette conclusion sur l'expertise."
        )
    if (values.get("lifted_on") is None) != (values.get("lifted_how") is None):
        field = "lifted_how" if values.get("lifted_on") is not None else "lifted_on"
        raise InvalidInput("Pour lever une réserve, indiquez la date et la manière dont elle a été levée.", field)
    recorded, lifted = values.get("recorded_on"), values.get("lifted_on")
    if recorded is not None and lifted is not None and lifted < recorded:
        raise InvalidInput("Une réserve ne peut pas être levée avant d'avoir été formulée.", "lifted_on")


def reservation_facts(project: Project) -> tuple[ev.ReservationFact, ...]:
    return tuple(ev.ReservationFact(r.expertise_id, Condition(r.condition), r.lifted_on) for r in project.reservations)


def reservation_summary(row: Reservation, names: dict[int, str]) -> str:
    text = f"{_condition(row.condition)} : {row.description}"
    if row.lifted_on is not None:
        return text + f" — levée le {_day(row.lifted_on)}" + (f" par {row.lifted_by}" if row.lifted_by else "")
    return text + (" — action signalée par le groupe" if row.response else " — à lever")


# --- French words of the forms (app/web/forms.py reads these tables) ------------------------------------
def _register_form_words() -> None:
    from app.web import forms

    forms.ENUM_LABELS.update(
        {Condition: CONDITION_LABELS, SelfLevel: SELF_LEVEL_LABELS, ExpertLevel: EXPERT_LEVEL_LABELS}
    )
    for kind in ("self-assessments", "expertise-assessments", "reservations"):
        forms.KIND_FIELD_LABELS[kind] = {
            "condition": "Condition de réussite",
            "level": "Niveau",
            "comment": "Commentaire",
            "assessed_on": "Date de l'évaluation",
            "expertise_id": "Expertise (numéro)",
            "description": "Ce qui doit changer",
            "recorded_on": "Date de la réserve",
            "response": "Ce que le groupe a fait",
            "responded_on": "Date de la réponse du groupe",
            "lifted_on": "Levée le",
            "lifted_how": "Comment la réserve a été levée",
        }
    forms.KIND_FIELD_LABELS.setdefault("hires", {})["home_insee_code"] = "Commune de résidence (code INSEE)"
    forms.FIELD_HINTS.setdefault("expertise_id", "Le numéro de l'expertise, affiché sur la page de l'expertise.")


_register_form_words()
