"""The project's thread and the consultants' notes.

A message is a change of the project like any (version, `message.posted` event, outbox), so the
history, the feed, webhooks and notifications carry it. A note changes nothing of the project and
writes no event: nothing built on events can show it; only consultants (and admins) read notes."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.authorization.rules import Ability, Principal
from app.core.clock import Actor, Clock
from app.core.errors import Forbidden, NotFound
from app.core.inputs import has_control_in_text
from app.core.schemas import unstorable
from app.core.unit_of_work import UnitOfWork
from app.messages.models import ConsultantNote, Message
from app.projects.models import Project
from app.projects.service import load_for_write, record_change
from workflow.errors import InvalidInput

MAX_BODY = 5000
NOTES_REFUSED = "Réservé aux consultants du Mouvement des Régies."


def clean_body(raw: str | None) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("Écrivez un message.", "body")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"Message trop long ({MAX_BODY} caractères au plus).", "body")
    if has_control_in_text(text) or unstorable(text):
        raise InvalidInput(
            "Ce texte contient des caractères de contrôle invisibles : retirez-les (retours à la ligne permis).", "body"
        )
    return text


def may_read_notes(principal: Principal, project_id: uuid.UUID, region: str) -> bool:
    """Mouvement consultants of the project (users or consultant keys) and admins."""
    return principal.is_admin or Ability.CONSULTANT in principal.abilities(project_id, region)


def _check_document(uow: UnitOfWork, project_id: uuid.UUID, document_id: int | None) -> None:
    if document_id is None:
        return
    from app.documents.repository import DocumentRepository

    doc = DocumentRepository(uow.session).get(project_id, document_id)
    if doc is None or doc.deleted_at is not None:
        raise InvalidInput("Pièce introuvable dans ce projet.", "document_id")


def post_message(
    uow: UnitOfWork,
    clock: Clock,
    project_id: uuid.UUID,
    body: str,
    *,
    document_id: int | None = None,
    expected_version: int | None = None,
    actor: Actor,
) -> tuple[Project, Message]:
    text = clean_body(body)
    p = load_for_write(uow, project_id, expected_version, allow_closed=True, relations=False)
    _check_document(uow, project_id, document_id)
    msg = Message(
        project_id=p.id,
        body=text,
        author=actor.label,
        author_name=actor.name,
        document_id=document_id,
        created_at=clock.now(),
    )
    uow.session.add(msg)
    uow.flush()
    record_change(
        uow,
        p,
        clock,
        actor,
        "message.posted",
        data={"message_id": msg.id, "author_name": actor.name, "body": text, "document_id": document_id},
    )
    uow.commit()
    return p, msg


def list_messages(uow: UnitOfWork, project_id: uuid.UUID) -> list[Message]:
    if uow.projects.region_of(project_id) is None:
        raise NotFound("Projet introuvable.")
    return list(uow.session.scalars(select(Message).where(Message.project_id == project_id).order_by(Message.id)))


def unread_count(uow: UnitOfWork, user_id: int, project_id: uuid.UUID) -> int:
    """Messages of the project the user has not read: their unread `message` notifications (reading
    the notification, or marking all read, is what reads a message; a page view writes nothing)."""
    from app.notifications.models import Notification

    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.project_id == project_id,
                Notification.kind == "message",
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


# --- consultant notes -----------------------------------------------------------------------------
def _notes_allowed(uow: UnitOfWork, principal: Principal, project_id: uuid.UUID) -> None:
    region = uow.projects.region_of(project_id)
    if region is None:
        raise NotFound("Projet introuvable.")
    if not may_read_notes(principal, project_id, region):
        raise Forbidden(NOTES_REFUSED)


def add_note(
    uow: UnitOfWork, clock: Clock, principal: Principal, project_id: uuid.UUID, body: str, *, actor: Actor
) -> ConsultantNote:
    _notes_allowed(uow, principal, project_id)
    note = ConsultantNote(
        project_id=project_id,
        body=clean_body(body),
        author=actor.label,
        author_name=actor.name,
        created_at=clock.now(),
    )
    uow.session.add(note)
    uow.commit()
    return note


def list_notes(uow: UnitOfWork, principal: Principal, project_id: uuid.UUID) -> list[ConsultantNote]:
    _notes_allowed(uow, principal, project_id)
    return list(
        uow.session.scalars(
            select(ConsultantNote).where(ConsultantNote.project_id == project_id).order_by(ConsultantNote.id)
        )
    )
