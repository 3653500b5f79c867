"""The transition path reads the guards' facts as JSON aggregates in its locked SELECT
(app/transitions/store.py, each kind's `fact_columns` / `fact_of_rows` in app/evidence/registry.py);
the pages and the GET routes build the same Evidence from the ORM collections (`snapshot`). On random
evidence, written to the database, both give the same snapshot, field by field: order, dates, booleans,
JSON columns (the experts), joined columns (an approval's stakeholder category), empty and singleton
kinds alike, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.assessments.models import ExpertiseAssessment, Reservation
from app.core.clock import Actor
from app.core.unit_of_work import UnitOfWork
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
from app.evidence.registry import snapshot, snapshot_of_rows
from app.projects.models import Project
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project
from app.transitions import store
from tests.support.clock import paris_clock
from workflow import deadlines as dl
from workflow.evidence import EVIDENCE_FIELDS
from workflow.vocabulary import (
    BuyerCategory,
    Category,
    Condition,
    ExpertiseConclusion,
    ExpertLevel,
    Kind,
    NeedStatus,
    Verdict,
)

ACTOR = Actor("key", "rf_12345678", "Mouvement des Régies")
DAYS = st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 11, 1))
TEXT = st.text(alphabet="aéÎœ' -x«»\n", min_size=1, max_size=12)
# a commune of the official code (Roubaix), one of another département, one the code does not know
COMMUNES = ("59512", "75056", "99999", "2A004")


@st.composite
def evidence_rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(Kind)),
        "stakeholders": draw(st.lists(st.tuples(st.sampled_from(Category), st.booleans(), TEXT), max_size=4)),
        "communes": draw(st.lists(st.sampled_from(COMMUNES), unique=True, max_size=3)),
        "qpvs": draw(st.lists(st.sampled_from(("QN05901M", "QN07501A", "QN013")), unique=True, max_size=2)),
        "needs": draw(st.lists(st.sampled_from(NeedStatus), max_size=4)),
        "activities": draw(st.integers(0, 3)),
        "study": draw(
            st.none()
            | st.tuples(
                st.none() | st.integers(-5, 10**9),
                st.none() | st.integers(0, 10**6),
                st.none() | st.integers(0, 10**6),
                st.none() | TEXT,
                st.none() | st.sampled_from(Verdict),
                st.none() | DAYS,
            )
        ),
        "markets": draw(st.lists(st.tuples(TEXT, st.sampled_from(BuyerCategory)), max_size=3)),
        "site_visits": draw(st.lists(DAYS, max_size=3)),
        "approvals": draw(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(Verdict), DAYS), max_size=5)),
        "association": draw(st.none() | st.tuples(TEXT, DAYS, st.just("W591234567"))),
        "board": draw(st.lists(st.sampled_from(Category), max_size=4)),
        "hires": draw(st.lists(DAYS, max_size=3)),
        "expertises": draw(
            st.lists(
                st.tuples(
                    DAYS, st.lists(TEXT, min_size=1, max_size=2), st.none() | st.sampled_from(ExpertiseConclusion)
                ),
                max_size=2,
            )
        ),
        "grades": draw(st.lists(st.tuples(st.integers(0, 1), st.sampled_from(Condition)), max_size=4)),
        "reservations": draw(st.lists(st.tuples(st.integers(0, 1), st.sampled_from(Condition), st.none() | DAYS))),
    }


def _write(uow: UnitOfWork, pid: Any, ev: dict[str, Any]) -> None:
    add = uow.session.add_all
    stakeholders = [
        Stakeholder(project_id=pid, name=name, category=c.value, is_amo_pilot=pilot and c == Category.MOUVEMENT)
        for c, pilot, name in ev["stakeholders"]  # only a Mouvement consultant may be the pilot (a constraint)
    ]
    expertises = [
        Expertise(project_id=pid, conducted_on=on, experts=experts, conclusion=c.value if c else None)
        for on, experts, c in ev["expertises"]
    ]
    add([*stakeholders, *expertises])
    add([Commune(project_id=pid, insee_code=code, name=f"Commune {code}") for code in ev["communes"]])
    add([Qpv(project_id=pid, code=code, name=f"Quartier {code}") for code in ev["qpvs"]])
    add([Need(project_id=pid, label="Besoin", status=s.value) for s in ev["needs"]])
    add([Activity(project_id=pid, label=f"Activité {i}") for i in range(ev["activities"])])
    if ev["study"] is not None:
        charges, market, non_market, premises, conclusion, on = ev["study"]
        add(
            [
                FeasibilityStudy(
                    project_id=pid,
                    annual_charges=charges,
                    market_income=market,
                    non_market_income=non_market,
                    premises_address=premises,
                    conclusion=conclusion.value if conclusion else None,
                    conclusion_on=on,
                )
            ]
        )
    add([Market(project_id=pid, label="Marché", buyer_name=n, buyer_category=c.value) for n, c in ev["markets"]])
    add([SiteVisit(project_id=pid, regie_name="Régie", visited_on=on) for on in ev["site_visits"]])
    if ev["association"] is not None:
        name, on, rna = ev["association"]
        add([Association(project_id=pid, name=name, declared_on=on, rna=rna)])
    add([BoardMember(project_id=pid, name="Membre", college=c.value) for c in ev["board"]])
    add([Hire(project_id=pid, name="Salarié", role="encadrant", start_on=on) for on in ev["hires"]])
    uow.flush()  # the stakeholders' and expertises' ids, for the rows that point to them
    if stakeholders:
        add(
            [
                Approval(
                    project_id=pid, stakeholder_id=stakeholders[i % len(stakeholders)].id, verdict=v.value, given_on=on
                )
                for i, v, on in ev["approvals"]
            ]
        )
    if expertises:
        graded = {(expertises[i % len(expertises)].id, c) for i, c in ev["grades"]}  # one per expertise and condition
        add(
            [
                ExpertiseAssessment(project_id=pid, expertise_id=x, condition=c.value, level=ExpertLevel.ATTEINT.value)
                for x, c in sorted(graded)
            ]
        )
        add(
            [
                Reservation(
                    project_id=pid,
                    expertise_id=expertises[i % len(expertises)].id,
                    condition=c.value,
                    description="Réserve",
                    recorded_on=date(2026, 1, 5),
                    lifted_on=lifted,
                    lifted_how="Levée" if lifted else None,
                )
                for i, c, lifted in ev["reservations"]
            ]
        )
    uow.flush()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ev=evidence_rows())
def test_the_aggregate_snapshot_equals_the_orm_snapshot(session_factory, ev: dict[str, Any]) -> None:
    body = ProjectCreate(name="Régie de l'Alma", kind=ev["kind"], region="Hauts-de-France", started_on=date(2023, 1, 2))
    with UnitOfWork(session_factory) as uow:  # never committed: rolled back at the end of each example
        uow.commit = uow.flush  # type: ignore[method-assign]  # create_project commits: keep it in this transaction
        pid = create_project(uow, body, plan=dl.Plan(), actor=ACTOR, clock=paris_clock()).id
        _write(uow, pid, ev)
        uow.session.expire_all()
        from_orm = snapshot(uow.session.get_one(Project, pid))
        locked = store.lock(uow, pid, EVIDENCE_FIELDS)
        assert locked is not None
        from_rows = snapshot_of_rows(Kind(locked.project.kind), locked.facts)
        for name in sorted(EVIDENCE_FIELDS):
            assert getattr(from_rows, name) == getattr(from_orm, name), name
        assert from_rows.kind == from_orm.kind and from_rows.loaded == EVIDENCE_FIELDS and from_orm.loaded is None
        # a partial read aggregates only the fields asked for
        some = frozenset({"needs", "approvals", "expertises"})
        partial = store.lock(uow, pid, some)
        assert partial is not None and set(partial.facts) == some
