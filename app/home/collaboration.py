"""The open collaboration items of several projects at once (issue 15's opinion requests and messages),
for the cards of the porteur's home and the project page's « Prochaine action »: two statements for all
the projects listed, where issue 15's `collaboration_todo` Jinja global (app/opinions/pages.py) runs
three per project. Same items, same words, same order: opinion requests awaiting an answer (not
answered, revoked or expired: app.opinions.service.status_of's « en_attente »), by id, then the
number of unread messages (the person's unread `message` notifications, app.messages.service.unread_count).

Read-only use of issue 15's models; the caller lists only projects the person reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from app.authorization.rules import Principal
from app.core.unit_of_work import UnitOfWork
from app.web import wording
from app.web.charts import date_fr

OpenItems = dict[str, list[dict[str, Any]]]


def open_items(
    uow: UnitOfWork, principal: Principal, project_ids: Sequence[uuid.UUID], *, today: date, now: datetime
) -> OpenItems:
    """Each project's open items (by str(project id); an empty list when it has none)."""
    from app.notifications.models import Notification
    from app.opinions.models import OpinionAnswer, OpinionRequest

    ids = list(project_ids)
    out: OpenItems = {str(i): [] for i in ids}
    if not ids:
        return out
    answered = select(OpinionAnswer.id).where(OpinionAnswer.request_id == OpinionRequest.id).exists()
    pending = uow.session.execute(
        select(OpinionRequest.project_id, OpinionRequest.stakeholder_name, OpinionRequest.due_on)
        .where(
            OpinionRequest.project_id.in_(ids),
            OpinionRequest.revoked_at.is_(None),
            OpinionRequest.token_expires_at > now,
            ~answered,
        )
        .order_by(OpinionRequest.id)
    )
    for pid, stakeholder, due_on in pending:
        out[str(pid)].append(
            {
                "label": f"Avis attendu {wording.de(stakeholder)} (le {date_fr(due_on)})",
                "href": f"/projets/{pid}#avis",
                "due_on": due_on,
                "overdue": due_on < today,
            }
        )
    if principal.kind == "user" and principal.id is not None:
        unread = uow.session.execute(
            select(Notification.project_id, func.count())
            .where(
                Notification.user_id == principal.id,
                Notification.project_id.in_(ids),
                Notification.kind == "message",
                Notification.read_at.is_(None),
            )
            .group_by(Notification.project_id)
        )
        for project_id, n in unread:
            if n:
                s = "s" if n > 1 else ""
                out[str(project_id)].append(
                    {"label": f"{n} message{s} non lu{s}", "href": "/notifications", "due_on": None, "overdue": False}
                )
    return out
