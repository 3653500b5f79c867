"""Builders shared by the workflow unit tests (plain functions, no fixtures)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from workflow.evidence import (
    ApprovalFact,
    AssociationFact,
    CommuneFact,
    Evidence,
    ExpertiseFact,
    GradeFact,
    MarketFact,
    StakeholderFact,
    StudyFact,
)
from workflow.vocabulary import Category, Condition, ExpertiseConclusion, Kind, NeedStatus, Verdict

PILOT, HABITANT, COLLECTIVITE, BAILLEUR, PARTENAIRE = 1, 2, 3, 4, 5

STAKEHOLDERS = (
    StakeholderFact(PILOT, Category.MOUVEMENT, is_amo_pilot=True),
    StakeholderFact(HABITANT, Category.HABITANT),
    StakeholderFact(COLLECTIVITE, Category.COLLECTIVITE),
    StakeholderFact(BAILLEUR, Category.BAILLEUR_SOCIAL),
    StakeholderFact(PARTENAIRE, Category.PARTENAIRE_SOCIO_ECONOMIQUE),
)

# Every dated piece of evidence precedes the effective dates the tests fire on (from 2024 on).
APPROVAL_DAY = date(2023, 6, 1)
VISIT_DAY = date(2023, 3, 1)
DECLARED_DAY = date(2023, 9, 1)
HIRE_DAY = date(2023, 10, 1)
EXPERTISE_DAY = date(2023, 11, 1)


def approval(
    stakeholder_id: int, category: Category, verdict: Verdict, given_on: date = APPROVAL_DAY, order: int = 0
) -> ApprovalFact:
    return ApprovalFact(stakeholder_id, category, verdict, given_on, order)


def favourable_approvals() -> tuple[ApprovalFact, ...]:
    return (
        approval(HABITANT, Category.HABITANT, Verdict.FAVORABLE),
        approval(COLLECTIVITE, Category.COLLECTIVITE, Verdict.FAVORABLE),
        approval(BAILLEUR, Category.BAILLEUR_SOCIAL, Verdict.FAVORABLE),
        approval(PARTENAIRE, Category.PARTENAIRE_SOCIO_ECONOMIQUE, Verdict.FAVORABLE),
    )


def complete_study(**changes) -> StudyFact:
    study = StudyFact(
        annual_charges=250_000,
        market_income=150_000,
        non_market_income=100_000,
        premises_address="12 rue des Lilas, 93000 Bobigny",
        conclusion=Verdict.FAVORABLE,
    )
    return replace(study, **changes)


def expertise(
    conclusion: ExpertiseConclusion | None, conducted_on: date = EXPERTISE_DAY, order: int = 0
) -> ExpertiseFact:
    return ExpertiseFact(conducted_on, ("Expert A", "Expert B"), conclusion, order)


def full_grid(expertise_order: int = 0) -> tuple[GradeFact, ...]:
    """The expertise with this order rates the five success conditions."""
    return tuple(GradeFact(expertise_order, c) for c in Condition)


def complete_evidence(**changes) -> Evidence:
    """An Evidence that satisfies every guard of every forward trigger."""
    evidence = Evidence(
        kind=Kind.REGIE_DE_QUARTIER,
        stakeholders=STAKEHOLDERS,
        communes=(CommuneFact("93008"),),
        qpvs=("QN09301M",),
        needs=(NeedStatus.CONFIRME, NeedStatus.ECARTE),
        activities=2,
        study=complete_study(),
        markets=(MarketFact("Ville de Bobigny", "collectivite"),),
        site_visits=(VISIT_DAY,),
        approvals=favourable_approvals(),
        association=AssociationFact("Régie de Quartier de Bobigny", DECLARED_DAY, "W931234567"),
        board_colleges=frozenset({Category.HABITANT, Category.COLLECTIVITE, Category.BAILLEUR_SOCIAL}),
        hires=(HIRE_DAY,),
        expertises=(expertise(ExpertiseConclusion.FAVORABLE),),
        expertise_grades=full_grid(),
    )
    return replace(evidence, **changes)


def without_stakeholder(evidence: Evidence, stakeholder_id: int) -> Evidence:
    return replace(evidence, stakeholders=tuple(s for s in evidence.stakeholders if s.id != stakeholder_id))


def without_approval_of(evidence: Evidence, stakeholder_id: int) -> Evidence:
    return replace(evidence, approvals=tuple(a for a in evidence.approvals if a.stakeholder_id != stakeholder_id))
