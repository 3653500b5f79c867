"""A realistic demo portfolio, built only through the service functions.

Every project is created, documented and moved forward the way a partner system would do it:
for each historical day the clock is stopped on that day (``FixedClock``), the evidence of the
step is recorded, then the transition is fired with that day as its effective date. Nothing is
inserted behind the workflow's back, so guards, events, outbox, deadline index and
``regieflow verify`` all see an ordinary history.

Dates are relative to "today" (the real date, unless a test passes one), so the portfolio keeps
the same shape whatever day it is loaded: the same states and the same statuses (on time, at
risk, late) against the default plan. Nothing is random.

Communes carry their real INSEE codes (checked against the Code officiel géographique). QPV
codes have the official shape (``QP`` + department + 3 digits) and QPV names are those of real
neighbourhoods, but the codes are illustrative: check them against the official list before
reusing them elsewhere. People are fictitious.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel
from stdnum import luhn

from app.assessments.schemas import (
    ExpertiseAssessmentIn,
    ReservationIn,
    ReservationPatch,
    ReservationResponseIn,
    SelfAssessmentIn,
)
from app.assessments.service import report_on_reservation
from app.core.clock import Actor, Clock, FixedClock
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWorkFactory
from app.evidence.registry import KINDS
from app.evidence.schemas import (
    ActivityIn,
    ApprovalIn,
    AssociationIn,
    BoardMemberIn,
    CommuneIn,
    ExpertiseIn,
    FeasibilityIn,
    HireIn,
    MarketIn,
    MarketPatch,
    NeedIn,
    NeedPatch,
    QpvIn,
    SiteVisitIn,
    StakeholderIn,
)
from app.evidence.service import add_evidence, update_evidence
from app.projects import service as projects_service
from app.projects.models import Project
from app.projects.schemas import PlanBody, ProjectCreate
from app.projects.service import create_project
from app.transitions.schemas import TransitionBody
from app.transitions.service import fire_transition
from workflow.vocabulary import (
    BuyerCategory,
    Category,
    Condition,
    Conventionnement,
    ExpertiseConclusion,
    ExpertLevel,
    Initiator,
    Kind,
    NeedStatus,
    SelfLevel,
    State,
    Trigger,
    Verdict,
)

DEMO_ACTOR = Actor("system", "demo", "Démo")


H = Category.HABITANT


C = Category.COLLECTIVITE


B = Category.BAILLEUR_SOCIAL


P = Category.PARTENAIRE_SOCIO_ECONOMIQUE


BUY_C = BuyerCategory.COLLECTIVITE


BUY_B = BuyerCategory.BAILLEUR_SOCIAL


# Consultants of the Mouvement des Régies who pilot (AMO) and expertise the projects.
CONSULTANTS = ("Claire Martin", "Julien Moreau", "Sandrine Petit", "Olivier Lambert", "Isabelle Fontaine")


MOUVEMENT = "Mouvement des Régies"


# --- what a project is made of ------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    name: str
    category: Category
    organisation: str | None = None


@dataclass(frozen=True)
class Market:
    label: str
    buyer: str
    buyer_category: BuyerCategory
    amount: int | None = None


@dataclass(frozen=True)
class Site:
    """Everything a project's evidence is made of (who, where, what, how much)."""

    name: str
    kind: Kind
    region: str
    departement: str
    initiator: Initiator
    lead_name: str
    description: str
    pilot: str
    members: tuple[Member, ...]
    communes: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]
    activities: tuple[str, ...]
    budget: tuple[int, int, int]  # annual charges, market income, non-market income
    premises: str
    markets: tuple[Market, ...]
    visited: str
    association: str
    rna: str
    board: tuple[tuple[str, Category, str], ...]  # name, college, office
    hire: tuple[str, str]  # name, role
    qpvs: tuple[tuple[str, str], ...] = ()
    dismissed_needs: tuple[str, ...] = ()  # recorded with the outline, set aside by the study
    conventionnement: Conventionnement = Conventionnement.AUCUN
    siret_seed: int | None = None
    study_summary: str = ""


def _siret(seed: int) -> str:
    """A SIRET with valid keys (SIREN and establishment), derived from a seed: illustrative only."""
    siren8 = f"{seed % 10**8:08d}"
    siren = siren8 + luhn.calc_check_digit(siren8)
    nic4 = "0001"
    body = siren + nic4
    return body + luhn.calc_check_digit(body)


# --- telling one project's story through the services -------------------------------------------
class _Demo:
    def __init__(self, uows: UnitOfWorkFactory, settings: Settings, today: date) -> None:
        self.uows = uows
        self.settings = settings
        self.today = today
        self._ticks: dict[date, int] = {}

    def clock_at(self, day: date) -> FixedClock:
        """A clock stopped on `day`, a few minutes after the previous action of that day."""
        if day > self.today:
            raise ValueError(f"demo script bug: {day} is after today ({self.today})")
        tick = self._ticks.get(day, 0)
        self._ticks[day] = tick + 1
        local = datetime.combine(day, time(9, 0), self.settings.tz) + timedelta(minutes=3 * tick)
        return FixedClock(tz=self.settings.tz, at=local.astimezone(UTC))


@dataclass
class _Story:
    demo: _Demo
    site: Site
    start: date
    project: Project | None = None
    people: dict[str, int] = field(default_factory=dict)  # stakeholder name -> id
    needs: dict[str, int] = field(default_factory=dict)  # need label -> id
    markets: dict[str, int] = field(default_factory=dict)  # market label -> id
    expertises: list[int] = field(default_factory=list)
    done: set[State] = field(default_factory=set)  # steps whose evidence is complete

    # -- plumbing ---------------------------------------------------------------------------------
    def on(self, months: int = 0, days: int = 0) -> date:
        """The day `months` and `days` after the start of the groupe projet."""
        day: date = self.start + relativedelta(months=months) + timedelta(days=days)  # dateutil ships no types
        return day

    def _call(self, day: date, fn: Callable[..., Any], *args: Any, actor: Actor = DEMO_ACTOR, **kwargs: Any) -> Any:
        with self.demo.uows() as uow:
            return fn(uow, *args, actor=actor, clock=self.demo.clock_at(day), **kwargs)

    @property
    def pid(self) -> Any:
        assert self.project is not None, "create the project first"
        return self.project.id

    def add(self, day: date, kind: str, body: BaseModel) -> Any:
        p, row, _ = self._call(day, add_evidence, self.pid, KINDS[kind], body, expected_version=None)
        self.project = p
        return row

    def patch(self, day: date, kind: str, item_id: int, body: BaseModel) -> None:
        p, _ = self._call(day, update_evidence, self.pid, KINDS[kind], item_id, body, expected_version=None)
        self.project = p

    def fire(self, day: date, trigger: Trigger, reason: str | None = None) -> None:
        self.project = self._call(
            day,
            fire_transition,
            self.pid,
            trigger.value,
            TransitionBody(effective_on=day, reason=reason),
            expected_version=None,
        )

    # -- the project and its evidence, step by step -------------------------------------------------
    def create(self) -> None:
        site = self.site
        body = ProjectCreate(
            name=site.name,
            kind=site.kind,
            region=site.region,
            initiator=site.initiator,
            departement=site.departement,
            conventionnement=site.conventionnement,
            lead_name=site.lead_name,
            description=site.description,
            started_on=self.start,
        )
        self.project = self._call(self.start, create_project, body, plan=self.demo.settings.default_plan)

    def member(self, day: date, who: Member, *, pilot: bool = False) -> None:
        row = self.add(
            day,
            "stakeholders",
            StakeholderIn(name=who.name, category=who.category, organisation=who.organisation, is_amo_pilot=pilot),
        )
        self.people[who.name] = row.id

    def group(self, day: date, *, pilot: bool = True, without: tuple[Category, ...] = ()) -> None:
        """The project group: the Mouvement's pilot, then the members (except the categories left out)."""
        if pilot:
            self.member(day, Member(self.site.pilot, Category.MOUVEMENT, MOUVEMENT), pilot=True)
        for who in self.site.members:
            if who.category not in without:
                self.member(day, who)
        if pilot and not without:
            self.done.add(State.GROUPE_PROJET)

    def contours(self, day: date, *, activities: bool = True) -> None:
        for code, name in self.site.communes:
            self.add(day, "communes", CommuneIn(insee_code=code, name=name))
        for code, name in self.site.qpvs:
            self.add(day, "qpvs", QpvIn(code=code, name=name))
        for label in (*self.site.needs, *self.site.dismissed_needs):
            self.needs[label] = self.add(day, "needs", NeedIn(label=label)).id
        if activities:
            for label in self.site.activities:
                self.add(day, "activities", ActivityIn(label=label))
            self.done.add(State.CONTOURS)

    def settle_needs(self, day: date) -> None:
        for label, need_id in self.needs.items():
            status = NeedStatus.ECARTE if label in self.site.dismissed_needs else NeedStatus.CONFIRME
            self.patch(day, "needs", need_id, NeedPatch(status=status))

    def study(
        self,
        day: date,
        *,
        conclusion: Verdict | None = Verdict.FAVORABLE,
        premises: bool = True,
        summary: str | None = None,
    ) -> None:
        charges, market, non_market = self.site.budget
        self.add(
            day,
            "feasibility",
            FeasibilityIn(
                annual_charges=charges,
                market_income=market,
                non_market_income=non_market,
                premises_address=self.site.premises if premises else None,
                conclusion=conclusion,
                conclusion_on=day if conclusion else None,
                summary=summary or self.site.study_summary or None,
            ),
        )

    def markets_and_visit(self, day: date) -> None:
        for mk in self.site.markets:
            self.markets[mk.label] = self.add(
                day,
                "markets",
                MarketIn(
                    label=mk.label, buyer_name=mk.buyer, buyer_category=mk.buyer_category, annual_amount=mk.amount
                ),
            ).id
        self.add(
            day,
            "site-visits",
            SiteVisitIn(
                regie_name=self.site.visited,
                visited_on=day,
                notes="Rencontre avec l'équipe, les salariés en parcours et le conseil d'administration.",
            ),
        )

    def feasibility(self, day: date) -> None:
        self.settle_needs(day)
        self.markets_and_visit(day)
        self.study(day)
        self.done.add(State.FAISABILITE)

    def approve(self, day: date, name: str, verdict: Verdict = Verdict.FAVORABLE, comment: str | None = None) -> None:
        self.add(
            day,
            "approvals",
            ApprovalIn(stakeholder_id=self.people[name], verdict=verdict, given_on=day, comment=comment),
        )

    def ask_opinion(self, day: date, name: str, email: str, due_on: date) -> str:
        """Step 4 inside regieflow: the project asks `name` for a formal opinion (an e-mail with a personal
        link, in the outbox); the link's token, as the e-mail carries it."""
        from app.opinions.schemas import OpinionRequestIn
        from app.opinions.service import ask

        body = OpinionRequestIn(
            stakeholder_id=self.people[name],
            email=email,
            due_on=due_on,
            message="Le groupe projet vous présente l'étude de faisabilité et le compte rendu de la réunion "
            "de validation : merci de nous donner l'avis de votre organisme sur la création de la régie.",
        )
        with self.demo.uows() as uow:
            clock = self.demo.clock_at(day)
            p, _, token = ask(uow, self.demo.settings, clock, self.pid, body, expected_version=None, actor=DEMO_ACTOR)
        self.project = p
        return token

    def answer_by_link(self, day: date, token: str, comment: str | None = None) -> None:
        """The stakeholder follows the e-mail's link and gives a favourable opinion (the service the
        /avis page uses): the approval's source says the stakeholder gave it."""
        from app.opinions.service import answer_through_link

        with self.demo.uows() as uow:
            answer_through_link(uow, self.demo.clock_at(day), token, verdict="favorable", comment=comment)
            uow.commit()

    def approvals(self, day: date, *, skip: tuple[str, ...] = ()) -> None:
        for who in self.site.members:
            if who.name not in skip:
                self.approve(day, who.name)
        if not skip:
            self.done.add(State.VALIDATION)

    def prefiguration(self, day: date, *, colleges: tuple[Category, ...] = (H, C, B), hire: bool = True) -> None:
        self.add(
            day,
            "association",
            AssociationIn(
                name=self.site.association,
                declared_on=day,
                rna=self.site.rna,
                siret=_siret(self.site.siret_seed) if self.site.siret_seed else None,
                address=self.site.premises,
            ),
        )
        for name, college, office in self.site.board:
            if college in colleges:
                self.add(day, "board-members", BoardMemberIn(name=name, college=college, office=office))
        if hire:
            name, role = self.site.hire
            self.add(day, "hires", HireIn(name=name, role=role, start_on=day))
        if hire and {H, C, B} <= set(colleges):
            self.done.add(State.PREFIGURATION)

    def expertise(self, day: date, conclusion: ExpertiseConclusion | None, report: str | None = None) -> None:
        experts = [self.site.pilot, next(c for c in CONSULTANTS if c != self.site.pilot)]
        row = self.add(
            day, "expertises", ExpertiseIn(conducted_on=day, experts=experts, conclusion=conclusion, report=report)
        )
        self.expertises.append(row.id)

    def complete(self, step: State, day: date) -> None:
        """Record whatever the forward move out of `step` still needs."""
        if step in self.done:
            return
        if step == State.GROUPE_PROJET:
            self.group(day)
        elif step == State.CONTOURS:
            self.contours(day)
        elif step == State.FAISABILITE:
            self.feasibility(day)
        elif step == State.VALIDATION:
            self.approvals(day)
        elif step == State.PREFIGURATION:
            self.prefiguration(day)
        elif step == State.EXPERTISE:
            self.expertise(
                day,
                ExpertiseConclusion.FAVORABLE,
                "Les trois collèges sont présents et actifs ; le projet social et économique "
                "répond à la charte nationale.",
            )
            self.grade(day, {c: (ExpertLevel.ATTEINT, "Conforme à la charte.") for c in Condition})
        self.done.add(step)

    def forward(self, trigger: Trigger, day: date, *, prepare_days: int = 12) -> None:
        """Record the evidence of the current step `prepare_days` before `day`, then move on that day."""
        assert self.project is not None
        self.complete(State(self.project.state), day - timedelta(days=prepare_days))
        self.fire(day, trigger)

    # -- the label's success conditions (app/assessments) ------------------------------------------
    def self_assess(self, day: date, levels: dict[Condition, tuple[SelfLevel, str]]) -> None:
        """The project group's own reading of some conditions (a new reading keeps the former ones)."""
        for condition, (level, comment) in levels.items():
            self.add(day, "self-assessments", SelfAssessmentIn(condition=condition, level=level, comment=comment))

    def grade(self, day: date, levels: dict[Condition, tuple[ExpertLevel, str]]) -> None:
        """The latest expertise rates the five conditions."""
        for condition, (level, comment) in levels.items():
            body = ExpertiseAssessmentIn(
                expertise_id=self.expertises[-1], condition=condition, level=level, comment=comment
            )
            self.add(day, "expertise-assessments", body)

    def reserve(self, day: date, condition: Condition, description: str) -> int:
        """A reservation of the latest expertise (recorded by the consultant)."""
        body = ReservationIn(expertise_id=self.expertises[-1], condition=condition, description=description)
        row = self.add(day, "reservations", body)
        return int(row.id)

    def respond(self, day: date, reservation: int, what: str) -> None:
        """The project group reports what it did about a reservation."""
        p, _ = self._call(
            day,
            report_on_reservation,
            self.pid,
            reservation,
            ReservationResponseIn(response=what),
            expected_version=None,
        )
        self.project = p

    def lift(self, day: date, reservation: int, how: str) -> None:
        """The pilot, a Mouvement consultant, marks the reservation lifted (lifted_by: their name)."""
        consultant = Actor("system", "demo", f"{self.site.pilot} ({MOUVEMENT})")
        body = ReservationPatch(lifted_on=day, lifted_how=how)
        p, _ = self._call(
            day,
            update_evidence,
            self.pid,
            KINDS["reservations"],
            reservation,
            body,
            expected_version=None,
            actor=consultant,
        )
        self.project = p

    def replan(self, day: date, months: dict[State, int], reason: str) -> None:
        assert self.project is not None
        plan = {State(k): v for k, v in self.project.step_months.items()} | months
        body = PlanBody(step_months=plan, horizon_months=self.project.horizon_months, reason=reason)
        self.project = self._call(day, projects_service.replan, self.pid, body, expected_version=None)


# --- the portfolio --------------------------------------------------------------------------------
FT = "France Travail"


ROUBAIX = Site(
    name="Régie de Quartier de l'Alma",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Hauts-de-France",
    departement="59",
    initiator=Initiator.HABITANTS,
    lead_name="Nadia Bouzid",
    conventionnement=Conventionnement.ACI_EI,
    description="Née de l'initiative d'habitantes de l'Alma-Gare, la régie entretient les halls et les espaces "
    "extérieurs des résidences du quartier et en fait des emplois d'insertion pour ses habitants.",
    pilot="Claire Martin",
    members=(
        Member("Nadia Bouzid", H, "Conseil citoyen de l'Alma"),
        Member("Gérard Vanhoutte", H),
        Member("Ville de Roubaix", C, "Direction de la politique de la ville"),
        Member("Vilogia", B, "Agence de Roubaix"),
        Member("Lille Métropole Habitat", B),
        Member(FT, P, "Agence de Roubaix"),
        Member("PLIE de Roubaix", P),
    ),
    communes=(("59512", "Roubaix"),),
    qpvs=(("QP059036", "Alma-Gare"),),
    needs=(
        "Entretien des halls et des parties communes",
        "Propreté des espaces extérieurs",
        "Emplois de proximité pour les habitants éloignés de l'emploi",
    ),
    dismissed_needs=("Conciergerie de quartier",),
    activities=(
        "Nettoyage des halls et cages d'escalier",
        "Entretien des espaces verts",
        "Petite maintenance des logements",
    ),
    budget=(520_000, 310_000, 230_000),
    premises="27 rue de l'Alma, 59100 Roubaix",
    markets=(
        Market("Entretien des halls des résidences de l'Alma", "Vilogia", BUY_B, 140_000),
        Market("Propreté des abords des écoles", "Ville de Roubaix", BUY_C, 65_000),
    ),
    visited="Régie de Quartier de Tourcoing",
    association="Régie de Quartier de l'Alma",
    rna="W595034817",
    siret_seed=8412_3456,
    board=(
        ("Nadia Bouzid", H, "Présidente"),
        ("Martine Delcroix", C, "Vice-présidente"),
        ("Thierry Lemaire", B, "Trésorier"),
    ),
    hire=("Karim Haddad", "Directeur"),
)


SAINT_DENIS = Site(
    name="Régie de Quartier de Saint-Denis Franc-Moisin",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Île-de-France",
    departement="93",
    initiator=Initiator.COLLECTIVITE,
    lead_name="Fatoumata Diallo",
    conventionnement=Conventionnement.ACI,
    description="Portée par la ville et Plaine Commune, la régie reprend la gestion de proximité du Franc-Moisin : "
    "propreté, médiation, petits travaux, avec les habitants comme premiers salariés.",
    pilot="Julien Moreau",
    members=(
        Member("Fatoumata Diallo", H, "Amicale des locataires du Franc-Moisin"),
        Member("Mehdi Ait Ali", H),
        Member("Ville de Saint-Denis", C),
        Member("Plaine Commune", C, "Établissement public territorial"),
        Member("Plaine Commune Habitat", B),
        Member(FT, P, "Agence de Saint-Denis"),
        Member("PLIE de Plaine Commune", P),
    ),
    communes=(("93066", "Saint-Denis"),),
    qpvs=(("QP093021", "Franc-Moisin – Bel Air"),),
    needs=(
        "Propreté des pieds d'immeubles",
        "Médiation et tranquillité résidentielle",
        "Insertion des jeunes du quartier",
    ),
    activities=("Nettoyage et gestion des encombrants", "Médiation de proximité", "Second œuvre dans les logements"),
    budget=(690_000, 420_000, 270_000),
    premises="5 rue Danielle Casanova, 93200 Saint-Denis",
    markets=(
        Market("Gestion des encombrants du Franc-Moisin", "Plaine Commune Habitat", BUY_B, 180_000),
        Market("Propreté des espaces publics", "Plaine Commune", BUY_C, 90_000),
    ),
    visited="Régie de Quartier de Saint-Ouen",
    association="Régie de Quartier de Saint-Denis Franc-Moisin",
    rna="W932011572",
    siret_seed=8523_4617,
    board=(
        ("Mehdi Ait Ali", H, "Président"),
        ("Sophie Renard", C, "Vice-présidente"),
        ("Laurent Mercier", B, "Trésorier"),
    ),
    hire=("Aïcha Konaté", "Directrice de préfiguration"),
)


AUBERVILLIERS = Site(
    name="Régie de Quartier d'Aubervilliers Villette – Quatre-Chemins",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Île-de-France",
    departement="93",
    initiator=Initiator.BAILLEUR,
    lead_name="Lucas Ferreira",
    description="Projet lancé par les bailleurs du secteur Villette – Quatre-Chemins pour confier l'entretien "
    "des résidences à une structure d'insertion des habitants.",
    pilot="Julien Moreau",
    members=(
        Member("Samia Belkacem", H, "Conseil citoyen des Quatre-Chemins"),
        Member("Ville d'Aubervilliers", C),
        Member("OPH d'Aubervilliers", B),
        Member("Plaine Commune Habitat", B),
        Member("Mission locale d'Aubervilliers", P),
    ),
    communes=(("93001", "Aubervilliers"),),
    qpvs=(("QP093005", "Villette – Quatre-Chemins"),),
    needs=("Entretien des parties communes", "Emplois d'insertion pour les jeunes"),
    activities=("Nettoyage des parties communes", "Petits travaux de remise en état"),
    budget=(380_000, 150_000, 160_000),
    premises="Local à identifier, secteur Quatre-Chemins",
    markets=(Market("Nettoyage des parties communes", "OPH d'Aubervilliers", BUY_B, 60_000),),
    visited="Régie de Quartier de Saint-Ouen",
    association="Régie de Quartier des Quatre-Chemins",
    rna="W932012640",
    board=(
        ("Samia Belkacem", H, "Présidente"),
        ("Éric Vasseur", C, "Vice-président"),
        ("Lucas Ferreira", B, "Trésorier"),
    ),
    hire=("Nabil Cherif", "Chargé de préfiguration"),
)


VAULX = Site(
    name="Régie de Quartier de la Grande Île",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Auvergne-Rhône-Alpes",
    departement="69",
    initiator=Initiator.HABITANTS,
    lead_name="Yasmina Cherifi",
    description="Des habitants du Mas du Taureau et de la Grande Île veulent une régie pour l'entretien, "
    "la médiation et l'accompagnement des chantiers de renouvellement urbain.",
    pilot="Sandrine Petit",
    members=(
        Member("Yasmina Cherifi", H, "Collectif des habitants du Mas du Taureau"),
        Member("Jean-Pierre Roux", H),
        Member("Ville de Vaulx-en-Velin", C),
        Member("Métropole de Lyon", C),
        Member("Est Métropole Habitat", B),
        Member("Grand Lyon Habitat", B),
        Member("Mission locale de Vaulx-en-Velin", P),
        Member(FT, P, "Agence de Vaulx-en-Velin"),
    ),
    communes=(("69256", "Vaulx-en-Velin"),),
    qpvs=(("QP069041", "Grande Île"),),
    needs=(
        "Entretien des résidences pendant les travaux de renouvellement urbain",
        "Lien entre habitants et bailleurs",
    ),
    dismissed_needs=("Garage solidaire",),
    activities=("Nettoyage des parties communes",),
    budget=(610_000, 360_000, 250_000),
    premises="Rez-de-chaussée de la résidence Les Noirettes, Vaulx-en-Velin",
    markets=(Market("Entretien des halls pendant les relogements", "Est Métropole Habitat", BUY_B, 150_000),),
    visited="Régie de Quartier de Vénissieux",
    association="Régie de Quartier de la Grande Île",
    rna="W691089234",
    board=(
        ("Yasmina Cherifi", H, "Présidente"),
        ("Omar Benyahia", C, "Vice-président"),
        ("Anne Girard", B, "Trésorière"),
    ),
    hire=("Thomas Blanc", "Chargé de préfiguration"),
)


GRENOBLE = Site(
    name="Régie de Quartier de la Villeneuve",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Auvergne-Rhône-Alpes",
    departement="38",
    initiator=Initiator.COLLECTIVITE,
    lead_name="Pauline Chevallier",
    description="La ville et la métropole soutiennent la création d'une régie pour la gestion urbaine de "
    "proximité de la Villeneuve et du Village Olympique.",
    pilot="Sandrine Petit",
    members=(
        Member("Pauline Chevallier", H, "Union de quartier Villeneuve"),
        Member("Ville de Grenoble", C),
        Member("Grenoble-Alpes Métropole", C),
        Member("Actis", B),
        Member("SDH", B),
        Member("Mission locale de Grenoble", P),
    ),
    communes=(("38185", "Grenoble"),),
    qpvs=(("QP038015", "Villeneuve – Village Olympique"),),
    needs=("Gestion urbaine de proximité", "Emplois pour les habitants des galeries"),
    activities=("Entretien des galeries et des parkings", "Médiation et accueil"),
    budget=(540_000, 300_000, 240_000),  # balanced: income covers the charges (budget_equilibre)
    premises="Galerie de l'Arlequin, 38100 Grenoble",
    markets=(
        Market("Entretien des parkings de l'Arlequin", "Actis", BUY_B, 120_000),
        Market("Entretien du parc Jean Verlhac", "Ville de Grenoble", BUY_C, 70_000),
    ),
    visited="Régie de Quartier d'Échirolles",
    association="Régie de Quartier de la Villeneuve",
    rna="W381019876",
    board=(
        ("Pauline Chevallier", H, "Présidente"),
        ("Bruno Fayolle", C, "Vice-président"),
        ("Céline Dumas", B, "Trésorière"),
    ),
    hire=("Romain Perrin", "Directeur de préfiguration"),
)


MARSEILLE = Site(
    name="Régie de Quartier de Frais Vallon",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Provence-Alpes-Côte d'Azur",
    departement="13",
    initiator=Initiator.BAILLEUR,
    lead_name="Karima Saïdi",
    description="À l'initiative de 13 Habitat, un projet de régie pour l'entretien et l'embellissement de la cité "
    "de Frais Vallon (13e arrondissement), avec les locataires.",
    pilot="Olivier Lambert",
    members=(
        Member("Karima Saïdi", H, "Centre social Frais Vallon"),
        Member("Ville de Marseille", C),
        Member("Métropole Aix-Marseille-Provence", C),
        Member("13 Habitat", B),
        Member(FT, P, "Agence Marseille Saint-Just"),
        Member("Mission locale de Marseille", P),
    ),
    communes=(("13055", "Marseille"),),
    qpvs=(("QP013035", "Frais Vallon – Le Mail"),),
    needs=("Entretien des espaces extérieurs de la cité", "Emplois pour les jeunes du quartier"),
    activities=("Entretien des espaces verts", "Nettoyage des montées", "Petits travaux de peinture"),
    budget=(470_000, 260_000, 210_000),
    premises="Bâtiment N, cité Frais Vallon, 13013 Marseille",
    markets=(Market("Nettoyage des montées de Frais Vallon", "13 Habitat", BUY_B, 130_000),),
    visited="Régie de Quartier de la Belle de Mai",
    association="Régie de Quartier de Frais Vallon",
    rna="W133024518",
    board=(
        ("Karima Saïdi", H, "Présidente"),
        ("Patrick Orsini", C, "Vice-président"),
        ("Lina Moretti", B, "Trésorière"),
    ),
    hire=("Julie Fabre", "Chargée de préfiguration"),
)


TOULOUSE = Site(
    name="Régie de Quartier d'Empalot",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Occitanie",
    departement="31",
    initiator=Initiator.HABITANTS,
    lead_name="Mamadou Sow",
    description="Des habitants d'Empalot, appuyés par le centre social, veulent une régie pour accompagner "
    "la fin du renouvellement urbain et créer des emplois de proximité.",
    pilot="Olivier Lambert",
    members=(
        Member("Mamadou Sow", H, "Association des habitants d'Empalot"),
        Member("Ville de Toulouse", C),
        Member("Toulouse Métropole Habitat", B),
        Member("Mission locale Toulouse", P),
    ),
    communes=(("31555", "Toulouse"),),
    qpvs=(("QP031009", "Empalot"),),
    needs=("Entretien des nouveaux espaces publics", "Emplois de proximité"),
    activities=("Entretien des espaces verts", "Nettoyage des halls"),
    budget=(430_000, 240_000, 190_000),
    premises="Place Commerciale d'Empalot, 31400 Toulouse",
    markets=(Market("Entretien des halls", "Toulouse Métropole Habitat", BUY_B, 110_000),),
    visited="Régie de Quartier Desbals",
    association="Régie de Quartier d'Empalot",
    rna="W313027741",
    board=(
        ("Mamadou Sow", H, "Président"),
        ("Hélène Garrigues", C, "Vice-présidente"),
        ("Denis Rouquet", B, "Trésorier"),
    ),
    hire=("Léa Bonnet", "Chargée de préfiguration"),
)


MONTPELLIER = Site(
    name="Régie de Quartier de la Mosson",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Occitanie",
    departement="34",
    initiator=Initiator.COLLECTIVITE,
    lead_name="Rachid Benali",
    description="Montpellier Méditerranée Métropole et ACM Habitat portent avec les habitants de la Paillade "
    "une régie d'entretien, de médiation et de services aux locataires.",
    pilot="Isabelle Fontaine",
    members=(
        Member("Rachid Benali", H, "Conseil citoyen Mosson"),
        Member("Josiane Fabre", H),
        Member("Ville de Montpellier", C),
        Member("ACM Habitat", B),
        Member(FT, P, "Agence Montpellier Mosson"),
        Member("PLIE de Montpellier Méditerranée Métropole", P),
    ),
    communes=(("34172", "Montpellier"),),
    qpvs=(("QP034006", "Mosson"),),
    needs=("Entretien des halls et des abords", "Services aux locataires âgés", "Emplois pour les habitants"),
    dismissed_needs=("Laverie solidaire",),
    activities=("Nettoyage des halls", "Petits travaux chez les locataires âgés", "Médiation"),
    budget=(540_000, 320_000, 220_000),
    premises="Centre commercial Saint-Paul, 34080 Montpellier",
    markets=(
        Market("Entretien des halls de la Paillade", "ACM Habitat", BUY_B, 160_000),
        Market("Propreté du parc de Bagatelle", "Ville de Montpellier", BUY_C, 40_000),
    ),
    visited="Régie de Quartier de Nîmes",
    association="Régie de Quartier de la Mosson",
    rna="W343031220",
    board=(("Rachid Benali", H, "Président"), ("Claire Vidal", C, "Vice-présidente"), ("Serge Pons", B, "Trésorier")),
    hire=("Inès Bouaziz", "Directrice de préfiguration"),
)


DECAZEVILLE = Site(
    name="Régie de Territoire du Bassin de Decazeville",
    kind=Kind.REGIE_DE_TERRITOIRE,
    region="Occitanie",
    departement="12",
    initiator=Initiator.COLLECTIVITE,
    lead_name="Michel Carrière",
    description="Decazeville Communauté veut une régie de territoire pour les quatre communes de l'ancien bassin "
    "minier : entretien des espaces communaux, petits travaux, services aux habitants.",
    pilot="Isabelle Fontaine",
    members=(
        Member("Michel Carrière", H, "Comité de quartier de la Vieille Ville"),
        Member("Decazeville Communauté", C),
        Member("Ville de Decazeville", C),
        Member("Aveyron Habitat", B),
        Member(FT, P, "Agence de Decazeville"),
        Member("Mission locale Ouest Aveyron", P),
    ),
    communes=(("12089", "Decazeville"), ("12013", "Aubin"), ("12305", "Viviez"), ("12100", "Firmi")),
    needs=("Entretien des espaces communaux", "Emplois de proximité en zone rurale", "Petits travaux chez les aînés"),
    activities=("Entretien des espaces verts communaux", "Petits travaux de second œuvre"),
    budget=(360_000, 190_000, 170_000),
    premises="Ancienne école de la Cité Bourran, Decazeville",
    markets=(Market("Entretien des espaces verts des quatre communes", "Decazeville Communauté", BUY_C, 95_000),),
    visited="Régie de Territoire des Deux Rives",
    association="Régie de Territoire du Bassin",
    rna="W122004417",
    board=(
        ("Michel Carrière", H, "Président"),
        ("Annie Delpech", C, "Vice-présidente"),
        ("Paul Vergnes", B, "Trésorier"),
    ),
    hire=("Manon Rigal", "Chargée de préfiguration"),
)


STRASBOURG = Site(
    name="Régie de Quartier du Neuhof",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Grand Est",
    departement="67",
    initiator=Initiator.HABITANTS,
    lead_name="Émilie Schmitt",
    conventionnement=Conventionnement.ACI,
    description="Des habitants du Neuhof, avec Ophéa et l'Eurométropole, créent une régie pour l'entretien des "
    "cités, la médiation et des chantiers d'insertion.",
    pilot="Claire Martin",
    members=(
        Member("Émilie Schmitt", H, "Association des locataires du Neuhof"),
        Member("Yusuf Demir", H),
        Member("Ville de Strasbourg", C),
        Member("Eurométropole de Strasbourg", C),
        Member("Ophéa", B),
        Member(FT, P, "Agence Strasbourg Neuhof"),
        Member("PLIE de Strasbourg", P),
    ),
    communes=(("67482", "Strasbourg"),),
    qpvs=(("QP067006", "Neuhof Cités"),),
    needs=("Entretien des cités du Neuhof", "Médiation de nuit", "Emplois d'insertion"),
    activities=("Nettoyage des cages d'escalier", "Médiation", "Chantier d'insertion espaces verts"),
    budget=(640_000, 350_000, 290_000),
    premises="Rue de Solignac, 67100 Strasbourg",
    markets=(
        Market("Nettoyage des cages d'escalier", "Ophéa", BUY_B, 170_000),
        Market("Entretien des espaces verts du Neuhof", "Ville de Strasbourg", BUY_C, 60_000),
    ),
    visited="Régie des Écrivains (Schiltigheim)",
    association="Régie de Quartier du Neuhof",
    rna="W672048153",
    siret_seed=8634_5728,
    board=(
        ("Émilie Schmitt", H, "Présidente"),
        ("Marc Hoffmann", C, "Vice-président"),
        ("Nathalie Weber", B, "Trésorière"),
        ("Yusuf Demir", H, "Secrétaire"),
    ),
    hire=("Frédéric Muller", "Directeur"),
)


MULHOUSE = Site(
    name="Régie de Quartier des Coteaux",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Grand Est",
    departement="68",
    initiator=Initiator.BAILLEUR,
    lead_name="Sébastien Kieffer",
    description="m2A Habitat et la ville de Mulhouse accompagnent les habitants des Coteaux vers une régie "
    "d'entretien et de services.",
    pilot="Julien Moreau",
    members=(
        Member("Leïla Haddou", H, "Conseil citoyen des Coteaux"),
        Member("Ville de Mulhouse", C),
        Member("m2A Habitat", B),
        Member(FT, P, "Agence de Mulhouse"),
        Member("Mission locale de Mulhouse", P),
    ),
    communes=(("68224", "Mulhouse"),),
    qpvs=(("QP068012", "Les Coteaux"),),
    needs=("Entretien des parties communes", "Emplois de proximité"),
    activities=("Nettoyage des parties communes", "Entretien des espaces verts"),
    budget=(450_000, 250_000, 200_000),
    premises="Rue de Bourgogne, 68200 Mulhouse",
    markets=(Market("Entretien des parties communes des Coteaux", "m2A Habitat", BUY_B, 125_000),),
    visited="Régie de Quartier du Neuhof",
    association="Régie de Quartier des Coteaux",
    rna="W681023390",
    board=(
        ("Leïla Haddou", H, "Présidente"),
        ("Christophe Meyer", C, "Vice-président"),
        ("Sébastien Kieffer", B, "Trésorier"),
    ),
    hire=("Camille Wolff", "Directrice de préfiguration"),
)


BORDEAUX = Site(
    name="Régie de Quartier des Aubiers – Le Lac",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Nouvelle-Aquitaine",
    departement="33",
    initiator=Initiator.HABITANTS,
    lead_name="Awa Ndiaye",
    description="Les habitants des Aubiers et du Lac veulent une régie pour l'entretien des résidences et des "
    "emplois de proximité, avec Aquitanis et Domofrance.",
    pilot="Olivier Lambert",
    members=(
        Member("Awa Ndiaye", H, "Centre social des Aubiers"),
        Member("Ville de Bordeaux", C),
        Member("Aquitanis", B),
        Member("Domofrance", B),
        Member("Mission locale Bordeaux Avenir Jeunes", P),
    ),
    communes=(("33063", "Bordeaux"),),
    qpvs=(("QP033011", "Les Aubiers – Le Lac"),),
    needs=("Entretien des résidences", "Emplois de proximité", "Jardins partagés"),
    dismissed_needs=("Ressourcerie",),
    activities=("Nettoyage des halls", "Entretien des jardins"),
    budget=(410_000, 230_000, 180_000),
    premises="Place Ginette Neveu, 33300 Bordeaux",
    markets=(Market("Nettoyage des halls des Aubiers", "Aquitanis", BUY_B, 115_000),),
    visited="Régie de Quartier Habiter Bacalan",
    association="Régie de Quartier des Aubiers – Le Lac",
    rna="W332041876",
    board=(
        ("Awa Ndiaye", H, "Présidente"),
        ("Vincent Laborde", C, "Vice-président"),
        ("Sylvie Castaing", B, "Trésorière"),
    ),
    hire=("Hugo Lacoste", "Chargé de préfiguration"),
)


CREUSE = Site(
    name="Régie de Territoire Creuse Grand Sud",
    kind=Kind.REGIE_DE_TERRITOIRE,
    region="Nouvelle-Aquitaine",
    departement="23",
    initiator=Initiator.COLLECTIVITE,
    lead_name="Françoise Aubert",
    description="La communauté de communes Creuse Grand Sud étudie une régie de territoire pour Aubusson et "
    "Felletin : entretien des bourgs, petits travaux, services aux habitants isolés.",
    pilot="Sandrine Petit",
    members=(
        Member("Françoise Aubert", H, "Comité des fêtes de Felletin"),
        Member("Jacques Peyrot", H),
        Member("CC Creuse Grand Sud", C),
        Member("Creusalis", B),
        Member(FT, P, "Agence d'Aubusson"),
    ),
    communes=(("23008", "Aubusson"), ("23079", "Felletin")),
    needs=("Entretien des bourgs", "Services aux habitants isolés"),
    activities=("Entretien des espaces verts", "Petits travaux"),
    budget=(290_000, 140_000, 150_000),
    premises="Rue Vieille, 23200 Aubusson",
    markets=(Market("Entretien des bourgs", "CC Creuse Grand Sud", BUY_C, 70_000),),
    visited="Régie de Territoire du Pays de Lure",
    association="Régie de Territoire Creuse Grand Sud",
    rna="W231000952",
    board=(
        ("Françoise Aubert", H, "Présidente"),
        ("Gilles Tixier", C, "Vice-président"),
        ("Marie Lagrange", B, "Trésorière"),
    ),
    hire=("Antoine Chabrat", "Chargé de préfiguration"),
)


SAMBRE = Site(
    name="Régie de Territoire du Val de Sambre",
    kind=Kind.REGIE_DE_TERRITOIRE,
    region="Hauts-de-France",
    departement="59",
    initiator=Initiator.COLLECTIVITE,
    lead_name="Nadia Ouali",
    description="L'agglomération Maubeuge Val de Sambre porte une régie de territoire pour quatre communes "
    "de la vallée : Maubeuge, Hautmont, Louvroil et Jeumont. Entretien des cités, jardins partagés, "
    "petits travaux chez les locataires âgés.",
    pilot="Olivier Lambert",
    members=(
        Member("Nadia Ouali", H, "Centre social de Louvroil"),
        Member("Bernard Lemaire", H),
        Member("Agglomération Maubeuge Val de Sambre", C),
        Member("Promocil", B),
        Member(FT, P, "Agence de Maubeuge"),
    ),
    communes=(("59392", "Maubeuge"), ("59291", "Hautmont"), ("59365", "Louvroil"), ("59324", "Jeumont")),
    needs=("Entretien des cités minières et ouvrières", "Petits travaux chez les locataires âgés"),
    activities=("Entretien des espaces extérieurs", "Jardins partagés", "Petits travaux dans les logements"),
    budget=(360_000, 190_000, 175_000),
    premises="Rue de la Croix, 59600 Maubeuge",
    markets=(Market("Entretien des abords des résidences", "Promocil", BUY_B, 90_000),),
    visited="Régie de Territoire de Thiérache",
    association="Régie de Territoire du Val de Sambre",
    rna="W594008127",
    board=(
        ("Nadia Ouali", H, "Présidente"),
        ("Patrick Dubois", C, "Vice-président"),
        ("Sophie Vandamme", B, "Trésorière"),
    ),
    hire=("Mehdi Saïdi", "Chargé de préfiguration"),
)


THIERACHE = Site(
    name="Régie de Territoire de Thiérache",
    kind=Kind.REGIE_DE_TERRITOIRE,
    region="Hauts-de-France",
    departement="02",
    initiator=Initiator.HABITANTS,
    lead_name="Didier Lefèvre",
    description="Des habitants de Hirson, Vervins et Guise, soutenus par leurs communautés de communes, veulent "
    "une régie de territoire pour l'entretien des bourgs et des logements sociaux.",
    pilot="Claire Martin",
    members=(
        Member("Didier Lefèvre", H, "Association Vivre en Thiérache"),
        Member("Ville d'Hirson", C),
        Member("CC de la Thiérache du Centre", C),
        Member("Clésence", B),
        Member("PLIE de Thiérache", P),
    ),
    communes=(("02381", "Hirson"), ("02789", "Vervins"), ("02361", "Guise")),
    needs=("Entretien des logements sociaux dispersés", "Emplois dans les bourgs", "Mobilité des salariés"),
    activities=("Entretien des espaces verts", "Petits travaux dans les logements"),
    budget=(330_000, 170_000, 160_000),
    premises="Rue de Guise, 02500 Hirson",
    markets=(Market("Entretien des espaces verts des résidences", "Clésence", BUY_B, 80_000),),
    visited="Régie de Quartier de Saint-Quentin",
    association="Régie de Territoire de Thiérache",
    rna="W023003185",
    board=(
        ("Didier Lefèvre", H, "Président"),
        ("Valérie Carlier", C, "Vice-présidente"),
        ("Hervé Delattre", B, "Trésorier"),
    ),
    hire=("Amandine Leroy", "Chargée de préfiguration"),
)


BREST = Site(
    name="Régie de Quartier de Pontanézen",
    kind=Kind.REGIE_DE_QUARTIER,
    region="Bretagne",
    departement="29",
    initiator=Initiator.HABITANTS,
    lead_name="Gwenaëlle Le Goff",
    description="Des habitantes de Pontanézen veulent une régie pour l'entretien du quartier rénové et des "
    "emplois pour ses habitants.",
    pilot="Isabelle Fontaine",
    members=(
        Member("Gwenaëlle Le Goff", H, "Maison de quartier de Pontanézen"),
        Member("Yann Kerjean", H),
        Member("Brest métropole", C),
        Member("Brest Métropole Habitat", B),
        Member(FT, P, "Agence de Brest"),
    ),
    communes=(("29019", "Brest"),),
    qpvs=(("QP029003", "Pontanézen"),),
    needs=("Entretien du quartier rénové", "Emplois de proximité"),
    activities=("Nettoyage des halls", "Entretien des espaces verts"),
    budget=(400_000, 220_000, 180_000),
    premises="Rue de Pontanézen, 29200 Brest",
    markets=(Market("Nettoyage des halls", "Brest Métropole Habitat", BUY_B, 100_000),),
    visited="Régie de Quartier de Rennes Maurepas",
    association="Régie de Quartier de Pontanézen",
    rna="W294005316",
    board=(
        ("Gwenaëlle Le Goff", H, "Présidente"),
        ("Erwan Le Bihan", C, "Vice-président"),
        ("Anne Quéré", B, "Trésorière"),
    ),
    hire=("Loïc Morvan", "Chargé de préfiguration"),
)


# --- the stories: when each project moved, relative to today ------------------------------------
F = Trigger


def _labelled(st: _Story) -> None:
    """Roubaix: the whole path in 32 months, labelled within the horizon."""
    st.create()
    st.group(st.on(0, 20))
    st.fire(st.on(3), F.DEFINIR_CONTOURS)
    st.forward(F.LANCER_FAISABILITE, st.on(6, 20))
    st.forward(F.SOUMETTRE_VALIDATION, st.on(14))
    st.forward(F.LANCER_PREFIGURATION, st.on(17), prepare_days=20)
    st.self_assess(
        st.on(8),
        {
            Condition.ANCRAGE_TERRITORIAL: (SelfLevel.EN_COURS, "Le conseil citoyen porte le projet."),
            Condition.PERENNITE_ECONOMIQUE: (SelfLevel.NON_ATTEINT, "Marchés encore à négocier."),
            Condition.IMPLICATION_HABITANTS: (SelfLevel.EN_COURS, "Deux habitantes dans le groupe projet."),
        },
    )
    st.forward(F.DEMANDER_EXPERTISE, st.on(28, 15), prepare_days=40)
    st.self_assess(
        st.on(29),
        {
            Condition.ANCRAGE_TERRITORIAL: (SelfLevel.ATTEINT, "Locaux au cœur de l'Alma, ouverts aux habitants."),
            Condition.SERVICES_NOUVEAUX: (SelfLevel.ATTEINT, "Entretien des halls et petite maintenance."),
            Condition.PERENNITE_ECONOMIQUE: (SelfLevel.ATTEINT, "Budget équilibré, deux marchés signés."),
            Condition.COOPERATION_AUTONOMIE: (SelfLevel.EN_COURS, "Vilogia est à la fois administrateur et client."),
            Condition.IMPLICATION_HABITANTS: (SelfLevel.ATTEINT, "La présidente est habitante du quartier."),
        },
    )
    st.expertise(
        st.on(31),
        ExpertiseConclusion.FAVORABLE,
        "Gouvernance tripartite solide, activité économique équilibrée, forte implication des habitantes.",
    )
    st.grade(
        st.on(31),
        {
            Condition.ANCRAGE_TERRITORIAL: (ExpertLevel.ATTEINT, "Régie connue et identifiée dans le quartier."),
            Condition.SERVICES_NOUVEAUX: (ExpertLevel.ATTEINT, "Des services que personne ne rendait."),
            Condition.PERENNITE_ECONOMIQUE: (ExpertLevel.ATTEINT, "Recettes marchandes à 57 % du budget."),
            Condition.COOPERATION_AUTONOMIE: (
                ExpertLevel.PARTIEL,
                "Un seul bailleur commande l'essentiel des marchés : diversifier les clients.",
            ),
            Condition.IMPLICATION_HABITANTS: (ExpertLevel.ATTEINT, "Habitants salariés et administrateurs."),
        },
    )
    st.fire(st.on(31, 20), F.LABELLISER)


def _expertise_pending(st: _Story) -> None:
    """Saint-Denis: in expertise for two months, the on-site visit just done, conclusion awaited."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(7))
    st.forward(F.SOUMETTRE_VALIDATION, st.on(15))
    st.forward(F.LANCER_PREFIGURATION, st.on(18))
    st.forward(F.DEMANDER_EXPERTISE, st.on(29), prepare_days=60)
    st.expertise(st.on(30, 20), None)


def _abandoned(st: _Story) -> None:
    """Aubervilliers: an unfavourable feasibility study, then abandoned."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3, 5))
    st.forward(F.LANCER_FAISABILITE, st.on(7, 10))
    st.settle_needs(st.on(10))
    st.markets_and_visit(st.on(11))
    st.study(
        st.on(13),
        conclusion=Verdict.DEFAVORABLE,
        premises=False,
        summary="Aucun local disponible avant 2028 et des marchés trop faibles : le modèle économique "
        "n'est pas viable à court terme.",
    )
    st.fire(
        st.on(13, 20),
        F.ABANDONNER,
        "L'étude de faisabilité conclut à un modèle économique non viable (pas de locaux, marchés insuffisants). "
        "Le groupe projet choisit de rejoindre la régie voisine plutôt que d'en créer une nouvelle.",
    )


def _back_to_contours(st: _Story) -> None:
    """Vaulx-en-Velin: the study sent the outline back; feasibility restarted late, so at risk."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(7))
    st.settle_needs(st.on(8))
    st.fire(
        st.on(9),
        F.REPRENDRE_CONTOURS,
        "L'étude montre qu'une seule activité de nettoyage ne suffit pas à équilibrer le modèle : les "
        "contours doivent intégrer la médiation et les chantiers du renouvellement urbain.",
    )
    st.add(st.on(9, 25), "activities", ActivityIn(label="Médiation pendant les chantiers de renouvellement urbain"))
    st.add(st.on(10, 10), "needs", NeedIn(label="Accompagnement des relogements"))
    st.fire(st.on(11), F.LANCER_FAISABILITE)
    st.markets_and_visit(st.on(13))
    st.study(st.on(14, 15), conclusion=None)


def _late_prefiguration(st: _Story) -> None:
    """Grenoble: in préfiguration for 15 months, the landlords' college still missing from the board."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(7))
    st.forward(F.SOUMETTRE_VALIDATION, st.on(15))
    st.forward(F.LANCER_PREFIGURATION, st.on(18))
    st.prefiguration(st.on(22), colleges=(H, C))


def _back_to_feasibility(st: _Story) -> None:
    """Marseille: 13 Habitat asked for the study to be reworked, then approved; back on time."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(6))
    st.forward(F.SOUMETTRE_VALIDATION, st.on(11))
    st.approve(st.on(11, 15), "Karima Saïdi")
    st.approve(st.on(11, 20), "Ville de Marseille")
    st.approve(
        st.on(11, 25),
        "13 Habitat",
        Verdict.DEFAVORABLE,
        "Les marchés prévus dépassent ce que 13 Habitat peut garantir : revoir le modèle économique.",
    )
    st.fire(
        st.on(12),
        F.REPRENDRE_FAISABILITE,
        "13 Habitat demande de revoir le modèle économique : marchés d'entretien surestimés.",
    )
    st.patch(
        st.on(13, 10), "markets", st.markets["Nettoyage des montées de Frais Vallon"], MarketPatch(annual_amount=95_000)
    )
    st.study(
        st.on(13, 20),
        summary="Modèle économique revu : marché de nettoyage des montées ramené de 130 000 à "
        "95 000 € par an, aide de la métropole au démarrage.",
    )
    st.fire(st.on(14, 15), F.SOUMETTRE_VALIDATION)
    st.approve(st.on(15, 10), "13 Habitat", comment="Avis favorable sur le modèle économique révisé.")
    st.approve(st.on(16), "Métropole Aix-Marseille-Provence")


def _contours_on_time(st: _Story) -> None:
    """Toulouse: the outline is being written, activities not chosen yet."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(2, 20), prepare_days=30)
    st.contours(st.on(3, 20), activities=False)


def _validation_on_time(st: _Story) -> None:
    """Montpellier: stakeholders giving their approval; the socio-economic partners still to answer. Step 4
    runs inside regieflow: ACM Habitat, the landlord, was asked by e-mail and answered through its link;
    the PLIE's opinion is asked and awaited."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(6))
    st.forward(F.SOUMETTRE_VALIDATION, st.on(14), prepare_days=30)
    landlord = st.ask_opinion(st.on(14, 3), "ACM Habitat", "territoires@acm-habitat.example", st.on(15))
    for name in ("Rachid Benali", "Ville de Montpellier"):
        st.approve(st.on(14, 25), name)
    st.answer_by_link(st.on(14, 25), landlord, "Le conseil d'administration d'ACM Habitat soutient la régie.")
    plie = "PLIE de Montpellier Méditerranée Métropole"
    st.ask_opinion(st.on(15, 10), plie, "plie@montpellier3m.example", st.demo.today + timedelta(days=12))


def _suspended(st: _Story) -> None:
    """Decazeville: feasibility study suspended while the community of communes replaces its officer."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(6, 20))
    st.settle_needs(st.on(7, 15))
    st.study(st.on(8, 10), conclusion=None, premises=False)
    st.fire(
        st.on(9),
        F.SUSPENDRE,
        "Départ de la chargée de mission de Decazeville Communauté : le groupe projet attend son remplacement "
        "pour reprendre l'étude.",
    )


def _adjourned(st: _Story) -> None:
    """Strasbourg: a first expertise with reservations, the label postponed, a second expertise favourable."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(7))
    st.forward(F.SOUMETTRE_VALIDATION, st.on(15))
    st.forward(F.LANCER_PREFIGURATION, st.on(18))
    st.forward(F.DEMANDER_EXPERTISE, st.on(28), prepare_days=60)
    st.self_assess(
        st.on(27),
        {c: (SelfLevel.ATTEINT, "Selon le groupe projet, la condition est remplie.") for c in Condition},
    )
    st.expertise(
        st.on(29),
        ExpertiseConclusion.RESERVES,
        "Le collège des habitants ne siège pas encore réellement au conseil d'administration.",
    )
    first_grid = {c: (ExpertLevel.ATTEINT, "Conforme à la charte.") for c in Condition}
    first_grid[Condition.IMPLICATION_HABITANTS] = (
        ExpertLevel.NON_ATTEINT,
        "Les habitants administrateurs ne viennent pas aux conseils.",
    )
    st.grade(st.on(29), first_grid)
    governance = st.reserve(
        st.on(29),
        Condition.IMPLICATION_HABITANTS,
        "Faire siéger réellement le collège des habitants au conseil d'administration.",
    )
    st.fire(
        st.on(29, 10),
        F.AJOURNER_LABEL,
        "Expertise avec réserves : la place des habitants dans la gouvernance doit être renforcée.",
    )
    st.self_assess(
        st.on(29, 20),
        {Condition.IMPLICATION_HABITANTS: (SelfLevel.EN_COURS, "Nouvelle administratrice en cours de désignation.")},
    )
    st.add(st.on(30, 15), "board-members", BoardMemberIn(name="Fatma Yilmaz", college=H, office="Administratrice"))
    st.respond(
        st.on(30, 20),
        governance,
        "Une habitante élue administratrice en assemblée générale ; le conseil se réunit en soirée pour que les "
        "habitants salariés puissent y siéger.",
    )
    st.lift(st.on(31, 10), governance, "Procès-verbaux des deux derniers conseils : trois habitants présents.")
    st.fire(st.on(32), F.DEMANDER_EXPERTISE)
    st.expertise(
        st.on(33, 20),
        ExpertiseConclusion.FAVORABLE,
        "Les réserves sont levées : trois habitants administrateurs, dont la présidente.",
    )
    st.grade(st.on(33, 20), {c: (ExpertLevel.ATTEINT, "Conforme à la charte.") for c in Condition})


def _replanned(st: _Story) -> None:
    """Mulhouse: préfiguration re-planned to 16 months, the expertise shortened to fit the horizon."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(3))
    st.forward(F.LANCER_FAISABILITE, st.on(7))
    st.forward(F.SOUMETTRE_VALIDATION, st.on(15))
    st.forward(F.LANCER_PREFIGURATION, st.on(18))
    st.prefiguration(st.on(18, 25), hire=False)
    st.replan(  # a plan longer than its horizon is refused: the four months come from the expertise
        st.on(19, 15),
        {State.PREFIGURATION: 16, State.EXPERTISE: 2},
        "Recrutement de la direction reporté faute de financement du poste avant le prochain exercice ; "
        "l'expertise sera préparée pendant la préfiguration.",
    )


def _feasibility_on_time(st: _Story) -> None:
    """Bordeaux: the study is under way; needs settled, the economic model not written yet."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(2), prepare_days=20)
    st.forward(F.LANCER_FAISABILITE, st.on(5))
    st.settle_needs(st.on(6, 10))
    st.markets_and_visit(st.on(7, 20))


def _late_group(st: _Story) -> None:
    """Creuse: seven months in, the landlord has not joined the project group."""
    st.create()
    st.group(st.on(1, 10), without=(B,))


def _late_contours(st: _Story) -> None:
    """Thiérache: a slow start and an outline still without priority activities."""
    st.create()
    st.forward(F.DEFINIR_CONTOURS, st.on(5), prepare_days=40)
    st.contours(st.on(6, 15), activities=False)


def _new_group(st: _Story) -> None:
    """Brest: just started; the Mouvement has not yet designated its pilot."""
    st.create()
    st.group(st.on(0, 15), pilot=False)


# Each story: the site, how long ago (months, days) the groupe projet started, and the script.
PORTFOLIO: tuple[tuple[Site, tuple[int, int], Callable[[_Story], None]], ...] = (
    (ROUBAIX, (35, 10), _labelled),
    (SAINT_DENIS, (31, 0), _expertise_pending),
    (AUBERVILLIERS, (20, 0), _abandoned),
    (VAULX, (16, 0), _back_to_contours),
    (GRENOBLE, (33, 0), _late_prefiguration),
    (MARSEILLE, (17, 0), _back_to_feasibility),
    (TOULOUSE, (5, 0), _contours_on_time),
    (MONTPELLIER, (16, 0), _validation_on_time),
    (DECAZEVILLE, (12, 0), _suspended),
    (STRASBOURG, (34, 0), _adjourned),
    (MULHOUSE, (20, 0), _replanned),
    (BORDEAUX, (9, 0), _feasibility_on_time),
    (CREUSE, (7, 0), _late_group),
    (THIERACHE, (14, 0), _late_contours),
    (SAMBRE, (10, 0), _feasibility_on_time),
    (BREST, (1, 5), _new_group),
)


def _has_projects(uows: UnitOfWorkFactory) -> bool:
    with uows(write=False) as uow:
        return uow.projects.exists()


def load_demo(
    uows: UnitOfWorkFactory,
    settings: Settings,
    *,
    only_if_empty: bool,
    today: date | None = None,
    history: bool = False,
) -> list[Project]:
    """Create the demo portfolio through the services; return the projects created (none if skipped).

    `today` defaults to the real date in the settings' time zone; histories are backdated from it.
    `history`: also the generated history of past projects the forecasts learn from (app/demo/history.py).
    """
    if only_if_empty and _has_projects(uows):
        return []
    demo = _Demo(uows, settings, today or Clock(settings.tz).today())
    created: list[Project] = []
    for site, (months, days), script in PORTFOLIO:
        start = demo.today - relativedelta(months=months) - timedelta(days=days)
        story = _Story(demo, site, start)
        script(story)
        assert story.project is not None
        created.append(story.project)
    create_demo_accounts(uows, created, now=Clock(settings.tz).now())
    if history:
        from app.demo.history import load_history

        load_history(uows, settings, today=demo.today, count=settings.demo_history_projects)
    # the stories were told on their own days: their sort keys are those of the last write's day, until
    # recomputed for today (app.projects.sort_keys; the deadline watch does it each day after that)
    from app.projects.sort_keys import refresh

    refresh(uows, demo.today)
    return created


DEMO_PASSWORD = "regieflow-demo"


# (e-mail, name, role, scope): scope is None (everything), a region, or the names of demo projects.
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str | tuple[str, ...] | None], ...] = (
    ("admin@demo.regieflow.fr", "Alex Admin", "admin", None),
    ("consultant@demo.regieflow.fr", "Claire Martin", "consultant", None),
    (
        "porteur@demo.regieflow.fr",
        "Gwenaëlle Le Goff",
        "porteur",
        ("Régie de Quartier de Pontanézen", "Régie de Quartier d'Empalot"),
    ),
    ("observateur@demo.regieflow.fr", "Olivier Roux", "observateur", "Occitanie"),
)


def create_demo_accounts(uows: UnitOfWorkFactory, projects: list[Project], *, now: datetime) -> list[tuple[str, str]]:
    """Demo logins (password DEMO_PASSWORD), created once; returns (e-mail, role) of each account."""
    from app.accounts import service as accounts

    by_name = {p.name: p.id for p in projects}
    out = []
    with uows() as uow:
        existing = uow.accounts.emails()
        for email, name, role, scope in DEMO_ACCOUNTS:
            out.append((email, role))
            if email in existing:
                continue
            grants: list[tuple[str, uuid.UUID | None, str | None]]
            if isinstance(scope, tuple):
                grants = [(role, by_name[n], None) for n in scope if n in by_name]
            else:
                grants = [(role, None, scope)]
            if grants:
                accounts.create_user(uow, email=email, name=name, password=DEMO_PASSWORD, grants=grants, now=now)
    return out
