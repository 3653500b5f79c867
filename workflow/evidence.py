"""A plain, immutable snapshot of what a project has recorded: the only thing guards read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from workflow.vocabulary import Category, ExpertiseConclusion, Kind, NeedStatus, Verdict


@dataclass(frozen=True, slots=True)
class CommuneFact:
    code: str  # INSEE code
    # In the official geographic code (DOMAIN.md, "Reference data"): the application checks it when it
    # builds the snapshot, so the workflow stays free of the data file.
    official: bool = True


@dataclass(frozen=True, slots=True)
class StakeholderFact:
    id: int
    category: Category
    is_amo_pilot: bool = False


@dataclass(frozen=True, slots=True)
class ApprovalFact:
    stakeholder_id: int
    category: Category
    verdict: Verdict
    given_on: date
    order: int = 0  # tie-breaker among approvals given the same day: later recording wins


@dataclass(frozen=True, slots=True)
class StudyFact:
    annual_charges: int | None = None
    market_income: int | None = None
    non_market_income: int | None = None
    premises_address: str | None = None
    conclusion: Verdict | None = None

    @property
    def has_economic_model(self) -> bool:
        return None not in (self.annual_charges, self.market_income, self.non_market_income)


@dataclass(frozen=True, slots=True)
class MarketFact:
    buyer_name: str
    buyer_category: str


@dataclass(frozen=True, slots=True)
class AssociationFact:
    name: str | None
    declared_on: date | None
    rna: str | None


@dataclass(frozen=True, slots=True)
class ExpertiseFact:
    conducted_on: date
    experts: tuple[str, ...]
    conclusion: ExpertiseConclusion | None
    order: int = 0


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: Kind
    stakeholders: tuple[StakeholderFact, ...] = ()
    communes: tuple[CommuneFact, ...] = ()
    qpvs: tuple[str, ...] = ()
    needs: tuple[NeedStatus, ...] = ()
    activities: int = 0
    study: StudyFact | None = None
    markets: tuple[MarketFact, ...] = ()
    site_visits: int = 0
    approvals: tuple[ApprovalFact, ...] = ()
    association: AssociationFact | None = None
    board_colleges: frozenset[Category] = field(default_factory=frozenset)
    hires: int = 0
    expertises: tuple[ExpertiseFact, ...] = ()
    # The fields that were filled from the project's records; None: all of them. A partial snapshot
    # (only what one trigger's guards read, see workflow.machine.reads_of) makes a transition cheap.
    loaded: frozenset[str] | None = None

    def standing_approvals(self) -> dict[int, ApprovalFact]:
        """The latest approval of each stakeholder: a later one supersedes an earlier one."""
        latest: dict[int, ApprovalFact] = {}
        for a in sorted(self.approvals, key=lambda a: (a.given_on, a.order)):
            latest[a.stakeholder_id] = a
        return latest

    def latest_expertise(self) -> ExpertiseFact | None:
        if not self.expertises:
            return None
        return max(self.expertises, key=lambda e: (e.conducted_on, e.order))


# The fields a snapshot may load (everything but `kind`, which always comes with the project).
EVIDENCE_FIELDS = frozenset(f for f in Evidence.__dataclass_fields__ if f not in ("kind", "loaded"))
