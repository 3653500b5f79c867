"""RFC 9457 problem details: every error of the service is mapped to HTTP here, and only here."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.errors import (
    AppError,
    ConcurrentUpdate,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    Throttled,
    Unauthenticated,
)
from app.core.keys import KeyUnavailable
from app.core.messages import translate
from app.http.dependencies import UNREADABLE_VERSION, WEAK_VERSION
from workflow.errors import (
    DomainError,
    GuardsUnmet,
    InvalidInput,
    ProjectClosed,
    TriggerNotAllowed,
    UnknownTrigger,
)

log = logging.getLogger("regieflow")


PROBLEM = "application/problem+json"


STATUS: list[tuple[type[DomainError] | type[AppError], int, str]] = [
    (Unauthenticated, 401, "Authentification requise"),
    (Forbidden, 403, "Accès refusé"),
    (Throttled, 429, "Trop de tentatives"),
    (NotFound, 404, "Ressource introuvable"),
    (UnknownTrigger, 404, "Déclencheur inconnu"),
    (GuardsUnmet, 409, "Conditions non remplies"),
    (TriggerNotAllowed, 409, "Transition impossible depuis l'étape actuelle"),
    (ProjectClosed, 409, "Projet clos"),
    (ConcurrentUpdate, 409, "Modification concurrente"),
    (Conflict, 409, "Conflit"),
    (PreconditionFailed, 412, "Version périmée"),
    (PayloadTooLarge, 413, "Requête trop volumineuse"),
    (InvalidInput, 422, "Donnée invalide"),
]


HTTP_TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Ressource introuvable",
    405: "Méthode non autorisée",
    406: "Format non disponible",
    409: "Conflit",
    412: "Version périmée",
    413: "Requête trop volumineuse",
    415: "Type de contenu non pris en charge",
    422: "Donnée invalide",
    428: "Précondition requise",
    429: "Trop de requêtes",
    500: "Erreur interne",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": f"urn:regieflow:problem:{code}", "title": title, "status": status, "detail": detail, "code": code}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


JSON = "application/json"
UNREADABLE_JSON = "Le corps de la requête n'est pas du JSON valide (UTF-8) : vérifiez sa syntaxe."
WRONG_CONTENT_TYPE = "Le corps de la requête doit être envoyé en application/json (en-tête Content-Type)."
# Starlette's words when a body declared as JSON cannot even be decoded (not UTF-8, say).
_UNPARSABLE_BODY = "There was an error parsing the body"


def unreadable_json(instance: str | None = None) -> JSONResponse:
    return problem(400, "json_illisible", HTTP_TITLES[400], UNREADABLE_JSON, instance)


UNREADABLE_IF_MATCH = 'En-tête If-Match illisible : attendu une étiquette comme "3" (voir ETag).'

WEAK_IF_MATCH = (
    'En-tête If-Match : une étiquette faible (W/"3") ne correspond jamais, la comparaison est forte '
    '(RFC 9110) ; renvoyez l\'ETag tel que reçu, par exemple "3".'
)


def message_of(exc: DomainError | AppError) -> str:
    """The refusal's French message, as a person or a client reads it over HTTP."""
    if isinstance(exc, PreconditionFailed) and exc.expected == UNREADABLE_VERSION:
        return UNREADABLE_IF_MATCH
    if isinstance(exc, PreconditionFailed) and exc.expected == WEAK_VERSION:
        return WEAK_IF_MATCH
    return exc.message


def domain_problem(exc: DomainError | AppError, instance: str | None = None) -> JSONResponse:
    for cls, status, title in STATUS:
        if isinstance(exc, cls):
            extra: dict[str, Any] = {}
            if isinstance(exc, GuardsUnmet):
                extra["trigger"] = exc.trigger
                extra["unmet"] = [{"code": u.code, "message": u.message} for u in exc.unmet]
            if isinstance(exc, InvalidInput) and exc.field:
                extra["errors"] = [{"field": exc.field, "message": exc.message}]
            extra.update(getattr(exc, "extra", {}))  # a refusal's own members: suggestions (app/reference)
            headers = None
            if isinstance(exc, Unauthenticated):
                headers = {"WWW-Authenticate": 'Bearer realm="regieflow"'}
            elif isinstance(exc, Throttled):
                headers = {"Retry-After": str(exc.retry_after)}
            return problem(status, exc.code, title, message_of(exc), instance, headers=headers, **extra)
    return problem(409, exc.code, "Refus", exc.message, instance)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route offers at this path (Starlette's own Allow names the first route's only)."""
    scope = {"type": "http", "path": request.scope["path"], "root_path": request.scope.get("root_path", "")}
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in request.app.router.routes)
    ]
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    @app.exception_handler(AppError)
    async def _domain(request: Request, exc: DomainError | AppError) -> JSONResponse:
        return domain_problem(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if isinstance(exc.body, bytes):
            # FastAPI hands a JSON route the raw bytes when the Content-Type is not JSON (or is missing).
            return problem(
                415,
                "type_de_contenu_non_pris_en_charge",
                HTTP_TITLES[415],
                WRONG_CONTENT_TYPE,
                request.url.path,
                expected=JSON,
            )
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return unreadable_json(request.url.path)
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": translate(e), "type": e.get("type")}
            for e in exc.errors()
        ]
        return problem(
            422,
            "requete_invalide",
            "Donnée invalide",
            "La requête ne respecte pas le format attendu : voir « errors ».",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTP_TITLES.get(exc.status_code, "Erreur")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = "Aucune ressource à cette adresse."
        if exc.status_code == 400 and detail == _UNPARSABLE_BODY:
            return unreadable_json(request.url.path)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            detail = "Cette méthode n'est pas disponible sur cette ressource."
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return problem(exc.status_code, f"http_{exc.status_code}", title, detail, request.url.path, headers=headers)

    @app.exception_handler(KeyUnavailable)
    async def _no_key(request: Request, exc: KeyUnavailable) -> JSONResponse:
        # The server's configuration, not the caller's request: said plainly, the detail (a path) only logged.
        log.error("server key unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem(
            503,
            "cle_serveur_indisponible",
            HTTP_TITLES.get(503, "Service indisponible"),
            "La clé du serveur est illisible : rien n'a été enregistré. L'administrateur doit vérifier "
            "REGIEFLOW_SECRET_KEY (ou le fichier de clé).",
            request.url.path,
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "erreur_interne",
            "Erreur interne",
            "Une erreur inattendue s'est produite ; elle a été journalisée.",
            request.url.path,
        )
