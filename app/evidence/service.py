"""Service functions: one transaction each. Routers parse and authorise, the workflow decides,
repositories persist state, event and outbox together, and only the unit of work commits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel

from app.core.clock import Actor, Clock
from app.core.errors import Conflict, NotFound
from app.core.unit_of_work import UnitOfWork
from app.evidence.registry import KINDS, EvidenceKind
from app.projects.models import Project
from app.projects.service import jsonable, load_for_write, plain, record_change
from workflow.errors import InvalidInput

# An approval the stakeholder gave themselves (answering an opinion request) is theirs: the project
# may neither rewrite nor remove it; only a new request, answered by the stakeholder, supersedes it.
GIVEN_BY_STAKEHOLDER = (
    "Cet avis a été donné par la partie prenante elle-même, en réponse à une demande d'avis : il ne peut "
    "être ni modifié ni supprimé. Pour le faire évoluer, envoyez-lui une nouvelle demande d'avis."
)


def _check_not_given(kind: EvidenceKind, row: Any) -> None:
    if kind.name == "approvals" and getattr(row, "source", None) is not None:
        raise Conflict(GIVEN_BY_STAKEHOLDER)


def _check_past(kind: EvidenceKind, values: dict[str, Any], today: date) -> None:
    for name in kind.past_dates:
        v = values.get(name)
        if isinstance(v, date) and v > today:
            raise InvalidInput("Cette date ne peut pas être dans le futur.", name)


def _stamp(kind: EvidenceKind, values: dict[str, Any], actor: Actor, today: date, *, creating: bool) -> None:
    """Values the server fills in: today's date for a date left out, who set a stamped date."""
    if creating:
        for name in kind.today_default:
            if values.get(name) is None:
                values[name] = today
    if kind.stamp_actor is not None:
        when, who = kind.stamp_actor
        if when in values:
            values[who] = actor.name if values[when] is not None else None


# --- evidence -----------------------------------------------------------------------------------
def _relations_for(kind: EvidenceKind) -> tuple[str, ...]:
    """What an evidence write reads: its own rows, and stakeholders with approvals (cross-checks)."""
    if kind.name in ("stakeholders", "approvals"):
        return ("stakeholders", "approvals")
    return (kind.relation,)


def _rows(p: Project, kind: EvidenceKind) -> list[Any]:
    rows: list[Any] = getattr(p, kind.relation)  # a collection kind's relation: a list of its rows
    return rows


def _find(p: Project, kind: EvidenceKind, item_id: int) -> Any:
    row = next((r for r in _rows(p, kind) if r.id == item_id), None)
    if row is None:
        raise NotFound(f"Élément introuvable ({kind.label}).")
    return row


def _check_unique(p: Project, kind: EvidenceKind, values: dict[str, Any], exclude: Any = None) -> None:
    for name in kind.unique:
        if name in values and any(getattr(r, name) == values[name] for r in _rows(p, kind) if r is not exclude):
            raise Conflict(f"« {values[name]} » est déjà enregistré pour ce projet ({kind.label}).")


def add_evidence(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    kind: EvidenceKind,
    body: BaseModel,
    *,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> tuple[Project, Any, bool]:
    """Add a row (or record/replace a singleton); returns the project, the row and whether it is new."""
    p = load_for_write(uow, project_id, expected_version, relations=_relations_for(kind))
    values = plain(body.model_dump())
    _stamp(kind, values, actor, clock.today(), creating=True)
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
    record_change(
        uow,
        p,
        clock,
        actor,
        "evidence.created" if created else "evidence.updated",
        data={"kind": kind.name, "id": getattr(row, "id", None), "values": jsonable(values)},
    )
    uow.commit()
    return p, row, created


def update_evidence(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    kind: EvidenceKind,
    item_id: int,
    body: BaseModel,
    *,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> tuple[Project, Any]:
    p = load_for_write(uow, project_id, expected_version, relations=_relations_for(kind))
    row = _find(p, kind, item_id)
    _check_not_given(kind, row)
    changes = {k: v for k, v in plain(body.model_dump(exclude_unset=True)).items() if getattr(row, k) != v}
    _stamp(kind, changes, actor, clock.today(), creating=False)
    for name, value in changes.items():
        if value is None and not kind.model.__table__.c[name].nullable:
            raise InvalidInput("Ce champ ne peut pas être vidé.", name)
    if kind.name == "stakeholders" and "category" in changes and any(a.stakeholder_id == row.id for a in p.approvals):
        raise Conflict(
            "Cette partie prenante a donné un avis : sa catégorie ne peut plus changer (l'avis compte pour "
            "cette catégorie). Enregistrez une autre partie prenante si besoin."
        )
    merged = {c.key: getattr(row, c.key) for c in kind.model.__table__.c} | changes
    _check_past(kind, changes, clock.today())
    if kind.extra_check:
        kind.extra_check(p, merged)
        # what the check filled in counts as a change too (a commune's official name comes with its code)
        changes |= {k: v for k, v in merged.items() if k not in changes and getattr(row, k) != v}
    _check_unique(p, kind, changes, exclude=row)
    for name, value in changes.items():
        setattr(row, name, value)
    if changes:
        record_change(
            uow,
            p,
            clock,
            actor,
            "evidence.updated",
            data={"kind": kind.name, "id": item_id, "values": jsonable(changes)},
        )
    uow.commit()  # even with nothing to write: a rollback would expire the rows the caller reads next
    return p, row


def delete_evidence(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    kind: EvidenceKind,
    item_id: int | None,
    *,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> Project:
    p = load_for_write(uow, project_id, expected_version, relations=_relations_for(kind))
    if kind.singleton:
        row = getattr(p, kind.relation)
        if row is None:
            raise NotFound(f"Élément introuvable ({kind.label}).")
        setattr(p, kind.relation, None)
    else:
        assert item_id is not None
        row = _find(p, kind, item_id)
        _check_not_given(kind, row)
        if kind.name == "stakeholders" and any(a.stakeholder_id == row.id for a in p.approvals):
            raise Conflict("Cette partie prenante a donné un avis : elle ne peut pas être retirée du projet.")
        for other, column in kind.referenced_by:
            if any(getattr(r, column) == row.id for r in getattr(p, KINDS[other].relation)):
                raise Conflict(
                    f"Cet élément est repris ailleurs ({KINDS[other].label}) : retirez d'abord ce qui s'y rapporte."
                )
        _rows(p, kind).remove(row)
    uow.projects.remove_evidence(row)
    record_change(uow, p, clock, actor, "evidence.deleted", data={"kind": kind.name, "id": item_id})
    uow.commit()
    return p
