"""A generated history of past projects for the demo: what the forecasts learn from (issue 16).

Each project is told through the ordinary services (create, evidence, transitions with backdated
effective dates), like the demo portfolio, but all of one project's calls run in one BatchUnitOfWork
(one transaction, the services' commits only flush): ~35 calls per labelled project, a few seconds
for the whole history. Nothing is inserted behind the workflow's back: guards, events, the deadline
index and `regieflow verify` see an ordinary history.

The durations follow KNOWN distributions, so tests can check what the forecasts estimate: a step's
active days (suspended days excluded, every visit added up) are

    plan months x DAYS_PER_MONTH x OVERRUN[step] x REGION_FACTOR[region] x KIND_FACTOR[kind] x exp(N(0, SIGMA))

so their median is `true_median(step, kind, region)`. The generator is seeded: the same `seed` and
`today` give the same history. About half the projects are labelled, some abandoned, the rest still
under way; some go back a step (reprendre_contours, reprendre_faisabilite, ajourner_label: the step's
days are split between its visits) and some are suspended for a while (the pause adds calendar days
but not active days).
"""

from __future__ import annotations

import math
import random
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from app.assessments.schemas import ExpertiseAssessmentIn
from app.core.clock import Actor, Clock, FixedClock
from app.core.settings import Settings
from app.core.unit_of_work import BatchUnitOfWork, UnitOfWorkFactory
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
    NeedIn,
    NeedPatch,
    QpvIn,
    SiteVisitIn,
    StakeholderIn,
)
from app.evidence.service import add_evidence, update_evidence
from app.projects.models import Project
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project
from app.reference.cog import cog
from app.transitions.schemas import TransitionBody
from app.transitions.service import fire_transition
from workflow.forecast import DAYS_PER_MONTH
from workflow.vocabulary import (
    DEFAULT_STEP_MONTHS,
    STEPS,
    BuyerCategory,
    Category,
    Condition,
    ExpertiseConclusion,
    ExpertLevel,
    Initiator,
    Kind,
    NeedStatus,
    State,
    Trigger,
    Verdict,
)

HISTORY_ACTOR = Actor("system", "historique", "Historique généré")
DESCRIPTION = "Projet passé (historique généré pour les prévisions)."
DEMO_ACCOUNT = "consultant@demo.regieflow.fr"  # app/demo/service.py: the demo portfolio was loaded
SEED = 16
COUNT = 200
SIGMA = 0.35
MIN_DAYS = 15

# How much longer than planned each step really takes, by step, région and kind (the truth).
OVERRUN: dict[State, float] = {
    State.GROUPE_PROJET: 1.3,
    State.CONTOURS: 1.2,
    State.FAISABILITE: 1.35,
    State.VALIDATION: 1.6,
    State.PREFIGURATION: 1.1,
    State.EXPERTISE: 1.25,
}
REGIONS: dict[str, tuple[float, tuple[str, ...]]] = {  # région: (factor, départements)
    "Hauts-de-France": (0.9, ("59", "62")),
    "Île-de-France": (1.25, ("93", "94")),
    "Auvergne-Rhône-Alpes": (1.0, ("69", "38")),
    "Occitanie": (1.15, ("31", "34")),
    "Grand Est": (0.95, ("67", "57")),
}
KIND_FACTOR = {Kind.REGIE_DE_QUARTIER: 1.0, Kind.REGIE_DE_TERRITOIRE: 1.15}

FORWARD: dict[State, Trigger] = {
    State.GROUPE_PROJET: Trigger.DEFINIR_CONTOURS,
    State.CONTOURS: Trigger.LANCER_FAISABILITE,
    State.FAISABILITE: Trigger.SOUMETTRE_VALIDATION,
    State.VALIDATION: Trigger.LANCER_PREFIGURATION,
    State.PREFIGURATION: Trigger.DEMANDER_EXPERTISE,
    State.EXPERTISE: Trigger.LABELLISER,
}
BACK: dict[State, Trigger] = {  # the step a backward move leaves, and its trigger
    State.FAISABILITE: Trigger.REPRENDRE_CONTOURS,
    State.VALIDATION: Trigger.REPRENDRE_FAISABILITE,
    State.EXPERTISE: Trigger.AJOURNER_LABEL,
}


def true_median(step: State, kind: Kind, region: str) -> float:
    """The median of the active days of `step` for this kind and région (the generator's truth)."""
    return DEFAULT_STEP_MONTHS[step] * DAYS_PER_MONTH * OVERRUN[step] * REGIONS[region][0] * KIND_FACTOR[kind]


# --- one project's life, as planned by the generator --------------------------------------------------
@dataclass(frozen=True, slots=True)
class Op:
    day: date
    what: str  # "evidence" (of `step`), "fire", "expertise_defavorable"
    step: State
    trigger: Trigger | None = None
    reason: str | None = None


@dataclass
class Life:
    name: str
    kind: Kind
    region: str
    departement: str
    communes: tuple[tuple[str, str], ...]
    start: date
    active: dict[State, int]  # the drawn active days of every step (the truth, whether lived or not)
    ops: list[Op] = field(default_factory=list)
    outcome: str = "en_cours"  # "labellisee", "abandonnee", "en_cours"


def _elided(name: str) -> str:
    if name.startswith("Le "):
        return "du " + name[3:]
    if name.startswith("Les "):
        return "des " + name[4:]
    if name[0] in "AEIOUYÂÉÈÊÎÔ":
        return "d'" + name
    return "de " + name


def _communes(dep: str, n: int) -> list[tuple[str, str]]:
    found = sorted((c for c in cog().communes.values() if c.departement == dep), key=lambda c: (-c.population, c.code))
    return [(c.code, c.name) for c in found[:n]]


def plan_lives(today: date, *, count: int = COUNT, seed: int = SEED) -> list[Life]:
    """The generated projects and their timelines (no database): deterministic for (today, count, seed)."""
    rng = random.Random(seed)
    regions = list(REGIONS)
    pools = {r: [(*c, d) for d in REGIONS[r][1] for c in _communes(d, 40)] for r in regions}
    used: dict[str, int] = {}
    lives = []
    for i in range(count):
        region = regions[i % len(regions)]
        kind = Kind.REGIE_DE_TERRITOIRE if rng.random() < 0.25 else Kind.REGIE_DE_QUARTIER
        pool = pools[region]
        k = used.get(region, 0)
        used[region] = k + 1
        code, cname, dep = pool[k % len(pool)]
        second = pool[(k + 1) % len(pool)]
        communes: tuple[tuple[str, str], ...] = ((code, cname),)
        if kind == Kind.REGIE_DE_TERRITOIRE:
            communes += ((second[0], second[1]),)
        label = "Régie de Territoire" if kind == Kind.REGIE_DE_TERRITOIRE else "Régie de Quartier"
        name = f"{label} {_elided(cname)}" + (f" ({k // len(pool) + 1})" if k >= len(pool) else "")
        # three in four started any time in the last twenty years, one in four in the last four
        start = today - timedelta(days=rng.randint(120, 7300) if rng.random() < 0.75 else rng.randint(60, 1500))
        active = {s: max(MIN_DAYS, round(true_median(s, kind, region) * math.exp(rng.gauss(0, SIGMA)))) for s in STEPS}
        life = Life(name, kind, region, dep, communes, start, active)
        _timeline(life, rng, today)
        lives.append(life)
    return lives


def _timeline(life: Life, rng: random.Random, today: date) -> None:
    """Visits of the steps (a step gone back to is split between its visits), pauses, abandon; ops up
    to `today` only (what happens later has not happened yet)."""
    visits: list[tuple[State, int, Trigger]] = []  # step, active days, the trigger that leaves it
    back = rng.random()
    t = life.active
    for s in STEPS:
        if s == State.FAISABILITE and back < 0.07:  # reprendre_contours: contours and faisabilité twice
            c1, f1 = round(t[State.CONTOURS] * 0.7), t[s] // 2
            visits[-1] = (State.CONTOURS, c1, FORWARD[State.CONTOURS])
            visits += [
                (s, f1, BACK[s]),
                (State.CONTOURS, t[State.CONTOURS] - c1, FORWARD[State.CONTOURS]),
                (s, t[s] - f1, FORWARD[s]),
            ]
        elif s == State.VALIDATION and 0.07 <= back < 0.17:  # reprendre_faisabilite
            f_prev = visits[-1][1]
            f1 = round(f_prev * 0.75)
            v1 = t[s] // 2
            visits[-1] = (State.FAISABILITE, f1, FORWARD[State.FAISABILITE])
            visits += [
                (s, v1, BACK[s]),
                (State.FAISABILITE, f_prev - f1, FORWARD[State.FAISABILITE]),
                (s, t[s] - v1, FORWARD[s]),
            ]
        elif s == State.EXPERTISE and 0.17 <= back < 0.25:  # ajourner_label
            p_prev = visits[-1][1]
            p1 = round(p_prev * 0.8)
            e1 = t[s] // 2
            visits[-1] = (State.PREFIGURATION, p1, FORWARD[State.PREFIGURATION])
            visits += [
                (s, e1, BACK[s]),
                (State.PREFIGURATION, p_prev - p1, FORWARD[State.PREFIGURATION]),
                (s, t[s] - e1, FORWARD[s]),
            ]
        else:
            visits.append((s, t[s], FORWARD[s]))
    abandon_at = rng.randrange(len(visits)) if rng.random() < 0.2 else None
    pause_at = rng.randrange(len(visits)) if rng.random() < 0.15 else None
    pause_days = rng.randint(30, 150)
    day = life.start
    seen: set[State] = set()
    ops = life.ops
    for i, (step, days, trigger) in enumerate(visits):
        end = day + timedelta(days=days)
        if i == pause_at:
            stop = day + timedelta(days=max(days // 2, 1))
            if stop > today:
                return
            ops.append(Op(stop, "fire", step, Trigger.SUSPENDRE, "Pause : changement d'équipe municipale."))
            back_on = stop + timedelta(days=pause_days)
            if back_on > today:
                return
            ops.append(Op(back_on, "fire", step, Trigger.REPRENDRE, "Reprise : nouvelle équipe en place."))
            end += timedelta(days=pause_days)
        if i == abandon_at:
            when = day + timedelta(days=max(days // 3, 1))
            if when <= today and (not ops or when >= ops[-1].day):
                ops.append(Op(when, "fire", step, Trigger.ABANDONNER, "Portage local insuffisant."))
                life.outcome = "abandonnee"
            return
        if end > today:
            return
        if trigger in BACK.values():
            if step == State.EXPERTISE:
                ops.append(Op(end, "expertise_defavorable", step))
            ops.append(Op(end, "fire", step, trigger, "Le dossier doit être repris sur plusieurs points."))
        else:
            if step not in seen:
                ops.append(Op(end, "evidence", step))
                seen.add(step)
            ops.append(Op(end, "fire", step, trigger))
        day = end
    life.outcome = "labellisee"


# --- telling it through the services ------------------------------------------------------------------
class _Teller:
    def __init__(self, uow: BatchUnitOfWork, settings: Settings, life: Life, today: date, tz: Any) -> None:
        self.uow, self.settings, self.life, self.today, self.tz = uow, settings, life, today, tz
        self.ticks: dict[date, int] = {}
        self.pid: Any = None
        self.people: dict[Category, int] = {}
        self.need: int | None = None
        self.expertise: int | None = None

    def clock(self, day: date) -> Clock:
        tick = self.ticks.get(day, 0)
        self.ticks[day] = tick + 1
        local = datetime.combine(day, time(10, 0), self.tz) + timedelta(seconds=tick)
        return FixedClock(tz=self.tz, at=local.astimezone(UTC))

    def call(self, day: date, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(self.uow, *args, actor=HISTORY_ACTOR, clock=self.clock(day), **kwargs)

    def add(self, day: date, kind: str, body: BaseModel) -> Any:
        _, row, _ = self.call(day, add_evidence, self.pid, KINDS[kind], body, expected_version=None)
        return row

    def create(self) -> None:
        life = self.life
        body = ProjectCreate(
            name=life.name,
            kind=life.kind,
            region=life.region,
            departement=life.departement,
            initiator=Initiator.HABITANTS if len(life.name) % 2 else Initiator.COLLECTIVITE,
            lead_name="Porteur du projet",
            description=DESCRIPTION,
            started_on=life.start,
        )
        p = self.call(life.start, create_project, body, plan=self.settings.default_plan)
        self.pid = p.id

    def evidence(self, day: date, step: State) -> None:
        life = self.life
        if step == State.GROUPE_PROJET:
            self.people[Category.MOUVEMENT] = self.add(
                day,
                "stakeholders",
                StakeholderIn(name="Claire Martin", category=Category.MOUVEMENT, is_amo_pilot=True),
            ).id
            for cat, who in (
                (Category.HABITANT, "Collectif d'habitants"),
                (Category.COLLECTIVITE, "Ville " + _elided(life.communes[0][1])),
                (Category.BAILLEUR_SOCIAL, "Office public de l'habitat"),
                (Category.PARTENAIRE_SOCIO_ECONOMIQUE, "France Travail"),
            ):
                self.people[cat] = self.add(day, "stakeholders", StakeholderIn(name=who, category=cat)).id
        elif step == State.CONTOURS:
            for code, name in life.communes:
                self.add(day, "communes", CommuneIn(insee_code=code, name=name))
            if life.kind == Kind.REGIE_DE_QUARTIER:
                self.add(
                    day, "qpvs", QpvIn(code=f"QP{life.departement:0>3}{len(life.name) % 900 + 1:03d}", name="Centre")
                )
            self.need = self.add(day, "needs", NeedIn(label="Entretien des parties communes")).id
            self.add(day, "activities", ActivityIn(label="Nettoyage et petite maintenance"))
        elif step == State.FAISABILITE:
            assert self.need is not None
            self.call(
                day,
                update_evidence,
                self.pid,
                KINDS["needs"],
                self.need,
                NeedPatch(status=NeedStatus.CONFIRME),
                expected_version=None,
            )
            self.add(
                day,
                "feasibility",
                FeasibilityIn(
                    annual_charges=400000,
                    market_income=240000,
                    non_market_income=170000,
                    premises_address="1 place de la Mairie",
                    conclusion=Verdict.FAVORABLE,
                    conclusion_on=day,
                ),
            )
            self.add(
                day,
                "markets",
                MarketIn(
                    label="Entretien des halls",
                    buyer_name="Office public de l'habitat",
                    buyer_category=BuyerCategory.BAILLEUR_SOCIAL,
                ),
            )
            self.add(day, "site-visits", SiteVisitIn(regie_name="Régie de Quartier voisine", visited_on=day))
        elif step == State.VALIDATION:
            for cat in (
                Category.HABITANT,
                Category.COLLECTIVITE,
                Category.BAILLEUR_SOCIAL,
                Category.PARTENAIRE_SOCIO_ECONOMIQUE,
            ):
                self.add(
                    day,
                    "approvals",
                    ApprovalIn(stakeholder_id=self.people[cat], verdict=Verdict.FAVORABLE, given_on=day),
                )
        elif step == State.PREFIGURATION:
            rna = f"W{life.departement:0>3}{zlib.crc32(life.name.encode()) % 10**6:06d}"
            self.add(day, "association", AssociationIn(name="Association de préfiguration", declared_on=day, rna=rna))
            for who, college in (
                ("Habitante du quartier", Category.HABITANT),
                ("Élu de quartier", Category.COLLECTIVITE),
                ("Bailleur", Category.BAILLEUR_SOCIAL),
            ):
                self.add(day, "board-members", BoardMemberIn(name=who, college=college))
            self.add(day, "hires", HireIn(name="Chargé de préfiguration", role="Chargé de préfiguration", start_on=day))
        elif step == State.EXPERTISE:
            self.expertise = self.add(
                day,
                "expertises",
                ExpertiseIn(conducted_on=day, experts=["Claire Martin"], conclusion=ExpertiseConclusion.FAVORABLE),
            ).id
            for condition in Condition:
                self.add(
                    day,
                    "expertise-assessments",
                    ExpertiseAssessmentIn(expertise_id=self.expertise, condition=condition, level=ExpertLevel.ATTEINT),
                )

    def run(self) -> None:
        self.create()
        for op in self.life.ops:
            if op.what == "evidence":
                self.evidence(op.day, op.step)
            elif op.what == "expertise_defavorable":
                self.add(
                    op.day,
                    "expertises",
                    ExpertiseIn(
                        conducted_on=op.day, experts=["Claire Martin"], conclusion=ExpertiseConclusion.DEFAVORABLE
                    ),
                )
            else:
                assert op.trigger is not None
                self.call(
                    op.day,
                    fire_transition,
                    self.pid,
                    op.trigger.value,
                    TransitionBody(effective_on=op.day, reason=op.reason),
                    expected_version=None,
                )


def told(uows: UnitOfWorkFactory) -> set[str]:
    """The names of the generated projects already in the database (each one is told in one transaction:
    a project is there whole or not at all)."""
    with uows(write=False) as uow:
        return set(uow.session.scalars(select(Project.name).where(Project.description == DESCRIPTION)))


def load_history(
    uows: UnitOfWorkFactory,
    settings: Settings,
    *,
    today: date,
    count: int = COUNT,
    seed: int = SEED,
    resume: bool = False,
    stop: threading.Event | None = None,
) -> list[Life]:
    """Create the generated history through the services (one transaction per project) and compute the
    forecasts' distributions; returns the lives told.

    `resume`: skip the projects already told (a generation interrupted earlier goes on where it stopped,
    up to `count` projects in all). `stop`: checked between projects; once set, returns at once without
    refreshing (what was told stays, whole projects only)."""
    from app.forecasts.service import refresh

    lives = plan_lives(today, count=count, seed=seed)
    done = told(uows) if resume else set()
    missing = count - len(done)
    out: list[Life] = []
    for life in lives:
        if missing <= 0:
            break
        if life.name in done:
            continue
        if stop is not None and stop.is_set():
            return out
        with uows.batch() as uow:
            _Teller(uow, settings, life, today, settings.tz).run()
            uow.finish()
        out.append(life)
        missing -= 1
    refresh(uows, FixedClock(tz=settings.tz, at=datetime.combine(today, time(12, 0), settings.tz).astimezone(UTC)))
    return out


def pending(uows: UnitOfWorkFactory, *, count: int = COUNT) -> bool:
    """Whether this database holds the demo portfolio but not yet its whole generated history (a fresh
    demo, or a generation interrupted by the end of the server)."""
    with uows(write=False) as uow:
        if DEMO_ACCOUNT not in uow.accounts.emails():
            return False
        n = uow.session.scalar(select(func.count()).select_from(Project).where(Project.description == DESCRIPTION))
    return (n or 0) < count


@contextmanager
def in_background(
    settings: Settings, *, today: date, count: int = COUNT, listening: tuple[str, int] | None = None
) -> Iterator[threading.Thread | None]:
    """Generate the missing history in a thread of this process while the block runs (`serve --demo`:
    the service answers at once, the history arrives project by project, each in its own transaction;
    the forecasts are refreshed at the end). `listening`: start only once this address accepts
    connections (the server's start does not share the interpreter with the generation). Leaving the
    block stops the thread after the project under way and waits for it; the next `serve --demo`
    resumes. Yields the thread (None: nothing to do)."""
    uows = UnitOfWorkFactory.connect(settings)
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        if pending(uows, count=count):
            from app.forecasts.service import HISTORY_GENERATING as GENERATING

            def generate() -> None:
                try:
                    while listening is not None and not stop.is_set() and not _accepts(listening):
                        stop.wait(0.2)
                    load_history(uows, settings, today=today, count=count, resume=True, stop=stop)
                finally:
                    GENERATING.clear()

            GENERATING.set()
            thread = threading.Thread(target=generate, name="regieflow-history", daemon=True)
            thread.start()
        yield thread
    finally:
        stop.set()
        if thread is not None:
            thread.join()
        uows.dispose()


def _accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False
