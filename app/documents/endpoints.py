"""REST resources of a project's documents: /api/v1/projects/{id}/documents…

Uploads are multipart/form-data with the file in the field `file`; app.documents.upload has read it
into a temporary file before the route runs (the route never holds the file in memory)."""

from __future__ import annotations

import base64
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse

from app.authorization.rules import Ability
from app.core.errors import NotFound
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork
from app.documents import service
from app.documents.kinds import ALLOWED_TYPES
from app.documents.models import DocumentVersion
from app.documents.schemas import DocumentPatch, DocumentRead, VersionRead, upload_body
from app.documents.storage import storage_for
from app.documents.upload import Spooled, spooled
from app.http.dependencies import (
    ActorDep,
    Authorized,
    ClockDep,
    IfMatch,
    PrincipalDep,
    ReadUow,
    SettingsDep,
    WriteUow,
    json_of,
)
from app.http.problems import problem
from workflow.errors import InvalidInput

router = APIRouter(prefix="/projects/{project_id}", tags=["documents"], dependencies=[Authorized])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: {"description": "An expertise report needs a consultant"},
    404: {"description": "No such project or document"},
    409: {"description": "Project closed or concurrent change"},
    412: {"description": "If-Match is stale"},
    413: {"description": "File too large, or the project's space is used up"},
    415: {"description": "Not a multipart upload, or a file type that is not accepted"},
    422: {"description": "Invalid input"},
}

DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, served with the type recognised from its content at upload",
        "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in ALLOWED_TYPES},
    },
    404: {"description": "No such project, document or version; or the document was deleted"},
}

DocId = Annotated[int, Path(ge=1, le=2**31 - 1)]
VersionNo = Annotated[int, Path(ge=1, le=2**31 - 1)]

NOT_MULTIPART = "Envoyez le fichier en multipart/form-data, dans le champ « file »."


def new_file(upload: Spooled | None) -> service.NewFile:
    """The file of a multipart upload, or the French reason it cannot be used."""
    if upload is None:
        raise NotMultipart(NOT_MULTIPART, "file")
    if upload.error is not None:
        raise InvalidInput(upload.error, "file")
    if upload.file is None:
        raise InvalidInput("Aucun fichier reçu : joignez-le dans le champ « file ».", "file")
    return service.NewFile(upload.file, upload.filename, upload.size, upload.sha256, upload.head, upload.text)


class NotMultipart(InvalidInput):
    """The request is not a multipart form with a file (the API answers 415; pages show it by the field)."""

    code = "multipart_attendu"


def evidence_id_of(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not (1 <= int(text) <= 2**31 - 1):
        raise InvalidInput("Identifiant d'élément invalide : un entier positif est attendu.", "evidence_id")
    return int(text)


def _is_consultant(uow: UnitOfWork, principal: Any, project_id: uuid.UUID) -> bool:
    region = uow.projects.region_of(project_id)
    return region is not None and Ability.CONSULTANT in principal.abilities(project_id, region)


def _refused(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, NotMultipart):
        return problem(415, exc.code, "Type de contenu non pris en charge", exc.message, request.url.path)
    assert isinstance(exc, service.UnsupportedType)
    return problem(415, exc.code, "Type de fichier non accepté", exc.message, request.url.path)


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentRead,
    name="upload_document",
    summary="Upload a document (multipart: file, title, kind, evidence_kind, evidence_id)",
    responses=PROBLEMS,
    openapi_extra=upload_body(with_fields=True),
)
def upload_document(
    project_id: uuid.UUID,
    request: Request,
    uow: WriteUow,
    settings: SettingsDep,
    principal: PrincipalDep,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Response:
    upload = spooled(request.scope)
    try:
        new = new_file(upload)
        fields = upload.fields if upload is not None else {}
        with uow:
            p, doc = service.add_document(
                uow,
                storage_for(settings),
                settings,
                project_id,
                new,
                title=fields.get("title"),
                kind=fields.get("kind") or None,
                evidence_kind=fields.get("evidence_kind") or None,
                evidence_id=evidence_id_of(fields.get("evidence_id")),
                consultant=_is_consultant(uow, principal, project_id),
                expected_version=if_match,
                actor=actor,
                clock=clock,
            )
            body = DocumentRead.of(doc)
    except (NotMultipart, service.UnsupportedType) as exc:
        return _refused(request, exc)
    response = json_of(body, version=p.version, status_code=201)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{doc.id}"
    return response


@router.get(
    "/documents", response_model=list[DocumentRead], name="list_documents", summary="List documents", responses=PROBLEMS
)
def list_documents(
    project_id: uuid.UUID,
    uow: ReadUow,
    include_deleted: Annotated[bool, Query(description="Also list deleted documents (kept in history).")] = False,
) -> Any:
    return [DocumentRead.of(d) for d in service.list_documents(uow, project_id, include_deleted=include_deleted)]


@router.get(
    "/documents/{document_id}",
    response_model=DocumentRead,
    name="get_document",
    summary="Read a document's metadata (a deleted one too)",
    responses=PROBLEMS,
)
def get_document(project_id: uuid.UUID, document_id: DocId, uow: ReadUow) -> Any:
    return DocumentRead.of(service.get_document(uow, project_id, document_id))


@router.patch(
    "/documents/{document_id}",
    response_model=DocumentRead,
    name="update_document",
    summary="Rename a document",
    responses=PROBLEMS,
)
def update_document(
    project_id: uuid.UUID,
    document_id: DocId,
    body: DocumentPatch,
    uow: WriteUow,
    principal: PrincipalDep,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Response:
    with uow:
        p, doc = service.rename_document(
            uow,
            project_id,
            document_id,
            body.title,
            consultant=_is_consultant(uow, principal, project_id),
            expected_version=if_match,
            actor=actor,
            clock=clock,
        )
        read = DocumentRead.of(doc)
    return json_of(read, version=p.version)


@router.delete(
    "/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    name="delete_document",
    summary="Delete a document (soft: its versions stay in history)",
    responses=PROBLEMS,
)
def delete_document(
    project_id: uuid.UUID,
    document_id: DocId,
    uow: WriteUow,
    principal: PrincipalDep,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Response:
    with uow:
        p = service.delete_document(
            uow,
            project_id,
            document_id,
            consultant=_is_consultant(uow, principal, project_id),
            expected_version=if_match,
            actor=actor,
            clock=clock,
        )
    return Response(status_code=204, headers={"ETag": f'"{p.version}"'})


@router.post(
    "/documents/{document_id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentRead,
    name="upload_document_version",
    summary="Replace a document by a new version (earlier ones stay downloadable)",
    responses=PROBLEMS,
    openapi_extra=upload_body(with_fields=False),
)
def upload_document_version(
    project_id: uuid.UUID,
    document_id: DocId,
    request: Request,
    uow: WriteUow,
    settings: SettingsDep,
    principal: PrincipalDep,
    actor: ActorDep,
    clock: ClockDep,
    if_match: IfMatch,
) -> Response:
    try:
        new = new_file(spooled(request.scope))
        with uow:
            p, doc = service.add_version(
                uow,
                storage_for(settings),
                settings,
                project_id,
                document_id,
                new,
                consultant=_is_consultant(uow, principal, project_id),
                expected_version=if_match,
                actor=actor,
                clock=clock,
            )
            body = DocumentRead.of(doc)
    except (NotMultipart, service.UnsupportedType) as exc:
        return _refused(request, exc)
    response = json_of(body, version=p.version, status_code=201)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{doc.current_version}/content"
    return response


@router.get(
    "/documents/{document_id}/versions",
    response_model=list[VersionRead],
    name="list_document_versions",
    summary="List a document's versions",
    responses=PROBLEMS,
)
def list_document_versions(project_id: uuid.UUID, document_id: DocId, uow: ReadUow) -> Any:
    return [VersionRead.model_validate(v) for v in service.get_document(uow, project_id, document_id).versions]


@router.get(
    "/documents/{document_id}/content",
    name="download_document",
    summary="Download the current version",
    response_class=StreamingResponse,
    responses=DOWNLOAD,
)
def download_document(project_id: uuid.UUID, document_id: DocId, uow: ReadUow, settings: SettingsDep) -> Response:
    version = service.version_of(service.get_document(uow, project_id, document_id), None)
    return file_response(version, settings)


@router.get(
    "/documents/{document_id}/versions/{number}/content",
    name="download_document_version",
    summary="Download one version",
    response_class=StreamingResponse,
    responses=DOWNLOAD,
)
def download_document_version(
    project_id: uuid.UUID, document_id: DocId, number: VersionNo, uow: ReadUow, settings: SettingsDep
) -> Response:
    version = service.version_of(service.get_document(uow, project_id, document_id), number)
    return file_response(version, settings)


@router.get(
    "/dossier",
    name="download_dossier",
    summary="The expertise dossier: a ZIP with a PDF summary, an index and the current version of every document",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The ZIP",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        404: {"description": "No such project"},
    },
)
def download_dossier(project_id: uuid.UUID, request: Request, uow: ReadUow, settings: SettingsDep) -> Response:
    return dossier_response(uow, settings, project_id, request.app.state.clock)


def dossier_response(uow: UnitOfWork, settings: Settings, project_id: uuid.UUID, clock: Any) -> Response:
    from app.documents import dossier  # lazy: only the dossier (API and page) needs it, not the start (issue 17)

    now = clock.now()
    p = service.get_project(uow, project_id)
    try:
        archive = dossier.build(uow, storage_for(settings), project_id, tz=settings.tz, now=now)
    except FileNotFoundError:
        raise NotFound("Un fichier du dossier manque dans le stockage (voir regieflow verify).") from None
    headers = {
        "Content-Disposition": content_disposition(dossier.dossier_filename(p.name, now)),
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(dossier.chunks_of(archive), media_type="application/zip", headers=headers)


# --- downloads ------------------------------------------------------------------------------------
def download_name(filename: str, content_type: str) -> str:
    """The file's own name, with the extension of the type its content has (a PDF named `x.html`
    downloads as `x.html.pdf`)."""
    ext = ALLOWED_TYPES.get(content_type, "bin")
    name = filename or "piece"
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix != ext and not (ext == "jpg" and suffix == "jpeg"):
        name = f"{name}.{ext}"
    return name


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback without quotes, backslashes or controls, and the UTF-8 name (RFC 8187)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(c if c.isalnum() or c in "._- ()" else "_" for c in ascii_name).strip(" .") or "piece"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(version: DocumentVersion, settings: Settings) -> Response:
    try:
        chunks: Iterator[bytes] = storage_for(settings).open(version.storage_key)
    except FileNotFoundError:
        raise NotFound("Le fichier de cette pièce est introuvable dans le stockage (voir regieflow verify).") from None
    media = version.content_type + ("; charset=utf-8" if version.content_type == "text/plain" else "")
    digest = base64.b64encode(bytes.fromhex(version.sha256)).decode()
    headers = {
        "Content-Disposition": content_disposition(download_name(version.filename, version.content_type)),
        "Content-Length": str(version.size),
        "X-Content-Type-Options": "nosniff",
        "Repr-Digest": f"sha-256=:{digest}:",
    }
    return StreamingResponse(chunks, media_type=media, headers=headers)
