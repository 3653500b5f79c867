"""Service functions for documents: one transaction each, like the evidence (app/evidence/service.py).

The file goes to the storage first, then the metadata, the project's version and the event are
written in one unit of work; if that transaction fails, the stored file is deleted again, so a
refused or failed upload leaves neither a row nor a file. Events carry the metadata and checksum,
never the content."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from typing import IO, Any

from app.core.clock import Actor, Clock
from app.core.errors import AppError, Forbidden, NotFound, PayloadTooLarge
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork
from app.documents import detect
from app.documents.kinds import CONSULTANT_KINDS, KINDS
from app.documents.models import Document, DocumentVersion
from app.documents.repository import DocumentRepository
from app.documents.storage import Storage, Stored
from app.evidence.registry import KINDS as EVIDENCE_KINDS
from app.projects.models import Project
from app.projects.service import get_project, load_for_write, record_change

__all__ = ["get_project"]
from workflow.errors import InvalidInput

EXPERTISE_REFUSAL = "Seul un consultant du Mouvement des Régies peut déposer un rapport d'expertise."


class UnsupportedType(AppError):
    """The content is none of the accepted types (415)."""

    code = "type_de_fichier_refuse"


UNSUPPORTED = (
    "Type de fichier non accepté : seuls les PDF, documents bureautiques (ODF, OOXML), images (PNG, JPEG, "
    "WebP…) et textes UTF-8 sont acceptés. Le type est reconnu d'après le contenu du fichier, pas son nom."
)


@dataclass(frozen=True)
class NewFile:
    """A file read by the upload middleware (app.documents.upload): positioned at its start."""

    stream: IO[bytes]
    filename: str
    size: int
    sha256: str
    head: bytes
    text: bool


def clean_title(raw: str | None, field: str = "title") -> str:
    title = unicodedata.normalize("NFC", (raw or "").strip())
    if not title:
        raise InvalidInput("Donnez un titre à la pièce.", field)
    if len(title) > 200:
        raise InvalidInput("Titre trop long (200 caractères au plus).", field)
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in title):
        raise InvalidInput("Le titre contient des caractères de contrôle.", field)
    return title


def clean_filename(raw: str) -> str:
    """What the file was called, kept for the download's name (never trusted for its type)."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip(" .")
    return name[:255] or "piece"


def _content_type(new: NewFile) -> str:
    if new.size == 0:
        raise InvalidInput("Le fichier est vide.", "file")
    found = detect.content_type(new.head, text=new.text)
    if found is None:
        raise UnsupportedType(UNSUPPORTED)
    return found


def _check_evidence_shape(evidence_kind: str | None, evidence_id: int | None) -> None:
    """What can be said of the evidence named without reading the project (before If-Match is judged)."""
    if evidence_kind is None and evidence_id is None:
        return
    if evidence_kind is None or evidence_id is None:
        raise InvalidInput("Indiquez à la fois le type d'élément et son identifiant.", "evidence_kind")
    if evidence_kind not in EVIDENCE_KINDS:
        raise InvalidInput(f"Type d'élément inconnu : « {evidence_kind} ».", "evidence_kind")


def _check_evidence(p: Project, evidence_kind: str | None, evidence_id: int | None) -> None:
    _check_evidence_shape(evidence_kind, evidence_id)
    if evidence_kind is None or evidence_id is None:
        return
    kind = EVIDENCE_KINDS[evidence_kind]
    if not any(ident == evidence_id for ident in evidence_ids(p, evidence_kind)):
        raise InvalidInput(f"Élément introuvable dans ce projet ({kind.label}).", "evidence_id")


SINGLETON_ID = 1  # a project's one record of a singleton kind (feasibility, association) is referred to as 1


def evidence_ids(p: Project, evidence_kind: str) -> list[int]:
    """The ids a document may name for this kind of evidence of project `p` (its relation loaded)."""
    kind = EVIDENCE_KINDS[evidence_kind]
    related = getattr(p, kind.relation)
    if kind.singleton:
        return [SINGLETON_ID] if related is not None else []
    return [r.id for r in related]


def _store(
    uow: UnitOfWork, storage: Storage, settings: Settings, p: Project, new: NewFile, repo: DocumentRepository
) -> tuple[Stored, str]:
    ctype = _content_type(new)
    used = repo.bytes_of_project(p.id)
    if used + new.size > settings.documents_max_project_bytes:
        raise PayloadTooLarge(
            f"Le projet dépasserait la place accordée à ses pièces ({settings.documents_max_project_bytes} octets, "
            f"{used} déjà utilisés)."
        )
    stored = storage.put(new.stream)
    if stored.size != new.size or stored.sha256 != new.sha256:  # pragma: no cover - the spool changed under us
        storage.delete(stored.key)
        raise InvalidInput("Le fichier a changé pendant son enregistrement : renvoyez-le.", "file")
    return stored, ctype


def _version_row(doc_number: int, stored: Stored, ctype: str, new: NewFile, actor: Actor, clock: Clock) -> Any:
    return DocumentVersion(
        number=doc_number,
        storage_key=stored.key,
        filename=clean_filename(new.filename),
        content_type=ctype,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_at=clock.now(),
        uploaded_by=actor.label,
    )


def _event_data(doc: Document, version: DocumentVersion | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "document_id": doc.id,
        "title": doc.title,
        "kind": doc.kind,
        "evidence": {"kind": doc.evidence_kind, "id": doc.evidence_id} if doc.evidence_kind else None,
    }
    if version is not None:
        data |= {
            "version": version.number,
            "filename": version.filename,
            "content_type": version.content_type,
            "size": version.size,
            "sha256": version.sha256,
        }
    return data


def add_document(
    uow: UnitOfWork,
    storage: Storage,
    settings: Settings,
    project_id: uuid.UUID,
    new: NewFile,
    *,
    title: str | None,
    kind: str | None,
    evidence_kind: str | None,
    evidence_id: int | None,
    consultant: bool,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> tuple[Project, Document]:
    kind = kind or "autre"
    if kind not in KINDS:
        raise InvalidInput(f"Nature de pièce inconnue : « {kind} ». Possibles : {', '.join(KINDS)}.", "kind")
    if kind in CONSULTANT_KINDS and not consultant:
        raise Forbidden(EXPERTISE_REFUSAL)
    clean = clean_title(title if title and title.strip() else clean_filename(new.filename))
    # Everything the request alone decides is judged before the project is read, so that a stale or
    # unreadable If-Match (412) never hides a 415 or 422 (RFC 9110 §13.2.1).
    _content_type(new)
    _check_evidence_shape(evidence_kind, evidence_id)
    relations = (EVIDENCE_KINDS[evidence_kind].relation,) if evidence_kind in EVIDENCE_KINDS else False
    p = load_for_write(uow, project_id, expected_version, relations=relations)
    _check_evidence(p, evidence_kind, evidence_id)
    repo = DocumentRepository(uow.session)
    stored, ctype = _store(uow, storage, settings, p, new, repo)
    try:
        version = _version_row(1, stored, ctype, new, actor, clock)
        doc = Document(
            project_id=p.id,
            title=clean,
            kind=kind,
            evidence_kind=evidence_kind,
            evidence_id=evidence_id,
            current_version=1,
            created_at=clock.now(),
            created_by=actor.label,
            versions=[version],
        )
        repo.add(doc)
        uow.flush()
        record_change(uow, p, clock, actor, "document.created", data=_event_data(doc, version))
        uow.commit()
    except BaseException:
        storage.delete(stored.key)
        raise
    return p, doc


def _live(uow: UnitOfWork, project_id: uuid.UUID, document_id: int) -> Document:
    doc = DocumentRepository(uow.session).get(project_id, document_id)
    if doc is None or doc.deleted_at is not None:
        raise NotFound("Pièce introuvable.")
    return doc


def add_version(
    uow: UnitOfWork,
    storage: Storage,
    settings: Settings,
    project_id: uuid.UUID,
    document_id: int,
    new: NewFile,
    *,
    consultant: bool,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> tuple[Project, Document]:
    _content_type(new)  # judged before If-Match (see add_document)
    p = load_for_write(uow, project_id, expected_version, relations=False)
    doc = _live(uow, project_id, document_id)
    if doc.kind in CONSULTANT_KINDS and not consultant:
        raise Forbidden(EXPERTISE_REFUSAL)
    repo = DocumentRepository(uow.session)
    stored, ctype = _store(uow, storage, settings, p, new, repo)
    try:
        number = max(v.number for v in doc.versions) + 1
        version = _version_row(number, stored, ctype, new, actor, clock)
        doc.versions.append(version)
        doc.current_version = number
        uow.flush()
        record_change(uow, p, clock, actor, "document.version_added", data=_event_data(doc, version))
        uow.commit()
    except BaseException:
        storage.delete(stored.key)
        raise
    return p, doc


def rename_document(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    document_id: int,
    title: str,
    *,
    consultant: bool,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> tuple[Project, Document]:
    p = load_for_write(uow, project_id, expected_version, relations=False)
    doc = _live(uow, project_id, document_id)
    if doc.kind in CONSULTANT_KINDS and not consultant:
        raise Forbidden(EXPERTISE_REFUSAL)
    clean = clean_title(title)
    if clean != doc.title:
        before = doc.title
        doc.title = clean
        record_change(uow, p, clock, actor, "document.updated", data=_event_data(doc) | {"previous_title": before})
    uow.commit()
    return p, doc


def delete_document(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    document_id: int,
    *,
    consultant: bool,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> Project:
    """A soft delete: the document leaves the list, its versions stay in storage and in history."""
    p = load_for_write(uow, project_id, expected_version, relations=False)
    doc = _live(uow, project_id, document_id)
    if doc.kind in CONSULTANT_KINDS and not consultant:
        raise Forbidden(EXPERTISE_REFUSAL)
    doc.deleted_at = clock.now()
    doc.deleted_by = actor.label
    record_change(uow, p, clock, actor, "document.deleted", data=_event_data(doc))
    uow.commit()
    return p


def list_documents(uow: UnitOfWork, project_id: uuid.UUID, *, include_deleted: bool = False) -> list[Document]:
    get_project(uow, project_id)  # 404 for a project that does not exist
    return DocumentRepository(uow.session).of_project(project_id, include_deleted=include_deleted)


def get_document(uow: UnitOfWork, project_id: uuid.UUID, document_id: int) -> Document:
    """A document of this project, deleted or not (its metadata stays readable)."""
    doc = DocumentRepository(uow.session).get(project_id, document_id)
    if doc is None:
        raise NotFound("Pièce introuvable.")
    return doc


def version_of(doc: Document, number: int | None) -> DocumentVersion:
    """A version to download: the current one by default; none of a deleted document."""
    if doc.deleted_at is not None:
        raise NotFound("Cette pièce a été supprimée : son contenu n'est plus proposé au téléchargement.")
    wanted = doc.current_version if number is None else number
    version = next((v for v in doc.versions if v.number == wanted), None)
    if version is None:
        raise NotFound("Version introuvable.")
    return version
