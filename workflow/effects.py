"""What a transition does to a project's dates: the one rule the service (when it fires), the history
replay (schedule, `regieflow verify`, imports) and so `verify` share.

Plain data in, plain data out: the caller applies the result to its storage."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from workflow.machine import Outcome
from workflow.vocabulary import State, Trigger


@dataclass(frozen=True, slots=True)
class Dates:
    """The parts of a project that transitions move (besides evidence, which they never touch)."""

    state: State
    state_entered_on: date
    last_transition_on: date
    suspended_since: date | None = None
    labelled_on: date | None = None
    closed_on: date | None = None

    @classmethod
    def start(cls, started_on: date) -> Dates:
        """A new project: in the groupe projet since the day it started."""
        return cls(State.GROUPE_PROJET, started_on, started_on)


@dataclass(frozen=True, slots=True)
class Effect:
    """The project after the transition, and what happened to its pauses and steps on that day."""

    after: Dates
    suspension_opened: bool  # a pause starts on `after.last_transition_on`
    suspension_closed: bool  # the open pause ends on that day (resumed, or abandoned while paused)
    step_changed: bool  # the project left `before.state` for `after.state` on that day
    closed_reason: str | None  # the abandon's reason, when the project is abandoned


def effect_of(before: Dates, outcome: Outcome) -> Effect:
    """Apply a fired transition's outcome to a project's dates.

    A pause opens on `suspendre`; the open pause closes whenever the outcome leaves the project no
    longer suspended (`reprendre`, or `abandonner` while paused), on the effective date. The step
    changes, and its entry date with it, only when the state does (a pause keeps the step). A label
    or an abandon closes the project on that day."""
    when = outcome.effective_on
    opened = outcome.trigger == Trigger.SUSPENDRE
    closed = before.suspended_since is not None and not outcome.suspended
    step_changed = outcome.to_state != outcome.from_state
    after = replace(
        before,
        state=outcome.to_state,
        state_entered_on=when if step_changed else before.state_entered_on,
        last_transition_on=when,
        suspended_since=when if opened else (None if closed else before.suspended_since),
        labelled_on=when if outcome.to_state == State.LABELLISEE else before.labelled_on,
        closed_on=when if outcome.to_state in (State.LABELLISEE, State.ABANDONNEE) else before.closed_on,
    )
    return Effect(
        after=after,
        suspension_opened=opened,
        suspension_closed=closed,
        step_changed=step_changed,
        closed_reason=outcome.reason if outcome.to_state == State.ABANDONNEE else None,
    )
