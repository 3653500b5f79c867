"""Administration: users, their roles, and partner API keys (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from app import accounts
from app import schemas as s
from app.api.deps import Authorized, ClockDep, PrincipalDep

router = APIRouter(prefix="/admin", tags=["administration"], dependencies=[Authorized])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _session(request: Request):  # noqa: ANN202
    return request.app.state.session_factory()


@router.get("/users", response_model=list[s.UserRead], name="list_users")
def list_users(request: Request) -> list[s.UserRead]:
    with _session(request) as session:
        return [s.UserRead.model_validate(u) for u in accounts.list_users(session)]


@router.post("/users", response_model=s.UserRead, status_code=status.HTTP_201_CREATED, name="create_user")
def create_user(body: s.UserCreate, request: Request, clock: ClockDep) -> s.UserRead:
    with _session(request) as session:
        user = accounts.create_user(session, email=body.email, name=body.name, password=body.password,
                                    grants=[(g.role, g.project_id, g.region) for g in body.grants], now=clock.now())
        return s.UserRead.model_validate(accounts.get_user(session, user.id))


@router.patch("/users/{user_id}", response_model=s.UserRead, name="update_user")
def update_user(user_id: Id, body: s.UserPatch, request: Request) -> s.UserRead:
    with _session(request) as session:
        user = accounts.update_user(session, user_id, name=body.name, active=body.active, password=body.password)
        return s.UserRead.model_validate(user)


@router.post("/users/{user_id}/grants", response_model=s.GrantRead, status_code=status.HTTP_201_CREATED,
             name="add_grant")
def add_grant(user_id: Id, body: s.GrantIn, request: Request) -> s.GrantRead:
    with _session(request) as session:
        grant = accounts.add_grant(session, user_id, role=body.role, project_id=body.project_id, region=body.region)
        return s.GrantRead.model_validate(grant)


@router.delete("/users/{user_id}/grants/{grant_id}", status_code=204, name="remove_grant")
def remove_grant(user_id: Id, grant_id: Id, request: Request) -> Response:
    with _session(request) as session:
        accounts.remove_grant(session, user_id, grant_id)
    return Response(status_code=204)


@router.get("/api-keys", response_model=list[s.ApiKeyRead], name="list_api_keys")
def list_api_keys(request: Request) -> list[s.ApiKeyRead]:
    with _session(request) as session:
        return [s.ApiKeyRead.model_validate(k) for k in accounts.list_api_keys(session)]


@router.post("/api-keys", response_model=s.ApiKeyCreated, status_code=status.HTTP_201_CREATED, name="create_api_key")
def create_api_key(body: s.ApiKeyCreate, request: Request, clock: ClockDep,
                   principal: PrincipalDep) -> s.ApiKeyCreated:
    with _session(request) as session:
        new = accounts.create_api_key(session, name=body.name, scopes=body.scopes, regions=body.regions,
                                      project_ids=body.project_ids, expires_at=body.expires_at,
                                      consultant=body.consultant, created_by=principal.label, now=clock.now())
        return s.ApiKeyCreated.model_validate({**s.ApiKeyRead.model_validate(new.row).model_dump(), "key": new.key})


@router.delete("/api-keys/{key_id}", response_model=s.ApiKeyRead, name="revoke_api_key")
def revoke_api_key(key_id: Id, request: Request, clock: ClockDep) -> s.ApiKeyRead:
    with _session(request) as session:
        return s.ApiKeyRead.model_validate(accounts.revoke_api_key(session, key_id=key_id, now=clock.now()))
