"""`regieflow verify` for documents: every stored version's file exists and matches the size and
SHA-256 recorded when it was uploaded (app.transitions.verify calls this once, at its end)."""

from __future__ import annotations

from app.core.unit_of_work import UnitOfWork
from app.documents.models import Document
from app.documents.repository import DocumentRepository
from app.documents.storage import Storage


def verify_documents(uow: UnitOfWork, storage: Storage) -> list[str]:
    """One line per version whose file is missing or altered (none when all is well)."""
    problems: list[str] = []
    projects: dict[int, str] = {}
    for version in DocumentRepository(uow.session).all_versions():
        try:
            problem = storage.verify(version.storage_key, version.size, version.sha256)
        except Exception as exc:  # the storage itself failed: say so, go on with the others
            problem = f"storage error ({type(exc).__name__}: {exc})"
        if problem is None:
            continue
        if version.document_id not in projects:
            doc = uow.session.get(Document, version.document_id)
            projects[version.document_id] = str(doc.project_id) if doc is not None else "?"
        problems.append(
            f"document {version.document_id} version {version.number} of project {projects[version.document_id]} "
            f"({version.filename}, key {version.storage_key}): {problem}"
        )
    return problems
