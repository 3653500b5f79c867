"""Service functions: one transaction each. Routers parse and authorise, the workflow decides,
repositories persist state, event and outbox together, and only the unit of work commits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import update

from app import models as m
from app import schemas as s
from app.clock import Actor, Clock
from app.authz import Principal
from app.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from app.evidence import KINDS, EvidenceKind, snapshot
from app.uow import UnitOfWork
from workflow import deadlines as dl
from workflow import machine as wf
from workflow.errors import InvalidInput, ProjectClosed
from workflow.history import RecordedTransition, replay
from workflow.vocabulary import CONSULTANT_ONLY, STATE_LABELS, TERMINAL, TRIGGER_LABELS, State, Trigger

# What an If-Match that is not an ETag of ours stands for: no version can match it (versions start at 1).
UNREADABLE_VERSION = -1
CLOSED_MESSAGE = "Le projet est clos (labellisé ou abandonné) : son dossier ne peut plus être modifié."


# --- helpers ------------------------------------------------------------------------------------
def plan_of(p: m.Project) -> dl.Plan:
    return dl.Plan(dict(p.step_months), p.horizon_months)


def suspensions_of(p: m.Project) -> list[dl.Suspension]:
    return [dl.Suspension(r.started_on, r.ended_on) for r in p.suspensions]


def index_of(p: m.Project) -> dl.DeadlineIndex:
    return dl.DeadlineIndex(p.horizon_on, p.step_due_on, p.projected_label_on)


def refresh_index(p: m.Project) -> None:
    idx = dl.deadline_index(started_on=p.started_on, state=State(p.state), state_entered_on=p.state_entered_on,
                            suspensions=suspensions_of(p), plan=plan_of(p))
    p.horizon_on, p.step_due_on, p.projected_label_on = idx.horizon_on, idx.step_due_on, idx.projected_label_on


def _load_for_write(uow: UnitOfWork, project_id: uuid.UUID, if_match: int | None, *,
                    allow_closed: bool = False, relations: bool | tuple[str, ...] = True) -> m.Project:
    """The project, locked for this transaction, with the evidence the caller needs loaded up front."""
    p = uow.projects.get(project_id, with_evidence=relations, for_update=True)
    if p is None:
        raise NotFound("Projet introuvable.")
    if if_match == UNREADABLE_VERSION:
        raise PreconditionFailed("En-tête If-Match illisible : attendu une étiquette comme \"3\" (voir ETag).")
    if if_match is not None and if_match != p.version:
        raise PreconditionFailed(
            f"Le projet a changé depuis votre lecture (version {if_match}, actuelle {p.version}) : rechargez-le."
        )
    if not allow_closed and State(p.state) in TERMINAL:
        raise ProjectClosed(CLOSED_MESSAGE)
    return p


def _record(uow: UnitOfWork, p: m.Project, clock: Clock, actor: Actor, type_: str, **fields: Any) -> m.Event:
    """Bump the project's version and append the event that explains it (same transaction)."""
    now = clock.now()
    p.version = p.version + 1 if p.version else 1
    p.updated_at = now
    if p in uow.session.new:
        uow.flush()  # a new project's row first: its event refers to it (no ORM relationship orders them)
    event = m.Event(project_id=p.id, seq=p.version, type=type_, recorded_at=now, actor=actor.label,
                    data=fields.pop("data", {}), **fields)
    return uow.events.append(event)


def _check_past(kind: EvidenceKind, values: dict[str, Any], today: date) -> None:
    for name in kind.past_dates:
        v = values.get(name)
        if isinstance(v, date) and v > today:
            raise InvalidInput("Cette date ne peut pas être dans le futur.", name)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in _plain(values).items()}


# --- projects -----------------------------------------------------------------------------------
def create_project(uow: UnitOfWork, body: s.ProjectCreate, *, plan: dl.Plan, actor: Actor, clock: Clock,
                   porteur_user_id: int | None = None) -> m.Project:
    today = clock.today()
    started_on = body.started_on or today
    if started_on > today:
        raise InvalidInput("La date de démarrage du groupe projet ne peut pas être dans le futur.", "started_on")
    values = _plain(body.model_dump(exclude={"started_on"}))
    p = m.Project(id=uuid.uuid4(), state=State.GROUPE_PROJET.value, started_on=started_on,
                  state_entered_on=started_on, last_transition_on=started_on, step_months=dict(plan.step_months),
                  horizon_months=plan.horizon_months, version=0, created_at=clock.now(), **values)
    p.suspensions = []
    refresh_index(p)
    uow.projects.add(p)
    _record(uow, p, clock, actor, "project.created", effective_on=started_on, to_state=p.state,
            data={**_jsonable(values), "started_on": started_on.isoformat(), "plan": plan.as_dict()})
    if porteur_user_id is not None:
        uow.session.add(m.RoleGrant(user_id=porteur_user_id, role="porteur", project_id=p.id))
    uow.commit()
    return p


def check_region(principal: Principal, region: str, what: str) -> None:
    """A principal bound to regions may only put projects there (create one, or move one)."""
    if principal.create_regions is not None and region not in principal.create_regions:
        raise Forbidden(f"Vous ne pouvez {what} que dans vos régions : "
                        + ", ".join(sorted(principal.create_regions)) + ".")


def create_project_as(uow: UnitOfWork, body: s.ProjectCreate, principal: Principal, *, plan: dl.Plan,
                      actor: Actor, clock: Clock) -> m.Project:
    """Create a project on behalf of `principal` (the API and the "Nouveau projet" page both call this).

    A principal bound to regions creates only there; a user who would not see the new project
    otherwise (a porteur) becomes its porteur."""
    check_region(principal, body.region, "créer de projet")
    owner = principal.id if principal.kind == "user" and not principal.reaches_region(body.region) else None
    return create_project(uow, body, plan=plan, actor=actor, clock=clock, porteur_user_id=owner)


def update_project(uow: UnitOfWork, project_id: uuid.UUID, body: s.ProjectUpdate, *, if_match: int | None,
                   actor: Actor, clock: Clock) -> m.Project:
    p = _load_for_write(uow, project_id, if_match, allow_closed=True, relations=())
    changes: dict[str, Any] = {}
    for name, value in _plain(body.model_dump(exclude_unset=True)).items():
        if value is None and not m.Project.__table__.c[name].nullable:  # name, kind, region, conventionnement
            raise InvalidInput("Ce champ ne peut pas être vidé.", name)
        if getattr(p, name) != value:
            changes[name] = [getattr(p, name), value]
            setattr(p, name, value)
    if changes:
        _record(uow, p, clock, actor, "project.updated", data={"changes": changes})
    uow.commit()  # even with nothing to write: a rollback would expire the project the caller reads next
    return p


def replan(uow: UnitOfWork, project_id: uuid.UUID, body: s.PlanBody, *, if_match: int | None, actor: Actor,
           clock: Clock) -> m.Project:
    p = _load_for_write(uow, project_id, if_match, relations=("suspensions",))
    months = {k.value: v for k, v in body.step_months.items()}
    if set(months) != {st.value for st in State if st not in TERMINAL}:
        raise InvalidInput("Donnez la durée (en mois) de chacune des six étapes.", "step_months")
    before = plan_of(p).as_dict()
    p.step_months, p.horizon_months = months, body.horizon_months
    refresh_index(p)
    uow.session.add(m.Replan(project_id=p.id, step_months=months, horizon_months=body.horizon_months,
                             reason=body.reason, actor=actor.label, recorded_at=clock.now()))
    _record(uow, p, clock, actor, "plan.changed", reason=body.reason,
            data={"before": before, "after": plan_of(p).as_dict()})
    uow.commit()
    return p


# --- deadline watch -----------------------------------------------------------------------------
def watch_deadline(uow: UnitOfWork, project_id: uuid.UUID, *, actor: Actor, clock: Clock) -> m.Event | None:
    """Compare today's deadline status with the one last announced (`deadline_status`); when it moved,
    write one `deadline.status_changed` event (version bump, event, outbox: like every change).

    Recorded without an event: a project's first sighting while on time, and a closed project (no status).
    A first sighting already at risk or late is announced (`from` is null)."""
    p = uow.projects.get(project_id, for_update=True)
    if p is None:
        return None
    today = clock.today()
    shown = dl.present(index_of(p), state=State(p.state), plan=plan_of(p), today=today,
                       suspended_since=p.suspended_since)
    new = shown.status.value if shown.status is not None else None
    old = p.deadline_status
    if new == old:
        uow.commit()
        return None
    if new is None or (old is None and new == dl.Status.DANS_LES_TEMPS.value):
        uow.session.execute(update(m.Project.__table__).where(m.Project.__table__.c.id == p.id)
                            .values(deadline_status=new))
        uow.commit()
        return None
    p.deadline_status = new
    event = _record(uow, p, clock, actor, "deadline.status_changed", effective_on=today,
                    data={"from": old, "to": new, "horizon_on": shown.horizon_on.isoformat(),
                          "step_due_on": shown.step_due_on.isoformat() if shown.step_due_on else None})
    uow.commit()
    return event


# --- transitions --------------------------------------------------------------------------------
def flow_of(p: m.Project) -> wf.Flow:
    return wf.Flow(p.state, p.suspended_since is not None, p.last_transition_on)


def fire_transition(uow: UnitOfWork, project_id: uuid.UUID, trigger: str, body: s.TransitionBody, *,
                    if_match: int | None, actor: Actor, clock: Clock) -> m.Project:
    p = _load_for_write(uow, project_id, if_match, allow_closed=True, relations=())
    # Only the evidence this trigger's guards read (a step back, a pause or an abandon reads none):
    # the rows load lazily, inside this transaction, while the project row is locked.
    fields = wf.reads_of(trigger, p.state)
    outcome = wf.fire(flow_of(p), trigger, snapshot(p, fields), today=clock.today(),
                      effective_on=body.effective_on, reason=body.reason)
    when = outcome.effective_on
    if outcome.trigger == Trigger.SUSPENDRE:
        p.suspensions.append(m.SuspensionRecord(project_id=p.id, started_on=when, reason=outcome.reason or ""))
        p.suspended_since = when
    elif p.suspended_since is not None and not outcome.suspended:  # reprendre, or abandon while suspended
        open_ = next(r for r in p.suspensions if r.ended_on is None)
        open_.ended_on, open_.resume_reason = when, outcome.reason
        p.suspended_since = None
    if outcome.to_state != outcome.from_state:
        p.state, p.state_entered_on = outcome.to_state.value, when
    if outcome.to_state == State.LABELLISEE:
        p.labelled_on = p.closed_on = when
    elif outcome.to_state == State.ABANDONNEE:
        p.closed_on, p.closed_reason = when, outcome.reason
    p.last_transition_on = when
    refresh_index(p)
    _record(uow, p, clock, actor, "project.transitioned", trigger=outcome.trigger.value,
            from_state=outcome.from_state.value, to_state=outcome.to_state.value, effective_on=when,
            reason=outcome.reason, data={"suspended": outcome.suspended})
    uow.commit()
    return p


# --- evidence -----------------------------------------------------------------------------------
def _relations_for(kind: EvidenceKind) -> tuple[str, ...]:
    """What an evidence write reads: its own rows, and stakeholders with approvals (cross-checks)."""
    if kind.name in ("stakeholders", "approvals"):
        return ("stakeholders", "approvals")
    return (kind.relation,)


def _rows(p: m.Project, kind: EvidenceKind) -> list[Any]:
    return getattr(p, kind.relation)


def _find(p: m.Project, kind: EvidenceKind, item_id: int) -> Any:
    row = next((r for r in _rows(p, kind) if r.id == item_id), None)
    if row is None:
        raise NotFound(f"Élément introuvable ({kind.label}).")
    return row


def _check_unique(p: m.Project, kind: EvidenceKind, values: dict[str, Any], exclude: Any = None) -> None:
    for name in kind.unique:
        if name in values and any(getattr(r, name) == values[name] for r in _rows(p, kind) if r is not exclude):
            raise Conflict(f"« {values[name]} » est déjà enregistré pour ce projet ({kind.label}).")


def add_evidence(uow: UnitOfWork, project_id: uuid.UUID, kind: EvidenceKind, body: BaseModel, *,
                 if_match: int | None, actor: Actor, clock: Clock) -> tuple[m.Project, Any, bool]:
    """Add a row (or record/replace a singleton); returns the project, the row and whether it is new."""
    p = _load_for_write(uow, project_id, if_match, relations=_relations_for(kind))
    values = _plain(body.model_dump())
    _check_past(kind, values, clock.today())
    if kind.extra_check:
        kind.extra_check(p, values)
    if kind.singleton:
        row = getattr(p, kind.relation)
        created = row is None
        if created:
            row = kind.model(project_id=p.id, **values)
            setattr(p, kind.relation, row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
    else:
        _check_unique(p, kind, values)
        row = kind.model(project_id=p.id, **values)
        _rows(p, kind).append(row)
        created = True
    uow.flush()
    _record(uow, p, clock, actor, "evidence.created" if created else "evidence.updated",
            data={"kind": kind.name, "id": getattr(row, "id", None), "values": _jsonable(values)})
    uow.commit()
    return p, row, created


def update_evidence(uow: UnitOfWork, project_id: uuid.UUID, kind: EvidenceKind, item_id: int, body: BaseModel, *,
                    if_match: int | None, actor: Actor, clock: Clock) -> tuple[m.Project, Any]:
    p = _load_for_write(uow, project_id, if_match, relations=_relations_for(kind))
    row = _find(p, kind, item_id)
    changes = {k: v for k, v in _plain(body.model_dump(exclude_unset=True)).items() if getattr(row, k) != v}
    for name, value in changes.items():
        if value is None and not kind.model.__table__.c[name].nullable:
            raise InvalidInput("Ce champ ne peut pas être vidé.", name)
    merged = {c.key: getattr(row, c.key) for c in kind.model.__table__.c} | changes
    _check_past(kind, changes, clock.today())
    if kind.extra_check:
        kind.extra_check(p, merged)
    _check_unique(p, kind, changes, exclude=row)
    for name, value in changes.items():
        setattr(row, name, value)
    if changes:
        _record(uow, p, clock, actor, "evidence.updated",
                data={"kind": kind.name, "id": item_id, "values": _jsonable(changes)})
    uow.commit()  # even with nothing to write: a rollback would expire the rows the caller reads next
    return p, row


def delete_evidence(uow: UnitOfWork, project_id: uuid.UUID, kind: EvidenceKind, item_id: int | None, *,
                    if_match: int | None, actor: Actor, clock: Clock) -> m.Project:
    p = _load_for_write(uow, project_id, if_match, relations=_relations_for(kind))
    if kind.singleton:
        row = getattr(p, kind.relation)
        if row is None:
            raise NotFound(f"Élément introuvable ({kind.label}).")
        setattr(p, kind.relation, None)
    else:
        assert item_id is not None
        row = _find(p, kind, item_id)
        if kind.name == "stakeholders" and any(a.stakeholder_id == row.id for a in p.approvals):
            raise Conflict("Cette partie prenante a donné un avis : elle ne peut pas être retirée du projet.")
        _rows(p, kind).remove(row)
    uow.session.delete(row)
    _record(uow, p, clock, actor, "evidence.deleted", data={"kind": kind.name, "id": item_id})
    uow.commit()
    return p


# --- reads --------------------------------------------------------------------------------------
def get_project(uow: UnitOfWork, project_id: uuid.UUID, *,
                with_evidence: bool | tuple[str, ...] = False) -> m.Project:
    p = uow.projects.get(project_id, with_evidence=with_evidence)
    if p is None:
        raise NotFound("Projet introuvable.")
    return p


def project_read(p: m.Project, today: date) -> s.ProjectRead:
    shown = dl.present(index_of(p), state=State(p.state), plan=plan_of(p), today=today,
                       suspended_since=p.suspended_since)
    return s.ProjectRead(
        id=p.id, name=p.name, kind=p.kind, region=p.region, initiator=p.initiator, departement=p.departement,
        conventionnement=p.conventionnement, lead_name=p.lead_name, description=p.description, state=p.state,
        state_label=STATE_LABELS[State(p.state)], suspended=p.suspended_since is not None,
        suspended_since=p.suspended_since, started_on=p.started_on, state_entered_on=p.state_entered_on,
        last_transition_on=p.last_transition_on, labelled_on=p.labelled_on, closed_on=p.closed_on,
        closed_reason=p.closed_reason, horizon_on=shown.horizon_on, step_due_on=shown.step_due_on,
        projected_label_on=shown.projected_label_on, status=shown.status,
        within_horizon=None if p.labelled_on is None else p.labelled_on <= shown.horizon_on,
        plan=s.PlanRead(**plan_of(p).as_dict()), version=p.version, created_at=p.created_at,
        updated_at=p.updated_at,
    )


def transitions_view(p: m.Project) -> s.TransitionsRead:
    views = wf.available(flow_of(p), snapshot(p, wf.reads_from(p.state)))
    return s.TransitionsRead(
        state=p.state, suspended=p.suspended_since is not None, version=p.version,
        triggers=[
            s.TriggerRead(trigger=v.trigger, label=TRIGGER_LABELS[v.trigger], to_state=v.dest, allowed=v.allowed,
                          reason_required=v.reason_required, consultant_only=v.trigger in CONSULTANT_ONLY,
                          unmet=[s.UnmetRead(code=u.code, message=u.message) for u in v.unmet])
            for v in views
        ],
    )


def recorded_transitions(events: list[m.Event]) -> list[RecordedTransition]:
    return [RecordedTransition(e.trigger or "", e.from_state or "", e.to_state or "", e.effective_on)
            for e in events if e.type == "project.transitioned" and e.effective_on is not None]


def schedule_of(uow: UnitOfWork, p: m.Project, today: date) -> dl.Schedule:
    history = replay(p.started_on, recorded_transitions(uow.events.of_project(p.id, transitions_only=True)))
    return dl.schedule(started_on=p.started_on, state=State(p.state), periods=history.periods,
                       suspensions=history.suspensions, plan=plan_of(p), today=today, labelled_on=p.labelled_on)
