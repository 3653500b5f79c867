"""Evidence forms: /projets/{project_id}/preuves/{kind}, one page per kind of the registry (app.evidence.KINDS).

The forms are generated from the API's schemas (app.web.forms); a POST goes through the very services
the API calls (services.add_evidence / update_evidence / delete_evidence) with the same schemas, so
there is one validation path. Access: the route names are in app.authz.RULES and pages.page_access
checks them like the API does (writes on the expertise need a consultant, see authz.needs_for).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from starlette.datastructures import FormData

from app.authorization.rules import Principal, may, needs_for
from app.core.errors import ConcurrentUpdate, Conflict, NotFound, PreconditionFailed
from app.core.identifiers import parse_uuid
from app.core.inputs import ascii_id
from app.evidence.registry import CONSULTANT_ONLY_KINDS, KINDS, EvidenceKind, with_reservations
from app.evidence.service import add_evidence, delete_evidence, update_evidence
from app.http.dependencies import actor_of, unit_of_work
from app.opinions.models import OpinionAnswer, OpinionRequest
from app.projects.history_view import actor_names
from app.projects.models import Event, Project
from app.projects.service import CLOSED_MESSAGE, get_project
from app.reference.cog import MAX_QUERY, Commune, cog
from app.reference.communes import UnknownCommune, commune_outside
from app.web import wording
from app.web.forms import (
    ENUM_LABELS,
    FIELD_LABELS,
    KIND_FIELD_LABELS,
    Field,
    FormState,
    defaults,
    early_errors,
    fields_of,
    form_version,
    grouped,
    parse,
    record_validation,
    values_from,
)
from app.web.templating import FLASH_MESSAGES, PageRoute, PageUser, render
from workflow.errors import InvalidInput, ProjectClosed
from workflow.vocabulary import CATEGORY_LABELS, STATE_LABELS, TERMINAL, Category, State

router = APIRouter(include_in_schema=False, route_class=PageRoute)


BASE = "/projets/{project_id}/preuves/{kind}"


FLASH_MESSAGES.update(
    {
        "preuve_ajoutee": "L'élément a été ajouté au dossier.",
        "preuve_modifiee": "Les modifications ont été enregistrées.",
        "preuve_enregistree": "La fiche a été enregistrée.",
        "preuve_supprimee": "L'élément a été supprimé du dossier.",
    }
)


EUROS = frozenset({"annual_charges", "market_income", "non_market_income", "annual_amount"})


INTRO: dict[str, str] = {
    "stakeholders": "Les membres du groupe projet : habitants, collectivités, bailleurs sociaux, partenaires "
    "socio-économiques et le consultant du Mouvement qui pilote le projet (AMO).",
    "communes": "Les communes du territoire de la future régie (code INSEE).",
    "qpvs": "Les quartiers prioritaires de la politique de la ville concernés (obligatoire pour une Régie de "
    "Quartier).",
    "needs": "Les besoins du territoire ; l'étude de faisabilité confirme ou écarte chacun d'eux.",
    "activities": "Les activités prioritaires envisagées.",
    "feasibility": "Le modèle économique, les locaux et la conclusion de l'étude de faisabilité.",
    "markets": "Les activités ou marchés publics qu'une collectivité ou un bailleur peut commander.",
    "site-visits": "Les visites de régies existantes.",
    "approvals": "Les avis formels des acteurs du territoire sur le projet.",
    "association": "L'association de préfiguration déclarée (numéro RNA).",
    "board-members": "Le conseil d'administration de l'association, par collège.",
    "hires": "Les personnes recrutées pour lancer le projet.",
    "expertises": "L'expertise sur site conduite par le Mouvement des Régies (réservée à ses consultants).",
}


async def _form(request: Request) -> FormData:
    return await request.form()  # already read (and cached) by page_access for the CSRF field


Form = Annotated[FormData, Depends(_form)]


# --- loading --------------------------------------------------------------------------------------
def _kind(name: str) -> EvidenceKind:
    kind = KINDS.get(name)
    if kind is None:
        raise NotFound("Cette pièce du dossier n'existe pas.")
    return kind


def _project_id(value: str) -> uuid.UUID:
    pid = parse_uuid(value)
    if pid is None:  # page_access already answers 404 for this; kept for clarity
        raise NotFound("Projet introuvable.")
    return pid


def _item_id(value: str) -> int:
    item_id = ascii_id(value)
    if item_id is None:
        raise NotFound("Élément introuvable.")
    return item_id


def _relations(kind: EvidenceKind) -> tuple[str, ...]:
    return ("stakeholders", "approvals") if kind.name == "approvals" else (kind.relation,)


@contextmanager
def _project(request: Request, pid: uuid.UUID, kind: EvidenceKind) -> Iterator[Project]:
    with unit_of_work(request, write=False) as uow:
        yield get_project(uow, pid, with_evidence=_relations(kind))


def _row(p: Project, kind: EvidenceKind, item_id: int) -> Any:
    row = next((r for r in getattr(p, kind.relation) if r.id == item_id), None)
    if row is None:
        raise NotFound(f"Élément introuvable ({kind.label}).")
    return row


# --- forms ----------------------------------------------------------------------------------------
def _choices(kind: EvidenceKind, p: Project) -> dict[str, tuple[tuple[str, str], ...]]:
    if kind.name != "approvals":
        return {}
    return {
        "stakeholder_id": tuple(
            (str(st.id), f"{st.name} ({CATEGORY_LABELS[Category(st.category)]})") for st in p.stakeholders
        )
    }


def create_fields(kind: EvidenceKind, p: Project | None = None) -> list[Field]:
    return fields_of(kind.create, kind=kind.name, choices=_choices(kind, p) if p is not None else None)


def patch_fields(kind: EvidenceKind) -> list[Field]:
    """The change form: the patch schema's fields, marked required where creating requires them."""
    assert kind.patch is not None
    created = {f.name: f for f in create_fields(kind)}
    return [
        replace(f, required=created[f.name].required, blank=created[f.name].blank) if f.name in created else f
        for f in fields_of(kind.patch, kind=kind.name)
    ]


def _legend(kind: EvidenceKind, editing: bool) -> str:
    if kind.singleton:
        return kind.label
    return f"Modifier l'élément ({kind.label})" if editing else f"Ajouter : {kind.label}"


def _state(kind: EvidenceKind, fields: list[Field], editing: bool, values: dict[str, str]) -> FormState:
    return FormState(grouped(kind.name, fields, _legend(kind, editing)), values)


# --- display --------------------------------------------------------------------------------------
# Columns of the lists that only the read schemas have (what the official geographic code says).
READ_LABELS: dict[str, dict[str, str]] = {
    "approvals": {"source": "Origine de l'avis"},
    "communes": {
        "official": "Commune du code officiel",
        "departement": "Département",
        "outside_territory": "Hors du territoire du projet",
    },
}


def field_label(kind: EvidenceKind, name: str) -> str:
    return (
        READ_LABELS.get(kind.name, {}).get(name)
        or KIND_FIELD_LABELS.get(kind.name, {}).get(name)
        or FIELD_LABELS.get(name, name)
    )


def shown(name: str, value: Any, names: dict[int, str]) -> str:
    """A value as a page shows it, in French."""
    if value is None or value == "" or value == []:
        return "—"
    if name == "stakeholder_id":
        return names.get(value, f"n° {value}")
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, Enum):
        return ENUM_LABELS.get(type(value), {}).get(value, str(value.value))
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int):
        text = f"{value:,}".replace(",", "\u202f")
        return f"{text} €" if name in EUROS else text
    return str(value)


def _columns(kind: EvidenceKind) -> list[str]:
    return [n for n in kind.read.model_fields if n != "id"]


def _names(p: Project, kind: EvidenceKind) -> dict[int, str]:
    if kind.name != "approvals":
        return {}
    return {st.id: f"{st.name} ({CATEGORY_LABELS[Category(st.category)]})" for st in p.stakeholders}


def _title(kind: EvidenceKind, item: Any, names: dict[int, str]) -> str:
    """A short name for one item, for the accessible names of its buttons and links."""
    if kind.name == "approvals":
        return f"avis {wording.de(names.get(item.stakeholder_id, '?'))} du {wording.date_fr(item.given_on)}"
    if kind.name == "expertises":
        return f"expertise du {wording.date_fr(item.conducted_on)}"
    for attr in ("name", "label", "regie_name", "code"):
        value = getattr(item, attr, None)
        if value:
            return str(value)
    return kind.label


@dataclass(frozen=True)
class Item:
    id: int | None
    title: str
    cells: list[tuple[str, str]]  # (column label, value shown)
    locked: bool = False  # given by the stakeholder themselves: neither changed nor removed here


def _session(p: Project) -> Session:
    session = object_session(p)
    assert session is not None  # read inside its unit of work
    return session


def approval_origins(session: Session, p: Project) -> dict[int, str]:
    """Whether each approval was given by the stakeholder (through the link, with the address it went
    to, or from their account) or recorded by someone (named from the event that created it)."""
    origins: dict[int, str] = {}
    sourced = {a.id for a in p.approvals if a.source is not None}
    if sourced:
        rows = session.execute(
            select(OpinionAnswer.approval_id, OpinionAnswer.via, OpinionRequest.email)
            .join(OpinionRequest, OpinionRequest.id == OpinionAnswer.request_id)
            .where(OpinionAnswer.approval_id.in_(sourced))
        )
        for approval_id, via, email in rows:
            if approval_id is None:
                continue
            origins[approval_id] = (
                f"donné par la partie prenante, par le lien envoyé à {email}"
                if via == "lien"
                else f"donné par la partie prenante depuis son compte ({email})"
            )
    recorded = {a.id for a in p.approvals if a.source is None}
    if recorded:
        creators: dict[int, str | None] = {}
        events = session.execute(
            select(Event.actor, Event.data).where(Event.project_id == p.id, Event.type == "evidence.created")
        )
        for actor, data in events:
            if isinstance(data, dict) and data.get("kind") == "approvals" and data.get("id") in recorded:
                creators[data["id"]] = actor
        names = actor_names(session, creators.values())
        for approval_id in recorded:
            who = creators.get(approval_id)
            origins[approval_id] = f"enregistré par {names[who]}" if who else "enregistré pour la partie prenante"
    for a in p.approvals:
        origins.setdefault(a.id, "donné par la partie prenante")
    return origins


def _item(kind: EvidenceKind, row: Any, names: dict[int, str], origins: dict[int, str] | None = None) -> Item:
    item = kind.read.model_validate(row)
    cells = [(field_label(kind, n), shown(n, getattr(item, n), names)) for n in _columns(kind)]
    locked = kind.name == "approvals" and getattr(item, "source", None) is not None
    if kind.name == "approvals" and with_reservations(row):
        verdict = field_label(kind, "verdict")
        cells = [(c, "Favorable avec réserves" if c == verdict else v) for c, v in cells]
    if kind.name == "approvals" and origins is not None:
        label = field_label(kind, "source")
        own = getattr(item, "id", None)
        cells = [(c, origins.get(own, v) if c == label and own is not None else v) for c, v in cells]
    return Item(getattr(item, "id", None), _title(kind, item, names), cells, locked)


def _context(request: Request, principal: Principal, p: Project, kind: EvidenceKind) -> dict[str, Any]:
    closed = State(p.state) in TERMINAL
    can_write = not closed and may(principal, p.id, p.region, needs_for("page_evidence_create", {"kind": kind.name}))
    return {
        "project": {"id": str(p.id), "name": p.name, "state_label": STATE_LABELS[State(p.state)]},
        "kind": kind,
        "kinds": list(KINDS.values()),
        "closed": closed,
        "can_write": can_write,
        "consultant_only": kind.name in CONSULTANT_ONLY_KINDS,
        "intro": INTRO.get(kind.name, ""),
        "page_url": f"/projets/{p.id}/preuves/{kind.name}",
        "section": "portefeuille",
        # sent back by the forms that change or delete what the page shows: a save refused with 412 if
        # the project changed since the page was read (no silent lost update between two people)
        "version": p.version,
    }


# --- pages ----------------------------------------------------------------------------------------
def _kind_page(
    request: Request,
    principal: Principal,
    pid: uuid.UUID,
    kind: EvidenceKind,
    form: FormState | None = None,
    status: int = 200,
    suggested: list[Commune] | None = None,
) -> Response:
    with _project(request, pid, kind) as p:
        ctx = _context(request, principal, p, kind)
        if kind.name == "communes":
            ctx["commune_search"] = _commune_search(request, p, suggested)
        names = _names(p, kind)
        record = None
        items: list[Item] = []
        if kind.singleton:
            row = getattr(p, kind.relation)
            record = _item(kind, row, names) if row is not None else None
            if form is None:
                fields = create_fields(kind, p)
                form = _state(kind, fields, False, values_from(row, fields) if row is not None else defaults(fields))
        else:
            origins = approval_origins(_session(p), p) if kind.name == "approvals" else None
            items = [_item(kind, row, names, origins) for row in getattr(p, kind.relation)]
            if form is None:
                fields = create_fields(kind, p)
                form = _state(kind, fields, False, defaults(fields))
        if kind.name == "approvals" and not p.stakeholders:
            ctx["no_stakeholders"] = True
        columns = [field_label(kind, n) for n in _columns(kind)]
        return render(
            request,
            "evidence.html",
            ctx | {"items": items, "record": record, "columns": columns, "form": form if ctx["can_write"] else None},
            status,
        )


# --- communes: a search in the official geographic code, served by the page itself (no JavaScript) -----
@dataclass(frozen=True)
class FoundCommune:
    code: str
    name: str
    departement: str
    outside: bool  # outside the project's département (or région): may be added, and is flagged
    recorded: bool  # already on the project


def _commune_search(request: Request, p: Project, suggested: list[Commune] | None) -> dict[str, Any]:
    """The search box of the communes page: `?q=` (a name, accents and case ignored, or the start of a
    code) lists matching communes, each with its own "Ajouter" button; after a refused code, the
    communes it may have meant."""
    q = (request.query_params.get("q") or "")[:MAX_QUERY]
    found = suggested if suggested is not None else (cog().search(q, limit=SEARCH_RESULTS) if q.strip() else [])
    recorded = {c.insee_code for c in p.communes}
    return {
        "q": q,
        "searched": bool(q.strip()) or suggested is not None,
        "suggested": suggested is not None,
        "results": [
            FoundCommune(
                c.code, c.name, c.departement, commune_outside(c.code, p.region, p.departement), c.code in recorded
            )
            for c in found
        ],
        "departement": p.departement,
    }


SEARCH_RESULTS = 20


@router.get(BASE, name="page_evidence")
def evidence_page(request: Request, project_id: str, kind: str, principal: PageUser) -> Response:
    return _kind_page(request, principal, _project_id(project_id), _kind(kind))


def _redirect(request: Request, pid: uuid.UUID, kind: EvidenceKind, code: str) -> Response:
    return RedirectResponse(f"/projets/{pid}/preuves/{kind.name}?ok={code}", status_code=303)


def _save(request: Request, form: FormState, action: Any) -> int | None:
    """Run a write; on refusal, record the French messages in `form` and return the status to answer.
    A form already refused (a control character in a field) is not written."""
    if form.failed:
        return 422
    try:
        action()
    except ValidationError as exc:
        record_validation(form, exc)
        return 422
    except InvalidInput as exc:
        form.fail(exc.field, exc.message)
        return 422
    except (Conflict, ConcurrentUpdate) as exc:
        form.fail(None, exc.message)
        return 409
    except PreconditionFailed:
        form.fail(None, STALE_PAGE)
        return 412
    return None


STALE_PAGE = (
    "Le dossier a été modifié par quelqu'un d'autre depuis que vous avez ouvert cette page : rien n'a été "
    "enregistré. Les valeurs enregistrées sont affichées ci-dessus ; vérifiez-les, puis enregistrez à "
    "nouveau si vos modifications doivent les remplacer."
)


@router.post(BASE, name="page_evidence_create")
def evidence_create(request: Request, project_id: str, kind: str, principal: PageUser, data: Form) -> Response:
    """Add an item (or record the single record of `feasibility` and `association`)."""
    k, pid = _kind(kind), _project_id(project_id)
    fields = create_fields(k)
    body, values = parse(fields, data, partial=False)
    form = _state(k, fields, False, values)
    for name, message in early_errors(fields, data).items():
        form.fail(name, message)

    version = form_version(data.get("version")) if k.singleton else None  # a new item of a list overwrites nothing
    suggested: list[Commune] | None = None

    def write() -> None:
        nonlocal suggested
        parsed = k.create.model_validate(body)
        try:
            with unit_of_work(request) as uow:
                add_evidence(
                    uow,
                    pid,
                    k,
                    parsed,
                    expected_version=version,
                    actor=actor_of(request),
                    clock=request.app.state.clock,
                )
        except UnknownCommune as exc:  # the communes it may have meant, each with its own button
            suggested = exc.suggestions
            raise

    status = _save(request, form, write)
    if status is None:
        return _redirect(request, pid, k, "preuve_enregistree" if k.singleton else "preuve_ajoutee")
    with _project(request, pid, k) as p:  # show the form again with the project's own choices
        form.groups = _state(k, create_fields(k, p), False, values).groups
    return _kind_page(request, principal, pid, k, form, status, suggested)


def _item_page(
    request: Request,
    principal: Principal,
    pid: uuid.UUID,
    kind: EvidenceKind,
    item_id: int,
    form: FormState | None = None,
    status: int = 200,
) -> Response:
    with _project(request, pid, kind) as p:
        ctx = _context(request, principal, p, kind)
        row = _row(p, kind, item_id)
        origins = approval_origins(_session(p), p) if kind.name == "approvals" else None
        item = _item(kind, row, _names(p, kind), origins)
        editable = ctx["can_write"] and not item.locked
        if form is None and editable:
            fields = patch_fields(kind)
            form = _state(kind, fields, True, values_from(row, fields))
        return render(request, "evidence_item.html", ctx | {"item": item, "form": form if editable else None}, status)


# The single records' paths come first: "supprimer" is not an item id.
@router.get(BASE + "/supprimer", name="page_evidence_delete_confirm")
def record_delete_confirm(request: Request, project_id: str, kind: str, principal: PageUser) -> Response:
    k = _kind(kind)
    if not k.singleton:
        raise NotFound("Élément introuvable.")
    return _delete_page(request, principal, _project_id(project_id), k, None)


@router.post(BASE + "/supprimer", name="page_evidence_delete")
def record_delete(request: Request, project_id: str, kind: str, principal: PageUser, data: Form) -> Response:
    k = _kind(kind)
    if not k.singleton:
        raise NotFound("Élément introuvable.")
    return _delete(request, _project_id(project_id), k, None, data)


@router.get(BASE + "/{item}", name="page_evidence_item")
def evidence_item(request: Request, project_id: str, kind: str, item: str, principal: PageUser) -> Response:
    k = _kind(kind)
    if k.singleton:
        raise NotFound("Élément introuvable.")
    return _item_page(request, principal, _project_id(project_id), k, _item_id(item))


@router.post(BASE + "/{item}", name="page_evidence_update")
def evidence_update(
    request: Request, project_id: str, kind: str, item: str, principal: PageUser, data: Form
) -> Response:
    k, pid = _kind(kind), _project_id(project_id)
    if k.singleton:
        raise NotFound("Élément introuvable.")
    item_id = _item_id(item)
    fields = patch_fields(k)
    body, values = parse(fields, data, partial=True)
    form = _state(k, fields, True, values)
    for name, message in early_errors(fields, data).items():
        form.fail(name, message)

    def write() -> None:
        assert k.patch is not None
        parsed = k.patch.model_validate(body)
        with unit_of_work(request) as uow:
            update_evidence(
                uow,
                pid,
                k,
                item_id,
                parsed,
                expected_version=form_version(data.get("version")),
                actor=actor_of(request),
                clock=request.app.state.clock,
            )

    status = _save(request, form, write)
    if status is None:
        return _redirect(request, pid, k, "preuve_modifiee")
    return _item_page(request, principal, pid, k, item_id, form, status)


def _delete_page(
    request: Request, principal: Principal, pid: uuid.UUID, kind: EvidenceKind, item_id: int | None
) -> Response:
    with _project(request, pid, kind) as p:
        ctx = _context(request, principal, p, kind)
        if ctx["closed"]:
            raise ProjectClosed(CLOSED_MESSAGE)
        row = getattr(p, kind.relation) if item_id is None else _row(p, kind, item_id)
        if row is None:
            raise NotFound(f"Rien n'est encore enregistré ({kind.label}).")
        item = _item(kind, row, _names(p, kind))
        action = f"{ctx['page_url']}/supprimer" if item_id is None else f"{ctx['page_url']}/{item_id}/supprimer"
        return render(request, "evidence_delete.html", ctx | {"item": item, "action": action})


def _delete(request: Request, pid: uuid.UUID, kind: EvidenceKind, item_id: int | None, data: FormData) -> Response:
    with unit_of_work(request) as uow:
        delete_evidence(
            uow,
            pid,
            kind,
            item_id,
            expected_version=form_version(data.get("version")),
            actor=actor_of(request),
            clock=request.app.state.clock,
        )
    return _redirect(request, pid, kind, "preuve_supprimee")


@router.get(BASE + "/{item}/supprimer", name="page_evidence_delete_confirm")
def item_delete_confirm(request: Request, project_id: str, kind: str, item: str, principal: PageUser) -> Response:
    k = _kind(kind)
    if k.singleton:
        raise NotFound("Élément introuvable.")
    return _delete_page(request, principal, _project_id(project_id), k, _item_id(item))


@router.post(BASE + "/{item}/supprimer", name="page_evidence_delete")
def item_delete(request: Request, project_id: str, kind: str, item: str, principal: PageUser, data: Form) -> Response:
    k = _kind(kind)
    if k.singleton:
        raise NotFound("Élément introuvable.")
    return _delete(request, _project_id(project_id), k, _item_id(item), data)
