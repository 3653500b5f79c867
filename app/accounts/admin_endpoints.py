"""Administration: users, their roles, and partner API keys (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.accounts import service as accounts
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    GrantIn,
    GrantRead,
    UserCreate,
    UserPatch,
    UserRead,
)
from app.http.dependencies import Authorized, ClockDep, PrincipalDep, ReadUow, WriteUow
from app.idempotency.secrets import shown_once

router = APIRouter(prefix="/admin", tags=["administration"], dependencies=[Authorized])


Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/users", response_model=list[UserRead], name="list_users")
def list_users(uow: ReadUow) -> list[UserRead]:
    return [UserRead.model_validate(u) for u in accounts.list_users(uow)]


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED, name="create_user")
def create_user(body: UserCreate, uow: WriteUow, clock: ClockDep) -> UserRead:
    with uow:
        user = accounts.create_user(
            uow,
            email=body.email,
            name=body.name,
            password=body.password,
            grants=[(g.role, g.project_id, g.region) for g in body.grants],
            now=clock.now(),
        )
        return UserRead.model_validate(accounts.get_user(uow, user.id))


@router.patch("/users/{user_id}", response_model=UserRead, name="update_user")
def update_user(user_id: Id, body: UserPatch, uow: WriteUow) -> UserRead:
    with uow:
        user = accounts.update_user(uow, user_id, name=body.name, active=body.active, password=body.password)
        return UserRead.model_validate(user)


@router.post("/users/{user_id}/grants", response_model=GrantRead, status_code=status.HTTP_201_CREATED, name="add_grant")
def add_grant(user_id: Id, body: GrantIn, uow: WriteUow) -> GrantRead:
    with uow:
        grant = accounts.add_grant(uow, user_id, role=body.role, project_id=body.project_id, region=body.region)
        return GrantRead.model_validate(grant)


@router.delete("/users/{user_id}/grants/{grant_id}", status_code=204, name="remove_grant")
def remove_grant(user_id: Id, grant_id: Id, uow: WriteUow) -> Response:
    with uow:
        accounts.remove_grant(uow, user_id, grant_id)
    return Response(status_code=204)


@router.get("/api-keys", response_model=list[ApiKeyRead], name="list_api_keys")
def list_api_keys(uow: ReadUow) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(k) for k in accounts.list_api_keys(uow)]


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    name="create_api_key",
    dependencies=[
        shown_once(
            "key",
            advice="Pour une autre clé, créez-en une nouvelle (POST /api/v1/admin/api-keys) "
            "et révoquez celle-ci (DELETE /api/v1/admin/api-keys/{id}).",
        )
    ],
)
def create_api_key(body: ApiKeyCreate, uow: WriteUow, clock: ClockDep, principal: PrincipalDep) -> ApiKeyCreated:
    with uow:
        new = accounts.create_api_key(
            uow,
            name=body.name,
            scopes=body.scopes,
            regions=body.regions,
            project_ids=body.project_ids,
            expires_at=body.expires_at,
            consultant=body.consultant,
            created_by=principal.label,
            now=clock.now(),
        )
        return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(new.row).model_dump(), "key": new.key})


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead, name="revoke_api_key")
def revoke_api_key(key_id: Id, uow: WriteUow, clock: ClockDep) -> ApiKeyRead:
    with uow:
        return ApiKeyRead.model_validate(accounts.revoke_api_key(uow, key_id=key_id, now=clock.now()))
