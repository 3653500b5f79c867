"""fire_transition below HTTP, on the test's database: the domain decides (workflow/); the service
applies the outcome to the project's row (its step and dates, its pauses, its closing, its deadline
index), bumps the version, appends the hash-chained event with its outbox message and feed position,
commits once; a refusal writes nothing. The service writes with SQLAlchemy Core
(app/transitions/store.py), so these tests read back what the database holds."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.clock import Actor
from app.core.errors import PreconditionFailed
from app.core.security import hash_of_event
from app.core.unit_of_work import UnitOfWork
from app.evidence.models import Stakeholder
from app.feed.models import FeedCounter
from app.projects.models import Event, OutboxMessage, Project, SuspensionRecord
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project
from app.transitions.schemas import TransitionBody
from app.transitions.service import fire_transition
from app.transitions.store import ProjectRecord
from tests.support.clock import TODAY, paris_clock
from workflow import deadlines as dl
from workflow.errors import GuardsUnmet, ProjectClosed, ReasonRequired, TriggerNotAllowed
from workflow.vocabulary import State

ACTOR = Actor("key", "rf_12345678", "Mouvement des Régies")
START = date(2026, 9, 1)


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return session_factory


def new_project(factory: sessionmaker[Session], *, groupe_projet: bool = False) -> uuid.UUID:
    """A project created through the service on START (with the four members the first step's guards
    ask for, DOMAIN.md: a Mouvement pilot, residents, the municipality, a social landlord)."""
    body = ProjectCreate(name="Régie de l'Alma", kind="regie_de_quartier", region="Hauts-de-France", started_on=START)
    with UnitOfWork(factory) as uow:
        p = create_project(uow, body, plan=dl.Plan(), actor=ACTOR, clock=paris_clock())
        pid = p.id
    if groupe_projet:
        with UnitOfWork(factory) as uow:
            for name, category, pilot in (
                ("Claire Martin", "mouvement", True),
                ("Amina Benali", "habitant", False),
                ("Ville de Roubaix", "collectivite", False),
                ("Vilogia", "bailleur_social", False),
            ):
                uow.session.add(Stakeholder(project_id=pid, name=name, category=category, is_amo_pilot=pilot))
            uow.commit()
    return pid


def fire(factory: sessionmaker[Session], pid: uuid.UUID, trigger: str, **body: Any) -> ProjectRecord:
    version = body.pop("expected_version", None)
    with UnitOfWork(factory) as uow:
        return fire_transition(
            uow, pid, trigger, TransitionBody(**body), expected_version=version, actor=ACTOR, clock=paris_clock()
        )


def stored(factory: sessionmaker[Session], pid: uuid.UUID) -> tuple[Project, list[Event], list[SuspensionRecord]]:
    with factory() as session:
        p = session.get(Project, pid)
        assert p is not None
        events = list(session.scalars(select(Event).where(Event.project_id == pid).order_by(Event.seq)))
        pauses = list(
            session.scalars(
                select(SuspensionRecord).where(SuspensionRecord.project_id == pid).order_by(SuspensionRecord.id)
            )
        )
        session.expunge_all()
        return p, events, pauses


def test_a_forward_move_changes_the_step_and_writes_one_event(factory) -> None:
    pid = new_project(factory, groupe_projet=True)
    with factory() as session:
        feed_before = session.scalar(select(FeedCounter.value))
    out = fire(factory, pid, "definir_contours", effective_on=date(2026, 11, 20), expected_version=1)
    p, events, _ = stored(factory, pid)
    assert (p.state, p.state_entered_on, p.last_transition_on, p.version) == (
        "contours",
        date(2026, 11, 20),
        date(2026, 11, 20),
        2,
    )
    assert p.step_due_on == date(2026, 11, 20) + relativedelta(months=dl.Plan().months("contours"))  # re-indexed
    # the answer is the row as written
    assert (out.state, out.version, out.step_due_on, out.projected_label_on, out.horizon_on) == (
        p.state,
        p.version,
        p.step_due_on,
        p.projected_label_on,
        p.horizon_on,
    )
    assert out.updated_at == p.updated_at
    created, event = events
    assert (event.seq, event.type, event.trigger, event.from_state, event.to_state, event.effective_on) == (
        2,
        "project.transitioned",
        "definir_contours",
        "groupe_projet",
        "contours",
        date(2026, 11, 20),
    )
    assert event.actor == "key:rf_12345678" and event.data == {"suspended": False}
    # chained to the creation's event with the server's key, one feed position, one outbox message
    assert event.prev_hash == created.hash
    with UnitOfWork(factory) as uow:
        assert event.hash == hash_of_event(event, uow.chain_key())
        assert uow.session.scalar(select(FeedCounter.value)) == event.feed_seq == (feed_before or 0) + 1
        [message] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.event_id == event.id))
        assert (message.topic, message.payload) == (
            "project.transitioned",
            {"project_id": str(pid), "seq": 2, "type": "project.transitioned"},
        )


def _nothing_written(factory: sessionmaker[Session], pid: uuid.UUID) -> None:
    p, events, pauses = stored(factory, pid)
    assert (p.state, p.version, len(events), pauses) == ("groupe_projet", 1, 1, [])
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == len(
            list(session.scalars(select(Event.id)))
        )


def test_unmet_guards_refuse_the_move_and_nothing_is_written(factory) -> None:
    pid = new_project(factory)
    with pytest.raises(GuardsUnmet) as refused:
        fire(factory, pid, "definir_contours")
    assert {u.code for u in refused.value.unmet} >= {"pilote_mouvement", "groupe_bailleur"}
    _nothing_written(factory, pid)


def test_a_trigger_from_the_wrong_step_a_missing_reason_or_a_stale_version_is_refused(factory) -> None:
    pid = new_project(factory)
    with pytest.raises(TriggerNotAllowed):
        fire(factory, pid, "labelliser")
    with pytest.raises(ReasonRequired):
        fire(factory, pid, "suspendre")
    with pytest.raises(PreconditionFailed):
        fire(factory, pid, "suspendre", reason="Élections", expected_version=7)
    _nothing_written(factory, pid)


def test_a_pause_opens_a_suspension_and_resuming_closes_it(factory) -> None:
    pid = new_project(factory)
    out = fire(factory, pid, "suspendre", reason="Élections municipales", effective_on=date(2026, 10, 1))
    p, _, [opened] = stored(factory, pid)
    assert p.suspended_since == out.suspended_since == date(2026, 10, 1) and p.state == "groupe_projet"
    assert (opened.started_on, opened.ended_on, opened.reason) == (date(2026, 10, 1), None, "Élections municipales")
    fire(factory, pid, "reprendre", reason="Nouvelle équipe municipale", effective_on=date(2026, 11, 2))
    p, events, [closed] = stored(factory, pid)
    assert p.suspended_since is None and p.version == 3
    assert (closed.ended_on, closed.resume_reason) == (date(2026, 11, 2), "Nouvelle équipe municipale")
    assert [e.trigger for e in events[1:]] == ["suspendre", "reprendre"]
    assert [e.data for e in events[1:]] == [{"suspended": True}, {"suspended": False}]
    # the deadline index counts the 32 paused days, as the domain computes it from the stored pauses
    idx = dl.deadline_index(
        started_on=START,
        state=State.GROUPE_PROJET,
        state_entered_on=START,
        suspensions=[dl.Suspension(date(2026, 10, 1), date(2026, 11, 2))],
        plan=dl.Plan(),
    )
    assert (p.horizon_on, p.step_due_on, p.projected_label_on) == (
        idx.horizon_on,
        idx.step_due_on,
        idx.projected_label_on,
    )


def test_abandoning_closes_the_project_and_a_closed_project_moves_no_more(factory) -> None:
    pid = new_project(factory)
    fire(factory, pid, "abandonner", reason="Pas de bailleur partenaire")
    p, events, _ = stored(factory, pid)
    assert (p.state, p.closed_on, p.closed_reason, p.version) == ("abandonnee", TODAY, "Pas de bailleur partenaire", 2)
    with pytest.raises((ProjectClosed, TriggerNotAllowed)):
        fire(factory, pid, "suspendre", reason="Encore")
    p, events, _ = stored(factory, pid)
    assert p.version == 2 and len(events) == 2
