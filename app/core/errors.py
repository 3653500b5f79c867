"""Errors of the service layer that are not domain refusals (workflow.errors holds those)."""

from __future__ import annotations

from workflow.errors import DomainError


class NotFound(DomainError):
    code = "introuvable"


class PreconditionFailed(DomainError):
    """If-Match names a version that is no longer the current one."""

    code = "version_perimee"


class ConcurrentUpdate(DomainError):
    """Another request changed the project between our read and our write."""

    code = "modification_concurrente"


class Conflict(DomainError):
    code = "conflit"


class PayloadTooLarge(DomainError):
    code = "requete_trop_volumineuse"


class Unauthenticated(DomainError):
    code = "authentification_requise"


class Forbidden(DomainError):
    code = "acces_refuse"


class Throttled(DomainError):
    code = "trop_de_tentatives"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
