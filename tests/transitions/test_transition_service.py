"""fire_transition over a fake unit of work (tests/support/fake_uow.py): no database, no web framework.
The domain decides (workflow/); the service applies the outcome to the project (its step and dates, its
suspensions, its closing), bumps the version, appends the event, commits once; a refusal touches nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from app.core.clock import Actor
from app.core.errors import PreconditionFailed
from app.evidence.models import Stakeholder
from app.projects.models import Project
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project
from app.transitions.schemas import TransitionBody
from app.transitions.service import fire_transition
from tests.support.clock import TODAY, paris_clock
from tests.support.fake_uow import FakeUnitOfWork
from workflow import deadlines as dl
from workflow.errors import GuardsUnmet, ProjectClosed, ReasonRequired, TriggerNotAllowed

ACTOR = Actor("key", "rf_12345678", "Mouvement des Régies")
START = date(2026, 9, 1)


def project_in_a_new_uow() -> tuple[FakeUnitOfWork, Project]:
    """A project created through the service on START; then a new unit of work holding it."""
    body = ProjectCreate(name="Régie de l'Alma", kind="regie_de_quartier", region="Hauts-de-France", started_on=START)
    p = create_project(FakeUnitOfWork(), body, plan=dl.Plan(), actor=ACTOR, clock=paris_clock())
    uow = FakeUnitOfWork()
    uow.projects.rows[p.id] = p
    return uow, p


def fire(uow: FakeUnitOfWork, p: Project, trigger: str, **body: Any) -> Project:
    version = body.pop("expected_version", None)
    return fire_transition(
        uow, p.id, trigger, TransitionBody(**body), expected_version=version, actor=ACTOR, clock=paris_clock()
    )


def with_groupe_projet(p: Project) -> None:
    """The four members the first step's guards ask for (DOMAIN.md): a Mouvement pilot, residents, the
    municipality, a social landlord."""
    for name, category, pilot in (
        ("Claire Martin", "mouvement", True),
        ("Amina Benali", "habitant", False),
        ("Ville de Roubaix", "collectivite", False),
        ("Vilogia", "bailleur_social", False),
    ):
        p.stakeholders.append(Stakeholder(name=name, category=category, is_amo_pilot=pilot))


def test_a_forward_move_changes_the_step_and_writes_one_event() -> None:
    uow, p = project_in_a_new_uow()
    with_groupe_projet(p)
    out = fire(uow, p, "definir_contours", effective_on=date(2026, 11, 20), expected_version=1)
    assert out is p
    assert (p.state, p.state_entered_on, p.last_transition_on, p.version) == (
        "contours",
        date(2026, 11, 20),
        date(2026, 11, 20),
        2,
    )
    assert p.step_due_on == date(2026, 11, 20) + relativedelta(months=dl.Plan().months("contours"))  # re-indexed
    [event] = uow.events.appended
    assert (event.seq, event.type, event.trigger, event.from_state, event.to_state, event.effective_on) == (
        2,
        "project.transitioned",
        "definir_contours",
        "groupe_projet",
        "contours",
        date(2026, 11, 20),
    )
    assert event.actor == "key:rf_12345678" and event.data == {"suspended": False}
    assert uow.projects.loads == [(p.id, (), True)]  # locked; the guards' evidence loads lazily
    assert uow.commits == 1


def test_unmet_guards_refuse_the_move_and_nothing_is_written() -> None:
    uow, p = project_in_a_new_uow()
    with pytest.raises(GuardsUnmet) as refused:
        fire(uow, p, "definir_contours")
    assert {u.code for u in refused.value.unmet} >= {"pilote_mouvement", "groupe_bailleur"}
    assert (p.state, p.version, uow.events.appended, uow.committed) == ("groupe_projet", 1, [], False)


def test_a_trigger_from_the_wrong_step_a_missing_reason_or_a_stale_version_is_refused() -> None:
    uow, p = project_in_a_new_uow()
    with pytest.raises(TriggerNotAllowed):
        fire(uow, p, "labelliser")
    with pytest.raises(ReasonRequired):
        fire(uow, p, "suspendre")
    with pytest.raises(PreconditionFailed):
        fire(uow, p, "suspendre", reason="Élections", expected_version=7)
    assert (p.version, uow.events.appended, uow.committed) == (1, [], False)


def test_a_pause_opens_a_suspension_and_resuming_closes_it() -> None:
    uow, p = project_in_a_new_uow()
    fire(uow, p, "suspendre", reason="Élections municipales", effective_on=date(2026, 10, 1))
    assert p.suspended_since == date(2026, 10, 1) and p.state == "groupe_projet"
    [opened] = p.suspensions
    assert (opened.started_on, opened.ended_on, opened.reason) == (date(2026, 10, 1), None, "Élections municipales")
    fire(uow, p, "reprendre", reason="Nouvelle équipe municipale", effective_on=date(2026, 11, 2))
    assert p.suspended_since is None and p.version == 3
    assert (opened.ended_on, opened.resume_reason) == (date(2026, 11, 2), "Nouvelle équipe municipale")
    assert [e.trigger for e in uow.events.appended] == ["suspendre", "reprendre"]
    assert [e.data for e in uow.events.appended] == [{"suspended": True}, {"suspended": False}]
    assert uow.commits == 2


def test_abandoning_closes_the_project_and_a_closed_project_moves_no_more() -> None:
    uow, p = project_in_a_new_uow()
    fire(uow, p, "abandonner", reason="Pas de bailleur partenaire")
    assert (p.state, p.closed_on, p.closed_reason, p.version) == ("abandonnee", TODAY, "Pas de bailleur partenaire", 2)
    with pytest.raises((ProjectClosed, TriggerNotAllowed)):
        fire(uow, p, "suspendre", reason="Encore")
    assert p.version == 2 and len(uow.events.appended) == 1
