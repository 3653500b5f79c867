"""Pages of a project's documents: the "Pièces" section of the project page (templates/documents/
section.html, included by templates/project.html), upload of a document or a new version, deletion,
downloads and the expertise dossier. Plain forms: no JavaScript needed."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.authorization.rules import Ability, Principal
from app.core.errors import NotFound, PayloadTooLarge, PreconditionFailed
from app.core.identifiers import parse_uuid
from app.core.inputs import ascii_id
from app.documents import service
from app.documents.endpoints import dossier_response, evidence_id_of, file_response, new_file
from app.documents.kinds import CONSULTANT_KINDS, EXPECTED, KINDS, STEP_OF_KIND
from app.documents.repository import DocumentRepository
from app.documents.storage import storage_for
from app.documents.upload import spooled
from app.evidence.registry import KINDS as EVIDENCE_KINDS
from app.http.dependencies import actor_of, unit_of_work
from app.projects.models import Project
from app.projects.pages import EVENT_TYPES
from app.projects.service import get_project
from app.web.charts import date_fr
from app.web.templating import FLASH_MESSAGES, PageRoute, PageUser, render, templates
from workflow.errors import InvalidInput
from workflow.vocabulary import STATE_LABELS, STEPS, TERMINAL, State

router = APIRouter(route_class=PageRoute)

BASE = "/projets/{project_id}/pieces"

FLASH_MESSAGES.update(
    {
        "piece-ajoutee": "La pièce a été ajoutée au dossier.",
        "piece-version": "La nouvelle version a été enregistrée ; les précédentes restent téléchargeables.",
        "piece-supprimee": "La pièce a été retirée du dossier ; elle reste dans l'historique.",
    }
)

EVENT_TYPES.update(
    {
        "document.created": "Pièce déposée",
        "document.version_added": "Nouvelle version d'une pièce",
        "document.updated": "Pièce renommée",
        "document.deleted": "Pièce supprimée",
    }
)

# Evidence a document can be attached to from the pages (the API accepts any evidence kind).
ATTACHABLE = ("feasibility", "approvals", "association", "site-visits", "expertises")


def _pid(value: str) -> uuid.UUID:
    pid = parse_uuid(value)
    if pid is None:
        raise NotFound("Projet introuvable.")
    return pid


def _doc_id(value: str) -> int:
    doc_id = ascii_id(value)
    if doc_id is None:
        raise NotFound("Pièce introuvable.")
    return doc_id


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} Mo".replace(".", ",")
    if n >= 1024:
        return f"{n / 1024:.0f} Ko"
    return f"{n} octets"


def _evidence_choices(p: Project) -> list[tuple[str, str]]:
    names = {s.id: s.name for s in p.stakeholders}
    choices: list[tuple[str, str]] = []
    for name in ATTACHABLE:
        kind = EVIDENCE_KINDS[name]
        related = getattr(p, kind.relation)
        rows = ([related] if related is not None else []) if kind.singleton else list(related)
        for row, ident in zip(rows, service.evidence_ids(p, name), strict=True):
            try:
                text = kind.summary(row, names)
            except Exception:  # a summary is for display only
                text = f"n° {ident}"
            choices.append((f"{name}:{ident}", f"{kind.label} — {text}"[:120]))
    return choices


def section(request: Request, p: Project) -> dict[str, Any]:
    """What the "Pièces" section of the project page shows (a template global: the project page's
    handler does not need to know about documents)."""
    principal: Principal = request.state.principal
    abilities = principal.abilities(p.id, p.region)
    with unit_of_work(request, write=False) as uow:
        docs = DocumentRepository(uow.session).of_project(p.id)
        full = get_project(uow, p.id, with_evidence=("stakeholders", *(EVIDENCE_KINDS[k].relation for k in ATTACHABLE)))
        choices = _evidence_choices(full)
        rows = [
            {
                "id": d.id,
                "title": d.title,
                "kind": d.kind,
                "kind_label": KINDS[d.kind],
                "evidence": EVIDENCE_KINDS[d.evidence_kind].label if d.evidence_kind in EVIDENCE_KINDS else None,
                "version": d.current_version,
                "size": _size(d.current.size),
                "uploaded_on": date_fr(d.current.uploaded_at.date()),
                "uploaded_by": d.current.uploaded_by,
                "sha256": d.current.sha256,
                "versions": [
                    {"number": v.number, "on": date_fr(v.uploaded_at.date()), "size": _size(v.size)}
                    for v in reversed(d.versions)
                ],
                "locked": d.kind in CONSULTANT_KINDS and Ability.CONSULTANT not in abilities,
            }
            for d in docs
        ]
    present = {r["kind"] for r in rows}
    reached = STEPS.index(State(p.state)) if State(p.state) in STEPS else len(STEPS)
    groups = []
    for index, step in enumerate(STEPS):
        expected = [
            {
                "kind": e.kind,
                "label": KINDS[e.kind],
                "present": e.kind in present,
                "evidence": EVIDENCE_KINDS[e.evidence_kind].label if e.evidence_kind else None,
                "evidence_kind": e.evidence_kind,
            }
            for e in EXPECTED
            if e.step == step
        ]
        documents = [r for r in rows if STEP_OF_KIND.get(str(r["kind"])) == step]
        if expected or documents:
            groups.append(
                {
                    "step": step.value,
                    "label": f"{index + 1}. {STATE_LABELS[step]}",
                    "expected": expected,
                    "missing": [e for e in expected if not e["present"]] if index <= reached else [],
                    "documents": documents,
                }
            )
    others = [r for r in rows if str(r["kind"]) not in STEP_OF_KIND]
    closed = State(p.state) in TERMINAL
    return {
        "groups": groups,
        "others": others,
        "kinds": [
            (k, label) for k, label in KINDS.items() if k not in CONSULTANT_KINDS or Ability.CONSULTANT in abilities
        ],
        "evidence_choices": choices,
        "can_write": Ability.WRITE in abilities and not closed,
        "max_size": _size(request.app.state.settings.documents_max_file_bytes),
    }


templates.env.globals["project_documents"] = section


def _fields(request: Request) -> dict[str, str]:
    upload = spooled(request.scope)
    return dict(upload.fields) if upload is not None else {}


def _evidence(value: str | None) -> tuple[str | None, int | None]:
    if not value:
        return None, None
    kind, _, ident = value.partition(":")
    if kind not in EVIDENCE_KINDS:
        raise InvalidInput("Élément du dossier inconnu.", "evidence")
    return kind, evidence_id_of(ident) or 0


def _version(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else None


def _consultant(principal: Principal, p_region: str | None, pid: uuid.UUID) -> bool:
    return p_region is not None and Ability.CONSULTANT in principal.abilities(pid, p_region)


def _form_page(request: Request, pid: uuid.UUID, exc: Exception, values: dict[str, str], action: str) -> Response:
    """The upload form again, the French reason beside the field it concerns."""
    field = getattr(exc, "field", None) or "file"
    status = 422
    if isinstance(exc, service.UnsupportedType):
        status = 415
    elif isinstance(exc, PayloadTooLarge):
        status = 413
    elif isinstance(exc, PreconditionFailed):
        status, field = 412, "file"
    message = getattr(exc, "message", str(exc))
    context = {
        "project_id": pid,
        "action": action,
        "values": values,
        "errors": {field: message},
        "kinds": list(KINDS.items()),
        "new_version": action.endswith("/versions"),
    }
    return render(request, "documents/upload.html", context, status)


@router.post(BASE, name="page_document_upload")
def upload_page(request: Request, project_id: str, principal: PageUser) -> Response:
    pid = _pid(project_id)
    values = _fields(request)
    action = f"/projets/{pid}/pieces"
    try:
        new = new_file(spooled(request.scope))
        evidence_kind, evidence_id = _evidence(values.get("evidence"))
        with unit_of_work(request) as uow:
            service.add_document(
                uow,
                storage_for(request.app.state.settings),
                request.app.state.settings,
                pid,
                new,
                title=values.get("title"),
                kind=values.get("kind") or None,
                evidence_kind=evidence_kind,
                evidence_id=evidence_id,
                consultant=_consultant(principal, uow.projects.region_of(pid), pid),
                expected_version=_version(values.get("version")),
                actor=actor_of(request),
                clock=request.app.state.clock,
            )
    except (InvalidInput, service.UnsupportedType, PayloadTooLarge, PreconditionFailed) as exc:
        return _form_page(request, pid, exc, values, action)
    return RedirectResponse(f"/projets/{pid}?ok=piece-ajoutee#pieces", status_code=303)


@router.post(BASE + "/{document_id}/versions", name="page_document_version_upload")
def version_page(request: Request, project_id: str, document_id: str, principal: PageUser) -> Response:
    pid, doc_id = _pid(project_id), _doc_id(document_id)
    values = _fields(request)
    action = f"/projets/{pid}/pieces/{doc_id}/versions"
    try:
        new = new_file(spooled(request.scope))
        with unit_of_work(request) as uow:
            service.add_version(
                uow,
                storage_for(request.app.state.settings),
                request.app.state.settings,
                pid,
                doc_id,
                new,
                consultant=_consultant(principal, uow.projects.region_of(pid), pid),
                expected_version=None,
                actor=actor_of(request),
                clock=request.app.state.clock,
            )
    except (InvalidInput, service.UnsupportedType, PayloadTooLarge) as exc:
        return _form_page(request, pid, exc, values, action)
    return RedirectResponse(f"/projets/{pid}?ok=piece-version#pieces", status_code=303)


@router.post(BASE + "/{document_id}/supprimer", name="page_document_delete")
def delete_page(request: Request, project_id: str, document_id: str, principal: PageUser) -> Response:
    pid, doc_id = _pid(project_id), _doc_id(document_id)
    with unit_of_work(request) as uow:
        service.delete_document(
            uow,
            pid,
            doc_id,
            consultant=_consultant(principal, uow.projects.region_of(pid), pid),
            expected_version=None,
            actor=actor_of(request),
            clock=request.app.state.clock,
        )
    return RedirectResponse(f"/projets/{pid}?ok=piece-supprimee#pieces", status_code=303)


def _download(request: Request, project_id: str, document_id: str, number: int | None) -> Response:
    pid, doc_id = _pid(project_id), _doc_id(document_id)
    with unit_of_work(request, write=False) as uow:
        version = service.version_of(service.get_document(uow, pid, doc_id), number)
        return file_response(version, request.app.state.settings)


@router.get("/projets/{project_id}/dossier-expertise", name="page_dossier_download")
def dossier_page(request: Request, project_id: str, principal: PageUser) -> Response:
    pid = _pid(project_id)
    with unit_of_work(request, write=False) as uow:
        return dossier_response(uow, request.app.state.settings, pid, request.app.state.clock)


@router.get(BASE + "/{document_id}/contenu", name="page_document_download")
def download_page(request: Request, project_id: str, document_id: str, principal: PageUser) -> Response:
    return _download(request, project_id, document_id, None)


@router.get(BASE + "/{document_id}/versions/{number}/contenu", name="page_document_version_download")
def version_download_page(
    request: Request, project_id: str, document_id: str, number: str, principal: PageUser
) -> Response:
    n = ascii_id(number)
    if n is None:
        raise NotFound("Version introuvable.")
    return _download(request, project_id, document_id, n)
