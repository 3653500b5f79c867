"""Guards of the forward triggers: each one met, each one unmet, and the subtle cases of DOMAIN.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from tests.unit.factories import (
    BAILLEUR,
    COLLECTIVITE,
    HABITANT,
    PARTENAIRE,
    PILOT,
    approval,
    complete_evidence,
    complete_study,
    expertise,
    favourable_approvals,
    full_grid,
    without_approval_of,
    without_stakeholder,
)
from workflow.evidence import AssociationFact, CommuneFact, Evidence, MarketFact, ReservationFact, StakeholderFact
from workflow.guards import Unmet
from workflow.machine import FORWARD_GUARDS, Flow, explain
from workflow.vocabulary import Category, Condition, ExpertiseConclusion, Kind, NeedStatus, State, Trigger, Verdict

# Independent of the machine: which state each forward trigger is fired from (DOMAIN.md).
SOURCE = {
    Trigger.DEFINIR_CONTOURS: State.GROUPE_PROJET,
    Trigger.LANCER_FAISABILITE: State.CONTOURS,
    Trigger.SOUMETTRE_VALIDATION: State.FAISABILITE,
    Trigger.LANCER_PREFIGURATION: State.VALIDATION,
    Trigger.DEMANDER_EXPERTISE: State.PREFIGURATION,
    Trigger.LABELLISER: State.EXPERTISE,
}

# The guard table of DOMAIN.md, in its order, written out independently of machine.FORWARD_GUARDS.
DOMAIN_GUARDS = {
    Trigger.DEFINIR_CONTOURS: ["pilote_mouvement", "groupe_habitants", "groupe_collectivite", "groupe_bailleur"],
    Trigger.LANCER_FAISABILITE: ["territoire_defini", "besoins_identifies", "activites_prioritaires"],
    Trigger.SOUMETTRE_VALIDATION: [
        "besoins_valides",
        "modele_economique",
        "budget_equilibre",
        "locaux_identifies",
        "marches_mobilisables",
        "visite_terrain",
        "conclusion_favorable",
    ],
    Trigger.LANCER_PREFIGURATION: [
        "avis_habitants",
        "avis_collectivite",
        "avis_bailleur",
        "avis_partenaire",
        "aucun_avis_defavorable",
    ],
    Trigger.DEMANDER_EXPERTISE: ["association_declaree", "gouvernance_triptyque", "recrutement", "reserves_levees"],
    Trigger.LABELLISER: ["expertise_sur_site", "grille_expertise_complete", "avis_expertise_favorable"],
}


def codes(trigger: Trigger, evidence: Evidence, *, suspended: bool = False) -> list[str]:
    unmet = explain(trigger.value, Flow(SOURCE[trigger].value, suspended), evidence)
    assert all(isinstance(u, Unmet) for u in unmet)
    return [u.code for u in unmet]


# For each guard code: (its trigger, how to remove exactly the evidence it needs).
REMOVALS: dict[str, tuple[Trigger, Callable[[Evidence], Evidence]]] = {
    "pilote_mouvement": (Trigger.DEFINIR_CONTOURS, lambda e: without_stakeholder(e, PILOT)),
    "groupe_habitants": (Trigger.DEFINIR_CONTOURS, lambda e: without_stakeholder(e, HABITANT)),
    "groupe_collectivite": (Trigger.DEFINIR_CONTOURS, lambda e: without_stakeholder(e, COLLECTIVITE)),
    "groupe_bailleur": (Trigger.DEFINIR_CONTOURS, lambda e: without_stakeholder(e, BAILLEUR)),
    "territoire_defini": (Trigger.LANCER_FAISABILITE, lambda e: replace(e, communes=())),
    "besoins_identifies": (Trigger.LANCER_FAISABILITE, lambda e: replace(e, needs=())),
    "activites_prioritaires": (Trigger.LANCER_FAISABILITE, lambda e: replace(e, activities=0)),
    "besoins_valides": (
        Trigger.SOUMETTRE_VALIDATION,
        lambda e: replace(e, needs=(NeedStatus.CONFIRME, NeedStatus.A_ETUDIER)),
    ),
    "modele_economique": (
        Trigger.SOUMETTRE_VALIDATION,
        lambda e: replace(e, study=complete_study(annual_charges=0)),
    ),
    "budget_equilibre": (
        Trigger.SOUMETTRE_VALIDATION,
        lambda e: replace(e, study=complete_study(annual_charges=250_001)),
    ),
    "locaux_identifies": (
        Trigger.SOUMETTRE_VALIDATION,
        lambda e: replace(e, study=complete_study(premises_address=None)),
    ),
    "marches_mobilisables": (Trigger.SOUMETTRE_VALIDATION, lambda e: replace(e, markets=())),
    "visite_terrain": (Trigger.SOUMETTRE_VALIDATION, lambda e: replace(e, site_visits=())),
    "conclusion_favorable": (
        Trigger.SOUMETTRE_VALIDATION,
        lambda e: replace(e, study=complete_study(conclusion=Verdict.DEFAVORABLE)),
    ),
    "avis_habitants": (Trigger.LANCER_PREFIGURATION, lambda e: without_approval_of(e, HABITANT)),
    "avis_collectivite": (Trigger.LANCER_PREFIGURATION, lambda e: without_approval_of(e, COLLECTIVITE)),
    "avis_bailleur": (Trigger.LANCER_PREFIGURATION, lambda e: without_approval_of(e, BAILLEUR)),
    "avis_partenaire": (Trigger.LANCER_PREFIGURATION, lambda e: without_approval_of(e, PARTENAIRE)),
    # An unfavourable approval from a second inhabitant: the first one's favourable approval stands.
    "aucun_avis_defavorable": (
        Trigger.LANCER_PREFIGURATION,
        lambda e: replace(e, approvals=(*e.approvals, approval(99, Category.HABITANT, Verdict.DEFAVORABLE))),
    ),
    "association_declaree": (Trigger.DEMANDER_EXPERTISE, lambda e: replace(e, association=None)),
    "gouvernance_triptyque": (
        Trigger.DEMANDER_EXPERTISE,
        lambda e: replace(e, board_colleges=frozenset({Category.HABITANT, Category.COLLECTIVITE})),
    ),
    "recrutement": (Trigger.DEMANDER_EXPERTISE, lambda e: replace(e, hires=())),
    # A later expertise with reservations, one of them still open (the project came back after
    # ajourner_label): the favourable first one no longer decides.
    "reserves_levees": (
        Trigger.DEMANDER_EXPERTISE,
        lambda e: replace(
            e,
            expertises=(*e.expertises, expertise(ExpertiseConclusion.RESERVES, date(2026, 10, 1), order=7)),
            reservations=(
                ReservationFact(7, Condition.IMPLICATION_HABITANTS, None),
                ReservationFact(7, Condition.PERENNITE_ECONOMIQUE, date(2026, 10, 20)),
            ),
        ),
    ),
    # Removing the expertise entirely necessarily also removes its favourable conclusion.
    "expertise_sur_site": (Trigger.LABELLISER, lambda e: replace(e, expertises=())),
    "grille_expertise_complete": (
        Trigger.LABELLISER,
        lambda e: replace(e, expertise_grades=full_grid()[:-1]),
    ),
    "avis_expertise_favorable": (
        Trigger.LABELLISER,
        lambda e: replace(e, expertises=(expertise(ExpertiseConclusion.DEFAVORABLE),)),
    ),
}
# Guards whose evidence cannot be removed without failing another guard of the same trigger.
ALSO_FAILS = {"expertise_sur_site": ["grille_expertise_complete", "avis_expertise_favorable"]}
# Evidence whose removal also fails a guard of another trigger (a later expertise with reservations
# is not favourable: labelliser refuses it too).
CROSS_TRIGGER = {"besoins_identifies", "reserves_levees"}


def test_domain_guard_table_matches_machine():
    assert {t: [g.code for g in gs] for t, gs in FORWARD_GUARDS.items()} == DOMAIN_GUARDS


def test_every_guard_code_has_a_removal_case():
    all_codes = {c for cs in DOMAIN_GUARDS.values() for c in cs}
    assert set(REMOVALS) == all_codes
    for code, (trigger, _) in REMOVALS.items():
        assert code in DOMAIN_GUARDS[trigger]


def test_guard_codes_are_unique_and_messages_french_and_non_empty():
    guards = [g for gs in FORWARD_GUARDS.values() for g in gs]
    assert len({g.code for g in guards}) == len(guards)
    for g in guards:
        assert g.message.strip()
        assert g.unmet() == Unmet(g.code, g.message)


@pytest.mark.parametrize("trigger", list(DOMAIN_GUARDS), ids=str)
def test_complete_evidence_meets_every_guard(trigger):
    assert codes(trigger, complete_evidence()) == []


@pytest.mark.parametrize("code", list(REMOVALS))
def test_removing_a_guards_evidence_fails_exactly_that_guard(code):
    trigger, remove = REMOVALS[code]
    evidence = remove(complete_evidence())
    assert codes(trigger, evidence) == [code, *ALSO_FAILS.get(code, [])]
    # The same evidence still satisfies every other forward trigger that does not read it.
    for other in DOMAIN_GUARDS:
        if other is not trigger and code not in CROSS_TRIGGER:
            assert codes(other, evidence) == [], other


@pytest.mark.parametrize("code", list(REMOVALS))
def test_unmet_guard_carries_its_french_message(code):
    trigger, remove = REMOVALS[code]
    unmet = explain(trigger.value, Flow(SOURCE[trigger].value), remove(complete_evidence()))
    guard = next(g for g in FORWARD_GUARDS[trigger] if g.code == code)
    if code == "territoire_defini":  # its message says what this project's kind still lacks
        assert unmet[0].code == code and unmet[0].message.startswith("Définissez le territoire")
        return
    assert unmet[0] == Unmet(code, guard.message)


def test_removing_needs_also_fails_besoins_valides_on_the_later_trigger():
    evidence = replace(complete_evidence(), needs=())
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ["besoins_valides"]


# --- explain lists all unmet guards at once --------------------------------------------------------


def test_empty_evidence_reports_all_four_definir_contours_guards_in_order():
    assert codes(Trigger.DEFINIR_CONTOURS, Evidence(kind=Kind.REGIE_DE_QUARTIER)) == [
        "pilote_mouvement",
        "groupe_habitants",
        "groupe_collectivite",
        "groupe_bailleur",
    ]


@pytest.mark.parametrize("trigger", list(DOMAIN_GUARDS), ids=str)
def test_empty_evidence_reports_every_guard_of_every_trigger(trigger):
    # With no approval at all, no unfavourable approval stands; with no expertise, no reservation is
    # open: those guards are met.
    expected = [c for c in DOMAIN_GUARDS[trigger] if c not in ("aucun_avis_defavorable", "reserves_levees")]
    assert codes(trigger, Evidence(kind=Kind.REGIE_DE_QUARTIER)) == expected


def test_two_missing_pieces_report_two_codes():
    evidence = replace(complete_evidence(), site_visits=(), markets=())
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ["marches_mobilisables", "visite_terrain"]


# --- territoire_defini ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "communes", "qpvs", "met"),
    [
        (Kind.REGIE_DE_QUARTIER, ("93008",), ("QN09301M",), True),
        (Kind.REGIE_DE_QUARTIER, ("93008",), (), False),
        (Kind.REGIE_DE_QUARTIER, (), ("QN09301M",), False),
        (Kind.REGIE_DE_TERRITOIRE, ("23001", "23002"), (), True),
        (Kind.REGIE_DE_TERRITOIRE, ("23001",), (), False),
        (Kind.REGIE_DE_TERRITOIRE, (), (), False),
        (Kind.REGIE_DE_TERRITOIRE, (), ("QN09301M",), False),
    ],
)
def test_territoire_defini_needs_a_qpv_only_for_a_regie_de_quartier(kind, communes, qpvs, met):
    evidence = complete_evidence(kind=kind, communes=tuple(CommuneFact(c) for c in communes), qpvs=qpvs)
    assert codes(Trigger.LANCER_FAISABILITE, evidence) == ([] if met else ["territoire_defini"])


# --- besoins_valides -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("needs", "met"),
    [
        ((NeedStatus.CONFIRME,), True),
        ((NeedStatus.CONFIRME, NeedStatus.ECARTE), True),
        ((NeedStatus.ECARTE, NeedStatus.CONFIRME, NeedStatus.CONFIRME), True),
        ((NeedStatus.A_ETUDIER,), False),
        ((NeedStatus.CONFIRME, NeedStatus.A_ETUDIER), False),
        ((NeedStatus.ECARTE,), False),
        ((NeedStatus.ECARTE, NeedStatus.ECARTE), False),
        ((), False),
    ],
)
def test_besoins_valides(needs, met):
    assert codes(Trigger.SOUMETTRE_VALIDATION, complete_evidence(needs=needs)) == ([] if met else ["besoins_valides"])


def test_a_need_still_to_study_does_not_block_lancer_faisabilite():
    assert codes(Trigger.LANCER_FAISABILITE, complete_evidence(needs=(NeedStatus.A_ETUDIER,))) == []


# --- modele_economique / locaux / conclusion -------------------------------------------------------


@pytest.mark.parametrize("missing", ["annual_charges", "market_income", "non_market_income"])
def test_modele_economique_needs_all_three_figures(missing):
    evidence = complete_evidence(study=complete_study(**{missing: None}))
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ["modele_economique", "budget_equilibre"]


def test_zero_market_income_is_still_an_economic_model():
    evidence = complete_evidence(study=complete_study(market_income=0, non_market_income=250_000))
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == []


def test_a_budget_of_zeros_is_no_economic_model():
    evidence = complete_evidence(study=complete_study(annual_charges=0, market_income=0, non_market_income=0))
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ["modele_economique"]


def test_zero_income_against_charges_is_not_balanced():
    evidence = complete_evidence(study=complete_study(market_income=0, non_market_income=0))
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ["budget_equilibre"]


def test_no_study_at_all_fails_the_three_study_guards():
    assert codes(Trigger.SOUMETTRE_VALIDATION, complete_evidence(study=None)) == [
        "modele_economique",
        "budget_equilibre",
        "locaux_identifies",
        "conclusion_favorable",
    ]


@pytest.mark.parametrize("address", [None, ""])
def test_locaux_identifies_needs_an_address(address):
    evidence = complete_evidence(study=complete_study(premises_address=address))
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ["locaux_identifies"]


def test_conclusion_not_yet_given_fails():
    evidence = complete_evidence(study=complete_study(conclusion=None))
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ["conclusion_favorable"]


# --- marches_mobilisables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markets", "met"),
    [
        ((MarketFact("Ville de Bobigny", "collectivite"),), True),
        ((MarketFact("Seine-Saint-Denis Habitat", "bailleur_social"),), True),
        ((MarketFact("France Travail", "partenaire_socio_economique"),), False),
        ((MarketFact("Un habitant", "habitant"),), False),
        ((MarketFact("", "collectivite"),), False),
        ((MarketFact("France Travail", "partenaire_socio_economique"), MarketFact("OPH", "bailleur_social")), True),
    ],
)
def test_marches_mobilisables_needs_a_buyer_that_is_an_authority_or_a_landlord(markets, met):
    evidence = complete_evidence(markets=markets)
    assert codes(Trigger.SOUMETTRE_VALIDATION, evidence) == ([] if met else ["marches_mobilisables"])


# --- approvals -----------------------------------------------------------------------------------


def test_unfavourable_then_favourable_from_same_stakeholder_passes():
    approvals = (
        *without_approval_of(complete_evidence(), HABITANT).approvals,
        approval(HABITANT, Category.HABITANT, Verdict.DEFAVORABLE, date(2024, 5, 1)),
        approval(HABITANT, Category.HABITANT, Verdict.FAVORABLE, date(2024, 5, 20)),
    )
    assert codes(Trigger.LANCER_PREFIGURATION, complete_evidence(approvals=approvals)) == []


def test_favourable_then_unfavourable_from_the_only_inhabitant_fails_both_guards():
    approvals = (
        *without_approval_of(complete_evidence(), HABITANT).approvals,
        approval(HABITANT, Category.HABITANT, Verdict.FAVORABLE, date(2024, 5, 1)),
        approval(HABITANT, Category.HABITANT, Verdict.DEFAVORABLE, date(2024, 5, 20)),
    )
    assert codes(Trigger.LANCER_PREFIGURATION, complete_evidence(approvals=approvals)) == [
        "avis_habitants",
        "aucun_avis_defavorable",
    ]


def test_superseding_is_by_date_not_by_recording_order():
    # Recorded in reverse order: the later-dated favourable approval still wins.
    approvals = (
        *without_approval_of(complete_evidence(), BAILLEUR).approvals,
        approval(BAILLEUR, Category.BAILLEUR_SOCIAL, Verdict.FAVORABLE, date(2024, 5, 20)),
        approval(BAILLEUR, Category.BAILLEUR_SOCIAL, Verdict.DEFAVORABLE, date(2024, 5, 1)),
    )
    assert codes(Trigger.LANCER_PREFIGURATION, complete_evidence(approvals=approvals)) == []


@pytest.mark.parametrize(
    ("first_order", "second_order", "expected"),
    [
        (0, 1, []),  # favourable recorded later the same day wins
        (1, 0, ["avis_collectivite", "aucun_avis_defavorable"]),  # unfavourable recorded later wins
    ],
)
def test_same_day_approvals_are_ordered_by_order(first_order, second_order, expected):
    day = date(2024, 5, 10)
    approvals = (
        *without_approval_of(complete_evidence(), COLLECTIVITE).approvals,
        approval(COLLECTIVITE, Category.COLLECTIVITE, Verdict.DEFAVORABLE, day, order=first_order),
        approval(COLLECTIVITE, Category.COLLECTIVITE, Verdict.FAVORABLE, day, order=second_order),
    )
    assert codes(Trigger.LANCER_PREFIGURATION, complete_evidence(approvals=approvals)) == expected


def test_unfavourable_from_another_stakeholder_of_a_category_with_a_favourable_one():
    approvals = (
        *favourable_approvals(),
        approval(42, Category.PARTENAIRE_SOCIO_ECONOMIQUE, Verdict.DEFAVORABLE),
    )
    # The partner category keeps one favourable approval, but the unfavourable one still stands.
    assert codes(Trigger.LANCER_PREFIGURATION, complete_evidence(approvals=approvals)) == ["aucun_avis_defavorable"]


def test_unfavourable_superseded_by_a_favourable_from_another_stakeholder_still_stands():
    approvals = (
        *without_approval_of(complete_evidence(), HABITANT).approvals,
        approval(HABITANT, Category.HABITANT, Verdict.DEFAVORABLE, date(2024, 5, 1)),
        approval(77, Category.HABITANT, Verdict.FAVORABLE, date(2024, 5, 20)),
    )
    assert codes(Trigger.LANCER_PREFIGURATION, complete_evidence(approvals=approvals)) == ["aucun_avis_defavorable"]


def test_approval_of_the_mouvement_does_not_count_for_any_category():
    approvals = (approval(PILOT, Category.MOUVEMENT, Verdict.FAVORABLE),)
    assert codes(Trigger.LANCER_PREFIGURATION, complete_evidence(approvals=approvals)) == [
        "avis_habitants",
        "avis_collectivite",
        "avis_bailleur",
        "avis_partenaire",
    ]


def test_standing_approvals_keeps_the_latest_per_stakeholder():
    a1 = approval(HABITANT, Category.HABITANT, Verdict.DEFAVORABLE, date(2024, 5, 1))
    a2 = approval(HABITANT, Category.HABITANT, Verdict.FAVORABLE, date(2024, 5, 2))
    b1 = approval(BAILLEUR, Category.BAILLEUR_SOCIAL, Verdict.FAVORABLE, date(2024, 5, 3))
    evidence = complete_evidence(approvals=(a2, b1, a1))
    assert evidence.standing_approvals() == {HABITANT: a2, BAILLEUR: b1}


# --- association / governance / hire -------------------------------------------------------------


@pytest.mark.parametrize(
    "association",
    [
        AssociationFact(None, date(2025, 9, 1), "W931234567"),
        AssociationFact("", date(2025, 9, 1), "W931234567"),
        AssociationFact("Régie", None, "W931234567"),
        AssociationFact("Régie", date(2025, 9, 1), None),
        AssociationFact("Régie", date(2025, 9, 1), ""),
    ],
)
def test_association_declaree_needs_name_date_and_rna(association):
    evidence = complete_evidence(association=association)
    assert codes(Trigger.DEMANDER_EXPERTISE, evidence) == ["association_declaree"]


@pytest.mark.parametrize(
    "colleges",
    [
        {Category.COLLECTIVITE, Category.BAILLEUR_SOCIAL},
        {Category.HABITANT, Category.BAILLEUR_SOCIAL},
        {Category.HABITANT, Category.COLLECTIVITE},
        {Category.HABITANT, Category.COLLECTIVITE, Category.PARTENAIRE_SOCIO_ECONOMIQUE},
        set(),
    ],
)
def test_gouvernance_triptyque_needs_all_three_colleges(colleges):
    evidence = complete_evidence(board_colleges=frozenset(colleges))
    assert codes(Trigger.DEMANDER_EXPERTISE, evidence) == ["gouvernance_triptyque"]


def test_gouvernance_with_extra_colleges_passes():
    colleges = frozenset(
        {Category.HABITANT, Category.COLLECTIVITE, Category.BAILLEUR_SOCIAL, Category.PARTENAIRE_SOCIO_ECONOMIQUE}
    )
    assert codes(Trigger.DEMANDER_EXPERTISE, complete_evidence(board_colleges=colleges)) == []


# --- pilote_mouvement -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pilot", "met"),
    [
        (StakeholderFact(PILOT, Category.MOUVEMENT, is_amo_pilot=True), True),
        (StakeholderFact(PILOT, Category.MOUVEMENT, is_amo_pilot=False), False),
        (StakeholderFact(PILOT, Category.COLLECTIVITE, is_amo_pilot=True), False),
        (StakeholderFact(PILOT, Category.PARTENAIRE_SOCIO_ECONOMIQUE, is_amo_pilot=True), False),
    ],
)
def test_pilote_mouvement_requires_category_mouvement_and_amo_pilot(pilot, met):
    others = tuple(s for s in complete_evidence().stakeholders if s.id != PILOT)
    evidence = complete_evidence(stakeholders=(pilot, *others))
    assert codes(Trigger.DEFINIR_CONTOURS, evidence) == ([] if met else ["pilote_mouvement"])


def test_a_mouvement_pilot_does_not_count_as_a_triptyque_member():
    evidence = complete_evidence(stakeholders=(StakeholderFact(PILOT, Category.MOUVEMENT, is_amo_pilot=True),))
    assert codes(Trigger.DEFINIR_CONTOURS, evidence) == ["groupe_habitants", "groupe_collectivite", "groupe_bailleur"]


# --- expertise ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expertises", "expected"),
    [
        ((expertise(ExpertiseConclusion.FAVORABLE),), []),
        ((expertise(ExpertiseConclusion.RESERVES),), ["avis_expertise_favorable"]),
        ((expertise(ExpertiseConclusion.DEFAVORABLE),), ["avis_expertise_favorable"]),
        ((expertise(None),), ["avis_expertise_favorable"]),
        # The latest expertise decides, whatever the recording order.
        (
            (
                expertise(ExpertiseConclusion.FAVORABLE, date(2026, 3, 1)),
                expertise(ExpertiseConclusion.RESERVES, date(2026, 9, 1)),
            ),
            ["avis_expertise_favorable"],
        ),
        (
            (
                expertise(ExpertiseConclusion.RESERVES, date(2026, 9, 1)),
                expertise(ExpertiseConclusion.FAVORABLE, date(2026, 3, 1)),
            ),
            ["avis_expertise_favorable"],
        ),
        (
            (
                expertise(ExpertiseConclusion.RESERVES, date(2026, 3, 1)),
                expertise(ExpertiseConclusion.FAVORABLE, date(2026, 9, 1)),
            ),
            [],
        ),
        # Same day: `order` breaks the tie.
        (
            (
                expertise(ExpertiseConclusion.FAVORABLE, date(2026, 9, 1), order=2),
                expertise(ExpertiseConclusion.RESERVES, date(2026, 9, 1), order=1),
            ),
            [],
        ),
        (
            (
                expertise(ExpertiseConclusion.FAVORABLE, date(2026, 9, 1), order=1),
                expertise(ExpertiseConclusion.RESERVES, date(2026, 9, 1), order=2),
            ),
            ["avis_expertise_favorable"],
        ),
        ((), ["expertise_sur_site", "grille_expertise_complete", "avis_expertise_favorable"]),
    ],
)
def test_latest_expertise_decides(expertises, expected):
    grades = tuple(g for x in expertises for g in full_grid(x.order))
    assert codes(Trigger.LABELLISER, complete_evidence(expertises=expertises, expertise_grades=grades)) == expected


# --- evidence is required by evidence guards --------------------------------------------------------


def test_explain_without_evidence_cannot_evaluate_evidence_guards():
    with pytest.raises(LookupError):
        explain(Trigger.DEFINIR_CONTOURS.value, Flow(State.GROUPE_PROJET.value), None)
