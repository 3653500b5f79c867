"""history.replay: rebuild state, periods and suspensions from recorded transitions."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.deadlines import Period, Plan, Suspension, schedule
from workflow.errors import DomainError
from workflow.history import HistoryInconsistent, RecordedTransition, Replayed, replay
from workflow.vocabulary import State, Status, Trigger

S, T = State, Trigger
STARTED = date(2024, 1, 31)


def rec(trigger: Trigger | str, source: State | str, dest: State | str, on: date) -> RecordedTransition:
    return RecordedTransition(str(trigger), str(source), str(dest), on)


FORWARD_HISTORY = [
    rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.CONTOURS, date(2024, 4, 15)),
    rec(T.LANCER_FAISABILITE, S.CONTOURS, S.FAISABILITE, date(2024, 8, 20)),
    rec(T.SOUMETTRE_VALIDATION, S.FAISABILITE, S.VALIDATION, date(2025, 4, 1)),
    rec(T.LANCER_PREFIGURATION, S.VALIDATION, S.PREFIGURATION, date(2025, 7, 1)),
    rec(T.DEMANDER_EXPERTISE, S.PREFIGURATION, S.EXPERTISE, date(2026, 6, 15)),
    rec(T.LABELLISER, S.EXPERTISE, S.LABELLISEE, date(2026, 12, 1)),
]


def test_empty_history():
    r = replay(STARTED, [])
    assert r == Replayed(
        state=S.GROUPE_PROJET,
        suspended_since=None,
        state_entered_on=STARTED,
        last_effective_on=STARTED,
        labelled_on=None,
        closed_on=None,
        periods=[Period(S.GROUPE_PROJET, STARTED, None)],
        suspensions=[],
    )


def test_full_forward_history_reaches_the_label():
    r = replay(STARTED, FORWARD_HISTORY)
    assert r.state is S.LABELLISEE
    assert r.labelled_on == date(2026, 12, 1)
    assert r.closed_on == date(2026, 12, 1)
    assert r.state_entered_on == date(2026, 12, 1)
    assert r.last_effective_on == date(2026, 12, 1)
    assert r.suspended_since is None and r.suspensions == []
    assert r.periods == [
        Period(S.GROUPE_PROJET, STARTED, date(2024, 4, 15)),
        Period(S.CONTOURS, date(2024, 4, 15), date(2024, 8, 20)),
        Period(S.FAISABILITE, date(2024, 8, 20), date(2025, 4, 1)),
        Period(S.VALIDATION, date(2025, 4, 1), date(2025, 7, 1)),
        Period(S.PREFIGURATION, date(2025, 7, 1), date(2026, 6, 15)),
        Period(S.EXPERTISE, date(2026, 6, 15), date(2026, 12, 1)),
    ]
    sc = schedule(
        started_on=STARTED,
        state=r.state,
        periods=r.periods,
        suspensions=r.suspensions,
        plan=Plan(),
        today=date(2027, 1, 5),
        labelled_on=r.labelled_on,
    )
    assert sc.within_horizon is True and sc.status is None


@pytest.mark.parametrize("n", range(1, 6))
def test_partial_history_leaves_an_open_period(n):
    r = replay(STARTED, FORWARD_HISTORY[:n])
    last = FORWARD_HISTORY[n - 1]
    assert r.state == State(last.to_state)
    assert r.state_entered_on == last.effective_on
    assert r.periods[-1] == Period(State(last.to_state), last.effective_on, None)
    assert len(r.periods) == n + 1
    assert r.labelled_on is None and r.closed_on is None


def test_suspend_and_resume_produce_suspension_records():
    history = [
        rec(T.SUSPENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 2, 10)),
        rec(T.REPRENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 2, 20)),
        rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.CONTOURS, date(2024, 4, 15)),
        rec(T.SUSPENDRE, S.CONTOURS, S.CONTOURS, date(2024, 5, 1)),
    ]
    r = replay(STARTED, history)
    assert r.state is S.CONTOURS
    assert r.suspensions == [Suspension(date(2024, 2, 10), date(2024, 2, 20)), Suspension(date(2024, 5, 1), None)]
    assert r.suspended_since == date(2024, 5, 1)
    # Pausing does not change step: no period is cut by it.
    assert r.periods == [
        Period(S.GROUPE_PROJET, STARTED, date(2024, 4, 15)),
        Period(S.CONTOURS, date(2024, 4, 15), None),
    ]
    assert r.state_entered_on == date(2024, 4, 15)
    assert r.last_effective_on == date(2024, 5, 1)
    sc = schedule(
        started_on=STARTED,
        state=r.state,
        periods=r.periods,
        suspensions=r.suspensions,
        plan=Plan(),
        today=date(2024, 5, 11),
    )
    assert sc.suspended_since == date(2024, 5, 1)
    assert sc.suspended_days == 20
    assert sc.status is Status.DANS_LES_TEMPS


def test_resume_closes_the_suspension():
    history = [
        rec(T.SUSPENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 2, 10)),
        rec(T.REPRENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 3, 10)),
    ]
    r = replay(STARTED, history)
    assert r.suspended_since is None
    assert r.suspensions == [Suspension(date(2024, 2, 10), date(2024, 3, 10))]


def test_abandon_while_suspended_closes_the_suspension():
    history = [
        rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.CONTOURS, date(2024, 4, 15)),
        rec(T.SUSPENDRE, S.CONTOURS, S.CONTOURS, date(2024, 5, 1)),
        rec(T.ABANDONNER, S.CONTOURS, S.ABANDONNEE, date(2024, 9, 1)),
    ]
    r = replay(STARTED, history)
    assert r.state is S.ABANDONNEE
    assert r.closed_on == date(2024, 9, 1) and r.labelled_on is None
    assert r.suspended_since is None
    assert r.suspensions == [Suspension(date(2024, 5, 1), date(2024, 9, 1))]
    assert r.periods[-1] == Period(S.CONTOURS, date(2024, 4, 15), date(2024, 9, 1))
    assert all(p.left_on is not None for p in r.periods)


def test_backward_moves_reopen_steps():
    history = [
        *FORWARD_HISTORY[:3],
        rec(T.REPRENDRE_FAISABILITE, S.VALIDATION, S.FAISABILITE, date(2025, 5, 1)),
        rec(T.REPRENDRE_CONTOURS, S.FAISABILITE, S.CONTOURS, date(2025, 5, 1)),  # same day is fine
    ]
    r = replay(STARTED, history)
    assert r.state is S.CONTOURS
    assert r.state_entered_on == date(2025, 5, 1)
    assert [p.step for p in r.periods] == [
        S.GROUPE_PROJET,
        S.CONTOURS,
        S.FAISABILITE,
        S.VALIDATION,
        S.FAISABILITE,
        S.CONTOURS,
    ]
    assert r.periods[-2] == Period(S.FAISABILITE, date(2025, 5, 1), date(2025, 5, 1))


def test_ajourner_then_label():
    history = [
        *FORWARD_HISTORY[:5],
        rec(T.AJOURNER_LABEL, S.EXPERTISE, S.PREFIGURATION, date(2026, 9, 1)),
        rec(T.DEMANDER_EXPERTISE, S.PREFIGURATION, S.EXPERTISE, date(2026, 11, 1)),
        rec(T.LABELLISER, S.EXPERTISE, S.LABELLISEE, date(2027, 3, 1)),
    ]
    r = replay(STARTED, history)
    assert r.state is S.LABELLISEE and r.labelled_on == date(2027, 3, 1)
    sc = schedule(
        started_on=STARTED,
        state=r.state,
        periods=r.periods,
        suspensions=r.suspensions,
        plan=Plan(),
        today=date(2027, 3, 2),
        labelled_on=r.labelled_on,
    )
    assert sc.within_horizon is False


# --- inconsistent histories ------------------------------------------------------------------------


INCONSISTENT = {
    "from_state_mismatch": [rec(T.LANCER_FAISABILITE, S.CONTOURS, S.FAISABILITE, date(2024, 3, 1))],
    "from_state_mismatch_later": [
        FORWARD_HISTORY[0],
        rec(T.SOUMETTRE_VALIDATION, S.FAISABILITE, S.VALIDATION, date(2024, 9, 1)),
    ],
    "to_state_mismatch": [rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.FAISABILITE, date(2024, 3, 1))],
    "unknown_trigger": [rec("valider", S.GROUPE_PROJET, S.CONTOURS, date(2024, 3, 1))],
    "invalid_trigger_from_state": [rec(T.LABELLISER, S.GROUPE_PROJET, S.LABELLISEE, date(2024, 3, 1))],
    "backward_from_wrong_state": [
        FORWARD_HISTORY[0],
        rec(T.REPRENDRE_CONTOURS, S.CONTOURS, S.CONTOURS, date(2024, 5, 1)),
    ],
    "after_label": [*FORWARD_HISTORY, rec(T.SUSPENDRE, S.LABELLISEE, S.LABELLISEE, date(2027, 1, 1))],
    "after_abandon": [
        rec(T.ABANDONNER, S.GROUPE_PROJET, S.ABANDONNEE, date(2024, 3, 1)),
        rec(T.ABANDONNER, S.ABANDONNEE, S.ABANDONNEE, date(2024, 3, 2)),
    ],
    "forward_while_suspended": [
        rec(T.SUSPENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 2, 10)),
        rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.CONTOURS, date(2024, 3, 1)),
    ],
    "suspended_twice": [
        rec(T.SUSPENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 2, 10)),
        rec(T.SUSPENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 3, 1)),
    ],
    "resume_without_suspension": [rec(T.REPRENDRE, S.GROUPE_PROJET, S.GROUPE_PROJET, date(2024, 3, 1))],
    "date_before_previous": [
        rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.CONTOURS, date(2024, 4, 15)),
        rec(T.LANCER_FAISABILITE, S.CONTOURS, S.FAISABILITE, date(2024, 4, 14)),
    ],
    "date_before_start": [rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.CONTOURS, date(2024, 1, 30))],
}


@pytest.mark.parametrize("history", list(INCONSISTENT.values()), ids=list(INCONSISTENT))
def test_inconsistent_history_raises_history_inconsistent(history):
    with pytest.raises(HistoryInconsistent) as info:
        replay(STARTED, history)
    assert info.value.code == "historique_incoherent"
    assert isinstance(info.value, DomainError)
    assert f"n°{len(history)}" in info.value.message  # names the offending (last) transition


def test_transition_on_the_start_day_is_consistent():
    r = replay(STARTED, [rec(T.DEFINIR_CONTOURS, S.GROUPE_PROJET, S.CONTOURS, STARTED)])
    assert r.state is S.CONTOURS
    assert r.periods[0] == Period(S.GROUPE_PROJET, STARTED, STARTED)


def test_replay_does_not_check_evidence_guards():
    # No evidence exists for a recorded history: a forward move replays without it.
    assert replay(STARTED, FORWARD_HISTORY[:1]).state is S.CONTOURS
