"""workflow.effects: what a transition does to a project's dates, the one rule that the fire path, the
history replay and verify share. Checked over generated histories, not only examples."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.effects import Dates, effect_of
from workflow.errors import DomainError
from workflow.history import RecordedTransition, replay
from workflow.machine import Flow, Outcome, fire, triggers_from
from workflow.vocabulary import TERMINAL, State, Trigger

STARTED = date(2024, 1, 31)


def _walk(choices: list[tuple[int, int]]) -> tuple[list[tuple[Dates, Outcome]], Dates]:
    """Fire a generated sequence of triggers the machine allows (guards aside), folding effect_of."""
    dates = Dates.start(STARTED)
    flow = Flow(State.GROUPE_PROJET.value, False, STARTED)
    steps: list[tuple[Dates, Outcome]] = []
    day = STARTED
    for pick, gap in choices:
        if dates.state in TERMINAL:
            break
        candidates = triggers_from(flow.state)
        day = day + timedelta(days=gap)
        trigger = candidates[pick % len(candidates)]
        try:
            outcome = fire(flow, trigger.value, None, today=day, effective_on=day, reason="motif", check_guards=False)
        except DomainError:  # not allowed now (e.g. a pause while paused): the history skips it
            continue
        steps.append((dates, outcome))
        dates = effect_of(dates, outcome).after
        flow = Flow(outcome.to_state.value, outcome.suspended, day)
    return steps, dates


histories = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 90)), max_size=25)


@given(histories)
@settings(max_examples=300, deadline=None)
def test_replaying_a_history_gives_the_dates_that_firing_it_gave(choices: list[tuple[int, int]]) -> None:
    steps, fired = _walk(choices)
    recorded = [
        RecordedTransition(o.trigger.value, o.from_state.value, o.to_state.value, o.effective_on) for _, o in steps
    ]
    assert replay(STARTED, recorded).dates == fired


@given(histories)
@settings(max_examples=300, deadline=None)
def test_each_effect_keeps_the_invariants_of_a_project(choices: list[tuple[int, int]]) -> None:
    steps, _ = _walk(choices)
    for before, outcome in steps:
        effect = effect_of(before, outcome)
        after, when = effect.after, outcome.effective_on
        assert after.last_transition_on == when
        assert after.state == outcome.to_state
        # The step's entry date moves exactly when the step changes.
        assert effect.step_changed == (after.state != before.state)
        assert after.state_entered_on == (when if effect.step_changed else before.state_entered_on)
        # A pause opens on `suspendre`, closes when the project is no longer paused, and never both.
        assert not (effect.suspension_opened and effect.suspension_closed)
        assert (after.suspended_since is not None) == outcome.suspended
        if effect.suspension_closed:
            assert before.suspended_since is not None and after.suspended_since is None
        # Only a label sets the label date; a closed project stays closed on the day it closed.
        assert (after.labelled_on is not None) == (after.state == State.LABELLISEE)
        assert (after.closed_on is not None) == (after.state in TERMINAL)
        assert (effect.closed_reason is not None) == (after.state == State.ABANDONNEE)


def test_abandoning_a_paused_project_closes_its_pause_on_that_day() -> None:
    paused_on, abandoned_on = date(2024, 3, 1), date(2024, 5, 2)
    flow = Flow(State.CONTOURS.value, False, STARTED)
    pause = fire(flow, Trigger.SUSPENDRE.value, None, today=paused_on, effective_on=paused_on, reason="hiver")
    before = effect_of(Dates(State.CONTOURS, STARTED, STARTED), pause)
    assert before.suspension_opened and before.after.suspended_since == paused_on
    flow = Flow(pause.to_state.value, pause.suspended, paused_on)
    end = fire(flow, Trigger.ABANDONNER.value, None, today=abandoned_on, effective_on=abandoned_on, reason="fin")
    effect = effect_of(before.after, end)
    assert effect.suspension_closed and effect.after.suspended_since is None
    assert effect.after.closed_on == abandoned_on and effect.closed_reason == "fin"
    assert effect.after.state_entered_on == abandoned_on and effect.step_changed
