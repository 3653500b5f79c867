"""Documents of a project and their versions. The database holds the metadata and the checksum; the
bytes live in the storage (app.documents.storage) under `storage_key`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime
from app.documents.kinds import KINDS
from app.projects.models import _project_fk


def _kinds_check() -> str:
    return "kind IN (" + ", ".join(repr(k) for k in KINDS) + ")"


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(_kinds_check(), name="kind"),
        CheckConstraint("(evidence_kind IS NULL) = (evidence_id IS NULL)", name="evidence_pair"),
        CheckConstraint("current_version >= 1", name="current_version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    evidence_kind: Mapped[str | None] = mapped_column(String(32))
    evidence_id: Mapped[int | None] = mapped_column(Integer)
    current_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(200))
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number", lazy="selectin"
    )

    @property
    def current(self) -> DocumentVersion:
        return next(v for v in self.versions if v.number == self.current_version)


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_document_versions_document_number"),
        CheckConstraint("size >= 0", name="size"),
        CheckConstraint("number >= 1", name="number"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(300), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    document: Mapped[Document] = relationship(back_populates="versions")
