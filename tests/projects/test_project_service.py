"""The projects' services over a fake unit of work (tests/support/fake_uow.py): no database, no web
framework. What a service decides: the version, the event that explains it, the plan and the deadline
index, what it refuses and that a refusal writes and commits nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from app.accounts.models import RoleGrant
from app.core.clock import Actor
from app.core.errors import NotFound, PreconditionFailed
from app.projects.models import Project, Replan
from app.projects.schemas import PlanBody, ProjectCreate, ProjectUpdate
from app.projects.service import create_project, replan, update_project
from tests.support.clock import TODAY, paris_clock
from tests.support.fake_uow import FakeUnitOfWork
from workflow import deadlines as dl
from workflow.errors import InvalidInput, ProjectClosed

ACTOR = Actor("user", "claire@example.fr", "Claire Martin")
PLAN = dl.Plan()
START = date(2026, 9, 1)


def new_project(uow: FakeUnitOfWork, **fields: Any) -> Project:
    body = {"name": "Régie des Trois Quartiers", "kind": "regie_de_quartier", "region": "Hauts-de-France"} | fields
    return create_project(uow, ProjectCreate(**body), plan=PLAN, actor=ACTOR, clock=paris_clock())


def stored(**fields: Any) -> tuple[FakeUnitOfWork, Project]:
    """A project created through the service, then a fresh unit of work holding it (as a new request)."""
    first = FakeUnitOfWork()
    p = new_project(first, **fields)
    uow = FakeUnitOfWork()
    uow.projects.rows[p.id] = p
    return uow, p


# --- create_project --------------------------------------------------------------------------------
def test_a_new_project_is_version_one_with_its_creation_event_and_one_commit() -> None:
    uow = FakeUnitOfWork()
    p = new_project(uow, started_on=START, departement="59")
    assert uow.projects.rows == {p.id: p}
    assert (p.state, p.version, p.started_on, p.state_entered_on, p.last_transition_on) == (
        "groupe_projet",
        1,
        START,
        START,
        START,
    )
    assert (p.step_months, p.horizon_months) == (PLAN.as_dict()["step_months"], PLAN.horizon_months)
    [event] = uow.events.appended
    assert (event.project_id, event.seq, event.type, event.to_state, event.effective_on, event.actor) == (
        p.id,
        1,
        "project.created",
        "groupe_projet",
        START,
        "user:claire@example.fr",
    )
    assert event.data["plan"] == PLAN.as_dict() and event.data["started_on"] == "2026-09-01"
    assert event.data["region"] == "Hauts-de-France" and event.data["departement"] == "59"
    assert uow.flushes >= 2 and uow.commits == 1  # the project's row flushed before its event, then COMMIT


def test_a_new_project_gets_its_deadline_index() -> None:
    p = new_project(FakeUnitOfWork(), started_on=START)
    assert p.step_due_on == START + relativedelta(months=PLAN.months("groupe_projet"))
    assert p.horizon_on == START + relativedelta(months=PLAN.horizon_months)
    assert p.projected_label_on is not None and p.projected_label_on <= p.horizon_on


def test_the_start_defaults_to_today_and_is_never_in_the_future() -> None:
    assert new_project(FakeUnitOfWork()).started_on == TODAY
    uow = FakeUnitOfWork()
    with pytest.raises(InvalidInput) as refused:
        new_project(uow, started_on=TODAY + timedelta(days=1))
    assert refused.value.field == "started_on"
    assert (uow.projects.rows, uow.events.appended, uow.committed) == ({}, [], False)


def test_a_porteur_creating_a_project_is_granted_it_in_the_same_transaction() -> None:
    uow = FakeUnitOfWork()
    p = create_project(
        uow,
        ProjectCreate(name="Régie du Mirail", kind="regie_de_quartier", region="Occitanie"),
        plan=PLAN,
        actor=ACTOR,
        clock=paris_clock(),
        porteur_user_id=7,
    )
    [grant] = [o for o in uow.session.added if isinstance(o, RoleGrant)]
    assert (grant.user_id, grant.role, grant.project_id) == (7, "porteur", p.id)
    assert uow.commits == 1


# --- update_project --------------------------------------------------------------------------------
def test_an_update_records_each_change_with_its_old_and_new_value() -> None:
    uow, p = stored(started_on=START)
    out = update_project(
        uow,
        p.id,
        ProjectUpdate(name="Régie de l'Alma", lead_name="Amina Benali"),
        expected_version=1,
        actor=ACTOR,
        clock=paris_clock(),
    )
    assert out is p and (p.name, p.lead_name, p.version) == ("Régie de l'Alma", "Amina Benali", 2)
    [event] = uow.events.appended
    assert (event.seq, event.type) == (2, "project.updated")
    assert event.data == {
        "changes": {"name": ["Régie des Trois Quartiers", "Régie de l'Alma"], "lead_name": [None, "Amina Benali"]}
    }
    assert uow.projects.loads == [(p.id, (), True)]  # locked, without its evidence
    assert uow.commits == 1


def test_an_update_that_changes_nothing_writes_no_event_but_still_commits() -> None:
    uow, p = stored()
    update_project(uow, p.id, ProjectUpdate(name=p.name), expected_version=None, actor=ACTOR, clock=paris_clock())
    assert (p.version, uow.events.appended, uow.commits) == (1, [], 1)


def test_a_required_field_cannot_be_emptied() -> None:
    uow, p = stored()
    with pytest.raises(InvalidInput) as refused:
        update_project(uow, p.id, ProjectUpdate(region=None), expected_version=None, actor=ACTOR, clock=paris_clock())
    assert refused.value.field == "region"
    assert (p.region, p.version, uow.events.appended, uow.committed) == ("Hauts-de-France", 1, [], False)


def test_an_update_needs_the_current_version_and_an_existing_project() -> None:
    uow, p = stored()
    with pytest.raises(PreconditionFailed):
        update_project(uow, p.id, ProjectUpdate(name="X"), expected_version=3, actor=ACTOR, clock=paris_clock())
    with pytest.raises(NotFound):
        update_project(
            uow, uuid.uuid4(), ProjectUpdate(name="X"), expected_version=None, actor=ACTOR, clock=paris_clock()
        )
    assert (p.name, uow.events.appended, uow.committed) == ("Régie des Trois Quartiers", [], False)


def test_a_closed_project_can_still_be_corrected() -> None:
    uow, p = stored()
    p.state = "abandonnee"
    update_project(
        uow, p.id, ProjectUpdate(description="Archivé"), expected_version=1, actor=ACTOR, clock=paris_clock()
    )
    assert (p.description, p.version) == ("Archivé", 2)


# --- replan ----------------------------------------------------------------------------------------
def _plan_body(**months: int) -> PlanBody:
    step_months = PLAN.as_dict()["step_months"] | months
    return PlanBody(step_months=step_months, horizon_months=40, reason="Un an de travaux de plus.")


def test_a_replan_keeps_the_old_plan_in_its_event_and_moves_the_deadlines() -> None:
    uow, p = stored(started_on=START)
    before, due_before = PLAN.as_dict(), p.step_due_on
    replan(uow, p.id, _plan_body(groupe_projet=5), expected_version=1, actor=ACTOR, clock=paris_clock())
    assert (p.step_months["groupe_projet"], p.horizon_months, p.version) == (5, 40, 2)
    assert p.step_due_on == due_before + relativedelta(months=2)
    assert p.horizon_on == START + relativedelta(months=40)
    [row] = [o for o in uow.session.added if isinstance(o, Replan)]
    assert (row.project_id, row.horizon_months, row.reason, row.actor) == (
        p.id,
        40,
        "Un an de travaux de plus.",
        "user:claire@example.fr",
    )
    [event] = uow.events.appended
    assert (event.seq, event.type, event.reason) == (2, "plan.changed", "Un an de travaux de plus.")
    assert event.data["before"] == before and event.data["after"]["horizon_months"] == 40
    assert uow.projects.loads == [(p.id, ("suspensions",), True)]
    assert uow.commits == 1


def test_a_replan_names_all_six_steps_and_leaves_closed_projects_alone() -> None:
    uow, p = stored()
    partial = PlanBody(step_months={"groupe_projet": 4}, horizon_months=36, reason="Trop court.")
    with pytest.raises(InvalidInput) as refused:
        replan(uow, p.id, partial, expected_version=None, actor=ACTOR, clock=paris_clock())
    assert refused.value.field == "step_months"
    p.state = "labellisee"
    with pytest.raises(ProjectClosed):
        replan(uow, p.id, _plan_body(), expected_version=None, actor=ACTOR, clock=paris_clock())
    assert (p.version, uow.session.added, uow.events.appended, uow.committed) == (1, [], [], False)
