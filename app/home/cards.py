"""What a person does next on one project: the card of the porteur's home, and the "next action"
block at the top of the project page (the same words in both places)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.authorization.rules import Ability, Principal
from app.evidence import guidance
from app.home.help import term_url
from app.projects.models import Project
from app.projects.schemas import ProjectRead
from app.projects.service import project_read
from app.transitions.schemas import TransitionsRead
from app.transitions.service import transitions_view
from app.web import wording
from workflow.vocabulary import STATE_LABELS, STATUS_LABELS, STEPS, TERMINAL, State, Trigger


@dataclass(frozen=True)
class Todo:
    code: str
    message: str
    links: tuple[guidance.Link, ...]
    help_url: str | None


@dataclass(frozen=True)
class Card:
    id: str
    name: str
    url: str
    read: ProjectRead
    step: int | None
    state_label: str
    next_label: str | None  # the next step's name
    trigger: str | None  # the forward trigger's id
    trigger_label: str | None
    ready: bool  # every condition met: the next step can be asked for
    permitted: bool  # this person may fire the forward trigger
    todo: tuple[Todo, ...]
    due_on: date | None
    due_words: str  # "dans 3 mois", "dépassée de 12 jours"
    status: str | None
    status_label: str
    reason: wording.Reason
    how_to: str
    closed: bool
    can_write: bool
    can_consult: bool  # a Mouvement consultant: records the expertise and its grid (CONSULTANT_ONLY_KINDS)
    # the open opinion requests and unread messages (app.home.collaboration), read for all the cards at
    # once; None: not read, the template asks issue 15's `collaboration_todo` global
    collaboration: tuple[dict[str, Any], ...] | None = None


def card(
    p: Project,
    principal: Principal,
    today: date,
    *,
    view: TransitionsRead | None = None,
    read: ProjectRead | None = None,
    collaboration: Sequence[dict[str, Any]] | None = None,
) -> Card:
    """The card of a project whose evidence is loaded (ProjectRepository.with_evidence). `view` and `read`:
    the project's transitions view and read when the caller has them already (the project page)."""
    read = read or project_read(p, today)
    state = State(p.state)
    abilities = principal.abilities(p.id, p.region)
    can_write = Ability.WRITE in abilities
    checklist = (
        guidance.checklist(p.id, state, view or transitions_view(p, today), p.kind) if state not in TERMINAL else None
    )
    todo = tuple(
        Todo(m.code, m.message, m.links, term_url(m.code, p.kind)) for m in (checklist.missing if checklist else ())
    )
    forward = guidance.FORWARD_TRIGGER.get(state)
    consultant_only = forward == Trigger.LABELLISER
    permitted = can_write and (not consultant_only or Ability.CONSULTANT in abilities)
    reason = wording.reason_of(read, today)
    return Card(
        id=str(p.id),
        name=p.name,
        url=f"/projets/{p.id}",
        read=read,
        step=STEPS.index(state) + 1 if state in STEPS else None,
        state_label=STATE_LABELS[state],
        next_label=checklist.next_label if checklist else None,
        trigger=forward.value if forward else None,
        trigger_label=checklist.trigger_label if checklist else None,
        ready=checklist is not None and not checklist.missing,
        permitted=permitted,
        todo=todo,
        due_on=read.step_due_on,
        due_words=wording.step_due_words(read, today),
        status=read.status.value if read.status else None,
        status_label=STATUS_LABELS[read.status]
        if read.status
        else ("Labellisée" if state == State.LABELLISEE else "Clos"),
        reason=reason,
        how_to=guidance.how_to(state),
        closed=state in TERMINAL,
        can_write=can_write,
        can_consult=Ability.CONSULTANT in abilities,
        collaboration=tuple(collaboration) if collaboration is not None else None,
    )
