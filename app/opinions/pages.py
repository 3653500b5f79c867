"""Pages of opinion requests: the stakeholder's personal link (/avis/{token}, no account), and the
project page's forms to ask, revoke and re-send (the section is templates/collaboration/
project_section.html, fed by the `collaboration_section` global below, with the thread and notes).

The link's page never shows anything of another request: the project's summary, the documents a
stakeholder is asked about (the feasibility study's report, the validation meeting's minutes), and
this request's own answer. A wrong, revoked or expired link gets one neutral page (404 or 410)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from app.authorization.rules import Ability, Principal
from app.core.clock import Clock
from app.core.errors import Conflict, NotFound, PayloadTooLarge, Throttled
from app.core.identifiers import parse_uuid
from app.core.inputs import ascii_id, iso_day
from app.core.security import sha256_hex
from app.core.unit_of_work import BatchUnitOfWork, UnitOfWorkFactory
from app.documents import service as documents
from app.documents.endpoints import file_response
from app.documents.kinds import KINDS as DOCUMENT_KINDS
from app.documents.models import Document, DocumentVersion
from app.documents.storage import storage_for
from app.documents.upload import LINK_CHECKS, Spooled, spooled
from app.http.dependencies import actor_of, unit_of_work
from app.messages import service as messages
from app.opinions import service
from app.opinions.models import OpinionRequest
from app.opinions.schemas import ASKABLE
from app.projects.models import Project
from app.projects.pages import EVENT_TYPES
from app.web import wording
from app.web.charts import date_fr
from app.web.templating import FLASH_MESSAGES, PageRoute, PageUser, render, templates
from workflow.errors import DomainError, InvalidInput
from workflow.vocabulary import CATEGORY_LABELS, KIND_LABELS, STATE_LABELS, TERMINAL, Category, Kind, State

router = APIRouter(route_class=PageRoute)

SHOWN_KINDS = ("rapport_faisabilite", "compte_rendu_validation")  # what a stakeholder is asked about
NEUTRAL = (
    "Ce lien n'est pas ou plus valable. Si votre avis est encore attendu, demandez un nouveau lien à l'équipe "
    "du projet qui vous l'a envoyé."
)
VERDICT_CHOICES = [
    ("favorable", "Favorable"),
    ("reserve", "Favorable avec réserves (l'avis compte comme favorable ; vos réserves restent écrites avec lui)"),
    ("defavorable", "Défavorable"),
]

FLASH_MESSAGES.update(
    {
        "avis-demande": "La demande d'avis est partie par e-mail avec un lien personnel.",
        "avis-revoque": "Le lien de la demande d'avis est révoqué : il ne fonctionne plus.",
        "avis-renvoye": "Un nouveau lien est parti par e-mail ; l'ancien ne fonctionne plus.",
        "message-envoye": "Votre message est publié dans le fil du projet.",
        "note-ajoutee": "La note est enregistrée (visible des seuls consultants).",
    }
)
EVENT_TYPES.update(
    {
        "opinion.requested": "Avis sollicité",
        "opinion.answered": "Avis reçu",
        "opinion.revoked": "Lien d'avis révoqué",
        "opinion.resent": "Demande d'avis renvoyée",
        "message.posted": "Message",
    }
)


def _pid(value: str) -> uuid.UUID:
    pid = parse_uuid(value)
    if pid is None:
        raise NotFound("Projet introuvable.")
    return pid


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


# --- the personal link ----------------------------------------------------------------------------
def _neutral(request: Request, status: int) -> Response:
    return render(request, "opinions/link_dead.html", {"message": NEUTRAL}, status)


def _shown_documents(uow: Any, req: OpinionRequest) -> list[Document]:
    """The documents the link shows: once answered, only those that existed when the answer was given
    (what the stakeholder judged), not the ones the project files later."""
    stmt = select(Document).where(
        Document.project_id == req.project_id,
        Document.deleted_at.is_(None),
        Document.kind.in_(SHOWN_KINDS),
    )
    if req.answer is not None:
        stmt = stmt.where(Document.created_at <= req.answer.answered_at)
    return list(uow.session.scalars(stmt.order_by(Document.id)))


def _version_shown(doc: Document, req: OpinionRequest) -> DocumentVersion:
    """The version the link serves: once answered, the one current when the answer was given."""
    if req.answer is None:
        return doc.current
    seen = [v for v in doc.versions if v.uploaded_at <= req.answer.answered_at]
    return max(seen, key=lambda v: v.number) if seen else doc.current


def _summary(p: Project) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": KIND_LABELS.get(Kind(p.kind), p.kind) if p.kind in set(Kind) else p.kind,
        "region": p.region,
        "state": STATE_LABELS.get(State(p.state), p.state),
        "lead_name": p.lead_name,
        "description": p.description,
    }


def _link_context(uow: Any, req: OpinionRequest, token: str) -> dict[str, Any]:
    p = uow.projects.get(req.project_id)
    answer = req.answer
    return {
        "token": token,
        "project": _summary(p),
        "stakeholder_name": req.stakeholder_name,
        "category": service.category_label(req.category),
        "due_on": date_fr(req.due_on),
        "message": req.message,
        "documents": [
            {"id": d.id, "title": d.title, "kind": DOCUMENT_KINDS.get(d.kind, d.kind)}
            for d in _shown_documents(uow, req)
        ],
        "answer": None
        if answer is None
        else {
            "verdict": service.ANSWER_LABELS[answer.verdict],
            "comment": answer.comment,
            "on": date_fr(answer.answered_on),
            "with_file": answer.document_id is not None,
        },
        "choices": VERDICT_CHOICES,
    }


@router.get("/avis/{token}", name="opinion_link_page")
def opinion_link_page(request: Request, token: str) -> Response:
    request.state.principal = None
    with unit_of_work(request, write=False) as uow:
        looked = service.by_token(uow, token, _clock(request).now())
        if looked.request is None:
            return _neutral(request, 404 if looked.state == "inconnu" else 410)
        return render(request, "opinions/link.html", _link_context(uow, looked.request, token) | {"values": {}})


@router.get("/avis/{token}/pieces/{document_id}", name="opinion_link_document")
def opinion_link_document(request: Request, token: str, document_id: str) -> Response:
    doc_id = ascii_id(document_id)
    with unit_of_work(request, write=False) as uow:
        looked = service.by_token(uow, token, _clock(request).now())
        if looked.request is None or doc_id is None:
            return _neutral(request, 404 if looked.request is None and looked.state == "inconnu" else 410)
        doc = next((d for d in _shown_documents(uow, looked.request) if d.id == doc_id), None)
        if doc is None:
            return _neutral(request, 404)
        return file_response(_version_shown(doc, looked.request), request.app.state.settings)


LINK_REFUSALS = {
    "comment": "Commentaire trop long (5 000 caractères au plus).",
    "verdict": "Choisissez : favorable, favorable avec réserves ou défavorable.",
}


@dataclass
class LinkForm:
    """What the stakeholder sent: the choice and comment as typed, the deliberation if any, and the
    reason the body could not be taken whole (a file too large, a field too long), by field."""

    values: dict[str, str]
    file: documents.NewFile | None = None
    refusal: tuple[str, str, int] | None = None  # (field, French message, HTTP status)


def _link_form(upload: Spooled) -> LinkForm:
    """The form as app.documents.upload streamed it (the deliberation in a temporary file, never in memory)."""
    fields = upload.fields
    values = {"verdict": fields.get("verdict", "")[:20], "comment": fields.get("comment", "")}
    if upload.error is not None:
        field = upload.error_field if upload.error_field in ("verdict", "comment", "file") else "file"
        message = LINK_REFUSALS["comment"] if field == "comment" else upload.error
        return LinkForm(values, None, (field, message, upload.error_status or 422))
    new = None
    if upload.file is not None and (upload.filename or upload.size):  # no file chosen: an empty part, no name
        new = documents.NewFile(upload.file, upload.filename, upload.size, upload.sha256, upload.head, upload.text)
    return LinkForm(values, new)


def _link_open(app: Any, path: str) -> bool:
    """Whether the link of `path` (/avis/{token}) can still be answered (app.documents.upload asks it
    before reading a body: nothing is streamed to a dead, answered or unknown link)."""
    token = path.rstrip("/").rsplit("/", 1)[-1]
    with UnitOfWorkFactory(app.state.session_factory, app.state.settings)(write=False) as uow:
        return service.by_token(uow, token, app.state.clock.now()).state == "ouvert"


LINK_CHECKS[:] = [_link_open]


@router.post("/avis/{token}", name="opinion_link_answer")
async def opinion_link_answer(request: Request, token: str) -> Response:
    request.state.principal = None
    upload = spooled(request.scope)
    if upload is not None:  # multipart (the page's form): streamed by app.documents.upload
        sent = _link_form(upload)
    else:  # a form without a file (url-encoded): small, within the body limits
        try:
            form = await request.form()
        except Exception:  # an unreadable body: the same neutral refusal as a bad field
            form = None
        values = {
            "verdict": str(form.get("verdict") or "")[:20] if form is not None else "",
            "comment": str(form.get("comment") or "") if form is not None else "",
        }
        sent = LinkForm(values)
    return await run_in_threadpool(_answer_sync, request, token, sent)


def _form_again(
    request: Request, uow: Any, req: OpinionRequest, token: str, values: dict[str, str], refusal: tuple[str, str, int]
) -> Response:
    """The link's form again, the French reason beside its field, what was typed kept (not the file:
    a browser never lets a page choose it again)."""
    field, message, status = refusal
    context = _link_context(uow, req, token) | {"values": values, "errors": {field: message}}
    return render(request, "opinions/link.html", context, status)


def _answer_sync(request: Request, token: str, sent: LinkForm) -> Response:
    clock = _clock(request)
    settings = request.app.state.settings
    values = sent.values
    verdict, comment = values["verdict"], values["comment"]
    stored: list[str] = []  # the deliberation's storage key, once stored (removed if nothing is committed)
    storage = storage_for(settings)
    with BatchUnitOfWork(request.app.state.session_factory, settings=settings) as uow:
        looked = service.by_token(uow, token, clock.now())
        if looked.request is None:
            return _neutral(request, 404 if looked.state == "inconnu" else 410)
        req = looked.request
        if looked.state == "repondu":
            return render(request, "opinions/link.html", _link_context(uow, req, token) | {"values": {}}, 409)
        if sent.refusal is not None:  # the body could not be taken whole: nothing is written
            return _form_again(request, uow, req, token, values, sent.refusal)
        actor = service.link_actor(req)
        new = sent.file

        def attach(approval_id: int) -> int:
            """The deliberation, filed with the approval the answer gives (its event after the approval's)."""
            assert new is not None
            _, doc = documents.add_document(
                uow,
                storage,
                settings,
                req.project_id,
                new,
                title=f"Délibération — {req.stakeholder_name}"[:200],
                kind="deliberation",
                evidence_kind="approvals",
                evidence_id=approval_id,
                consultant=False,
                expected_version=None,
                actor=actor,
                clock=clock,
            )
            stored.append(doc.current.storage_key)
            return doc.id

        try:
            if verdict not in service.VERDICT_OF:
                raise InvalidInput(LINK_REFUSALS["verdict"], "verdict")
            service.answer_request(
                uow,
                clock,
                req,
                verdict=verdict,
                comment=comment,
                via="lien",
                actor=actor,
                attach=attach if new is not None else None,
                token_hash=sha256_hex(token),  # the link answered still is the request's, under the lock
            )
            uow.finish()
        except (InvalidInput, documents.UnsupportedType, PayloadTooLarge) as exc:
            for key in stored:
                storage.delete(key)
            uow.session.rollback()  # nothing half-written: no approval, no answer without its file
            field = getattr(exc, "field", None) or "file"
            status = 422
            if isinstance(exc, documents.UnsupportedType):
                status = 415
            elif isinstance(exc, PayloadTooLarge):
                status = 413
            return _form_again(request, uow, req, token, values, (field, exc.message, status))
        except (Conflict, DomainError) as exc:
            for key in stored:
                storage.delete(key)
            message = exc.message
            return render(
                request, "message.html", {"title": "Avis non enregistré", "message": message, "status": 409}, 409
            )
        except BaseException:
            for key in stored:
                storage.delete(key)
            raise
    return RedirectResponse(f"/avis/{token}", status_code=303)


# --- the project page's section -------------------------------------------------------------------
def section(request: Request, p: Any) -> dict[str, Any]:
    """What the collaboration section of the project page shows (a template global)."""
    principal: Principal = request.state.principal
    region = p.region
    pid = p.id
    abilities = principal.abilities(pid, region)
    now = _clock(request).now()
    with unit_of_work(request, write=False) as uow:
        full = uow.projects.get(pid, with_evidence=("stakeholders",))
        requests = [service.read_of(r, now) for r in service.list_requests(uow, pid)]
        tz = _clock(request).tz
        thread = [
            {
                "id": m.id,
                "author": m.author_name,
                "at": date_fr(m.created_at.astimezone(tz).date()),
                "body": m.body,
                "document_id": m.document_id,
            }
            for m in messages.list_messages(uow, pid)
        ]
        notes_allowed = messages.may_read_notes(principal, pid, region)
        notes = [
            {"id": n.id, "author": n.author_name, "at": date_fr(n.created_at.astimezone(tz).date()), "body": n.body}
            for n in (messages.list_notes(uow, principal, pid) if notes_allowed else [])
        ]
        stakeholders = [
            (s.id, f"{s.name} ({CATEGORY_LABELS[Category(s.category)]})")
            for s in (full.stakeholders if full is not None else [])
            if s.category != Category.MOUVEMENT
        ]
    closed = State(p.state) in TERMINAL
    return {
        "requests": [
            {
                "id": r.id,
                "stakeholder": r.stakeholder_name,
                "category": service.category_label(r.category),
                "email": r.email,
                "due_on": date_fr(r.due_on),
                "status": r.status,
                "status_label": service.STATUS_LABELS[r.status],
                "answer": None
                if r.answer is None
                else {
                    "verdict": service.ANSWER_LABELS[r.answer.verdict],
                    "comment": r.answer.comment,
                    "on": date_fr(r.answer.answered_on),
                    "via": f"par le lien personnel envoyé à {r.email}"
                    if r.answer.via == "lien"
                    else f"depuis son compte ({r.email})",
                },
            }
            for r in requests
        ],
        "stakeholders": stakeholders,
        "categories": [(c.value, CATEGORY_LABELS[c]) for c in ASKABLE],
        "can_write": Ability.WRITE in abilities and not closed,
        "can_post": Ability.WRITE in abilities,
        "messages": thread,
        "notes_allowed": notes_allowed,
        "notes": notes,
        "today": _clock(request).today().isoformat(),
    }


templates.env.globals["collaboration_section"] = section


def collaboration_todo(request: Request, project_id: Any) -> list[dict[str, Any]]:
    """The project's open items for the person looking: opinion requests awaiting an answer (the
    project's writers and readers see them; overdue when past their due date) and unread messages."""
    principal: Principal | None = getattr(request.state, "principal", None)
    pid = project_id if isinstance(project_id, uuid.UUID) else parse_uuid(str(project_id))
    if principal is None or pid is None or not principal.authenticated:
        return []
    clock = _clock(request)
    today, now = clock.today(), clock.now()
    items: list[dict[str, Any]] = []
    with unit_of_work(request, write=False) as uow:
        region = uow.projects.region_of(pid)
        if region is None or Ability.READ not in principal.abilities(pid, region):
            return []
        for r in service.list_requests(uow, pid):
            if service.status_of(r, now) != "en_attente":
                continue
            items.append(
                {
                    "label": f"Avis attendu {wording.de(r.stakeholder_name)} (le {date_fr(r.due_on)})",
                    "href": f"/projets/{pid}#avis",
                    "due_on": r.due_on,
                    "overdue": r.due_on < today,
                }
            )
        if principal.kind == "user" and principal.id is not None:
            unread = messages.unread_count(uow, principal.id, pid)
            if unread:
                items.append(
                    {
                        "label": f"{unread} message{'s' if unread > 1 else ''} non lu{'s' if unread > 1 else ''}",
                        "href": "/notifications",
                        "due_on": None,
                        "overdue": False,
                    }
                )
    return items


templates.env.globals["collaboration_todo"] = collaboration_todo


def _form(request: Request) -> Any:
    return getattr(request.state, "form", None) or {}


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/projets/{project_id}/avis", name="page_opinion_request")
def page_opinion_request(request: Request, project_id: str, principal: PageUser) -> Response:
    from pydantic import ValidationError

    from app.opinions.schemas import OpinionRequestIn

    pid = _pid(project_id)
    form = _form(request)
    values = {k: _text(form, k) for k in ("stakeholder", "stakeholder_name", "category", "email", "due_on", "message")}
    try:
        due = iso_day(values["due_on"])
        if due is None:
            raise InvalidInput("Date invalide : écrivez-la au format AAAA-MM-JJ.", "due_on")
        chosen = ascii_id(values["stakeholder"]) if values["stakeholder"] not in ("", "nouvelle") else None
        raw: dict[str, Any] = {"email": values["email"], "due_on": due, "message": values["message"]}
        if chosen is not None:
            raw["stakeholder_id"] = chosen
        else:
            raw["stakeholder_name"] = values["stakeholder_name"] or None
            raw["category"] = values["category"] or None
        try:
            body = OpinionRequestIn.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            field = str(first["loc"][0]) if first.get("loc") else "email"
            field = {"stakeholder_id": "stakeholder"}.get(field, field)
            message = {
                "email": "Adresse e-mail invalide.",
                "message": "Écrivez le message qui accompagne la demande (5 000 caractères au plus).",
                "stakeholder_name": "Nom invalide (200 caractères au plus, sur une ligne).",
                "category": "Choisissez la catégorie de la partie prenante.",
            }.get(field, "Valeur invalide.")
            raise InvalidInput(message, field) from None
        with unit_of_work(request) as uow:
            service.create_request(
                uow,
                request.app.state.settings,
                _clock(request),
                pid,
                body,
                expected_version=None,
                actor=actor_of(request),
            )
    except (InvalidInput, Throttled) as exc:
        where = exc.field if isinstance(exc, InvalidInput) else "email"  # too many today: beside the address
        context = {"project_id": pid, "values": values, "errors": {where or "email": exc.message}}
        with unit_of_work(request, write=False) as uow:
            full = uow.projects.get(pid, with_evidence=("stakeholders",))
            context["stakeholders"] = [
                (s.id, s.name) for s in (full.stakeholders if full else []) if s.category != Category.MOUVEMENT
            ]
        context["categories"] = [(c.value, CATEGORY_LABELS[c]) for c in ASKABLE]
        return render(request, "opinions/request_form.html", context, 429 if isinstance(exc, Throttled) else 422)
    return RedirectResponse(f"/projets/{pid}?ok=avis-demande#avis", status_code=303)


def _request_id(value: str) -> int:
    rid = ascii_id(value)
    if rid is None:
        raise NotFound("Demande d'avis introuvable.")
    return rid


@router.post("/projets/{project_id}/avis/{request_id}/revoquer", name="page_opinion_revoke")
def page_opinion_revoke(request: Request, project_id: str, request_id: str, principal: PageUser) -> Response:
    pid, rid = _pid(project_id), _request_id(request_id)
    with unit_of_work(request) as uow:
        service.revoke_request(uow, _clock(request), pid, rid, expected_version=None, actor=actor_of(request))
    return RedirectResponse(f"/projets/{pid}?ok=avis-revoque#avis", status_code=303)


@router.post("/projets/{project_id}/avis/{request_id}/renvoyer", name="page_opinion_resend")
def page_opinion_resend(request: Request, project_id: str, request_id: str, principal: PageUser) -> Response:
    pid, rid = _pid(project_id), _request_id(request_id)
    with unit_of_work(request) as uow:
        service.resend_request(
            uow, request.app.state.settings, _clock(request), pid, rid, expected_version=None, actor=actor_of(request)
        )
    return RedirectResponse(f"/projets/{pid}?ok=avis-renvoye#avis", status_code=303)


@router.post("/projets/{project_id}/messages", name="page_post_message")
def page_post_message(request: Request, project_id: str, principal: PageUser) -> Response:
    pid = _pid(project_id)
    body = _text(_form(request), "body")
    try:
        with unit_of_work(request) as uow:
            messages.post_message(uow, _clock(request), pid, body, actor=actor_of(request))
    except InvalidInput as exc:
        context = {"project_id": pid, "action": "messages", "body": body, "error": exc.message}
        return render(request, "messages/form.html", context, 422)
    return RedirectResponse(f"/projets/{pid}?ok=message-envoye#messages", status_code=303)


@router.post("/projets/{project_id}/notes", name="page_post_note")
def page_post_note(request: Request, project_id: str, principal: PageUser) -> Response:
    pid = _pid(project_id)
    body = _text(_form(request), "body")
    try:
        with unit_of_work(request) as uow:
            messages.add_note(uow, _clock(request), principal, pid, body, actor=actor_of(request))
    except InvalidInput as exc:
        context = {"project_id": pid, "action": "notes", "body": body, "error": exc.message}
        return render(request, "messages/form.html", context, 422)
    return RedirectResponse(f"/projets/{pid}?ok=note-ajoutee#notes", status_code=303)
