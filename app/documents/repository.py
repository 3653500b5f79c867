"""Queries on documents and their versions, through the unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.documents.models import Document, DocumentVersion


class DocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_project(self, project_id: uuid.UUID, *, include_deleted: bool = False) -> list[Document]:
        query = select(Document).where(Document.project_id == project_id)
        if not include_deleted:
            query = query.where(Document.deleted_at.is_(None))
        return list(self.session.scalars(query.order_by(Document.id)))

    def get(self, project_id: uuid.UUID, document_id: int) -> Document | None:
        return self.session.scalar(
            select(Document).where(Document.project_id == project_id, Document.id == document_id)
        )

    def bytes_of_project(self, project_id: uuid.UUID) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(DocumentVersion.size), 0))
            .join(Document, Document.id == DocumentVersion.document_id)
            .where(Document.project_id == project_id)
        )
        return int(total or 0)

    def add(self, row: Document | DocumentVersion) -> None:
        self.session.add(row)

    def all_versions(self, batch: int = 500) -> Iterator[DocumentVersion]:
        """Every stored version (verify), a batch at a time."""
        last = 0
        while True:
            rows = list(
                self.session.scalars(
                    select(DocumentVersion).where(DocumentVersion.id > last).order_by(DocumentVersion.id).limit(batch)
                )
            )
            if not rows:
                return
            yield from rows
            last = rows[-1].id
