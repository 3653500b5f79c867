"""API schemas of opinion requests and answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from app.core.schemas import Body, Day, Email, Id, Name, Read, Text
from workflow.vocabulary import Category

AnswerVerdict = Literal["favorable", "reserve", "defavorable"]
RequestStatus = Literal["en_attente", "repondu", "revoque", "expire"]
ASKABLE = tuple(c for c in Category if c != Category.MOUVEMENT)


class OpinionRequestIn(Body):
    """Either an existing stakeholder of the project (`stakeholder_id`), or a new one (`stakeholder_name`
    and `category`), with the e-mail address the personal link goes to."""

    stakeholder_id: Id | None = None
    stakeholder_name: Name | None = None
    category: Category | None = None
    email: Email
    due_on: Day
    message: Text = Field(min_length=1, description="What the stakeholder is asked, in French.")


class OpinionAnswerIn(Body):
    verdict: AnswerVerdict
    comment: Text | None = None


class OpinionAnswerRead(Read):
    id: int
    request_id: int
    project_id: uuid.UUID
    verdict: AnswerVerdict
    comment: str | None
    document_id: int | None
    approval_id: int | None
    answered_at: datetime
    answered_on: date
    via: Literal["lien", "compte"] = Field(description="`lien`: the personal link; `compte`: from an account.")
    answered_by: str


class OpinionRequestRead(Read):
    id: int
    project_id: uuid.UUID
    stakeholder_id: int | None
    stakeholder_name: str
    category: str
    email: str
    due_on: date
    message: str
    created_at: datetime
    created_by: str
    status: RequestStatus
    link_expires_at: datetime
    sent_count: int
    revoked_at: datetime | None
    answer: OpinionAnswerRead | None
