"""Guards are judged as of the effective date (DOMAIN.md): each dated kind of evidence counts only if
dated on or before it, and the refusal names the evidence that is too recent, with its date."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.factories import complete_evidence, complete_study, expertise, favourable_approvals, full_grid
from workflow.errors import GuardsUnmet
from workflow.evidence import AssociationFact, Evidence, ReservationFact
from workflow.machine import Flow, explain, fire
from workflow.vocabulary import Condition, ExpertiseConclusion, State, Trigger

DAY = date(2025, 6, 10)
NEXT = DAY + timedelta(days=1)
FR_DAY, FR_NEXT = "10/06/2025", "11/06/2025"


def _adjourned(lifted_on: date) -> Evidence:
    """Back from ajourner_label: the latest expertise had reservations, lifted on `lifted_on`."""
    return complete_evidence(
        expertises=(expertise(ExpertiseConclusion.RESERVES, date(2025, 1, 10), order=3),),
        reservations=(ReservationFact(3, Condition.IMPLICATION_HABITANTS, lifted_on),),
    )


# kind -> (trigger, source state, guard, evidence dated `when`, what the message names)
DATED: dict[str, tuple[Trigger, State, str, Callable[[date], Evidence], str]] = {
    "site_visit": (
        Trigger.SOUMETTRE_VALIDATION,
        State.FAISABILITE,
        "visite_terrain",
        lambda when: complete_evidence(site_visits=(when,)),
        "la visite de terrain du",
    ),
    "study_conclusion": (
        Trigger.SOUMETTRE_VALIDATION,
        State.FAISABILITE,
        "conclusion_favorable",
        lambda when: complete_evidence(study=complete_study(conclusion_on=when)),
        "la conclusion de l'étude du",
    ),
    "approval": (
        Trigger.LANCER_PREFIGURATION,
        State.VALIDATION,
        "avis_habitants",
        lambda when: complete_evidence(
            approvals=(replace(favourable_approvals()[0], given_on=when), *favourable_approvals()[1:])
        ),
        "l'avis du",
    ),
    "association": (
        Trigger.DEMANDER_EXPERTISE,
        State.PREFIGURATION,
        "association_declaree",
        lambda when: complete_evidence(association=AssociationFact("Régie", when, "W2A1000123")),
        "la déclaration de l'association du",
    ),
    "hire": (
        Trigger.DEMANDER_EXPERTISE,
        State.PREFIGURATION,
        "recrutement",
        lambda when: complete_evidence(hires=(when,)),
        "le recrutement qui commence le",
    ),
    "reservation_lifted": (
        Trigger.DEMANDER_EXPERTISE,
        State.PREFIGURATION,
        "reserves_levees",
        _adjourned,
        "la levée de réserve du",
    ),
    "expertise": (
        Trigger.LABELLISER,
        State.EXPERTISE,
        "expertise_sur_site",
        lambda when: complete_evidence(
            expertises=(expertise(ExpertiseConclusion.FAVORABLE, when, order=5),), expertise_grades=full_grid(5)
        ),
        "l'expertise du",
    ),
}


@pytest.mark.parametrize("kind", list(DATED))
def test_evidence_dated_on_the_effective_date_counts(kind: str) -> None:
    trigger, source, _, build, _ = DATED[kind]
    assert explain(trigger.value, Flow(source.value), build(DAY), as_of=DAY) == []
    outcome = fire(Flow(source.value), trigger.value, build(DAY), today=NEXT, effective_on=DAY)
    assert outcome.effective_on == DAY


@pytest.mark.parametrize("kind", list(DATED))
def test_evidence_dated_after_the_effective_date_does_not_count_and_is_named(kind: str) -> None:
    trigger, source, code, build, named = DATED[kind]
    unmet = explain(trigger.value, Flow(source.value), build(NEXT), as_of=DAY)
    assert code in [u.code for u in unmet]
    message = next(u.message for u in unmet if u.code == code)
    assert f"Trop récent pour la date d'effet du {FR_DAY}" in message
    assert f"{named} {FR_NEXT}" in message
    with pytest.raises(GuardsUnmet) as err:
        fire(Flow(source.value), trigger.value, build(NEXT), today=NEXT, effective_on=DAY)
    assert code in [u.code for u in err.value.unmet]
    # The same evidence counts for a transition dated the next day (the default: today).
    assert fire(Flow(source.value), trigger.value, build(NEXT), today=NEXT).effective_on == NEXT


@pytest.mark.parametrize("kind", list(DATED))
def test_without_a_date_everything_recorded_counts(kind: str) -> None:
    trigger, source, _, build, _ = DATED[kind]
    assert explain(trigger.value, Flow(source.value), build(NEXT)) == []


def test_a_hire_starting_in_the_future_does_not_satisfy_recrutement_today() -> None:
    evidence = complete_evidence(hires=(DAY + timedelta(days=200),))
    with pytest.raises(GuardsUnmet) as err:
        fire(Flow(State.PREFIGURATION.value), Trigger.DEMANDER_EXPERTISE.value, evidence, today=DAY)
    [unmet] = err.value.unmet
    assert unmet.code == "recrutement"
    assert "le recrutement qui commence le 27/12/2025" in unmet.message


def test_a_later_unfavourable_approval_does_not_count_before_its_date() -> None:
    """An unfavourable opinion given after the effective date did not stand on that date."""
    later = replace(favourable_approvals()[0], verdict="defavorable", given_on=NEXT, order=9)  # type: ignore[arg-type]
    evidence = complete_evidence(approvals=(*favourable_approvals(), later))
    assert explain(Trigger.LANCER_PREFIGURATION.value, Flow(State.VALIDATION.value), evidence, as_of=DAY) == []
    codes = [u.code for u in explain(Trigger.LANCER_PREFIGURATION.value, Flow(State.VALIDATION.value), evidence)]
    assert codes == ["avis_habitants", "aucun_avis_defavorable"]


def test_an_impossible_effective_date_still_reports_the_guards_first() -> None:
    with pytest.raises(GuardsUnmet):
        fire(
            Flow(State.FAISABILITE.value),
            Trigger.SOUMETTRE_VALIDATION.value,
            Evidence(kind=complete_evidence().kind),
            today=DAY,
            effective_on=NEXT,
        )


@settings(max_examples=200, deadline=None)
@given(
    visits=st.lists(st.dates(date(2025, 1, 1), date(2025, 12, 31)), max_size=3),
    hires=st.lists(st.dates(date(2025, 1, 1), date(2025, 12, 31)), max_size=3),
    as_of=st.dates(date(2025, 1, 1), date(2025, 12, 31)),
)
def test_as_of_is_the_same_as_dropping_the_later_evidence(visits: list[date], hires: list[date], as_of: date) -> None:
    full = complete_evidence(site_visits=tuple(visits), hires=tuple(hires))
    kept = complete_evidence(
        site_visits=tuple(d for d in visits if d <= as_of), hires=tuple(d for d in hires if d <= as_of)
    )
    for trigger, source in (
        (Trigger.SOUMETTRE_VALIDATION, State.FAISABILITE),
        (Trigger.DEMANDER_EXPERTISE, State.PREFIGURATION),
    ):
        judged = [u.code for u in explain(trigger.value, Flow(source.value), full, as_of=as_of)]
        assert judged == [u.code for u in explain(trigger.value, Flow(source.value), kept)]
