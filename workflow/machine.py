"""The one state machine shared by every project.

Built once at import with ``model=None``: no project is ever registered with it, so nothing the
machine holds keeps a project alive. Events are fired on a short-lived plain object
(:class:`Flow`), never on an ORM row. Guards are the machine's own transition conditions, so the
diagram, the checks and the explanation of what is missing are read from the same definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Protocol

from transitions import Machine

from workflow import guards as g
from workflow.errors import (
    EffectiveDateInvalid,
    GuardsUnmet,
    ProjectClosed,
    ReasonRequired,
    TriggerNotAllowed,
    UnknownTrigger,
)
from workflow.evidence import Evidence
from workflow.guards import Guard, GuardContext, Unmet
from workflow.vocabulary import REASON_REQUIRED, STATE_LABELS, STEPS, TERMINAL, State, Trigger, date_fr

if TYPE_CHECKING:  # names the library declares only in its stubs
    from transitions.core import Condition, Transition, TransitionConfigDict

MAX_REASON_LENGTH = 2000

FORWARD_GUARDS: dict[Trigger, tuple[Guard, ...]] = {
    Trigger.DEFINIR_CONTOURS: (g.PILOTE_MOUVEMENT, g.GROUPE_HABITANTS, g.GROUPE_COLLECTIVITE, g.GROUPE_BAILLEUR),
    Trigger.LANCER_FAISABILITE: (g.TERRITOIRE_DEFINI, g.BESOINS_IDENTIFIES, g.ACTIVITES_PRIORITAIRES),
    Trigger.SOUMETTRE_VALIDATION: (
        g.BESOINS_VALIDES,
        g.MODELE_ECONOMIQUE,
        g.BUDGET_EQUILIBRE,
        g.LOCAUX_IDENTIFIES,
        g.MARCHES_MOBILISABLES,
        g.VISITE_TERRAIN,
        g.CONCLUSION_FAVORABLE,
    ),
    Trigger.LANCER_PREFIGURATION: (
        g.AVIS_HABITANTS,
        g.AVIS_COLLECTIVITE,
        g.AVIS_BAILLEUR,
        g.AVIS_PARTENAIRE,
        g.AUCUN_AVIS_DEFAVORABLE,
    ),
    Trigger.DEMANDER_EXPERTISE: (g.ASSOCIATION_DECLAREE, g.GOUVERNANCE_TRIPTYQUE, g.RECRUTEMENT, g.RESERVES_LEVEES),
    Trigger.LABELLISER: (g.EXPERTISE_SUR_SITE, g.GRILLE_EXPERTISE_COMPLETE, g.AVIS_EXPERTISE_FAVORABLE),
}

_FORWARD: list[tuple[Trigger, State, State]] = [
    (Trigger.DEFINIR_CONTOURS, State.GROUPE_PROJET, State.CONTOURS),
    (Trigger.LANCER_FAISABILITE, State.CONTOURS, State.FAISABILITE),
    (Trigger.SOUMETTRE_VALIDATION, State.FAISABILITE, State.VALIDATION),
    (Trigger.LANCER_PREFIGURATION, State.VALIDATION, State.PREFIGURATION),
    (Trigger.DEMANDER_EXPERTISE, State.PREFIGURATION, State.EXPERTISE),
    (Trigger.LABELLISER, State.EXPERTISE, State.LABELLISEE),
]
_BACKWARD: list[tuple[Trigger, State, State]] = [
    (Trigger.REPRENDRE_CONTOURS, State.FAISABILITE, State.CONTOURS),
    (Trigger.REPRENDRE_FAISABILITE, State.VALIDATION, State.FAISABILITE),
    (Trigger.AJOURNER_LABEL, State.EXPERTISE, State.PREFIGURATION),
]


class _Carrying(Protocol):
    """What an `after` callback receives: the machine's EventData, or a replay's _Event."""

    @property
    def model(self) -> object: ...


def _set_suspended(value: bool) -> Callable[[_Carrying], None]:
    def callback(event_data: _Carrying) -> None:
        flow = event_data.model
        if not isinstance(flow, Flow):  # pragma: no cover - events are only fired on a Flow
            raise TypeError(f"the machine moves a Flow, not {flow!r}")
        flow.suspended = value

    return callback


def _build() -> Machine:
    transitions: list[TransitionConfigDict] = []
    for trigger, source, dest in _FORWARD:
        transitions.append(
            {
                "trigger": trigger.value,
                "source": source.value,
                "dest": dest.value,
                "conditions": [g.NOT_SUSPENDED, *FORWARD_GUARDS[trigger]],
            }
        )
    for trigger, source, dest in _BACKWARD:
        transitions.append(
            {"trigger": trigger.value, "source": source.value, "dest": dest.value, "conditions": [g.NOT_SUSPENDED]}
        )
    steps = [s.value for s in STEPS]
    transitions.append(
        {
            "trigger": Trigger.ABANDONNER.value,
            "source": steps,
            "dest": State.ABANDONNEE.value,
            "after": [_set_suspended(False)],
        }
    )
    # Internal transitions (dest=None): the step does not change, only the pause flag.
    transitions.append(
        {
            "trigger": Trigger.SUSPENDRE.value,
            "source": steps,
            "dest": None,
            "conditions": [g.NOT_SUSPENDED],
            "after": [_set_suspended(True)],
        }
    )
    transitions.append(
        {
            "trigger": Trigger.REPRENDRE.value,
            "source": steps,
            "dest": None,
            "conditions": [g.IS_SUSPENDED],
            "after": [_set_suspended(False)],
        }
    )
    states = [{"name": s.value, "final": s in TERMINAL} for s in State]
    return Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial=State.GROUPE_PROJET.value,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        name="regieflow",
    )


MACHINE: Machine = _build()


@dataclass(slots=True)
class Flow:
    """The part of a project the machine moves: plain data, detached from any storage."""

    state: str
    suspended: bool = False
    last_effective_on: date | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    trigger: Trigger
    from_state: State
    to_state: State
    suspended: bool
    effective_on: date
    reason: str | None


@dataclass(frozen=True, slots=True)
class TriggerView:
    trigger: Trigger
    dest: State
    allowed: bool
    unmet: tuple[Unmet, ...]
    reason_required: bool


def _parse_trigger(trigger: str) -> Trigger:
    try:
        return Trigger(trigger)
    except ValueError:
        raise UnknownTrigger(f"Déclencheur inconnu : « {trigger} ».") from None


def _transitions_from(trigger: Trigger, state: str) -> list[Transition]:
    return MACHINE.events[trigger.value].transitions.get(state, [])


def triggers_from(state: str) -> list[Trigger]:
    """Every trigger the machine defines from this state, in the machine's own order."""
    return [Trigger(name) for name, ev in MACHINE.events.items() if ev.transitions.get(state)]


def _guard(condition: Condition) -> Guard:
    guard = condition.func
    if not isinstance(guard, Guard):  # pragma: no cover - the machine only holds Guards
        raise TypeError(f"condition {guard!r} is not a Guard")
    return guard


def guards_of(trigger: Trigger, state: str) -> list[Guard]:
    return [_guard(cond) for transition in _transitions_from(trigger, state) for cond in transition.conditions]


def reads_of(trigger: str, state: str) -> frozenset[str]:
    """The Evidence fields the guards of `trigger` from `state` read (empty: no evidence needed).

    Unknown or undefined triggers read nothing: fire() refuses them before any guard runs."""
    try:
        t = Trigger(trigger)
    except ValueError:
        return frozenset()
    return frozenset(field for guard in guards_of(t, state) for field in guard.reads)


def reads_from(state: str) -> frozenset[str]:
    """What available() reads from `state`: the union over every trigger defined there."""
    return frozenset().union(*(reads_of(t.value, state) for t in triggers_from(state)))


def _check_defined(t: Trigger, flow: Flow) -> None:
    """Refuse a trigger the machine does not define from the flow's state (closed projects: none)."""
    if flow.state in {s.value for s in TERMINAL}:
        raise ProjectClosed(f"Le projet est clos ({STATE_LABELS[State(flow.state)]}) : il ne peut plus changer.")
    if not _transitions_from(t, flow.state):
        raise TriggerNotAllowed(
            f"« {t.value} » n'est pas possible depuis l'étape « {STATE_LABELS[State(flow.state)]} »."
        )


def explain(trigger: str, flow: Flow, evidence: Evidence | None, *, as_of: date | None = None) -> list[Unmet]:
    """Every unmet condition of `trigger` from the flow's state (empty: the trigger may fire).

    `as_of`: the effective date the transition would have; dated evidence counts only if dated on or
    before it, and an unmet guard's message names the evidence that is too recent."""
    t = _parse_trigger(trigger)
    _check_defined(t, flow)
    ctx = GuardContext(suspended=flow.suspended, evidence=evidence, as_of=as_of)
    unmet: list[Unmet] = []
    for guard in guards_of(t, flow.state):
        if not guard.holds(ctx):
            unmet.append(guard.unmet(ctx))
    return unmet


def available(flow: Flow, evidence: Evidence, *, as_of: date | None = None) -> list[TriggerView]:
    """Every trigger from the current state, with whether it may fire (as of `as_of`, see explain)
    and what is missing."""
    if flow.state in {s.value for s in TERMINAL}:
        return []
    views = []
    for t in triggers_from(flow.state):
        unmet = explain(t.value, flow, evidence, as_of=as_of)
        dest = _transitions_from(t, flow.state)[0].dest
        views.append(TriggerView(t, State(dest or flow.state), not unmet, tuple(unmet), t in REASON_REQUIRED))
    return views


def check_effective_on(effective_on: date | None, *, today: date, not_before: date | None) -> date:
    when = effective_on or today
    if when > today:
        raise EffectiveDateInvalid("La date d'effet ne peut pas être dans le futur.", field="effective_on")
    if not_before is not None and when < not_before:
        raise EffectiveDateInvalid(
            f"La date d'effet ne peut pas précéder la transition précédente (du {date_fr(not_before)}).",
            field="effective_on",
        )
    return when


def clean_reason(trigger: Trigger, reason: str | None) -> str | None:
    text = (reason or "").strip()
    if len(text) > MAX_REASON_LENGTH:
        raise ReasonRequired(f"Le motif dépasse {MAX_REASON_LENGTH} caractères.", field="reason")
    if trigger in REASON_REQUIRED and not text:
        raise ReasonRequired("Un motif est obligatoire pour cette transition.", field="reason")
    return text or None


def fire(
    flow: Flow,
    trigger: str,
    evidence: Evidence | None,
    *,
    today: date,
    effective_on: date | None = None,
    reason: str | None = None,
    check_guards: bool = True,
) -> Outcome:
    """Fire `trigger` on a copy of `flow`; raise a DomainError listing every reason it cannot.

    `check_guards=False` is for replaying a recorded history, where the evidence of the time is
    not available: the move must still be one the machine defines from the recorded state.
    """
    t = _parse_trigger(trigger)
    _check_defined(t, flow)
    # Guards are judged as of the effective date; an impossible date judges as of today, so the
    # answer still lists every unmet guard first.
    try:
        when: date | None = check_effective_on(effective_on, today=today, not_before=flow.last_effective_on)
    except EffectiveDateInvalid:
        when = None
    unmet = explain(t.value, flow, evidence, as_of=when or today) if check_guards else []
    if unmet:
        raise GuardsUnmet(t.value, unmet)
    text = clean_reason(t, reason)
    when = check_effective_on(effective_on, today=today, not_before=flow.last_effective_on)
    moving = replace(flow)
    if check_guards:
        ok = MACHINE.events[t.value].trigger(moving, context=GuardContext(flow.suspended, evidence, when))
    else:
        ok = _force(t, moving)
    if not ok:  # pragma: no cover - explain() and the machine read the same conditions
        raise GuardsUnmet(t.value, explain(t.value, flow, evidence, as_of=when))
    return Outcome(t, State(flow.state), State(moving.state), moving.suspended, when, text)


def _force(t: Trigger, moving: Flow) -> bool:
    transition = _transitions_from(t, moving.state)[0]
    # Replays still respect the pause flag conditions: they are part of the recorded state.
    ctx = GuardContext(moving.suspended, None)
    for cond in transition.conditions:
        guard = _guard(cond)
        if guard in (g.NOT_SUSPENDED, g.IS_SUSPENDED) and not guard.check(ctx):
            raise GuardsUnmet(t.value, [guard.unmet()])
    if transition.dest:
        moving.state = transition.dest
    for cb in transition.after:
        if not callable(cb):  # pragma: no cover - the machine's callbacks are functions, never names
            raise TypeError(f"callback {cb!r} is not a function")
        cb(_Event(moving))
    return True


@dataclass
class _Event:
    model: Flow


def mermaid() -> str:
    """A Mermaid state diagram read from the machine's own states and transitions."""
    lines = ["stateDiagram-v2"]
    for s in State:
        lines.append(f"    {s.value}: {STATE_LABELS[s]}")
    lines.append(f"    [*] --> {MACHINE.initial}")
    for name, event in MACHINE.events.items():
        for source, transitions in event.transitions.items():
            for tr in transitions:
                if tr.dest is None:  # suspendre, reprendre: their pause guard (projet_suspendu, projet_actif)
                    codes = [_guard(c).code for c in tr.conditions]
                    lines.append(f"    {source} --> {source}: {name}" + (f" [{', '.join(codes)}]" if codes else ""))
                    continue
                # projet_suspendu guards every step change: said once, in a note, not on every arrow
                codes = [_guard(c).code for c in tr.conditions if c.func not in (g.NOT_SUSPENDED, g.IS_SUSPENDED)]
                label = name + (f" [{', '.join(codes)}]" if codes else "")
                lines.append(f"    {source} --> {tr.dest}: {label}")
    for s in TERMINAL:
        lines.append(f"    {s.value} --> [*]")
    lines.append(
        f"    note right of {State.GROUPE_PROJET.value}: {g.NOT_SUSPENDED.code} — aucun changement d'étape "
        f"pendant une suspension ; {g.IS_SUSPENDED.code} — reprendre suppose une suspension"
    )
    return "\n".join(lines)
