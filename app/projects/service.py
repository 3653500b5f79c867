"""Service functions: one transaction each. Routers parse and authorise, the workflow decides,
repositories persist state, event and outbox together, and only the unit of work commits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Protocol

from app.accounts.models import RoleGrant
from app.authorization.rules import Principal
from app.core.clock import Actor, Clock
from app.core.errors import Forbidden, NotFound, PreconditionFailed
from app.core.unit_of_work import UnitOfWork
from app.projects.models import Event, Project, Replan
from app.projects.schemas import PlanBody, PlanRead, ProjectCreate, ProjectRead, ProjectUpdate
from app.reference.communes import departement_outside_region
from workflow import deadlines as dl
from workflow.errors import InvalidInput, ProjectClosed
from workflow.vocabulary import STATE_LABELS, TERMINAL, Conventionnement, Initiator, Kind, State

CLOSED_MESSAGE = "Le projet est clos (labellisé ou abandonné) : son dossier ne peut plus être modifié."


# --- helpers ------------------------------------------------------------------------------------
class ProjectLike(Protocol):
    """A project's columns, read-only: an ORM Project, or the plain row the transition path wrote
    (app.transitions.store.ProjectRecord). What the answer (project_read) and the domain's views read."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def initiator(self) -> str | None: ...
    @property
    def region(self) -> str: ...
    @property
    def departement(self) -> str | None: ...
    @property
    def conventionnement(self) -> str: ...
    @property
    def lead_name(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def suspended_since(self) -> date | None: ...
    @property
    def started_on(self) -> date: ...
    @property
    def state_entered_on(self) -> date: ...
    @property
    def last_transition_on(self) -> date: ...
    @property
    def labelled_on(self) -> date | None: ...
    @property
    def closed_on(self) -> date | None: ...
    @property
    def closed_reason(self) -> str | None: ...
    @property
    def step_months(self) -> dict[str, int]: ...
    @property
    def horizon_months(self) -> int: ...
    @property
    def horizon_on(self) -> date: ...
    @property
    def step_due_on(self) -> date | None: ...
    @property
    def projected_label_on(self) -> date | None: ...
    @property
    def version(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def plan_of(p: ProjectLike) -> dl.Plan:
    return dl.Plan(dict(p.step_months), p.horizon_months)


def suspensions_of(p: Project) -> list[dl.Suspension]:
    return [dl.Suspension(r.started_on, r.ended_on) for r in p.suspensions]


def index_of(p: ProjectLike) -> dl.DeadlineIndex:
    return dl.DeadlineIndex(p.horizon_on, p.step_due_on, p.projected_label_on)


def refresh_index(p: Project) -> None:
    idx = dl.deadline_index(
        started_on=p.started_on,
        state=State(p.state),
        state_entered_on=p.state_entered_on,
        suspensions=suspensions_of(p),
        plan=plan_of(p),
    )
    p.horizon_on, p.step_due_on, p.projected_label_on = idx.horizon_on, idx.step_due_on, idx.projected_label_on


def load_for_write(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    expected_version: int | None,
    *,
    allow_closed: bool = False,
    relations: bool | tuple[str, ...] = True,
) -> Project:
    """The project, locked for this transaction, with the evidence the caller needs loaded up front."""
    p = uow.projects.get(project_id, with_evidence=relations, for_update=True)
    if p is None:
        raise NotFound("Projet introuvable.")
    if expected_version is not None and expected_version != p.version:
        raise PreconditionFailed(expected_version, p.version)
    if not allow_closed and State(p.state) in TERMINAL:
        raise ProjectClosed(CLOSED_MESSAGE)
    return p


def record_change(uow: UnitOfWork, p: Project, clock: Clock, actor: Actor, type_: str, **fields: Any) -> Event:
    """Bump the project's version and append the event that explains it (same transaction)."""
    now = clock.now()
    uow.projects.compute_keys_for(clock.today())  # the day of the stored sort keys written at flush
    p.version = p.version + 1 if p.version else 1
    p.updated_at = now
    if uow.projects.is_new(p):
        uow.flush()  # a new project's row first: its event refers to it (no ORM relationship orders them)
    event = Event(
        project_id=p.id,
        seq=p.version,
        type=type_,
        recorded_at=now,
        actor=actor.label,
        data=fields.pop("data", {}),
        **fields,
    )
    return uow.events.append(event)


def plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in plain(values).items()}


# --- projects -----------------------------------------------------------------------------------
def create_project(
    uow: UnitOfWork,
    body: ProjectCreate,
    *,
    plan: dl.Plan,
    actor: Actor,
    clock: Clock,
    porteur_user_id: int | None = None,
) -> Project:
    today = clock.today()
    started_on = body.started_on or today
    if started_on > today:
        raise InvalidInput("La date de démarrage du groupe projet ne peut pas être dans le futur.", "started_on")
    values = plain(body.model_dump(exclude={"started_on"}))
    _check_departement(values["region"], values.get("departement"))
    p = Project(
        id=uuid.uuid4(),
        state=State.GROUPE_PROJET.value,
        started_on=started_on,
        state_entered_on=started_on,
        last_transition_on=started_on,
        step_months=dict(plan.step_months),
        horizon_months=plan.horizon_months,
        version=0,
        created_at=clock.now(),
        **values,
    )
    p.suspensions = []
    refresh_index(p)
    uow.projects.add(p)
    record_change(
        uow,
        p,
        clock,
        actor,
        "project.created",
        effective_on=started_on,
        to_state=p.state,
        data={**jsonable(values), "started_on": started_on.isoformat(), "plan": plan.as_dict()},
    )
    if porteur_user_id is not None:
        uow.accounts.add_grant(RoleGrant(user_id=porteur_user_id, role="porteur", project_id=p.id))
    uow.commit()
    return p


def _check_departement(region: str, departement: str | None) -> None:
    reason = departement_outside_region(region, departement)
    if reason:
        raise InvalidInput(reason, "departement")


def check_region(principal: Principal, region: str, what: str) -> None:
    """A principal bound to regions may only put projects there (create one, or move one)."""
    if principal.create_regions is not None and region not in principal.create_regions:
        raise Forbidden(
            f"Vous ne pouvez {what} que dans vos régions : " + ", ".join(sorted(principal.create_regions)) + "."
        )


def create_project_as(
    uow: UnitOfWork, body: ProjectCreate, principal: Principal, *, plan: dl.Plan, actor: Actor, clock: Clock
) -> Project:
    """Create a project on behalf of `principal` (the API and the "Nouveau projet" page both call this).

    A principal bound to regions creates only there; a user who would not see the new project
    otherwise (a porteur) becomes its porteur."""
    check_region(principal, body.region, "créer de projet")
    owner = principal.id if principal.kind == "user" and not principal.reaches_region(body.region) else None
    return create_project(uow, body, plan=plan, actor=actor, clock=clock, porteur_user_id=owner)


def update_project(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    body: ProjectUpdate,
    *,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> Project:
    p = load_for_write(uow, project_id, expected_version, allow_closed=True, relations=())
    changes: dict[str, Any] = {}
    for name, value in plain(body.model_dump(exclude_unset=True)).items():
        if value is None and not Project.__table__.c[name].nullable:  # name, kind, region, conventionnement
            raise InvalidInput("Ce champ ne peut pas être vidé.", name)
        if getattr(p, name) != value:
            changes[name] = [getattr(p, name), value]
            setattr(p, name, value)
    if {"region", "departement"} & changes.keys():
        _check_departement(p.region, p.departement)
    if changes:
        record_change(uow, p, clock, actor, "project.updated", data={"changes": changes})
    uow.commit()  # even with nothing to write: a rollback would expire the project the caller reads next
    return p


def replan(
    uow: UnitOfWork, project_id: uuid.UUID, body: PlanBody, *, expected_version: int | None, actor: Actor, clock: Clock
) -> Project:
    p = load_for_write(uow, project_id, expected_version, relations=("suspensions",))
    months = {k.value: v for k, v in body.step_months.items()}
    if set(months) != {st.value for st in State if st not in TERMINAL}:
        raise InvalidInput("Donnez la durée (en mois) de chacune des six étapes.", "step_months")
    dl.check_plan(months, body.horizon_months)  # a plan longer than its horizon is refused (DOMAIN.md)
    before = plan_of(p).as_dict()
    p.step_months, p.horizon_months = months, body.horizon_months
    refresh_index(p)
    uow.projects.add_replan(
        Replan(
            project_id=p.id,
            step_months=months,
            horizon_months=body.horizon_months,
            reason=body.reason,
            actor=actor.label,
            recorded_at=clock.now(),
        )
    )
    record_change(
        uow, p, clock, actor, "plan.changed", reason=body.reason, data={"before": before, "after": plan_of(p).as_dict()}
    )
    uow.commit()
    return p


# --- reads --------------------------------------------------------------------------------------
def get_project(uow: UnitOfWork, project_id: uuid.UUID, *, with_evidence: bool | tuple[str, ...] = False) -> Project:
    p = uow.projects.get(project_id, with_evidence=with_evidence)
    if p is None:
        raise NotFound("Projet introuvable.")
    return p


def project_read(p: ProjectLike, today: date) -> ProjectRead:
    shown = dl.present(
        index_of(p), state=State(p.state), plan=plan_of(p), today=today, suspended_since=p.suspended_since
    )
    return ProjectRead(
        id=p.id,
        name=p.name,
        kind=Kind(p.kind),
        region=p.region,
        initiator=Initiator(p.initiator) if p.initiator is not None else None,
        departement=p.departement,
        conventionnement=Conventionnement(p.conventionnement),
        lead_name=p.lead_name,
        description=p.description,
        state=State(p.state),
        state_label=STATE_LABELS[State(p.state)],
        suspended=p.suspended_since is not None,
        suspended_since=p.suspended_since,
        started_on=p.started_on,
        state_entered_on=p.state_entered_on,
        last_transition_on=p.last_transition_on,
        labelled_on=p.labelled_on,
        closed_on=p.closed_on,
        closed_reason=p.closed_reason,
        horizon_on=shown.horizon_on,
        step_due_on=shown.step_due_on,
        projected_label_on=shown.projected_label_on,
        status=shown.status,
        within_horizon=None if p.labelled_on is None else p.labelled_on <= shown.horizon_on,
        plan=PlanRead(**plan_of(p).as_dict()),
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )
