"""Evidence sub-resources under /projects/{id}/…, generated from the registry in app/evidence/registry.py.

No `from __future__ import annotations` here: the route functions are built in a loop and FastAPI
must see each kind's real body and response classes in their annotations. A type checker cannot name
a class chosen at run time: it reads `body: BaseModel`, and `_body_is` gives FastAPI the kind's class.
"""

import types
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel

from app.core.errors import NotFound
from app.evidence.registry import KINDS, EvidenceKind
from app.evidence.service import add_evidence, delete_evidence, update_evidence
from app.http.dependencies import ActorDep, Authorized, ClockDep, IfMatch, ReadUow, WriteUow, etag, set_etag
from app.projects.service import get_project

router = APIRouter(prefix="/projects/{project_id}", tags=["evidence"], dependencies=[Authorized])


PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project or item"},
    409: {"description": "Project closed or conflict"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid input"},
}


ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


Route = TypeVar("Route", bound=Callable[..., Any])


def _body_is(schema: type[BaseModel]) -> Callable[[Route], Route]:
    """Annotate a route's `body` with the kind's own schema, which FastAPI validates and documents."""

    def annotate(route: Route) -> Route:
        route.__annotations__["body"] = schema
        return route

    return annotate


def _register_collection(kind: EvidenceKind) -> None:
    Create, Patch, Read = kind.create, kind.patch, kind.read
    if Patch is None:  # pragma: no cover - a kind without a patch schema is a singleton
        raise TypeError(f"{kind.name} is a singleton: it has no collection routes")
    base = f"/{kind.name}"
    slug = kind.name.replace("-", "_")

    @router.get(
        base,
        response_model=types.GenericAlias(list, (Read,)),  # list[Read], with Read chosen at run time
        name=f"list_{slug}",
        summary=f"List: {kind.label}",
        responses=PROBLEMS,
    )
    def list_items(project_id: uuid.UUID, response: Response, uow: ReadUow) -> Any:
        p = get_project(uow, project_id, with_evidence=(kind.relation,))
        set_etag(response, p.version)
        return [Read.model_validate(r) for r in getattr(p, kind.relation)]

    @router.post(
        base,
        response_model=Read,
        status_code=status.HTTP_201_CREATED,
        name=f"create_{slug}",
        summary=f"Add: {kind.label}",
        responses=PROBLEMS,
    )
    @_body_is(Create)
    def create_item(
        project_id: uuid.UUID,
        body: BaseModel,
        request: Request,
        response: Response,
        uow: WriteUow,
        actor: ActorDep,
        clock: ClockDep,
        if_match: IfMatch,
    ) -> Any:
        with uow:
            p, row, _ = add_evidence(uow, project_id, kind, body, expected_version=if_match, actor=actor, clock=clock)
        response.headers["Location"] = str(request.url_for(f"get_{slug}", project_id=project_id, item_id=row.id).path)
        set_etag(response, p.version)
        return Read.model_validate(row)

    @router.get(
        base + "/{item_id}", response_model=Read, name=f"get_{slug}", summary=f"Read: {kind.label}", responses=PROBLEMS
    )
    def get_item(project_id: uuid.UUID, item_id: ItemId, uow: ReadUow) -> Any:
        p = get_project(uow, project_id, with_evidence=(kind.relation,))
        row = next((r for r in getattr(p, kind.relation) if r.id == item_id), None)
        if row is None:
            raise NotFound(f"Élément introuvable ({kind.label}).")
        return Read.model_validate(row)

    @router.patch(
        base + "/{item_id}",
        response_model=Read,
        name=f"update_{slug}",
        summary=f"Change: {kind.label}",
        responses=PROBLEMS,
    )
    @_body_is(Patch)
    def update_item(
        project_id: uuid.UUID,
        item_id: ItemId,
        body: BaseModel,
        response: Response,
        uow: WriteUow,
        actor: ActorDep,
        clock: ClockDep,
        if_match: IfMatch,
    ) -> Any:
        with uow:
            p, row = update_evidence(
                uow, project_id, kind, item_id, body, expected_version=if_match, actor=actor, clock=clock
            )
        set_etag(response, p.version)
        return Read.model_validate(row)

    @router.delete(
        base + "/{item_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        name=f"delete_{slug}",
        summary=f"Remove: {kind.label}",
        responses=PROBLEMS,
    )
    def delete_item(
        project_id: uuid.UUID, item_id: ItemId, uow: WriteUow, actor: ActorDep, clock: ClockDep, if_match: IfMatch
    ) -> Response:
        with uow:
            p = delete_evidence(uow, project_id, kind, item_id, expected_version=if_match, actor=actor, clock=clock)
        return Response(status_code=204, headers={"ETag": etag(p.version)})


def _register_singleton(kind: EvidenceKind) -> None:
    Create, Read = kind.create, kind.read
    base = f"/{kind.name}"
    slug = kind.name.replace("-", "_")

    @router.get(base, response_model=Read, name=f"get_{slug}", summary=f"Read: {kind.label}", responses=PROBLEMS)
    def get_item(project_id: uuid.UUID, response: Response, uow: ReadUow) -> Any:
        p = get_project(uow, project_id, with_evidence=(kind.relation,))
        row = getattr(p, kind.relation)
        if row is None:
            raise NotFound(f"Rien n'est encore enregistré ({kind.label}).")
        set_etag(response, p.version)
        return Read.model_validate(row)

    @router.put(
        base,
        response_model=Read,
        name=f"put_{slug}",
        summary=f"Record or replace: {kind.label}",
        responses={**PROBLEMS, 201: {"description": "Created"}},
    )
    @_body_is(Create)
    def put_item(
        project_id: uuid.UUID,
        body: BaseModel,
        response: Response,
        uow: WriteUow,
        actor: ActorDep,
        clock: ClockDep,
        if_match: IfMatch,
    ) -> Any:
        with uow:
            p, row, created = add_evidence(
                uow, project_id, kind, body, expected_version=if_match, actor=actor, clock=clock
            )
        set_etag(response, p.version)
        if created:
            response.status_code = status.HTTP_201_CREATED
        return Read.model_validate(row)

    @router.delete(
        base,
        status_code=status.HTTP_204_NO_CONTENT,
        name=f"delete_{slug}",
        summary=f"Remove: {kind.label}",
        responses=PROBLEMS,
    )
    def delete_item(
        project_id: uuid.UUID, uow: WriteUow, actor: ActorDep, clock: ClockDep, if_match: IfMatch
    ) -> Response:
        with uow:
            p = delete_evidence(uow, project_id, kind, None, expected_version=if_match, actor=actor, clock=clock)
        return Response(status_code=204, headers={"ETag": etag(p.version)})


for _kind in KINDS.values():
    (_register_singleton if _kind.singleton else _register_collection)(_kind)
