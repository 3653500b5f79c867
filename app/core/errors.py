"""Errors of the application (not found, stale version, access, limits): the domain's own refusals
live in workflow.errors. Both carry a stable French `code` and a French message; app.http.problems
maps each class to its HTTP status, and the pages to their error page."""

from __future__ import annotations

from workflow.errors import DomainError


class AppError(Exception):
    """Base of the application's errors."""

    code = "erreur"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# What a service, a page or the CLI catches to show a refusal: the domain's or the application's.
Refusal = (DomainError, AppError)


class NotFound(AppError):
    code = "introuvable"


class PreconditionFailed(AppError):
    """The caller read version `expected`; the project is now at version `current`."""

    code = "version_perimee"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"Le projet a changé depuis votre lecture (version {expected}, actuelle {current}) : rechargez-le."
        )
        self.expected, self.current = expected, current


class ConcurrentUpdate(AppError):
    """Another request changed the project between our read and our write."""

    code = "modification_concurrente"


class Conflict(AppError):
    code = "conflit"


class PayloadTooLarge(AppError):
    code = "requete_trop_volumineuse"


class Unauthenticated(AppError):
    code = "authentification_requise"


class Forbidden(AppError):
    code = "acces_refuse"


class Throttled(AppError):
    code = "trop_de_tentatives"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
