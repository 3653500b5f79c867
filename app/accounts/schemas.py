"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
)

from app.core.schemas import MAX_LIST, Body, Email, Flag, Name, Read, Region

# --- access control ---------------------------------------------------------------------------
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


RoleName = Annotated[str, StringConstraints(pattern=r"^(admin|consultant|observateur|porteur)$")]


class LoginBody(Body):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Password


class GrantIn(Body):
    role: RoleName
    project_id: uuid.UUID | None = None
    region: Region | None = None


class GrantRead(Read):
    id: int
    role: str
    project_id: uuid.UUID | None
    region: str | None


class UserCreate(Body):
    email: Email
    name: Name
    password: Password
    grants: list[GrantIn] = Field(default_factory=list, max_length=MAX_LIST)


class UserPatch(Body):
    name: Name | None = None
    active: Flag | None = None
    password: Password | None = None


class UserRead(Read):
    id: int
    email: str
    name: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    grants: list[GrantRead]


class MeRead(BaseModel):
    kind: str
    label: str
    name: str
    roles: list[str]
    is_admin: bool
    csrf_token: str | None = None


class ApiKeyCreate(Body):
    name: Name
    scopes: list[Annotated[str, StringConstraints(pattern=r"^(read|write)$")]] = Field(..., min_length=1, max_length=2)
    regions: list[Region] | None = Field(None, max_length=MAX_LIST)
    project_ids: list[uuid.UUID] | None = Field(None, max_length=MAX_LIST)
    expires_at: AwareDatetime | None = Field(None, description="With a time zone, e.g. 2027-06-30T00:00:00Z.")
    consultant: Flag = Field(
        False,
        description="For the Mouvement's own systems: may record expertise, grant or postpone the label, and re-plan.",
    )


class ApiKeyRead(Read):
    id: int
    prefix: str
    name: str
    scopes: list[str]
    consultant: bool
    regions: list[str] | None
    project_ids: list[str] | None
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(..., description="The key itself: shown only in this response, never again.")
