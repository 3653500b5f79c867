"""Rebuild a project's moving parts from its recorded transitions (for `regieflow verify`, the
schedule and imports). Every step is replayed through the shared machine, and its effect on the
project's dates is the one the service applies when it fires (workflow.effects)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from workflow.deadlines import Period, Suspension
from workflow.effects import Dates, effect_of
from workflow.errors import DomainError
from workflow.machine import Flow, fire
from workflow.vocabulary import TERMINAL, State


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

    @property
    def dates(self) -> Dates:
        return Dates(
            self.state,
            self.state_entered_on,
            self.last_effective_on,
            self.suspended_since,
            self.labelled_on,
            self.closed_on,
        )


class HistoryInconsistent(DomainError):
    code = "historique_incoherent"


def replay(started_on: date, transitions: Iterable[RecordedTransition]) -> Replayed:
    flow = Flow(State.GROUPE_PROJET.value, False, started_on)
    dates = Dates.start(started_on)
    periods: list[Period] = []
    suspensions: list[Suspension] = []
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
        effect = effect_of(dates, outcome)
        if effect.suspension_opened:
            suspensions.append(Suspension(when))
        if effect.suspension_closed:
            suspensions[-1] = Suspension(suspensions[-1].start, when)
        if effect.step_changed:
            periods.append(Period(outcome.from_state, dates.state_entered_on, when))
        dates = effect.after
        flow = Flow(outcome.to_state.value, outcome.suspended, when)
    if dates.state not in TERMINAL:
        periods.append(Period(dates.state, dates.state_entered_on, None))
    return Replayed(
        state=dates.state,
        suspended_since=dates.suspended_since,
        state_entered_on=dates.state_entered_on,
        last_effective_on=dates.last_transition_on,
        labelled_on=dates.labelled_on,
        closed_on=dates.closed_on,
        periods=periods,
        suspensions=suspensions,
    )
