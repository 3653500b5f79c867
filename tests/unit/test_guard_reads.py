"""Each guard declares the Evidence fields it reads, and a transition loads only those.

If a declaration were too small, a transition would be refused (or allowed) on evidence it never
loaded. These tests make that impossible to miss: on random evidence, every guard gives the same
answer on the full snapshot and on one holding only its declared fields, and reading an undeclared
field of a partial snapshot raises instead of seeing an empty default."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.factories import complete_evidence
from workflow import guards as g
from workflow.evidence import (
    EVIDENCE_FIELDS,
    ApprovalFact,
    AssociationFact,
    CommuneFact,
    Evidence,
    ExpertiseFact,
    GradeFact,
    MarketFact,
    ReservationFact,
    StakeholderFact,
    StudyFact,
)
from workflow.guards import Guard, GuardContext
from workflow.machine import FORWARD_GUARDS, Flow, available, explain, reads_from, reads_of, triggers_from
from workflow.vocabulary import (
    TERMINAL,
    BuyerCategory,
    Category,
    Condition,
    ExpertiseConclusion,
    Kind,
    NeedStatus,
    State,
    Trigger,
    Verdict,
)

EVIDENCE_GUARDS = [guard for guards in FORWARD_GUARDS.values() for guard in guards]
DAYS = st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31))
maybe_text = st.one_of(st.none(), st.just(""), st.just("x"))


@st.composite
def evidence(draw: st.DrawFn) -> Evidence:
    ids = draw(st.lists(st.integers(1, 6), unique=True, max_size=5))
    stakeholders = tuple(StakeholderFact(i, draw(st.sampled_from(Category)), draw(st.booleans())) for i in ids)
    approvals = tuple(
        ApprovalFact(s.id, s.category, draw(st.sampled_from(Verdict)), draw(DAYS), order)
        for order, s in enumerate(draw(st.lists(st.sampled_from(stakeholders), max_size=6)) if stakeholders else ())
    )
    study = draw(
        st.one_of(
            st.none(),
            st.builds(
                StudyFact,
                st.one_of(st.none(), st.integers(0, 9)),
                st.one_of(st.none(), st.integers(0, 9)),
                st.one_of(st.none(), st.integers(0, 9)),
                maybe_text,
                st.one_of(st.none(), st.sampled_from(Verdict)),
                st.one_of(st.none(), DAYS),
            ),
        )
    )
    return Evidence(
        kind=draw(st.sampled_from(Kind)),
        stakeholders=stakeholders,
        communes=tuple(CommuneFact(c) for c in draw(st.lists(st.sampled_from(["93008", "93066"]), max_size=2))),
        qpvs=tuple(draw(st.lists(st.just("QN09301M"), max_size=2))),
        needs=tuple(draw(st.lists(st.sampled_from(NeedStatus), max_size=3))),
        activities=draw(st.integers(0, 2)),
        study=study,
        markets=tuple(
            draw(
                st.lists(
                    st.builds(
                        MarketFact, st.sampled_from(["", "Ville"]), st.sampled_from([c.value for c in BuyerCategory])
                    ),
                    max_size=2,
                )
            )
        ),
        site_visits=tuple(draw(st.lists(DAYS, max_size=2))),
        approvals=approvals,
        association=draw(
            st.one_of(st.none(), st.builds(AssociationFact, maybe_text, st.one_of(st.none(), DAYS), maybe_text))
        ),
        board_colleges=frozenset(draw(st.lists(st.sampled_from(Category), max_size=4))),
        hires=tuple(draw(st.lists(DAYS, max_size=2))),
        expertises=tuple(
            ExpertiseFact(day, ("A",), conclusion, order)
            for order, (day, conclusion) in enumerate(
                draw(st.lists(st.tuples(DAYS, st.one_of(st.none(), st.sampled_from(ExpertiseConclusion))), max_size=3))
            )
        ),
        expertise_grades=tuple(
            GradeFact(order, c)
            for order, c in draw(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(Condition)), max_size=12))
        ),
        reservations=tuple(
            ReservationFact(order, c, lifted)
            for order, c, lifted in draw(
                st.lists(
                    st.tuples(st.integers(0, 2), st.sampled_from(Condition), st.one_of(st.none(), DAYS)), max_size=4
                )
            )
        ),
    )


def only(e: Evidence, names: frozenset[str]) -> Evidence:
    """The snapshot a lean load would build: the named fields copied, the others left at their defaults."""
    kept = {f: getattr(e, f) for f in names}
    return Evidence(kind=e.kind, loaded=frozenset(names), **kept)


@pytest.mark.parametrize("guard", EVIDENCE_GUARDS, ids=lambda guard: guard.code)
def test_every_evidence_guard_declares_what_it_reads(guard: Guard) -> None:
    assert guard.reads, f"{guard.code} reads evidence but declares nothing"
    assert set(guard.reads) <= EVIDENCE_FIELDS
    with pytest.raises(LookupError):  # and it really needs evidence: no snapshot, no answer
        guard.holds(GuardContext(suspended=False, evidence=None))


@settings(max_examples=300, deadline=None)
@given(evidence(), st.one_of(st.none(), DAYS))
def test_a_guard_answers_the_same_on_its_declared_fields_alone(e: Evidence, as_of: date | None) -> None:
    for guard in EVIDENCE_GUARDS:
        full = GuardContext(False, e, as_of)
        lean = GuardContext(False, only(e, frozenset(guard.reads)), as_of)
        assert guard.holds(full) == guard.holds(lean), guard.code
        assert guard.unmet(full) == guard.unmet(lean), guard.code


@settings(max_examples=150, deadline=None)
@given(evidence(), st.sampled_from([s for s in State if s not in TERMINAL]), st.booleans())
def test_explain_and_available_agree_on_a_lean_snapshot(e: Evidence, state: State, suspended: bool) -> None:
    flow = Flow(state.value, suspended, None)
    for trigger in triggers_from(state.value):
        assert explain(trigger.value, flow, only(e, reads_of(trigger.value, state.value))) == explain(
            trigger.value, flow, e
        )
    assert available(flow, only(e, reads_from(state.value))) == available(flow, e)


@pytest.mark.parametrize("guard", EVIDENCE_GUARDS, ids=lambda guard: guard.code)
def test_a_field_that_was_not_loaded_is_never_read_as_empty(guard: Guard) -> None:
    missing = only(complete_evidence(), frozenset(EVIDENCE_FIELDS - set(guard.reads[:1])))
    with pytest.raises(LookupError, match=guard.code):
        guard.holds(GuardContext(False, missing))


def test_what_each_trigger_reads() -> None:
    assert reads_of("soumettre_validation", "faisabilite") == {"needs", "study", "markets", "site_visits"}
    assert reads_of("definir_contours", "groupe_projet") == {"stakeholders"}
    assert reads_of("labelliser", "expertise") == {"expertises", "expertise_grades"}
    assert reads_of("demander_expertise", "prefiguration") == {
        "association",
        "board_colleges",
        "hires",
        "expertises",
        "reservations",
    }
    # steps back, pauses and abandons are not guarded by evidence: nothing to load
    for trigger in (Trigger.REPRENDRE_FAISABILITE, Trigger.SUSPENDRE, Trigger.REPRENDRE, Trigger.ABANDONNER):
        assert reads_of(trigger.value, "validation") == frozenset()
    assert reads_of("inconnu", "validation") == frozenset()
    assert reads_from("expertise") == {"expertises", "expertise_grades"}
    assert reads_from("faisabilite") == {"needs", "study", "markets", "site_visits"}


def test_state_guards_read_no_evidence() -> None:
    for guard in (g.NOT_SUSPENDED, g.IS_SUSPENDED):
        assert guard.reads == ()
        assert guard.holds(GuardContext(False, None)) is (guard is g.NOT_SUSPENDED)


def test_evidence_fields_are_the_dataclass_fields() -> None:
    assert {f.name for f in fields(Evidence)} - {"kind", "loaded"} == EVIDENCE_FIELDS
    assert replace(complete_evidence(), loaded=None).loaded is None
