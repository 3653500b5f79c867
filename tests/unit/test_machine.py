"""The shared state machine: the transition table, reasons, suspension, effective dates, and the
fact that one machine serves every project without holding on to any."""

from __future__ import annotations

import gc
import importlib
import sys
import weakref
from dataclasses import replace
from datetime import date, timedelta
from typing import ClassVar

import pytest
import transitions

import workflow.machine as machine_module
from tests.unit.factories import complete_evidence
from workflow.errors import (
    DomainError,
    EffectiveDateInvalid,
    GuardsUnmet,
    InvalidInput,
    ProjectClosed,
    ReasonRequired,
    TriggerNotAllowed,
    UnknownTrigger,
)
from workflow.evidence import Evidence
from workflow.machine import (
    FORWARD_GUARDS,
    MACHINE,
    MAX_REASON_LENGTH,
    Flow,
    Outcome,
    available,
    explain,
    fire,
    mermaid,
)
from workflow.vocabulary import Kind, State, Trigger

TODAY = date(2025, 3, 15)
REASON = "Le comité de pilotage l'a décidé."
EMPTY = Evidence(kind=Kind.REGIE_DE_QUARTIER)

S, T = State, Trigger
STEPS = [S.GROUPE_PROJET, S.CONTOURS, S.FAISABILITE, S.VALIDATION, S.PREFIGURATION, S.EXPERTISE]
TERMINAL = [S.LABELLISEE, S.ABANDONNEE]
FORWARD = {
    T.DEFINIR_CONTOURS: (S.GROUPE_PROJET, S.CONTOURS),
    T.LANCER_FAISABILITE: (S.CONTOURS, S.FAISABILITE),
    T.SOUMETTRE_VALIDATION: (S.FAISABILITE, S.VALIDATION),
    T.LANCER_PREFIGURATION: (S.VALIDATION, S.PREFIGURATION),
    T.DEMANDER_EXPERTISE: (S.PREFIGURATION, S.EXPERTISE),
    T.LABELLISER: (S.EXPERTISE, S.LABELLISEE),
}
BACKWARD = {
    T.REPRENDRE_CONTOURS: (S.FAISABILITE, S.CONTOURS),
    T.REPRENDRE_FAISABILITE: (S.VALIDATION, S.FAISABILITE),
    T.AJOURNER_LABEL: (S.EXPERTISE, S.PREFIGURATION),
}


def expected_table() -> dict[tuple[State, Trigger], tuple[State, bool] | type[DomainError]]:
    """DOMAIN.md's transitions, written out by hand: (state, trigger) -> (dest, suspended after) or error."""
    table: dict = {}
    for state in State:
        for trigger in Trigger:
            if state in TERMINAL:
                table[state, trigger] = ProjectClosed
            elif trigger in FORWARD or trigger in BACKWARD:
                source, dest = {**FORWARD, **BACKWARD}[trigger]
                table[state, trigger] = (dest, False) if state == source else TriggerNotAllowed
            elif trigger is T.ABANDONNER:
                table[state, trigger] = (S.ABANDONNEE, False)
            elif trigger is T.SUSPENDRE:
                table[state, trigger] = (state, True)
            elif trigger is T.REPRENDRE:
                table[state, trigger] = (state, False)  # fired on a suspended flow
            else:  # pragma: no cover
                raise AssertionError(trigger)
    return table


TABLE = expected_table()


def test_table_covers_every_state_and_trigger():
    assert len(TABLE) == len(State) * len(Trigger) == 8 * 12
    allowed = [k for k, v in TABLE.items() if isinstance(v, tuple)]
    # 6 forward + 3 backward + 6 x (abandonner, suspendre, reprendre)
    assert len(allowed) == 6 + 3 + 18


@pytest.mark.parametrize(("state", "trigger"), list(TABLE), ids=lambda x: str(x))
def test_every_trigger_from_every_state(state, trigger):
    expected = TABLE[state, trigger]
    flow = Flow(state.value, suspended=trigger is T.REPRENDRE)
    before = replace(flow)
    if isinstance(expected, tuple):
        dest, suspended = expected
        outcome = fire(flow, trigger.value, complete_evidence(), today=TODAY, reason=REASON)
        assert outcome == Outcome(trigger, state, dest, suspended, TODAY, REASON)
    else:
        with pytest.raises(expected):
            fire(flow, trigger.value, complete_evidence(), today=TODAY, reason=REASON)
        with pytest.raises(expected):
            explain(trigger.value, flow, complete_evidence())
    assert flow == before  # fire works on a copy


@pytest.mark.parametrize("state", TERMINAL)
@pytest.mark.parametrize("suspended", [False, True])
def test_terminal_states_refuse_everything_even_without_evidence(state, suspended):
    for trigger in Trigger:
        with pytest.raises(ProjectClosed) as info:
            fire(Flow(state.value, suspended), trigger.value, None, today=TODAY, reason=REASON)
        assert info.value.code == "projet_clos"
    assert available(Flow(state.value), complete_evidence()) == []


def test_not_allowed_error_code_and_message():
    with pytest.raises(TriggerNotAllowed) as info:
        fire(Flow(S.GROUPE_PROJET.value), T.LABELLISER.value, complete_evidence(), today=TODAY)
    assert info.value.code == "transition_impossible"
    assert "labelliser" in info.value.message


@pytest.mark.parametrize("bad", ["", "LABELLISER", "valider", "labellisee"])
def test_unknown_trigger(bad):
    with pytest.raises(UnknownTrigger) as info:
        fire(Flow(S.GROUPE_PROJET.value), bad, complete_evidence(), today=TODAY)
    assert info.value.code == "declencheur_inconnu"
    with pytest.raises(UnknownTrigger):
        explain(bad, Flow(S.GROUPE_PROJET.value), complete_evidence())


@pytest.mark.parametrize("trigger", list(FORWARD))
def test_forward_trigger_with_unmet_guards_raises_guards_unmet_listing_them(trigger):
    source, _ = FORWARD[trigger]
    with pytest.raises(GuardsUnmet) as info:
        fire(Flow(source.value), trigger.value, EMPTY, today=TODAY)
    err = info.value
    assert err.code == "conditions_non_remplies"
    assert err.trigger == trigger.value
    assert err.unmet == explain(trigger.value, Flow(source.value), EMPTY)
    assert err.unmet  # empty evidence never satisfies a forward step
    for u in err.unmet:
        assert u.message in err.message


def test_full_forward_path_to_label():
    flow = Flow(S.GROUPE_PROJET.value)
    day = date(2024, 1, 1)
    for trigger in FORWARD:
        day += timedelta(days=30)
        outcome = fire(flow, trigger.value, complete_evidence(), today=TODAY, effective_on=day)
        assert outcome.reason is None
        flow = Flow(outcome.to_state.value, outcome.suspended, outcome.effective_on)
    assert flow.state == S.LABELLISEE.value


# --- reasons ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", list(BACKWARD))
@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
def test_backward_requires_a_reason(trigger, reason):
    source, _ = BACKWARD[trigger]
    with pytest.raises(ReasonRequired) as info:
        fire(Flow(source.value), trigger.value, complete_evidence(), today=TODAY, reason=reason)
    assert info.value.code == "motif_requis"
    assert info.value.field == "reason"
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize("trigger", list(BACKWARD))
@pytest.mark.parametrize("evidence", [EMPTY, None], ids=["empty", "none"])
def test_backward_needs_no_evidence(trigger, evidence):
    source, dest = BACKWARD[trigger]
    assert explain(trigger.value, Flow(source.value), evidence) == []
    outcome = fire(Flow(source.value), trigger.value, evidence, today=TODAY, reason="  " + REASON + "  ")
    assert outcome.to_state is dest
    assert outcome.reason == REASON  # stripped


@pytest.mark.parametrize("trigger", [T.ABANDONNER, T.SUSPENDRE, T.REPRENDRE])
@pytest.mark.parametrize("reason", [None, "", "  "])
def test_abandon_suspend_resume_require_a_reason(trigger, reason):
    flow = Flow(S.CONTOURS.value, suspended=trigger is T.REPRENDRE)
    with pytest.raises(ReasonRequired):
        fire(flow, trigger.value, EMPTY, today=TODAY, reason=reason)


@pytest.mark.parametrize("trigger", [T.ABANDONNER, T.SUSPENDRE, T.REPRENDRE])
@pytest.mark.parametrize("evidence", [EMPTY, None], ids=["empty", "none"])
def test_abandon_suspend_resume_need_no_evidence(trigger, evidence):
    flow = Flow(S.VALIDATION.value, suspended=trigger is T.REPRENDRE)
    outcome = fire(flow, trigger.value, evidence, today=TODAY, reason=REASON)
    assert outcome.reason == REASON


@pytest.mark.parametrize("trigger", list(FORWARD))
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_forward_reason_is_optional_and_blank_becomes_none(trigger, reason):
    source, dest = FORWARD[trigger]
    outcome = fire(Flow(source.value), trigger.value, complete_evidence(), today=TODAY, reason=reason)
    assert outcome.to_state is dest
    assert outcome.reason is None


def test_reason_too_long_is_refused_even_when_optional():
    too_long = "x" * (MAX_REASON_LENGTH + 1)
    with pytest.raises(ReasonRequired):
        fire(Flow(S.GROUPE_PROJET.value), T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY, reason=too_long)
    ok = fire(Flow(S.GROUPE_PROJET.value), T.ABANDONNER.value, None, today=TODAY, reason="x" * MAX_REASON_LENGTH)
    assert ok.reason == "x" * MAX_REASON_LENGTH


# --- suspension --------------------------------------------------------------------------------------


def suspended(state: State) -> Flow:
    return Flow(state.value, suspended=True, last_effective_on=date(2025, 1, 1))


@pytest.mark.parametrize("state", STEPS)
def test_suspendre_sets_the_flag_and_keeps_the_step(state):
    outcome = fire(Flow(state.value), T.SUSPENDRE.value, None, today=TODAY, reason=REASON)
    assert (outcome.from_state, outcome.to_state, outcome.suspended) == (state, state, True)


@pytest.mark.parametrize("trigger", list(FORWARD))
def test_suspended_project_cannot_go_forward(trigger):
    source, _ = FORWARD[trigger]
    assert [u.code for u in explain(trigger.value, suspended(source), complete_evidence())] == ["projet_suspendu"]
    with pytest.raises(GuardsUnmet) as info:
        fire(suspended(source), trigger.value, complete_evidence(), today=TODAY, reason=REASON)
    assert [u.code for u in info.value.unmet] == ["projet_suspendu"]


def test_suspended_project_reports_suspension_before_missing_evidence():
    unmet = explain(T.DEFINIR_CONTOURS.value, suspended(S.GROUPE_PROJET), EMPTY)
    assert [u.code for u in unmet] == [
        "projet_suspendu",
        "pilote_mouvement",
        "groupe_habitants",
        "groupe_collectivite",
        "groupe_bailleur",
    ]


@pytest.mark.parametrize("trigger", list(BACKWARD))
def test_suspended_project_cannot_go_backward(trigger):
    source, _ = BACKWARD[trigger]
    with pytest.raises(GuardsUnmet) as info:
        fire(suspended(source), trigger.value, None, today=TODAY, reason=REASON)
    assert [u.code for u in info.value.unmet] == ["projet_suspendu"]


@pytest.mark.parametrize("state", STEPS)
def test_cannot_suspend_twice(state):
    with pytest.raises(GuardsUnmet) as info:
        fire(suspended(state), T.SUSPENDRE.value, None, today=TODAY, reason=REASON)
    assert [u.code for u in info.value.unmet] == ["projet_suspendu"]


@pytest.mark.parametrize("state", STEPS)
def test_reprendre_refused_when_not_suspended(state):
    with pytest.raises(GuardsUnmet) as info:
        fire(Flow(state.value), T.REPRENDRE.value, None, today=TODAY, reason=REASON)
    assert [u.code for u in info.value.unmet] == ["projet_actif"]


@pytest.mark.parametrize("state", STEPS)
def test_reprendre_clears_the_flag(state):
    outcome = fire(suspended(state), T.REPRENDRE.value, None, today=TODAY, reason=REASON)
    assert (outcome.to_state, outcome.suspended) == (state, False)


@pytest.mark.parametrize("state", STEPS)
def test_abandon_allowed_while_suspended_and_clears_the_flag(state):
    outcome = fire(suspended(state), T.ABANDONNER.value, None, today=TODAY, reason=REASON)
    assert (outcome.from_state, outcome.to_state, outcome.suspended) == (state, S.ABANDONNEE, False)


def test_suspend_resume_cycle_then_move_on():
    flow = Flow(S.GROUPE_PROJET.value)
    for trigger in (T.SUSPENDRE, T.REPRENDRE, T.SUSPENDRE, T.REPRENDRE):
        o = fire(flow, trigger.value, None, today=TODAY, reason=REASON)
        flow = Flow(o.to_state.value, o.suspended, o.effective_on)
    assert flow == Flow(S.GROUPE_PROJET.value, False, TODAY)
    assert fire(flow, T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY).to_state is S.CONTOURS


def test_available_lists_triggers_with_what_is_missing():
    views = {v.trigger: v for v in available(Flow(S.FAISABILITE.value), complete_evidence(site_visits=()))}
    assert set(views) == {T.SOUMETTRE_VALIDATION, T.REPRENDRE_CONTOURS, T.ABANDONNER, T.SUSPENDRE, T.REPRENDRE}
    assert views[T.SOUMETTRE_VALIDATION].dest is S.VALIDATION
    assert not views[T.SOUMETTRE_VALIDATION].allowed
    assert [u.code for u in views[T.SOUMETTRE_VALIDATION].unmet] == ["visite_terrain"]
    assert not views[T.SOUMETTRE_VALIDATION].reason_required
    assert views[T.REPRENDRE_CONTOURS].allowed and views[T.REPRENDRE_CONTOURS].reason_required
    assert views[T.REPRENDRE_CONTOURS].dest is S.CONTOURS
    assert views[T.ABANDONNER].dest is S.ABANDONNEE and views[T.ABANDONNER].allowed
    assert views[T.SUSPENDRE].allowed and views[T.SUSPENDRE].dest is S.FAISABILITE
    assert not views[T.REPRENDRE].allowed
    assert [u.code for u in views[T.REPRENDRE].unmet] == ["projet_actif"]


def test_available_while_suspended():
    views = {v.trigger: v for v in available(suspended(S.EXPERTISE), complete_evidence())}
    allowed = {t for t, v in views.items() if v.allowed}
    assert allowed == {T.ABANDONNER, T.REPRENDRE}
    assert set(views) == {T.LABELLISER, T.AJOURNER_LABEL, T.ABANDONNER, T.SUSPENDRE, T.REPRENDRE}


# --- effective dates ---------------------------------------------------------------------------------


def test_effective_date_defaults_to_today():
    o = fire(Flow(S.GROUPE_PROJET.value), T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY)
    assert o.effective_on == TODAY


def test_effective_date_in_the_past_is_kept():
    past = TODAY - timedelta(days=400)
    o = fire(Flow(S.GROUPE_PROJET.value), T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY, effective_on=past)
    assert o.effective_on == past


@pytest.mark.parametrize("days", [1, 365])
def test_effective_date_in_the_future_is_refused(days):
    with pytest.raises(EffectiveDateInvalid) as info:
        fire(
            Flow(S.GROUPE_PROJET.value),
            T.DEFINIR_CONTOURS.value,
            complete_evidence(),
            today=TODAY,
            effective_on=TODAY + timedelta(days=days),
        )
    assert info.value.code == "date_effet_invalide"
    assert info.value.field == "effective_on"


def test_effective_date_before_previous_transition_is_refused():
    flow = Flow(S.GROUPE_PROJET.value, last_effective_on=date(2025, 2, 1))
    with pytest.raises(EffectiveDateInvalid):
        fire(flow, T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY, effective_on=date(2025, 1, 31))


def test_today_before_previous_transition_is_refused_as_default():
    flow = Flow(S.GROUPE_PROJET.value, last_effective_on=TODAY + timedelta(days=1))
    with pytest.raises(EffectiveDateInvalid):
        fire(flow, T.SUSPENDRE.value, None, today=TODAY, reason=REASON)


def test_effective_date_equal_to_previous_transition_is_allowed():
    flow = Flow(S.GROUPE_PROJET.value, last_effective_on=date(2025, 2, 1))
    o = fire(flow, T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY, effective_on=date(2025, 2, 1))
    assert o.effective_on == date(2025, 2, 1)
    flow = Flow(S.GROUPE_PROJET.value, last_effective_on=TODAY)
    assert fire(flow, T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY).effective_on == TODAY


# --- one shared machine, holding no project ------------------------------------------------------------


class TrackedFlow(Flow):
    """A Flow subclass without __slots__, so it has __weakref__; records every instance created."""

    refs: ClassVar[list] = []

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        cls.refs.append(weakref.ref(obj))
        return obj


def test_machine_holds_no_model_and_keeps_no_flow_alive():
    TrackedFlow.refs.clear()
    assert MACHINE.models == []
    day = date(2024, 1, 1)
    for _ in range(60):
        flow = TrackedFlow(S.GROUPE_PROJET.value, last_effective_on=day)
        for trigger, reason in [
            (T.SUSPENDRE, REASON),
            (T.REPRENDRE, REASON),
            (T.DEFINIR_CONTOURS, None),
            (T.LANCER_FAISABILITE, None),
            (T.REPRENDRE_CONTOURS, REASON),
        ]:
            o = fire(flow, trigger.value, complete_evidence(), today=TODAY, effective_on=day, reason=reason)
            flow = TrackedFlow(o.to_state.value, o.suspended, o.effective_on)
        # A refused fire must not leave anything behind either.
        with pytest.raises(GuardsUnmet):
            fire(flow, T.LANCER_FAISABILITE.value, EMPTY, today=TODAY)
        del flow, o
    # fire() copies with dataclasses.replace, so the copies the machine moved were TrackedFlows too.
    assert len(TrackedFlow.refs) > 60 * 6
    assert MACHINE.models == []
    gc.collect()
    alive = [r for r in TrackedFlow.refs if r() is not None]
    assert alive == []
    assert not any(isinstance(o, TrackedFlow) for o in gc.get_referrers(MACHINE))


def test_fire_moves_the_copy_not_the_callers_flow():
    flow = TrackedFlow(S.GROUPE_PROJET.value)
    TrackedFlow.refs.clear()
    fire(flow, T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY)
    assert flow.state == S.GROUPE_PROJET.value and not flow.suspended
    assert len(TrackedFlow.refs) == 1  # exactly one copy was made
    gc.collect()
    assert TrackedFlow.refs[0]() is None


def test_machine_is_built_once(monkeypatch):
    assert importlib.import_module("workflow.machine").MACHINE is MACHINE
    assert sys.modules["workflow.machine"].MACHINE is machine_module.MACHINE is MACHINE
    calls = []
    original = transitions.Machine.__init__

    def counting_init(self, *args, **kwargs):
        calls.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "__init__", counting_init)
    importlib.import_module("workflow.machine")  # already imported: no rebuild
    flow = Flow(S.GROUPE_PROJET.value)
    for _ in range(20):
        fire(flow, T.DEFINIR_CONTOURS.value, complete_evidence(), today=TODAY)
        explain(T.DEFINIR_CONTOURS.value, flow, complete_evidence())
        available(flow, complete_evidence())
        mermaid()
    assert calls == []


def test_machine_settings():
    assert MACHINE.initial == S.GROUPE_PROJET.value
    assert set(MACHINE.states) == {s.value for s in State}
    assert set(MACHINE.events) == {t.value for t in Trigger}  # no auto "to_<state>" triggers
    assert MACHINE.states[S.LABELLISEE.value].final and MACHINE.states[S.ABANDONNEE.value].final
    assert not any(MACHINE.states[s.value].final for s in STEPS)


# --- mermaid -------------------------------------------------------------------------------------------


def test_mermaid_lists_every_state_trigger_and_guard():
    text = mermaid()
    assert text.splitlines()[0] == "stateDiagram-v2"
    for state in State:
        assert state.value in text
    for trigger in Trigger:
        assert trigger.value in text
    for guards in FORWARD_GUARDS.values():
        for guard in guards:
            assert guard.code in text
    assert "projet_suspendu" in text and "projet_actif" in text
    assert f"[*] --> {S.GROUPE_PROJET.value}" in text
    for state in TERMINAL:
        assert f"{state.value} --> [*]" in text


def test_mermaid_edges_match_the_domain_table():
    lines = {line.strip() for line in mermaid().splitlines()}
    for trigger, (source, dest) in {**FORWARD, **BACKWARD}.items():
        assert any(line.startswith(f"{source.value} --> {dest.value}: {trigger.value}") for line in lines), trigger
    assert (
        "groupe_projet --> contours: definir_contours "
        "[pilote_mouvement, groupe_habitants, groupe_collectivite, groupe_bailleur]"
    ) in lines
    assert "faisabilite --> contours: reprendre_contours" in lines
    for state in STEPS:
        assert f"{state.value} --> abandonnee: abandonner" in lines
        assert f"{state.value} --> {state.value}: suspendre [projet_suspendu]" in lines
        assert f"{state.value} --> {state.value}: reprendre [projet_actif]" in lines
    # the pause guards, documented once for every step change
    assert any(line.startswith("note right of groupe_projet: projet_suspendu") for line in lines)


# --- replay mode (check_guards=False) --------------------------------------------------------------


def test_fire_without_guard_checks_still_refuses_moves_the_machine_does_not_define():
    """Replays skip evidence guards, but "the move must still be one the machine defines":
    every refused (state, trigger) pair of the table must raise the same DomainError as with guards."""
    wrong = []
    for (state, trigger), expected in TABLE.items():
        if isinstance(expected, tuple):
            continue
        try:
            fire(Flow(state.value), trigger.value, None, today=TODAY, reason=REASON, check_guards=False)
        except expected:
            continue
        except Exception as exc:
            wrong.append(f"{state}/{trigger}: {type(exc).__name__}")
        else:
            wrong.append(f"{state}/{trigger}: no error")
    assert wrong == [], f"{len(wrong)} pairs, e.g. {wrong[:4]}"


@pytest.mark.parametrize(
    ("state", "trigger"), [k for k, v in TABLE.items() if isinstance(v, tuple)], ids=lambda x: str(x)
)
def test_fire_without_guard_checks_follows_the_table_without_evidence(state, trigger):
    dest, suspended_after = TABLE[state, trigger]
    flow = Flow(state.value, suspended=trigger is T.REPRENDRE)
    outcome = fire(flow, trigger.value, None, today=TODAY, reason=REASON, check_guards=False)
    assert (outcome.to_state, outcome.suspended) == (dest, suspended_after)


def test_fire_without_guard_checks_still_respects_the_pause():
    with pytest.raises(GuardsUnmet) as info:
        fire(suspended(S.GROUPE_PROJET), T.DEFINIR_CONTOURS.value, None, today=TODAY, check_guards=False)
    assert [u.code for u in info.value.unmet] == ["projet_suspendu"]
    with pytest.raises(GuardsUnmet) as info:
        fire(Flow(S.GROUPE_PROJET.value), T.REPRENDRE.value, None, today=TODAY, reason=REASON, check_guards=False)
    assert [u.code for u in info.value.unmet] == ["projet_actif"]
