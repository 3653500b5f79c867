"""API schemas of documents."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.core.schemas import Body, Label, Read
from app.documents.kinds import KINDS
from app.documents.models import Document, DocumentVersion


class EvidenceRef(BaseModel):
    kind: str = Field(description="Evidence kind (as in the evidence routes, e.g. `association`, `approvals`).")
    id: int


class VersionRead(Read):
    number: int
    filename: str = Field(description="The uploaded file's name (its type is never taken from it).")
    content_type: str = Field(description="Recognised from the content.")
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str


class DocumentRead(BaseModel):
    id: int
    project_id: uuid.UUID
    title: str
    kind: str
    kind_label: str
    evidence: EvidenceRef | None
    current_version: int
    content_type: str
    size: int
    sha256: str
    filename: str
    created_at: datetime
    created_by: str
    deleted_at: datetime | None
    deleted_by: str | None
    versions: list[VersionRead]

    @classmethod
    def of(cls, doc: Document) -> DocumentRead:
        current = doc.current
        evidence = (
            EvidenceRef(kind=doc.evidence_kind, id=doc.evidence_id)
            if doc.evidence_kind is not None and doc.evidence_id is not None
            else None
        )
        return cls(
            id=doc.id,
            project_id=doc.project_id,
            title=doc.title,
            kind=doc.kind,
            kind_label=KINDS[doc.kind],
            evidence=evidence,
            current_version=doc.current_version,
            content_type=current.content_type,
            size=current.size,
            sha256=current.sha256,
            filename=current.filename,
            created_at=doc.created_at,
            created_by=doc.created_by,
            deleted_at=doc.deleted_at,
            deleted_by=doc.deleted_by,
            versions=[VersionRead.model_validate(v) for v in doc.versions],
        )


class DocumentPatch(Body):
    title: Label = Field(description="New title (1 to 200 characters).")


def version_read(v: DocumentVersion) -> VersionRead:
    return VersionRead.model_validate(v)


# The multipart body of an upload, for the OpenAPI document (the route reads it from the stream itself).
def upload_body(*, with_fields: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {"file": {"type": "string", "format": "binary", "description": "The file."}}
    required = ["file"]
    if with_fields:
        properties |= {
            "title": {"type": "string", "maxLength": 200, "description": "Title (default: the file's name)."},
            "kind": {"type": "string", "enum": list(KINDS), "default": "autre"},
            "evidence_kind": {"type": "string", "description": "Evidence kind it is attached to (optional)."},
            "evidence_id": {"type": "integer", "minimum": 1, "description": "Id of that evidence item."},
        }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": properties, "required": required}}
            },
        }
    }
