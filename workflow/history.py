"""Rebuild a project's moving parts from its recorded transitions (for `regieflow verify`, the
schedule and imports). Every step is replayed through the shared machine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from workflow.deadlines import Period, Suspension
from workflow.errors import DomainError
from workflow.machine import Flow, fire
from workflow.vocabulary import State, Trigger


@dataclass(frozen=True, slots=True)
class RecordedTransition:
    trigger: str
    from_state: str
    to_state: str
    effective_on: date


@dataclass
class Replayed:
    state: State
    suspended_since: date | None
    state_entered_on: date
    last_effective_on: date
    labelled_on: date | None
    closed_on: date | None
    periods: list[Period] = field(default_factory=list)
    suspensions: list[Suspension] = field(default_factory=list)


class HistoryInconsistent(DomainError):
    code = "historique_incoherent"


def replay(started_on: date, transitions: Iterable[RecordedTransition]) -> Replayed:
    flow = Flow(State.GROUPE_PROJET.value, False, started_on)
    out = Replayed(State.GROUPE_PROJET, None, started_on, started_on, None, None)
    open_period_start = started_on
    for i, rec in enumerate(transitions):
        if rec.from_state != flow.state:
            raise HistoryInconsistent(
                f"Transition n°{i + 1} « {rec.trigger} » enregistrée depuis « {rec.from_state} » "
                f"alors que le projet était en « {flow.state} »."
            )
        try:
            outcome = fire(
                flow,
                rec.trigger,
                None,
                today=rec.effective_on,
                effective_on=rec.effective_on,
                reason="(historique)",
                check_guards=False,
            )
        except DomainError as exc:
            raise HistoryInconsistent(f"Transition n°{i + 1} « {rec.trigger} » : {exc.message}") from exc
        if outcome.to_state.value != rec.to_state:
            raise HistoryInconsistent(
                f"Transition n°{i + 1} « {rec.trigger} » mène à « {outcome.to_state} », pas à « {rec.to_state} »."
            )
        when = rec.effective_on
        if outcome.trigger == Trigger.SUSPENDRE:
            out.suspensions.append(Suspension(when))
            out.suspended_since = when
        elif outcome.trigger == Trigger.REPRENDRE or (outcome.trigger == Trigger.ABANDONNER and flow.suspended):
            last = out.suspensions[-1]
            out.suspensions[-1] = Suspension(last.start, when)
            out.suspended_since = None
        if outcome.to_state != outcome.from_state:
            out.periods.append(Period(outcome.from_state, open_period_start, when))
            open_period_start = when
            out.state_entered_on = when
        if outcome.to_state == State.LABELLISEE:
            out.labelled_on = when
        if outcome.to_state in (State.LABELLISEE, State.ABANDONNEE):
            out.closed_on = when
        flow = Flow(outcome.to_state.value, outcome.suspended, when)
        out.state = outcome.to_state
        out.last_effective_on = when
    if out.state in (
        State.GROUPE_PROJET,
        State.CONTOURS,
        State.FAISABILITE,
        State.VALIDATION,
        State.PREFIGURATION,
        State.EXPERTISE,
    ):
        out.periods.append(Period(out.state, open_period_start, None))
    return out
