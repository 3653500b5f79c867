"""Bulk import of existing projects with their history, replayed through the ordinary services.

Each project of the file is told the way app/demo/service.py tells the demo: for every day of its history the
clock is stopped on that day, the evidence of that day is recorded, then the transitions of that day
are fired with it as their effective date. The guards are the workflow's own: a transition whose
evidence is missing refuses the project with its unmet guard codes.

All or nothing per project: each project runs in one BatchUnitOfWork (one database transaction in
which the services' commits only flush); it is committed once its last step succeeded and rolled
back otherwise, so a refused project leaves no row at all (no project, event, outbox message, grant
or feed position). Projects are independent: a refused one does not stop the others.

The format (documented with an example in README, "Bulk import"):

    {"projects": [{
        "ref": "your own id, echoed in the report",
        "project": {<the body of POST /projects; started_on required>},
        "evidence": [{"kind": "stakeholders", "on": "2023-01-16", "ref": "amina", "data": {<POST body>}},
                     {"kind": "needs", "on": "2023-09-04", "update": "need-1", "data": {<PATCH body>}},
                     {"kind": "approvals", "on": "2023-10-02",
                      "data": {"stakeholder": "amina", "verdict": "favorable", "given_on": "2023-10-02"}}],
        "transitions": [{"trigger": "definir_contours", "effective_on": "2023-03-01", "reason": null}]
    }]}
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.authorization.rules import ROLE_ABILITIES, Ability, Principal, Role
from app.core.clock import Actor, Clock, FixedClock
from app.core.errors import AppError, Forbidden, Refusal
from app.core.schemas import Body, Reason
from app.core.unit_of_work import UnitOfWorkFactory
from app.evidence.registry import CONSULTANT_ONLY_KINDS, KINDS, EvidenceKind
from app.evidence.schemas import StakeholderIn
from app.evidence.service import add_evidence, update_evidence
from app.exchange.schemas import (
    MAX_EVIDENCE,
    MAX_TRANSITIONS,
    FieldProblem,
    ImportReport,
    ProjectOutcome,
)
from app.projects.schemas import ProjectCreate
from app.projects.service import ProjectLike, create_project
from app.transitions.schemas import TransitionBody, UnmetRead
from app.transitions.service import fire_transition
from workflow import deadlines as dl
from workflow.errors import DomainError, GuardsUnmet, InvalidInput
from workflow.vocabulary import CONSULTANT_ONLY

log = logging.getLogger("regieflow")


IMPORT_ACTOR = Actor("system", "import", "Import")


Ref = Field(None, min_length=1, max_length=100)


# --- the file -----------------------------------------------------------------------------------
class _Strict(Body):
    """Unknown fields refused, and text a database cannot store (NUL) too, like every API body."""


if TYPE_CHECKING:  # a kind is a string to the type checker; pydantic needs the literal choices at run time
    KindName = str
else:
    KindName = Literal[tuple(KINDS)]


class EvidenceStep(_Strict):
    kind: KindName
    on: date = Field(..., description="Day it was recorded (the clock is set to that day).")
    ref: str | None = Field(
        None, min_length=1, max_length=100, description="Your name for this item, for a later `update` or an approval."
    )
    update: str | None = Field(
        None, min_length=1, max_length=100, description="Change the earlier item with this `ref` (body of its PATCH)."
    )
    data: dict[str, Any]


class TransitionStep(_Strict):
    trigger: str = Field(..., min_length=1, max_length=40)
    effective_on: date
    reason: Reason | None = None


class ImportedProject(_Strict):
    """The envelope of one project; its parts are checked one by one (to report every problem at once)."""

    ref: str | None = Field(None, min_length=1, max_length=100)
    project: dict[str, Any]
    evidence: list[Any] = Field(default_factory=list, max_length=MAX_EVIDENCE)
    transitions: list[Any] = Field(default_factory=list, max_length=MAX_TRANSITIONS)


@dataclass
class Checked:
    ref: str | None
    project: ProjectCreate


# --- checking a project before running it -------------------------------------------------------
@dataclass
class Step:
    on: date
    order: tuple[int, int]  # evidence before transitions on the same day, then file order
    where: str
    evidence: EvidenceStep | None = None
    body: BaseModel | None = None  # the validated POST/PUT/PATCH body of an evidence step
    stakeholder_ref: str | None = None  # an approval's stakeholder
    expertise_ref: str | None = None  # the expertise a rating or a reservation belongs to
    transition: TransitionStep | None = None


@dataclass
class Plan:
    item: Checked
    started_on: date  # the project's, checked
    steps: list[Step] = field(default_factory=list)


def _errors(exc: ValidationError, prefix: str) -> list[FieldProblem]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *e.get("loc", ())) if p != "")
        out.append(FieldProblem(field=loc or "body", message=e.get("msg", "")))
    return out


def check(raw: dict[str, Any], today: date) -> tuple[Plan | None, list[FieldProblem]]:
    """Validate one project of the file and order its history; (plan, []) or (None, every problem)."""
    problems: list[FieldProblem] = []
    envelope = _envelope(raw, problems)
    if envelope is None:
        return None, problems
    item = _checked_project(envelope, problems)
    started_on = _started_on(item, today, problems)
    start = started_on or date.min
    evidence = _validated(envelope.evidence, EvidenceStep, "evidence", problems)
    transitions = _validated(envelope.transitions, TransitionStep, "transitions", problems)
    recorded = (_evidence_step(i, ev, start=start, today=today, problems=problems) for i, ev in evidence)
    steps = [st for st in recorded if st is not None]
    steps += [_transition_step(i, tr, start=start, today=today, problems=problems) for i, tr in transitions]
    steps.sort(key=lambda st: (st.on, st.order))
    problems += _reference_problems(steps)
    if problems or item is None or started_on is None:
        return None, problems
    return Plan(item, started_on, steps), []


def _envelope(raw: dict[str, Any], problems: list[FieldProblem]) -> ImportedProject | None:
    """The project's envelope; unknown fields are reported and set aside, any other problem stops here."""
    try:
        return ImportedProject.model_validate(raw)
    except ValidationError as exc:
        problems += _errors(exc, "")
        if any(e["type"] != "extra_forbidden" for e in exc.errors()):
            return None
    return ImportedProject.model_validate({k: v for k, v in raw.items() if k in ImportedProject.model_fields})


def _checked_project(envelope: ImportedProject, problems: list[FieldProblem]) -> Checked | None:
    """The body of POST /projects, validated like the API does."""
    try:
        return Checked(envelope.ref, ProjectCreate.model_validate(envelope.project))
    except ValidationError as exc:
        problems += _errors(exc, "project")
        return None


def _started_on(item: Checked | None, today: date, problems: list[FieldProblem]) -> date | None:
    """The day the groupe projet started: required here (the history is replayed from it), not in the future."""
    start = item.project.started_on if item is not None else None
    if item is not None and start is None:
        problems.append(
            FieldProblem(
                field="project.started_on",
                message="Indiquez le jour où le groupe projet a démarré : l'historique se rejoue à partir de là.",
            )
        )
    elif start is not None and start > today:
        problems.append(FieldProblem(field="project.started_on", message="Cette date ne peut pas être dans le futur."))
    return start


StepModel = TypeVar("StepModel", bound=BaseModel)


def _validated(
    raws: list[Any], model: type[StepModel], prefix: str, problems: list[FieldProblem]
) -> list[tuple[int, StepModel]]:
    """Each item of a list of the file that `model` accepts, with its position (the others are reported)."""
    out: list[tuple[int, StepModel]] = []
    for i, raw in enumerate(raws):
        try:
            out.append((i, model.model_validate(raw)))
        except ValidationError as exc:
            problems += _errors(exc, f"{prefix}.{i}")
    return out


def _evidence_step(i: int, ev: EvidenceStep, *, start: date, today: date, problems: list[FieldProblem]) -> Step | None:
    """The step that records `ev`, its body validated by the kind's POST (or PATCH) schema; None if refused."""
    where = f"evidence.{i}"
    kind = KINDS[ev.kind]
    data = dict(ev.data)
    stakeholder_ref = None
    if ev.kind == "approvals" and ev.update is None:
        stakeholder_ref = _approval_stakeholder(where, data, problems)
        if stakeholder_ref is None:
            return None
    expertise_ref = None
    if ev.kind in EXPERTISE_PARTS and ev.update is None:
        expertise_ref = _expertise_of(where, data, problems)
        if expertise_ref is None:
            return None
    model = _schema_of(kind, ev, where, problems)
    if model is None:
        return None
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        problems += _errors(exc, f"{where}.data")
        return None
    if not (start <= ev.on <= today):
        problems.append(
            FieldProblem(
                field=f"{where}.on",
                message="Le jour d'enregistrement doit être entre le démarrage du groupe projet et aujourd'hui.",
            )
        )
    return Step(
        ev.on, (0, i), where, evidence=ev, body=body, stakeholder_ref=stakeholder_ref, expertise_ref=expertise_ref
    )


# The grid's rows that belong to an expertise (app/assessments): the file names it by its `ref`.
EXPERTISE_PARTS = ("expertise-assessments", "reservations")


def _expertise_of(where: str, data: dict[str, Any], problems: list[FieldProblem]) -> str | None:
    """The `expertise` ref a rating or a reservation names (taken out of `data`); None if missing."""
    if "expertise_id" in data:
        problems.append(
            FieldProblem(
                field=f"{where}.data.expertise_id",
                message="Les identifiants ne sont pas encore connus : nommez l'expertise avec « expertise » "
                "(sa « ref »).",
            )
        )
        return None
    ref = data.pop("expertise", None)
    if not isinstance(ref, str) or not ref:
        problems.append(
            FieldProblem(field=f"{where}.data.expertise", message="Indiquez la « ref » de l'expertise concernée.")
        )
        return None
    data["expertise_id"] = 1  # placeholder, replaced by the real id when the row is recorded
    return ref


def _approval_stakeholder(where: str, data: dict[str, Any], problems: list[FieldProblem]) -> str | None:
    """The `stakeholder` an approval names (taken out of `data`, which gets a placeholder id); None if missing."""
    if "stakeholder_id" in data:
        problems.append(
            FieldProblem(
                field=f"{where}.data.stakeholder_id",
                message="Les identifiants ne sont "
                "pas encore connus : nommez la partie prenante avec « stakeholder » "
                "(sa « ref » ou son nom).",
            )
        )
        return None
    stakeholder_ref = data.pop("stakeholder", None)
    if not isinstance(stakeholder_ref, str) or not stakeholder_ref:
        problems.append(
            FieldProblem(
                field=f"{where}.data.stakeholder",
                message="Indiquez la « ref » (ou le nom) de la partie prenante qui donne cet avis.",
            )
        )
        return None
    data["stakeholder_id"] = 1  # placeholder, replaced by the real id when the approval is recorded
    return stakeholder_ref


def _schema_of(
    kind: EvidenceKind, ev: EvidenceStep, where: str, problems: list[FieldProblem]
) -> type[BaseModel] | None:
    """The schema of `ev`'s data: the kind's POST body, or its PATCH body for an `update` (None for a singleton)."""
    if ev.update is None:
        return kind.create
    if kind.patch is None:
        problems.append(
            FieldProblem(
                field=f"{where}.update",
                message="Un élément unique (étude, association) se remplace : donnez-le à nouveau, sans « update ».",
            )
        )
    return kind.patch


def _transition_step(i: int, tr: TransitionStep, *, start: date, today: date, problems: list[FieldProblem]) -> Step:
    where = f"transitions.{i}"
    if not (start <= tr.effective_on <= today):
        problems.append(
            FieldProblem(
                field=f"{where}.effective_on",
                message="La date d'effet doit être entre le démarrage du groupe projet et aujourd'hui.",
            )
        )
    return Step(tr.effective_on, (1, i), where, transition=tr)


def _reference_problems(steps: list[Step]) -> list[FieldProblem]:
    """An `update` or an approval names an item recorded before it (in the replayed order); refs are unique."""
    problems: list[FieldProblem] = []
    seen: dict[str, str] = {}  # ref -> kind
    names: dict[str, int] = {}  # stakeholder name -> how many
    for st in steps:
        ev = st.evidence
        if ev is None:
            continue
        if ev.update is not None and seen.get(ev.update) != ev.kind:
            problems.append(
                FieldProblem(
                    field=f"{st.where}.update",
                    message=f"Aucun élément « {ev.kind} » de ref « {ev.update} » n'est enregistré avant ce jour.",
                )
            )
        if (
            st.stakeholder_ref is not None
            and seen.get(st.stakeholder_ref) != "stakeholders"
            and names.get(st.stakeholder_ref) != 1
        ):
            problems.append(
                FieldProblem(
                    field=f"{st.where}.data.stakeholder",
                    message=f"Aucune partie prenante "
                    f"« {st.stakeholder_ref} » (ref ou nom unique) n'est enregistrée avant ce jour.",
                )
            )
        if st.expertise_ref is not None and seen.get(st.expertise_ref) != "expertises":
            problems.append(
                FieldProblem(
                    field=f"{st.where}.data.expertise",
                    message=f"Aucune expertise de ref « {st.expertise_ref} » n'est enregistrée avant ce jour.",
                )
            )
        if ev.ref is not None:
            if ev.ref in seen:
                problems.append(FieldProblem(field=f"{st.where}.ref", message=f"La ref « {ev.ref} » est déjà prise."))
            seen[ev.ref] = ev.kind
        if ev.kind == "stakeholders" and ev.update is None and isinstance(st.body, StakeholderIn):
            names[st.body.name] = names.get(st.body.name, 0) + 1
    return problems


# --- access (API): refuse the whole request before anything is written --------------------------------
def _mapping(value: object) -> dict[str, Any]:
    """`value` if the file has an object there, else nothing (validation reports it)."""
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    """`value` if the file has a list there, else nothing (validation reports it)."""
    return value if isinstance(value, list) else []


def check_access(items: list[dict[str, Any]], principal: Principal) -> None:
    """Each project's region must be one the caller may create in; expertise and the label triggers
    need a consultant. Any breach refuses the whole request (403), like POST /projects would."""
    problems = []
    for i, raw in enumerate(items):
        region = _mapping(raw.get("project")).get("region")
        label = f"n°{i}" + (f" ({raw['ref']})" if isinstance(raw.get("ref"), str) else "")
        if not isinstance(region, str):
            continue  # refused by validation, in the report
        region = region.strip()
        if principal.create_regions is not None and region not in principal.create_regions:
            problems.append(
                f"projet {label} : vous ne pouvez créer de projet que dans vos régions "
                f"({', '.join(sorted(principal.create_regions))})"
            )
            continue
        abilities = set(principal.abilities(uuid.uuid4(), region))
        if principal.kind == "user" and not principal.reaches_region(region):
            abilities |= ROLE_ABILITIES[Role.PORTEUR]  # they would become its porteur
        consultant_steps: list[str] = [
            e["kind"]
            for e in _list(raw.get("evidence"))
            if isinstance(e, dict) and e.get("kind") in CONSULTANT_ONLY_KINDS
        ]
        consultant_steps += [
            t["trigger"]
            for t in _list(raw.get("transitions"))
            if isinstance(t, dict) and t.get("trigger") in {x.value for x in CONSULTANT_ONLY}
        ]
        if consultant_steps and Ability.CONSULTANT not in abilities:
            problems.append(
                f"projet {label} : seul un consultant du Mouvement des Régies peut enregistrer "
                f"l'expertise, attribuer ou ajourner le label ({', '.join(sorted(set(consultant_steps)))})"
            )
    if problems:
        raise Forbidden("Import refusé : " + " ; ".join(problems) + ".")


# --- running it -------------------------------------------------------------------------------------
class _Clocks:
    """A clock stopped on each historical day (a second later at each call); the real clock today."""

    def __init__(self, real: Clock) -> None:
        self.real = real
        self.today = real.today()
        self.ticks: dict[date, int] = {}

    def on(self, day: date) -> Clock:
        if day >= self.today:
            return self.real
        tick = self.ticks.get(day, 0)
        self.ticks[day] = tick + 1
        local = datetime.combine(day, time(12, 0), self.real.tz) + timedelta(seconds=tick)
        return FixedClock(tz=self.real.tz, at=local.astimezone(UTC))


def _refusal(outcome: ProjectOutcome, exc: DomainError | AppError, where: str) -> ProjectOutcome:
    outcome.status, outcome.code, outcome.detail, outcome.at = "refused", exc.code, exc.message, where
    if isinstance(exc, GuardsUnmet):
        outcome.unmet = [UnmetRead(code=u.code, message=u.message) for u in exc.unmet]
    if isinstance(exc, InvalidInput) and exc.field:
        outcome.errors = [FieldProblem(field=f"{where}.{exc.field}", message=exc.message)]
    return outcome


def run_one(
    uows: UnitOfWorkFactory,
    plan: Plan,
    outcome: ProjectOutcome,
    *,
    default_plan: dl.Plan,
    actor: Actor,
    clock: Clock,
    principal: Principal | None,
    dry_run: bool,
) -> ProjectOutcome:
    item = plan.item
    clocks = _Clocks(clock)
    body = item.project
    owner = None
    if principal is not None and principal.kind == "user" and not principal.reaches_region(body.region):
        owner = principal.id  # like POST /projects: a user who would not see it becomes its porteur
    where = "project"
    with uows.batch() as uow:
        try:
            p: ProjectLike = create_project(
                uow, body, plan=default_plan, actor=actor, clock=clocks.on(plan.started_on), porteur_user_id=owner
            )
            ids: dict[str, int] = {}  # ref -> row id
            names: dict[str, int] = {}  # stakeholder name -> row id
            for st in plan.steps:
                where = st.where
                day_clock = clocks.on(st.on)
                if st.transition is not None:
                    tr = st.transition
                    p = fire_transition(
                        uow,
                        p.id,
                        tr.trigger,
                        TransitionBody(effective_on=tr.effective_on, reason=tr.reason),
                        expected_version=None,
                        actor=actor,
                        clock=day_clock,
                    )
                    continue
                ev = st.evidence
                assert ev is not None and st.body is not None
                kind = KINDS[ev.kind]
                if ev.update is not None:
                    p, row = update_evidence(
                        uow, p.id, kind, ids[ev.update], st.body, expected_version=None, actor=actor, clock=day_clock
                    )
                else:
                    evidence_body = st.body
                    if st.stakeholder_ref is not None:
                        sid = ids.get(st.stakeholder_ref) or names[st.stakeholder_ref]
                        evidence_body = st.body.model_copy(update={"stakeholder_id": sid})
                    if st.expertise_ref is not None:
                        evidence_body = st.body.model_copy(update={"expertise_id": ids[st.expertise_ref]})
                    p, row, _ = add_evidence(
                        uow, p.id, kind, evidence_body, expected_version=None, actor=actor, clock=day_clock
                    )
                if ev.ref is not None and getattr(row, "id", None) is not None:
                    ids[ev.ref] = row.id
                if ev.kind == "stakeholders":
                    names[row.name] = row.id
            outcome.state, outcome.version = p.state, p.version
            if not dry_run:
                uow.finish()
                outcome.project_id = p.id
            return outcome
        except Refusal as exc:
            return _refusal(outcome, exc, where)
        except SQLAlchemyError:
            log.exception("bulk import: database error on project %s (%s)", outcome.index, where)
            outcome.status, outcome.code, outcome.at = "refused", "erreur_base_de_donnees", where
            outcome.detail = "La base de données a refusé ces données ; rien n'a été enregistré pour ce projet."
            return outcome


def import_projects(
    uows: UnitOfWorkFactory,
    items: list[dict[str, Any]],
    *,
    default_plan: dl.Plan,
    actor: Actor,
    clock: Clock,
    principal: Principal | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import each project in its own transaction; the report says, per project, what happened."""
    today = clock.today()
    outcomes = []
    for index, raw in enumerate(items):
        project = _mapping(raw.get("project"))
        ref = raw.get("ref")
        outcome = ProjectOutcome(
            index=index,
            ref=ref if isinstance(ref, str) else None,
            name=project.get("name") if isinstance(project.get("name"), str) else None,
            status="imported",
        )
        plan, problems = check(raw, today)
        if plan is None:
            outcome.status, outcome.code = "refused", "requete_invalide"
            outcome.detail = "Le projet ne respecte pas le format attendu : voir « errors »."
            outcome.errors = problems
        else:
            run_one(
                uows,
                plan,
                outcome,
                default_plan=default_plan,
                actor=actor,
                clock=clock,
                principal=principal,
                dry_run=dry_run,
            )
        outcomes.append(outcome)
    imported = sum(o.status == "imported" for o in outcomes)
    return ImportReport(dry_run=dry_run, imported=imported, refused=len(outcomes) - imported, projects=outcomes)
