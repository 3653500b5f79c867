"""The kinds of evidence a project records, in one registry that the API, the pages and the
snapshot for the guards all read, so a new kind is declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from app.assessments import kinds as grid
from app.assessments.models import ExpertiseAssessment, Reservation, SelfAssessment
from app.assessments.schemas import (
    ExpertiseAssessmentIn,
    ExpertiseAssessmentPatch,
    ExpertiseAssessmentRead,
    ReservationIn,
    ReservationPatch,
    ReservationRead,
    SelfAssessmentIn,
    SelfAssessmentPatch,
    SelfAssessmentRead,
)
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
from workflow.vocabulary import CATEGORY_LABELS, Category, Condition, ExpertiseConclusion, Kind, NeedStatus, Verdict


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
    # The Evidence field (workflow.evidence) these rows fill, how, and from which relations of Project.
    fact: str = ""
    facts: Callable[[Project], Any] = field(default=lambda p: None, compare=False)
    reads: tuple[str, ...] = ()  # default: (relation,)
    # One line of French that sums a row up on the project page; `names` maps stakeholder ids to names.
    summary: Callable[[Any, dict[int, str]], str] = field(default=lambda row, names: "", compare=False)
    # verify (app/transitions/verify.py): whether a stored value that differs from the one its event
    # recorded still agrees with it (row, column, recorded value); a commune's official name does.
    agrees: Callable[[Any, str, Any], bool] | None = field(default=None, compare=False)
    # Date fields that default to the day of the write when a body leaves them out.
    today_default: tuple[str, ...] = ()
    # (date field, name field): when the date is set, the name is the actor's (who lifted a reservation).
    stamp_actor: tuple[str, str] | None = None
    # Rows of other kinds that point to a row of this one: (kind name, column); such a row stays.
    referenced_by: tuple[tuple[str, str], ...] = ()
    # The same fact from plain rows (the transition path reads them with one aggregate per fact, in the
    # project's locked SELECT, app/transitions/store.py): the columns read, from this kind's table or a
    # table it refers to (joined on its foreign key), and the fact built from their values, one list per
    # row in id order. Tested equal to `facts` over random evidence (tests/unit/test_fact_rows.py).
    fact_columns: tuple[Any, ...] = field(default=(), compare=False)
    fact_of_rows: Callable[[list[list[Any]]], Any] = field(default=lambda rows: None, compare=False)

    @property
    def singleton(self) -> bool:
        return self.patch is None

    @property
    def relations(self) -> tuple[str, ...]:
        return self.reads or (self.relation,)


def _check_approval(project: Project, values: dict[str, Any]) -> None:
    from app.core.errors import Conflict  # local: avoid a cycle at import

    sid = values.get("stakeholder_id")
    if sid is not None and sid not in {st.id for st in project.stakeholders}:
        raise Conflict("Cet avis doit venir d'une partie prenante du projet : ajoutez-la d'abord au groupe projet.")
    # A recorded approval (no `source`) must not supersede one the stakeholder gave themselves through
    # an opinion request: only a new request, answered by the stakeholder, may (DOMAIN.md, "Working together").
    given_on, own_id = values.get("given_on"), values.get("id")
    if values.get("source") is None and isinstance(given_on, date):
        mine = (given_on, own_id if own_id is not None else float("inf"))
        for a in project.approvals:
            if a.source is not None and a.stakeholder_id == sid and a.id != own_id and mine > (a.given_on, a.id):
                raise Conflict(
                    "Cette partie prenante a elle-même donné son avis en réponse à une demande d'avis : un avis "
                    "enregistré ne peut pas le remplacer. Envoyez-lui une nouvelle demande d'avis."
                )


def _check_pilot(project: Project, values: dict[str, Any]) -> None:
    from workflow.errors import InvalidInput

    if values.get("is_amo_pilot") and values.get("category") != Category.MOUVEMENT:
        raise InvalidInput("Seul un consultant du Mouvement des Régies peut être pilote (AMO).", "is_amo_pilot")


def _resolve_commune(project: Project, values: dict[str, Any]) -> None:
    """A commune is a real one: its code (or, without one, its name) is looked up in the official
    geographic code and its official name recorded; unknown → 422 with suggestions."""
    from app.reference.communes import resolve

    commune = resolve(values.get("insee_code"), values.get("name"))
    values["insee_code"], values["name"] = commune.code, commune.name


def _commune_agrees(row: Commune, column: str, recorded: Any) -> bool:
    """Migration 0006 gave communes whose code is known their official name: it agrees with the name
    their event recorded (app.reference.verify)."""
    from app.reference.verify import commune_name_agrees

    return column == "name" and isinstance(recorded, str) and commune_name_agrees(row.insee_code, row.name, recorded)


def _commune_summary(row: Commune, names: dict[int, str]) -> str:
    text = f"{row.name} ({row.insee_code})"
    if not row.official:
        return text + " — code absent du code officiel géographique"
    if row.outside_territory:
        where = f"du département {row.project.departement}" if row.project.departement else "de la région"
        return text + f" — hors {where} du projet"
    return text


def _day(d: date | None) -> str:
    """26/11/2026 (empty for None)."""
    return "" if d is None else d.strftime("%d/%m/%Y")


def _label_of(enum: type[StrEnum], value: str | None, labels: dict[Any, str], default: str) -> str:
    try:
        return labels.get(enum(value), default) if value else default
    except ValueError:
        return default


def _stakeholder_facts(p: Project) -> tuple[ev.StakeholderFact, ...]:
    return tuple(ev.StakeholderFact(st.id, Category(st.category), st.is_amo_pilot) for st in p.stakeholders)


def _stakeholder_summary(row: Stakeholder, names: dict[int, str]) -> str:
    text = f"{row.name} ({CATEGORY_LABELS[Category(row.category)]})"
    return text + (" — pilote (AMO)" if row.is_amo_pilot else "")


NEED_LABELS = {NeedStatus.A_ETUDIER: "à étudier", NeedStatus.CONFIRME: "confirmé", NeedStatus.ECARTE: "écarté"}


def _need_summary(row: Need, names: dict[int, str]) -> str:
    return f"{row.label} — {_label_of(NeedStatus, row.status, NEED_LABELS, row.status)}"


def _study_fact(p: Project) -> ev.StudyFact | None:
    study = p.feasibility
    if study is None:
        return None
    conclusion = Verdict(study.conclusion) if study.conclusion else None
    return ev.StudyFact(
        study.annual_charges, study.market_income, study.non_market_income, study.premises_address, conclusion
    )


def _study_summary(row: FeasibilityStudy, names: dict[int, str]) -> str:
    parts = []
    if row.annual_charges is not None:
        parts.append(f"charges annuelles {row.annual_charges:,} €".replace(",", "\u202f"))
    if row.premises_address:
        parts.append(f"locaux : {row.premises_address}")
    verdicts = {Verdict.FAVORABLE: "favorable", Verdict.DEFAVORABLE: "défavorable"}
    parts.append("conclusion : " + _label_of(Verdict, row.conclusion, verdicts, "à venir"))
    return " ; ".join(parts)


def _approval_facts(p: Project) -> tuple[ev.ApprovalFact, ...]:
    categories = {st.id: Category(st.category) for st in p.stakeholders}
    return tuple(
        ev.ApprovalFact(a.stakeholder_id, categories[a.stakeholder_id], Verdict(a.verdict), a.given_on, a.id)
        for a in p.approvals
    )


# The comment of an approval a stakeholder gave "favorable avec réserves" through an opinion request
# starts with this: it counts as favourable for the avis_* guards and keeps saying it has reservations.
RESERVE_PREFIX = "Avis favorable avec réserves."


def with_reservations(row: Approval) -> bool:
    """Whether the stakeholder gave this approval with reservations (only they can: see app/opinions)."""
    return row.source is not None and row.verdict == "favorable" and (row.comment or "").startswith(RESERVE_PREFIX)


def _approval_summary(row: Approval, names: dict[int, str]) -> str:
    verdict = "favorable" if row.verdict == "favorable" else "défavorable"
    if with_reservations(row):
        verdict = "favorable avec réserves"
    return f"{names.get(row.stakeholder_id, 'Partie prenante')} : avis {verdict} le {_day(row.given_on)}"


def _association_fact(p: Project) -> ev.AssociationFact | None:
    assoc = p.association
    return None if assoc is None else ev.AssociationFact(assoc.name, assoc.declared_on, assoc.rna)


def _board_summary(row: BoardMember, names: dict[int, str]) -> str:
    return f"{row.name} ({CATEGORY_LABELS[Category(row.college)]})" + (f", {row.office}" if row.office else "")


def _study_fact_dated(p: Project) -> ev.StudyFact | None:
    fact = _study_fact(p)
    if fact is None or p.feasibility is None:
        return fact
    return replace(fact, conclusion_on=p.feasibility.conclusion_on)


def _expertise_facts(p: Project) -> tuple[ev.ExpertiseFact, ...]:
    return tuple(
        ev.ExpertiseFact(
            x.conducted_on, tuple(x.experts), ExpertiseConclusion(x.conclusion) if x.conclusion else None, x.id
        )
        for x in p.expertises
    )


EXPERTISE_CONCLUSIONS = {"favorable": "favorable", "reserves": "avec réserves", "defavorable": "défavorable"}


def _expertise_summary(row: Expertise, names: dict[int, str]) -> str:
    conclusion = EXPERTISE_CONCLUSIONS.get(row.conclusion or "", "conclusion à venir")
    return f"Expertise du {_day(row.conducted_on)} ({', '.join(row.experts)}) : {conclusion}"


# --- the same facts from plain rows (fact_columns → fact_of_rows) ----------------------------------
def _official(code: str) -> bool:
    from app.reference.cog import cog

    return cog().commune(code) is not None


def _one(rows: list[list[Any]]) -> list[Any] | None:
    return rows[0] if rows else None


def _study_of_rows(rows: list[list[Any]]) -> ev.StudyFact | None:
    row = _one(rows)
    if row is None:
        return None
    charges, market, non_market, premises, conclusion, conclusion_on = row
    verdict = Verdict(conclusion) if conclusion else None
    return ev.StudyFact(charges, market, non_market, premises, verdict, conclusion_on)


def _association_of_rows(rows: list[list[Any]]) -> ev.AssociationFact | None:
    row = _one(rows)
    return None if row is None else ev.AssociationFact(row[0], row[1], row[2])


def _expertises_of_rows(rows: list[list[Any]]) -> tuple[ev.ExpertiseFact, ...]:
    return tuple(
        ev.ExpertiseFact(on, tuple(experts), ExpertiseConclusion(c) if c else None, xid) for on, experts, c, xid in rows
    )


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
            fact="stakeholders",
            facts=_stakeholder_facts,
            summary=_stakeholder_summary,
            fact_columns=(Stakeholder.id, Stakeholder.category, Stakeholder.is_amo_pilot),
            fact_of_rows=lambda rows: tuple(ev.StakeholderFact(i, Category(c), p) for i, c, p in rows),
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
            extra_check=_resolve_commune,
            fact="communes",
            facts=lambda p: tuple(ev.CommuneFact(c.insee_code, c.official) for c in p.communes),
            summary=_commune_summary,
            agrees=_commune_agrees,
            fact_columns=(Commune.insee_code,),
            fact_of_rows=lambda rows: tuple(ev.CommuneFact(c, _official(c)) for (c,) in rows),
        ),
        EvidenceKind(
            "qpvs",
            "Quartiers prioritaires (QPV)",
            Qpv,
            QpvIn,
            QpvRead,
            QpvPatch,
            "qpvs",
            unique=("code",),
            fact="qpvs",
            facts=lambda p: tuple(q.code for q in p.qpvs),
            summary=lambda row, names: f"{row.name} ({row.code})",
            fact_columns=(Qpv.code,),
            fact_of_rows=lambda rows: tuple(c for (c,) in rows),
        ),
        EvidenceKind(
            "needs",
            "Besoins du territoire",
            Need,
            NeedIn,
            NeedRead,
            NeedPatch,
            "needs",
            fact="needs",
            facts=lambda p: tuple(NeedStatus(n.status) for n in p.needs),
            summary=_need_summary,
            fact_columns=(Need.status,),
            fact_of_rows=lambda rows: tuple(NeedStatus(s) for (s,) in rows),
        ),
        EvidenceKind(
            "activities",
            "Activités prioritaires",
            Activity,
            ActivityIn,
            ActivityRead,
            ActivityPatch,
            "activities",
            fact="activities",
            facts=lambda p: len(p.activities),
            summary=lambda row, names: row.label,
            fact_columns=(Activity.id,),
            fact_of_rows=len,
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
            fact="study",
            facts=_study_fact_dated,
            summary=_study_summary,
            fact_columns=(
                FeasibilityStudy.annual_charges,
                FeasibilityStudy.market_income,
                FeasibilityStudy.non_market_income,
                FeasibilityStudy.premises_address,
                FeasibilityStudy.conclusion,
                FeasibilityStudy.conclusion_on,
            ),
            fact_of_rows=_study_of_rows,
        ),
        EvidenceKind(
            "markets",
            "Marchés mobilisables",
            Market,
            MarketIn,
            MarketRead,
            MarketPatch,
            "markets",
            fact="markets",
            facts=lambda p: tuple(ev.MarketFact(mk.buyer_name, mk.buyer_category) for mk in p.markets),
            summary=lambda row, names: f"{row.label} — {row.buyer_name}",
            fact_columns=(Market.buyer_name, Market.buyer_category),
            fact_of_rows=lambda rows: tuple(ev.MarketFact(n, c) for n, c in rows),
        ),
        EvidenceKind(
            "site-visits",
            "Visites de régies",
            SiteVisit,
            SiteVisitIn,
            SiteVisitRead,
            SiteVisitPatch,
            "site_visits",
            past_dates=("visited_on",),
            fact="site_visits",
            facts=lambda p: tuple(v.visited_on for v in p.site_visits),
            summary=lambda row, names: f"{row.regie_name}, visitée le {_day(row.visited_on)}",
            fact_columns=(SiteVisit.visited_on,),
            fact_of_rows=lambda rows: tuple(d for (d,) in rows),
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
            fact="approvals",
            facts=_approval_facts,
            reads=("approvals", "stakeholders"),
            summary=_approval_summary,
            fact_columns=(
                Approval.stakeholder_id,
                Stakeholder.category,
                Approval.verdict,
                Approval.given_on,
                Approval.id,
            ),
            fact_of_rows=lambda rows: tuple(
                ev.ApprovalFact(s, Category(c), Verdict(v), on, i) for s, c, v, on, i in rows
            ),
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
            fact="association",
            facts=_association_fact,
            summary=lambda row, names: f"{row.name} — RNA {row.rna}, déclarée le {_day(row.declared_on)}",
            fact_columns=(Association.name, Association.declared_on, Association.rna),
            fact_of_rows=_association_of_rows,
        ),
        EvidenceKind(
            "board-members",
            "Conseil d'administration",
            BoardMember,
            BoardMemberIn,
            BoardMemberRead,
            BoardMemberPatch,
            "board_members",
            fact="board_colleges",
            facts=lambda p: frozenset(Category(b.college) for b in p.board_members),
            summary=_board_summary,
            fact_columns=(BoardMember.college,),
            fact_of_rows=lambda rows: frozenset(Category(c) for (c,) in rows),
        ),
        EvidenceKind(
            "hires",
            "Recrutements",
            Hire,
            HireIn,
            HireRead,
            HirePatch,
            "hires",
            fact="hires",
            facts=lambda p: tuple(h.start_on for h in p.hires),
            summary=lambda row, names: f"{row.name}, {row.role}, depuis le {_day(row.start_on)}",
            fact_columns=(Hire.start_on,),
            fact_of_rows=lambda rows: tuple(d for (d,) in rows),
        ),
        EvidenceKind(
            "expertises",
            "Expertise sur site",
            Expertise,
            ExpertiseIn,
            ExpertiseRead,
            ExpertisePatch,
            "expertises",
            past_dates=("conducted_on",),
            fact="expertises",
            facts=_expertise_facts,
            summary=_expertise_summary,
            referenced_by=(("expertise-assessments", "expertise_id"), ("reservations", "expertise_id")),
            fact_columns=(Expertise.conducted_on, Expertise.experts, Expertise.conclusion, Expertise.id),
            fact_of_rows=_expertises_of_rows,
        ),
        # The label's success conditions (app/assessments): the group's own view, never a guard ...
        EvidenceKind(
            "self-assessments",
            "Grille : auto-évaluation du groupe",
            SelfAssessment,
            SelfAssessmentIn,
            SelfAssessmentRead,
            SelfAssessmentPatch,
            "self_assessments",
            past_dates=("assessed_on",),
            extra_check=grid.check_self_assessment,
            summary=grid.self_assessment_summary,
            today_default=("assessed_on",),
        ),
        # ... the expertise's rating of each condition (grille_expertise_complete) ...
        EvidenceKind(
            "expertise-assessments",
            "Grille : évaluation par l'expertise",
            ExpertiseAssessment,
            ExpertiseAssessmentIn,
            ExpertiseAssessmentRead,
            ExpertiseAssessmentPatch,
            "expertise_assessments",
            extra_check=grid.check_expertise_assessment,
            fact="expertise_grades",
            facts=grid.grade_facts,
            reads=("expertise_assessments", "expertises"),
            summary=grid.expertise_assessment_summary,
            fact_columns=(ExpertiseAssessment.expertise_id, ExpertiseAssessment.condition),
            fact_of_rows=lambda rows: tuple(ev.GradeFact(x, Condition(c)) for x, c in rows),
        ),
        # ... and the reservations of an expertise, lifted one by one (reserves_levees).
        EvidenceKind(
            "reservations",
            "Réserves de l'expertise",
            Reservation,
            ReservationIn,
            ReservationRead,
            ReservationPatch,
            "reservations",
            past_dates=("recorded_on", "responded_on", "lifted_on"),
            extra_check=grid.check_reservation,
            fact="reservations",
            facts=grid.reservation_facts,
            reads=("reservations", "expertises"),
            summary=grid.reservation_summary,
            today_default=("recorded_on",),
            stamp_actor=("lifted_on", "lifted_by"),
            fact_columns=(Reservation.expertise_id, Reservation.condition, Reservation.lifted_on),
            fact_of_rows=lambda rows: tuple(ev.ReservationFact(x, Condition(c), on) for x, c, on in rows),
        ),
    )
}


# Only a Mouvement consultant records the expertise (enforced by access control).
# So are the expertise's assessment and its reservations (recorded and lifted by a consultant; the
# group reports what it did through …/reservations/{id}/response, app/assessments/endpoints.py).
CONSULTANT_ONLY_KINDS = frozenset({"expertises", "expertise-assessments", "reservations"})


# Which kind fills each Evidence field, and the relations of Project it reads (approvals carry their
# stakeholder's category).
BY_FACT: dict[str, EvidenceKind] = {k.fact: k for k in KINDS.values() if k.fact}
FIELD_RELATIONS: dict[str, tuple[str, ...]] = {name: k.relations for name, k in BY_FACT.items()}


if set(BY_FACT) != ev.EVIDENCE_FIELDS:  # pragma: no cover - caught by any import
    raise RuntimeError("every Evidence field needs the evidence kind that fills it (EvidenceKind.fact)")


def relations_for(fields: frozenset[str]) -> tuple[str, ...]:
    """The relations to load for a snapshot of these fields (in a stable order)."""
    return tuple(dict.fromkeys(rel for f in sorted(fields) for rel in FIELD_RELATIONS[f]))


def snapshot(project: Project, fields: frozenset[str] | None = None) -> ev.Evidence:
    """The plain Evidence the guards read, built from the project's evidence rows by each kind.

    With `fields`, only those are read (and lazily loaded if they were not); the snapshot records
    them in `loaded`, so a guard that reads anything else fails loudly instead of seeing nothing."""
    want = ev.EVIDENCE_FIELDS if fields is None else fields
    values = {name: BY_FACT[name].facts(project) for name in sorted(want)}
    return ev.Evidence(kind=Kind(project.kind), loaded=None if fields is None else frozenset(fields), **values)


def snapshot_of_rows(kind: Kind, rows: dict[str, list[list[Any]]]) -> ev.Evidence:
    """The same Evidence as `snapshot(p, set(rows))`, from each field's plain rows (fact_columns, in id
    order): what the transition path builds from its aggregates, without loading ORM collections."""
    values = {name: BY_FACT[name].fact_of_rows(rows[name]) for name in sorted(rows)}
    return ev.Evidence(kind=kind, loaded=frozenset(rows), **values)


def summary_of(kind: EvidenceKind, row: Any, names: dict[int, str]) -> str:
    """One line of French for a row on the project page."""
    return kind.summary(row, names) or str(getattr(row, "name", getattr(row, "label", "")))


EVIDENCE_RELATIONS = tuple(k.relation for k in KINDS.values())
