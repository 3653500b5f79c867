"""The kinds of evidence a project records, in one registry that the API, the pages and the
snapshot for the guards all read, so a new kind is declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from app.core.database import Base
from app.evidence.models import (
    Activity,
    Approval,
    Association,
    BoardMember,
    Commune,
    Expertise,
    FeasibilityStudy,
    Hire,
    Market,
    Need,
    Qpv,
    SiteVisit,
    Stakeholder,
)
from app.evidence.schemas import (
    ActivityIn,
    ActivityPatch,
    ActivityRead,
    ApprovalIn,
    ApprovalPatch,
    ApprovalRead,
    AssociationIn,
    AssociationRead,
    BoardMemberIn,
    BoardMemberPatch,
    BoardMemberRead,
    CommuneIn,
    CommunePatch,
    CommuneRead,
    ExpertiseIn,
    ExpertisePatch,
    ExpertiseRead,
    FeasibilityIn,
    FeasibilityRead,
    HireIn,
    HirePatch,
    HireRead,
    MarketIn,
    MarketPatch,
    MarketRead,
    NeedIn,
    NeedPatch,
    NeedRead,
    QpvIn,
    QpvPatch,
    QpvRead,
    SiteVisitIn,
    SiteVisitPatch,
    SiteVisitRead,
    StakeholderIn,
    StakeholderPatch,
    StakeholderRead,
)
from app.projects.models import Project
from workflow import evidence as ev
from workflow.vocabulary import Category, ExpertiseConclusion, Kind, NeedStatus, Verdict


@dataclass(frozen=True)
class EvidenceKind:
    name: str  # URL segment and the `kind` of evidence events
    label: str  # French, for pages and messages
    model: type[Base]
    create: type[BaseModel]
    read: type[BaseModel]
    patch: type[BaseModel] | None = None  # None: a singleton replaced with PUT
    relation: str = ""  # attribute of Project holding the rows
    past_dates: tuple[str, ...] = ()  # date fields that cannot be in the future
    unique: tuple[str, ...] = ()  # fields unique within a project
    extra_check: Callable[[Project, dict[str, Any]], None] | None = field(default=None, compare=False)

    @property
    def singleton(self) -> bool:
        return self.patch is None


def _check_approval(project: Project, values: dict[str, Any]) -> None:
    from app.core.errors import Conflict  # local: avoid a cycle at import

    sid = values.get("stakeholder_id")
    if sid is not None and sid not in {st.id for st in project.stakeholders}:
        raise Conflict("Cet avis doit venir d'une partie prenante du projet : ajoutez-la d'abord au groupe projet.")


def _check_pilot(project: Project, values: dict[str, Any]) -> None:
    from workflow.errors import InvalidInput

    if values.get("is_amo_pilot") and values.get("category") != Category.MOUVEMENT:
        raise InvalidInput("Seul un consultant du Mouvement des Régies peut être pilote (AMO).", "is_amo_pilot")


KINDS: dict[str, EvidenceKind] = {
    k.name: k
    for k in (
        EvidenceKind(
            "stakeholders",
            "Groupe projet",
            Stakeholder,
            StakeholderIn,
            StakeholderRead,
            StakeholderPatch,
            "stakeholders",
            extra_check=_check_pilot,
        ),
        EvidenceKind(
            "communes",
            "Communes du territoire",
            Commune,
            CommuneIn,
            CommuneRead,
            CommunePatch,
            "communes",
            unique=("insee_code",),
        ),
        EvidenceKind("qpvs", "Quartiers prioritaires (QPV)", Qpv, QpvIn, QpvRead, QpvPatch, "qpvs", unique=("code",)),
        EvidenceKind("needs", "Besoins du territoire", Need, NeedIn, NeedRead, NeedPatch, "needs"),
        EvidenceKind(
            "activities", "Activités prioritaires", Activity, ActivityIn, ActivityRead, ActivityPatch, "activities"
        ),
        EvidenceKind(
            "feasibility",
            "Étude de faisabilité",
            FeasibilityStudy,
            FeasibilityIn,
            FeasibilityRead,
            None,
            "feasibility",
            past_dates=("conclusion_on",),
        ),
        EvidenceKind("markets", "Marchés mobilisables", Market, MarketIn, MarketRead, MarketPatch, "markets"),
        EvidenceKind(
            "site-visits",
            "Visites de régies",
            SiteVisit,
            SiteVisitIn,
            SiteVisitRead,
            SiteVisitPatch,
            "site_visits",
            past_dates=("visited_on",),
        ),
        EvidenceKind(
            "approvals",
            "Avis des acteurs",
            Approval,
            ApprovalIn,
            ApprovalRead,
            ApprovalPatch,
            "approvals",
            past_dates=("given_on",),
            extra_check=_check_approval,
        ),
        EvidenceKind(
            "association",
            "Association de préfiguration",
            Association,
            AssociationIn,
            AssociationRead,
            None,
            "association",
            past_dates=("declared_on",),
        ),
        EvidenceKind(
            "board-members",
            "Conseil d'administration",
            BoardMember,
            BoardMemberIn,
            BoardMemberRead,
            BoardMemberPatch,
            "board_members",
        ),
        EvidenceKind("hires", "Recrutements", Hire, HireIn, HireRead, HirePatch, "hires"),
        EvidenceKind(
            "expertises",
            "Expertise sur site",
            Expertise,
            ExpertiseIn,
            ExpertiseRead,
            ExpertisePatch,
            "expertises",
            past_dates=("conducted_on",),
        ),
    )
}


# Only a Mouvement consultant records the expertise (enforced by access control).
CONSULTANT_ONLY_KINDS = frozenset({"expertises"})


# Which relations of Project fill each Evidence field (approvals carry their stakeholder's category).
FIELD_RELATIONS: dict[str, tuple[str, ...]] = {
    "stakeholders": ("stakeholders",),
    "communes": ("communes",),
    "qpvs": ("qpvs",),
    "needs": ("needs",),
    "activities": ("activities",),
    "study": ("feasibility",),
    "markets": ("markets",),
    "site_visits": ("site_visits",),
    "approvals": ("approvals", "stakeholders"),
    "association": ("association",),
    "board_colleges": ("board_members",),
    "hires": ("hires",),
    "expertises": ("expertises",),
}


if set(FIELD_RELATIONS) != ev.EVIDENCE_FIELDS:  # pragma: no cover - caught by any import
    raise RuntimeError("every Evidence field needs its relations in FIELD_RELATIONS")


def relations_for(fields: frozenset[str]) -> tuple[str, ...]:
    """The relations to load for a snapshot of these fields (in a stable order)."""
    return tuple(dict.fromkeys(rel for f in sorted(fields) for rel in FIELD_RELATIONS[f]))


def snapshot(project: Project, fields: frozenset[str] | None = None) -> ev.Evidence:
    """The plain Evidence the guards read, built from the project's evidence rows.

    With `fields`, only those are read (and lazily loaded if they were not); the snapshot records
    them in `loaded`, so a guard that reads anything else fails loudly instead of seeing nothing."""
    want = ev.EVIDENCE_FIELDS if fields is None else fields
    values: dict[str, Any] = {}
    if "stakeholders" in want:
        values["stakeholders"] = tuple(
            ev.StakeholderFact(st.id, Category(st.category), st.is_amo_pilot) for st in project.stakeholders
        )
    if "communes" in want:
        values["communes"] = tuple(c.insee_code for c in project.communes)
    if "qpvs" in want:
        values["qpvs"] = tuple(q.code for q in project.qpvs)
    if "needs" in want:
        values["needs"] = tuple(NeedStatus(n.status) for n in project.needs)
    if "activities" in want:
        values["activities"] = len(project.activities)
    if "study" in want:
        study = project.feasibility
        values["study"] = (
            None
            if study is None
            else ev.StudyFact(
                study.annual_charges,
                study.market_income,
                study.non_market_income,
                study.premises_address,
                Verdict(study.conclusion) if study.conclusion else None,
            )
        )
    if "markets" in want:
        values["markets"] = tuple(ev.MarketFact(mk.buyer_name, mk.buyer_category) for mk in project.markets)
    if "site_visits" in want:
        values["site_visits"] = len(project.site_visits)
    if "approvals" in want:
        categories = {st.id: Category(st.category) for st in project.stakeholders}
        values["approvals"] = tuple(
            ev.ApprovalFact(a.stakeholder_id, categories[a.stakeholder_id], Verdict(a.verdict), a.given_on, a.id)
            for a in project.approvals
        )
    if "association" in want:
        assoc = project.association
        values["association"] = None if assoc is None else ev.AssociationFact(assoc.name, assoc.declared_on, assoc.rna)
    if "board_colleges" in want:
        values["board_colleges"] = frozenset(Category(b.college) for b in project.board_members)
    if "hires" in want:
        values["hires"] = len(project.hires)
    if "expertises" in want:
        values["expertises"] = tuple(
            ev.ExpertiseFact(
                x.conducted_on, tuple(x.experts), ExpertiseConclusion(x.conclusion) if x.conclusion else None, x.id
            )
            for x in project.expertises
        )
    return ev.Evidence(kind=Kind(project.kind), loaded=None if fields is None else frozenset(fields), **values)


EVIDENCE_RELATIONS = tuple(k.relation for k in KINDS.values())
