"""Opinion requests: ask, revoke, re-send, answer (through the personal link or from an account).

An answer is written in one transaction with the approval it gives (an `evidence.created` event of
kind `approvals`, exactly as app.evidence.service writes one, so verify's replay and the hash chain
hold), marked `source` = how the stakeholder gave it, and an `opinion.answered` event. `reserve`
("favorable avec réserves") approves the project, with reservations: it is recorded as a `favorable`
approval for the avis_* guards (it is not unfavourable), whose comment starts with RESERVE_PREFIX so the
approval, its summary and the history keep saying "avec réserves"; the answer keeps the verdict `reserve`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import RoleGrant, User
from app.core.clock import Actor, Clock
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.inputs import has_control_in_text
from app.core.schemas import unstorable
from app.core.security import new_token, sha256_hex
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork
from app.evidence.models import Approval, Stakeholder
from app.evidence.registry import RESERVE_PREFIX
from app.mail import service as mail
from app.opinions import limits
from app.opinions.models import OpinionAnswer, OpinionRequest
from app.opinions.schemas import OpinionAnswerRead, OpinionRequestIn, OpinionRequestRead
from app.projects.models import Project
from app.projects.service import jsonable, load_for_write, record_change
from workflow.errors import InvalidInput
from workflow.vocabulary import CATEGORY_LABELS, Category

VERDICT_OF = {"favorable": "favorable", "reserve": "favorable", "defavorable": "defavorable"}
ANSWER_LABELS = {"favorable": "favorable", "reserve": "favorable avec réserves", "defavorable": "défavorable"}
STATUS_LABELS = {
    "en_attente": "en attente de réponse",
    "repondu": "répondu",
    "revoque": "lien révoqué",
    "expire": "lien expiré",
}
CONTROL_REFUSED = "Ce texte contient des caractères de contrôle invisibles : retirez-les (retours à la ligne permis)."
REVOKED = "Cette demande d'avis a été révoquée."
EXPIRED = "Cette demande d'avis a expiré : demandez à l'équipe du projet de vous l'envoyer de nouveau."
REPLACED = "Un nouveau lien vient de vous être envoyé pour cette demande d'avis : répondez par celui-ci."
ALREADY_ANSWERED = "Un avis a déjà été donné en réponse à cette demande : il ne peut pas être modifié."


def status_of(req: OpinionRequest, now: datetime) -> str:
    if req.answer is not None:
        return "repondu"
    if req.revoked_at is not None:
        return "revoque"
    if req.token_expires_at <= now:
        return "expire"
    return "en_attente"


def read_of(req: OpinionRequest, now: datetime) -> OpinionRequestRead:
    return OpinionRequestRead(
        id=req.id,
        project_id=req.project_id,
        stakeholder_id=req.stakeholder_id,
        stakeholder_name=req.stakeholder_name,
        category=req.category,
        email=req.email,
        due_on=req.due_on,
        message=req.message,
        created_at=req.created_at,
        created_by=req.created_by,
        status=status_of(req, now),  # type: ignore[arg-type]
        link_expires_at=req.token_expires_at,
        sent_count=req.sent_count,
        revoked_at=req.revoked_at,
        answer=OpinionAnswerRead.model_validate(req.answer) if req.answer is not None else None,
    )


def _expiry(settings: Settings, clock: Clock, due_on: date) -> datetime:
    last_day = due_on + timedelta(days=settings.opinion_link_days_after_due)
    return datetime.combine(last_day, time(23, 59, 59), clock.tz).astimezone(UTC)


def _link(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/avis/{token}"


def _queue_request_mail(
    uow: UnitOfWork, settings: Settings, clock: Clock, p: Project, req: OpinionRequest, token: str, actor: Actor
) -> None:
    mail.queue(
        uow,
        clock,
        kind="opinion_request",
        to=req.email,
        template="opinion_request",
        context={
            "stakeholder_name": req.stakeholder_name,
            "requester": actor.name,
            "project_name": p.name,
            "due_on": req.due_on,
            "message": req.message,
            "link": _link(settings, token),
            "expires_on": req.token_expires_at.astimezone(clock.tz).date(),
            "resent": req.sent_count > 1,
        },
        secret=True,
        dedupe_key=f"{_mail_key(req)}{req.sent_count}",
        settings=settings,
    )


def _mail_key(req: OpinionRequest) -> str:
    """The start of the dedupe keys of a request's mails (one per sending): a re-send or a revocation
    gives up the mail not sent yet, whose link no longer works."""
    return f"opinion_request:{req.id}:"


WRITER_ROLES = ("admin", "consultant", "porteur")  # the roles with write access (app/authorization/rules.py)


def can_write_project(uow: UnitOfWork, project_id: uuid.UUID, region: str, email: str) -> bool:
    """Whether the account with this address may change the project (as a porteur of it, a consultant of
    all projects or of its region, or an admin): such a person cannot speak for a stakeholder."""
    address = email.strip().lower()
    found = uow.session.scalar(
        select(RoleGrant.id)
        .join(User, User.id == RoleGrant.user_id)
        .where(
            User.email == address,
            RoleGrant.role.in_(WRITER_ROLES),
            or_(
                RoleGrant.project_id == project_id,
                and_(RoleGrant.project_id.is_(None), or_(RoleGrant.region.is_(None), RoleGrant.region == region)),
            ),
        )
        .limit(1)
    )
    return found is not None


def _event_data(req: OpinionRequest) -> dict[str, Any]:
    return {
        "request_id": req.id,
        "stakeholder_id": req.stakeholder_id,
        "stakeholder_name": req.stakeholder_name,
        "category": req.category,
        "due_on": req.due_on.isoformat(),
    }


def _new_stakeholder(uow: UnitOfWork, clock: Clock, actor: Actor, p: Project, name: str, category: str) -> Stakeholder:
    """A stakeholder added to the group for the request (an evidence row like any, with its event)."""
    values = {"name": name, "category": category, "organisation": None, "email": None, "is_amo_pilot": False}
    row = Stakeholder(project_id=p.id, **values)
    p.stakeholders.append(row)
    uow.flush()
    record_change(
        uow, p, clock, actor, "evidence.created", data={"kind": "stakeholders", "id": row.id, "values": values}
    )
    return row


def create_request(
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    project_id: uuid.UUID,
    body: OpinionRequestIn,
    *,
    expected_version: int | None,
    actor: Actor,
) -> tuple[Project, OpinionRequest]:
    p, req, _ = ask(uow, settings, clock, project_id, body, expected_version=expected_version, actor=actor)
    return p, req


def ask(
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    project_id: uuid.UUID,
    body: OpinionRequestIn,
    *,
    expected_version: int | None,
    actor: Actor,
) -> tuple[Project, OpinionRequest, str]:
    """create_request, with the link's token (the demo follows the link as the stakeholder would; the
    API and the pages never see it: it goes out in the e-mail only)."""
    today = clock.today()
    body = body.model_copy(update={"email": limits.single_address(body.email)})
    if body.due_on < today:
        raise InvalidInput("La date de réponse attendue ne peut pas être passée.", "due_on")
    if body.due_on > today + timedelta(days=366):
        raise InvalidInput("La date de réponse attendue doit tomber dans l'année qui vient.", "due_on")
    if body.stakeholder_id is None and (body.stakeholder_name is None or body.category is None):
        raise InvalidInput(
            "Choisissez une partie prenante du projet, ou donnez le nom et la catégorie d'une nouvelle.",
            "stakeholder_id",
        )
    if body.stakeholder_id is None and body.category == Category.MOUVEMENT:
        raise InvalidInput("Un avis se demande aux acteurs du territoire, pas au Mouvement des Régies.", "category")
    p = load_for_write(uow, project_id, expected_version, relations=("stakeholders",))
    if can_write_project(uow, p.id, p.region, body.email):
        raise InvalidInput(
            "Cette adresse est celle d'une personne qui peut modifier le projet : une demande d'avis s'adresse "
            "à la partie prenante elle-même, à son adresse à elle.",
            "email",
        )
    st: Stakeholder | None = None
    if body.stakeholder_id is not None:
        st = next((s for s in p.stakeholders if s.id == body.stakeholder_id), None)
        if st is None:
            raise InvalidInput("Cette partie prenante n'appartient pas au projet.", "stakeholder_id")
        if st.category == Category.MOUVEMENT:
            raise InvalidInput(
                "Un avis se demande aux acteurs du territoire, pas au Mouvement des Régies.", "stakeholder_id"
            )
    limits.check_new_request(uow, clock, p.id, body.email)  # under the project's lock
    if st is None:
        assert body.stakeholder_name is not None and body.category is not None
        st = _new_stakeholder(uow, clock, actor, p, body.stakeholder_name, body.category.value)
    token = new_token(32)
    req = OpinionRequest(
        project_id=p.id,
        stakeholder_id=st.id,
        stakeholder_name=st.name,
        category=st.category,
        email=body.email,
        due_on=body.due_on,
        message=body.message.strip() or "Merci de nous donner votre avis sur ce projet.",
        created_at=clock.now(),
        created_by=actor.label,
        token_hash=sha256_hex(token),
        token_expires_at=_expiry(settings, clock, body.due_on),
        sent_count=1,
    )
    uow.session.add(req)
    uow.flush()
    record_change(uow, p, clock, actor, "opinion.requested", data=_event_data(req))
    _queue_request_mail(uow, settings, clock, p, req, token, actor)
    uow.commit()
    return p, req, token


def _request_of(uow: UnitOfWork, project_id: uuid.UUID, request_id: int, *, lock: bool = False) -> OpinionRequest:
    stmt = select(OpinionRequest).where(OpinionRequest.project_id == project_id, OpinionRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    req = uow.session.scalar(stmt)
    if req is None:
        raise NotFound("Demande d'avis introuvable.")
    return req


def list_requests(uow: UnitOfWork, project_id: uuid.UUID) -> list[OpinionRequest]:
    if uow.projects.region_of(project_id) is None:
        raise NotFound("Projet introuvable.")
    return list(
        uow.session.scalars(
            select(OpinionRequest).where(OpinionRequest.project_id == project_id).order_by(OpinionRequest.id)
        )
    )


def get_request(uow: UnitOfWork, project_id: uuid.UUID, request_id: int) -> OpinionRequest:
    return _request_of(uow, project_id, request_id)


def list_answers(uow: UnitOfWork, project_id: uuid.UUID) -> list[OpinionAnswer]:
    if uow.projects.region_of(project_id) is None:
        raise NotFound("Projet introuvable.")
    return list(
        uow.session.scalars(
            select(OpinionAnswer).where(OpinionAnswer.project_id == project_id).order_by(OpinionAnswer.id)
        )
    )


def revoke_request(
    uow: UnitOfWork, clock: Clock, project_id: uuid.UUID, request_id: int, *, expected_version: int | None, actor: Actor
) -> tuple[Project, OpinionRequest]:
    p = load_for_write(uow, project_id, expected_version, relations=False)
    req = _request_of(uow, project_id, request_id)
    if req.answer is not None:
        raise Conflict(ALREADY_ANSWERED)
    if req.revoked_at is None:
        req.revoked_at, req.revoked_by = clock.now(), actor.label
        mail.cancel(uow, _mail_key(req), "lien révoqué avant l'envoi")
        record_change(uow, p, clock, actor, "opinion.revoked", data=_event_data(req))
    uow.commit()
    return p, req


def resend_request(
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    project_id: uuid.UUID,
    request_id: int,
    *,
    expected_version: int | None,
    actor: Actor,
) -> tuple[Project, OpinionRequest]:
    """A new link by e-mail; the previous one stops working at once."""
    p = load_for_write(uow, project_id, expected_version, relations=False)
    req = _request_of(uow, project_id, request_id)
    if req.answer is not None:
        raise Conflict(ALREADY_ANSWERED)
    limits.check_resend(uow, clock, req)  # under the project's lock
    mail.cancel(uow, _mail_key(req), "remplacé par un nouvel envoi (nouveau lien)")
    token = new_token(32)
    req.token_hash = sha256_hex(token)
    req.revoked_at = req.revoked_by = None
    req.sent_count += 1
    today = clock.today()
    req.token_expires_at = _expiry(settings, clock, max(req.due_on, today))
    record_change(uow, p, clock, actor, "opinion.resent", data=_event_data(req) | {"sent_count": req.sent_count})
    _queue_request_mail(uow, settings, clock, p, req, token, actor)
    uow.commit()
    return p, req


# --- the personal link ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Looked:
    request: OpinionRequest | None
    state: str  # "ouvert" | "repondu" | "expire" | "revoque" | "inconnu"


def by_token(uow: UnitOfWork, token: str, now: datetime) -> Looked:
    """The request a link's token opens, found by the token's SHA-256 (the token itself is never
    stored; the lookup compares hashes through a unique index, not the secret character by character)."""
    if not token or len(token) > 128 or not token.isascii():
        return Looked(None, "inconnu")
    req = uow.session.scalar(select(OpinionRequest).where(OpinionRequest.token_hash == sha256_hex(token)))
    if req is None:
        return Looked(None, "inconnu")
    if req.token_expires_at <= now:  # answered or not: a link lives until its expiry, no longer
        return Looked(None, "expire")
    if req.answer is not None:
        return Looked(req, "repondu")
    if req.revoked_at is not None:
        return Looked(None, "revoque")
    return Looked(req, "ouvert")


def link_actor(req: OpinionRequest) -> Actor:
    """Who an answer through the link is recorded as: the request's stakeholder, by the link."""
    return Actor("lien", f"avis-{req.id}", req.stakeholder_name)


def answer_request(
    uow: UnitOfWork,
    clock: Clock,
    req: OpinionRequest,
    *,
    verdict: str,
    comment: str | None,
    via: str,
    actor: Actor,
    attach: Callable[[int], int] | None = None,
    token_hash: str | None = None,
) -> OpinionAnswer:
    """Record the stakeholder's answer and the approval it gives (one transaction; the caller's unit
    of work commits it). Refused when the request has an answer already (two at once: one wins), and
    when, judged under the project's lock, it was revoked, has expired or (through the link: its
    `token_hash`) its link was replaced by a re-send in the meantime.

    The events come in the order of what they speak of: the approval (`evidence.created`), then the
    deliberation filed with it (`attach(approval_id)` adds the document attached to that approval, its
    `document.created`, and returns its id), then `opinion.answered` naming both. A refusal anywhere
    (the file's type, say) leaves nothing: the caller's unit of work is not committed."""
    if verdict not in VERDICT_OF:
        raise InvalidInput("Choisissez : favorable, favorable avec réserves ou défavorable.", "verdict")
    text = (comment or "").strip() or None
    if text is not None and len(text) > 5000:
        raise InvalidInput("Commentaire trop long (5 000 caractères au plus).", "comment")
    if text is not None and (has_control_in_text(text) or unstorable(text)):
        raise InvalidInput(CONTROL_REFUSED, "comment")
    p = load_for_write(uow, req.project_id, None, relations=("stakeholders", "approvals"))
    # judged under the project's row lock: a concurrent answer committed first is seen here
    uow.session.refresh(req)
    if req.answer is not None or uow.session.scalar(select(OpinionAnswer.id).where(OpinionAnswer.request_id == req.id)):
        raise Conflict(ALREADY_ANSWERED)
    if req.revoked_at is not None:
        raise Conflict(REVOKED)
    if req.token_expires_at <= clock.now():
        raise Conflict(EXPIRED)
    if token_hash is not None and req.token_hash != token_hash:
        raise Conflict(REPLACED)
    st = next((s for s in p.stakeholders if s.id == req.stakeholder_id), None)
    if st is None:  # removed from the group since the request (it had given no opinion): back in it
        st = _new_stakeholder(uow, clock, actor, p, req.stakeholder_name, req.category)
        req.stakeholder_id = st.id
    today = clock.today()
    prefix = RESERVE_PREFIX + " " if verdict == "reserve" else ""
    values: dict[str, Any] = {
        "stakeholder_id": st.id,
        "verdict": VERDICT_OF[verdict],
        "given_on": today,
        "comment": (prefix + (text or "")).strip() or None,
        "source": via,
    }
    approval = Approval(project_id=p.id, **values)
    p.approvals.append(approval)
    uow.flush()
    record_change(
        uow,
        p,
        clock,
        actor,
        "evidence.created",
        data={"kind": "approvals", "id": approval.id, "values": jsonable(values)},
    )
    document_id = attach(approval.id) if attach is not None else None
    answer = OpinionAnswer(
        request_id=req.id,
        project_id=p.id,
        verdict=verdict,
        comment=text,
        document_id=document_id,
        approval_id=approval.id,
        answered_at=clock.now(),
        answered_on=today,
        via=via,
        answered_by=actor.label,
    )
    uow.session.add(answer)
    try:
        uow.session.flush()
    except IntegrityError as err:  # the unique request_id: another answer won the race
        uow.session.rollback()
        raise Conflict(ALREADY_ANSWERED) from err
    record_change(
        uow,
        p,
        clock,
        actor,
        "opinion.answered",
        data=_event_data(req)
        | {
            "answer_id": answer.id,
            "verdict": verdict,
            "approval_id": approval.id,
            "via": via,
            "document_id": document_id,
        },
    )
    return answer


def answer_through_link(
    uow: UnitOfWork, clock: Clock, token: str, *, verdict: str, comment: str | None
) -> OpinionAnswer:
    """What the link's page does with an answer (app/opinions/pages.py, without a file): the request the
    token opens, answered by its stakeholder through the link (`via` = `lien`). The caller commits."""
    looked = by_token(uow, token, clock.now())
    if looked.request is None or looked.state != "ouvert":
        raise Conflict(ALREADY_ANSWERED if looked.state == "repondu" else "Ce lien n'est pas ou plus valable.")
    req = looked.request
    return answer_request(
        uow,
        clock,
        req,
        verdict=verdict,
        comment=comment,
        via="lien",
        actor=link_actor(req),
        token_hash=sha256_hex(token),
    )


def answer_from_account(
    uow: UnitOfWork,
    clock: Clock,
    project_id: uuid.UUID,
    request_id: int,
    *,
    email: str | None,
    verdict: str,
    comment: str | None,
    actor: Actor,
) -> OpinionAnswer:
    """An account holder answers a request addressed to their own e-mail address."""
    req = _request_of(uow, project_id, request_id)
    if email is None or email.strip().lower() != req.email.strip().lower():
        raise Forbidden("Seule la personne à qui la demande d'avis est adressée peut y répondre.")
    region = uow.projects.region_of(project_id)
    if actor.label == req.created_by or (region is not None and can_write_project(uow, project_id, region, email)):
        raise Forbidden(
            "Vous pouvez modifier ce projet (ou avez demandé cet avis) : vous ne pouvez pas répondre à la place "
            "de la partie prenante. Elle répond elle-même, par son lien ou depuis son compte."
        )
    if req.answer is not None:
        raise Conflict(ALREADY_ANSWERED)
    if req.revoked_at is not None:
        raise Conflict(REVOKED)
    if req.token_expires_at <= clock.now():
        raise Conflict(EXPIRED)
    answer = answer_request(uow, clock, req, verdict=verdict, comment=comment, via="compte", actor=actor)
    uow.commit()
    return answer


def category_label(value: str) -> str:
    try:
        return CATEGORY_LABELS[Category(value)]
    except ValueError:
        return value
