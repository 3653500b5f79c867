"""A plain, immutable snapshot of what a project has recorded: the only thing guards read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from workflow.vocabulary import Category, Condition, ExpertiseConclusion, Kind, NeedStatus, Verdict


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
    conclusion_on: date | None = None  # None: undated (recorded before dates were asked for), always counts

    @property
    def has_economic_model(self) -> bool:
        """Charges > 0, market and non-market income each >= 0 (DOMAIN.md, `modele_economique`)."""
        charges, market, non_market = self.annual_charges, self.market_income, self.non_market_income
        if charges is None or market is None or non_market is None:
            return False
        return charges > 0 and market >= 0 and non_market >= 0

    @property
    def balanced(self) -> bool:
        """The forecast income covers the annual charges (DOMAIN.md, `budget_equilibre`); a budget
        with a figure missing is not balanced (and `modele_economique` says what is missing)."""
        charges, market, non_market = self.annual_charges, self.market_income, self.non_market_income
        if charges is None or market is None or non_market is None:
            return False
        return market + non_market >= charges


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
    order: int = 0  # the expertise's id: grades and reservations point to it


@dataclass(frozen=True, slots=True)
class GradeFact:
    """One success condition rated by an expertise (DOMAIN.md, "The label's success conditions")."""

    expertise: int  # ExpertiseFact.order
    condition: Condition


@dataclass(frozen=True, slots=True)
class ReservationFact:
    expertise: int  # ExpertiseFact.order
    condition: Condition
    lifted_on: date | None = None


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
    site_visits: tuple[date, ...] = ()  # the day of each visit
    approvals: tuple[ApprovalFact, ...] = ()
    association: AssociationFact | None = None
    board_colleges: frozenset[Category] = field(default_factory=frozenset)
    hires: tuple[date, ...] = ()  # the start day of each hire
    expertises: tuple[ExpertiseFact, ...] = ()
    expertise_grades: tuple[GradeFact, ...] = ()
    reservations: tuple[ReservationFact, ...] = ()
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

    def as_of(self, day: date | None) -> Evidence:
        """What the project had recorded on `day` (DOMAIN.md, "Guards are judged as of the effective
        date"): dated evidence counts only when dated on or before it; a reservation lifted later is
        still open. None: everything, as recorded."""
        if day is None:
            return self
        changes: dict[str, object] = {}
        loaded = self.loaded
        if _has(loaded, "study") and self.study is not None and _after(self.study.conclusion_on, day):
            changes["study"] = replace(self.study, conclusion=None, conclusion_on=None)
        if _has(loaded, "site_visits"):
            changes["site_visits"] = tuple(d for d in self.site_visits if d <= day)
        if _has(loaded, "approvals"):
            changes["approvals"] = tuple(a for a in self.approvals if a.given_on <= day)
        if _has(loaded, "association") and self.association is not None and _after(self.association.declared_on, day):
            changes["association"] = None
        if _has(loaded, "hires"):
            changes["hires"] = tuple(d for d in self.hires if d <= day)
        if _has(loaded, "expertises"):
            changes["expertises"] = tuple(x for x in self.expertises if x.conducted_on <= day)
        if _has(loaded, "reservations"):
            changes["reservations"] = tuple(
                r if not _after(r.lifted_on, day) else replace(r, lifted_on=None) for r in self.reservations
            )
        return replace(self, **changes)  # type: ignore[arg-type]

    def too_recent(self, day: date, fields: Iterable[str]) -> list[str]:
        """French descriptions of the evidence in `fields` dated after `day` (what as_of leaves out)."""
        out: list[str] = []
        for name in fields:
            if not _has(self.loaded, name):
                continue
            if name == "study" and self.study is not None and _after(self.study.conclusion_on, day):
                out.append(f"la conclusion de l'étude du {_fr(self.study.conclusion_on)}")
            elif name == "site_visits":
                out += [f"la visite de terrain du {_fr(d)}" for d in sorted(self.site_visits) if d > day]
            elif name == "approvals":
                out += [f"l'avis du {_fr(a.given_on)}" for a in sorted(self.approvals, key=_given) if a.given_on > day]
            elif name == "association" and self.association is not None and _after(self.association.declared_on, day):
                out.append(f"la déclaration de l'association du {_fr(self.association.declared_on)}")
            elif name == "hires":
                out += [f"le recrutement qui commence le {_fr(d)}" for d in sorted(self.hires) if d > day]
            elif name == "expertises":
                out += [
                    f"l'expertise du {_fr(x.conducted_on)}"
                    for x in sorted(self.expertises, key=lambda x: x.conducted_on)
                    if x.conducted_on > day
                ]
            elif name == "reservations":
                out += [
                    f"la levée de réserve du {_fr(r.lifted_on)}"
                    for r in sorted(self.reservations, key=lambda r: r.lifted_on or day)
                    if _after(r.lifted_on, day)
                ]
        return list(dict.fromkeys(out))


def _has(loaded: frozenset[str] | None, name: str) -> bool:
    return loaded is None or name in loaded


def _after(d: date | None, day: date) -> bool:
    return d is not None and d > day


def _given(a: ApprovalFact) -> tuple[date, int]:
    return (a.given_on, a.order)


def _fr(d: date | None) -> str:
    return "" if d is None else d.strftime("%d/%m/%Y")


# The fields a snapshot may load (everything but `kind`, which always comes with the project).
EVIDENCE_FIELDS = frozenset(f for f in Evidence.__dataclass_fields__ if f not in ("kind", "loaded"))
