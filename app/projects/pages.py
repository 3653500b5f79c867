"""Pages for project leads and consultants (French): portfolio, project, transitions, re-plan, new
project, workflow. Server-rendered, no JavaScript; every refusal is the same one the API gives.

Access: every route names its rule in app.authorization.rules.RULES and depends on `PageUser`
(app.web.templating), the same check as the API. Writes go through the same service functions as the
API, one transaction each, and answer with POST/redirect/GET and a fixed confirmation message
(`?ok=<code>`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from enum import Enum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.assessments.pages import grid_context
from app.authorization.rules import Ability, Principal
from app.core.errors import AppError, Conflict, NotFound, PreconditionFailed, Refusal
from app.core.identifiers import parse_uuid
from app.core.inputs import has_control, iso_day
from app.core.unit_of_work import UnitOfWork
from app.evidence import guidance
from app.evidence.registry import KINDS, summary_of
from app.exchange import exports
from app.forecasts.repository import ForecastRepository
from app.home import cards
from app.http.dependencies import actor_of, unit_of_work
from app.http.problems import STATUS
from app.projects import history_view
from app.projects import service as projects_service
from app.projects.models import Event, Project
from app.projects.repository import SearchFilters
from app.projects.schemas import PlanBody, ProjectCreate, ProjectUpdate
from app.projects.service import create_project_as, get_project, plan_of, project_read
from app.reference.cog import cog
from app.transitions.schemas import TransitionsRead
from app.transitions.service import recorded_transitions, transitions_view
from app.web import charts, wording
from app.web.forms import BLANKS, form_int, form_version, translate
from app.web.templating import FLASH_MESSAGES, PageRedirect, PageRoute, PageUser, render
from workflow import deadlines as dl
from workflow.errors import DomainError, InvalidInput
from workflow.history import replay
from workflow.vocabulary import (
    KIND_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
    STEPS,
    TERMINAL,
    Conventionnement,
    Initiator,
    Kind,
    State,
    Status,
    Trigger,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)


PAGE_SIZES = (10, 20, 50, 100)


DEFAULT_PAGE_SIZE = 20


HISTORY_PAGE_SIZE = 20


SORTS_FR = {
    "status": "En retard et à risque d'abord",
    "-status": "Dans les temps d'abord",
    "name": "Nom (A → Z)",
    "-name": "Nom (Z → A)",
    "started_on": "Démarrage (plus ancien d'abord)",
    "-started_on": "Démarrage (plus récent d'abord)",
    "step_due_on": "Échéance de l'étape (la plus proche d'abord)",
    "-step_due_on": "Échéance de l'étape (la plus lointaine d'abord)",
    "horizon_on": "Horizon (le plus proche d'abord)",
    "-horizon_on": "Horizon (le plus lointain d'abord)",
    "region": "Région (A → Z)",
    "-region": "Région (Z → A)",
    "-updated_at": "Dernière activité (la plus récente d'abord)",
    "updated_at": "Dernière activité (la plus ancienne d'abord)",
    "-p80_label_on": "Label P80 d'après l'historique (le plus tardif d'abord)",
    "p80_label_on": "Label P80 d'après l'historique (le plus proche d'abord)",
}


# The portfolio's sortable columns: (header, sort key, the first click's direction).
SORTABLE = {
    "name": ("Projet", "name"),
    "status": ("Statut", "status"),
    "step_due_on": ("Échéance", "step_due_on"),
    "region": ("Région", "region"),
    "updated_at": ("Dernière activité", "-updated_at"),
    "horizon_on": ("Délai de trois ans", "horizon_on"),
    "p80_label_on": ("Label P80 (historique)", "-p80_label_on"),  # issue 16: the stored forecasts
}


INITIATOR_LABELS = history_view.INITIATOR_LABELS
CONVENTIONNEMENT_LABELS = history_view.CONVENTIONNEMENT_LABELS


def regions() -> list[str]:
    """The 18 régions of the official geographic code, for the select lists."""
    return [r.name for r in cog().regions]


def departement_groups(allowed: list[str] | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The départements by région, for a select list with one group per région (`allowed`: those régions)."""
    data = cog()
    return [
        (r.name, [(d.code, f"{d.code} — {d.name}") for d in data.departements_of(r)])
        for r in data.regions
        if allowed is None or r.name in allowed
    ]


# Every event type in French: one table (app/projects/history_view.py), which other concepts extend.
EVENT_TYPES = history_view.EVENT_TYPES


NOT_WRITER = "Votre rôle permet seulement de consulter ce projet : aucune action n'est proposée."


CONSULTANT_ONLY_NOTE = (
    "Réservé à un consultant du Mouvement des Régies, seul habilité à attribuer ou ajourner le label."
)


FLASH_MESSAGES.update(
    {
        "projet-cree": "Le projet a été créé. Première étape : constituer le groupe projet.",
        "plan": "Le planning du projet a été révisé ; la révision est inscrite dans l'historique.",
    }
)


# --- small helpers -------------------------------------------------------------------------------
def _uow(request: Request, *, write: bool) -> UnitOfWork:
    return unit_of_work(request, write=write)


def _today(request: Request) -> date:
    today: date = request.app.state.clock.today()
    return today


def _project_id(value: str) -> uuid.UUID:
    pid = parse_uuid(value)
    if pid is None:
        raise NotFound("Projet introuvable.")
    return pid


def _int(value: str | None, default: int, *, low: int = 1, high: int = 100_000) -> int:
    """A page number or size from a query string: ASCII digits (form_int), else the default; bounded."""
    n = form_int(value)
    if n is None:
        return default
    return min(max(n, low), high)


E = TypeVar("E", bound=Enum)


def _enum(enum: type[E], value: str | None) -> E | None:
    """The member of `enum` named by a stored or submitted value; None when empty or unknown."""
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def _status_of(domain_error: DomainError | AppError) -> int:
    return next((st for cls, st, _ in STATUS if isinstance(domain_error, cls)), 409)


def _parse_date(value: str, field: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    day = iso_day(value)
    if day is None:
        raise InvalidInput("Date invalide : attendu le format AAAA-MM-JJ.", field)
    return day


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in ({**params, **changes}).items() if v not in (None, "", 1) or k == "ok"}
    if merged.get("tri") == "status":
        merged.pop("tri")
    if merged.get("par_page") == DEFAULT_PAGE_SIZE:
        merged.pop("par_page")
    return ("?" + urlencode(merged)) if merged else ""


# --- home and portfolio ----------------------------------------------------------------------------
FILTERS = ("region", "etape", "statut", "type", "q", "tri", "page", "par_page", "p80_apres_horizon")


QUERY_CONTROL = (
    "Recherche invalide : l'adresse de la page contient un caractère de contrôle (invisible). "
    "Retirez-le, ou repartez du portefeuille."
)


def _filters(request: Request) -> dict[str, str]:
    """The portfolio's GET parameters, bounded (unknown values are ignored later, never refused); a
    control character (NUL included) is refused with a French page (422), never sent to the database."""
    values = {k: request.query_params.get(k, "")[:100] for k in FILTERS}
    bad = next((k for k, v in values.items() if has_control(v)), None)
    if bad is not None:
        raise InvalidInput(QUERY_CONTROL, bad)
    return {k: v.strip() for k, v in values.items()}


@router.get("/projets", name="page_portfolio")
def portfolio(request: Request, principal: PageUser) -> Response:
    return _portfolio(request, principal, _filters(request), mine=False)


def _export_filters(request: Request) -> SearchFilters:
    """The portfolio's filters and order (its GET parameters) for its download."""
    query = PortfolioQuery.read(_filters(request))
    return {
        "state": [query.state.value] if query.state else [],
        "kind": query.kind.value if query.kind else None,
        "region": [query.region] if query.region else [],
        "status": [query.status.value] if query.status else [],
        "q": query.q or None,
        "sort": query.sort,
        "p80_after_horizon": True if query.p80_after else None,
    }


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@router.get("/projets/export.csv", name="page_export_csv")
def export_csv(request: Request, principal: PageUser) -> Response:
    """The portfolio as shown (filters, order), for a spreadsheet set up for French: semicolons, French
    headers and labels, dates dd/mm/yyyy (the API's export keeps its documented English columns)."""
    today = _today(request)
    with _uow(request, write=False) as uow:
        rows = exports.rows_fr(
            exports.portfolio(uow, visible_to=principal, today=today, filters=_export_filters(request))
        )
    body = exports.to_csv(rows, separator=";", french=True)
    return Response(body, media_type="text/csv; charset=utf-8", headers=_download(f"projets-{today.isoformat()}.csv"))


@router.get("/projets/export.xlsx", name="page_export_xlsx")
def export_xlsx(request: Request, principal: PageUser) -> Response:
    today = _today(request)
    with _uow(request, write=False) as uow:
        rows = exports.rows_fr(
            exports.portfolio(uow, visible_to=principal, today=today, filters=_export_filters(request))
        )
    return Response(
        exports.to_xlsx(rows, french=True),
        media_type=exports.XLSX_MEDIA_TYPE,
        headers=_download(f"projets-{today.isoformat()}.xlsx"),
    )


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    name: str
    url: str
    kind: str
    step: int | None
    state: str
    state_label: str
    status: str | None
    status_label: str
    region: str
    lead: str
    days_in_step: int | None
    step_due_on: date | None
    suspended: bool
    bar: charts.HorizonBar
    due_words: str
    reason: str
    updated_on: date


@dataclass(frozen=True)
class PortfolioQuery:
    """What the portfolio's GET parameters ask for, each unknown or out-of-range value replaced by its default."""

    state: State | None
    status: Status | None
    kind: Kind | None
    region: str
    q: str
    sort: str
    size: int
    page: int
    p80_after: bool = False  # issue 16: only the projects whose stored P80 label date is after the horizon

    @classmethod
    def read(cls, raw: dict[str, str]) -> PortfolioQuery:
        size = _int(raw.get("par_page"), DEFAULT_PAGE_SIZE)
        tri = raw.get("tri") or ""
        return cls(
            state=_enum(State, raw.get("etape")),
            status=_enum(Status, raw.get("statut")),
            kind=_enum(Kind, raw.get("type")),
            region=raw.get("region") or "",
            q=raw.get("q") or "",
            sort=tri if tri in SORTS_FR else "status",
            size=size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE,
            page=_int(raw.get("page"), 1),
            p80_after=raw.get("p80_apres_horizon") in ("1", "on", "oui", "true"),
        )

    @property
    def filtered(self) -> bool:
        return bool(self.state or self.status or self.kind or self.region or self.q or self.p80_after)

    def params(self) -> dict[str, Any]:
        """The query string that shows this portfolio again (the page aside)."""
        return {
            "region": self.region,
            "etape": self.state.value if self.state else "",
            "statut": self.status.value if self.status else "",
            "type": self.kind.value if self.kind else "",
            "q": self.q,
            "tri": self.sort,
            "par_page": self.size,
            "p80_apres_horizon": "1" if self.p80_after else "",
        }


@dataclass(frozen=True)
class PortfolioPage:
    """One page of the portfolio as read from the database, with the counts of its filters."""

    projects: list[Project]
    total: int
    page: int  # the one asked for, or the last one when asked beyond it
    pages: int
    by_state: dict[str | None, int]
    by_status: dict[str | None, int]
    regions: list[str]


def _portfolio(request: Request, principal: Principal, raw: dict[str, str], *, mine: bool) -> Response:
    today = _today(request)
    query = PortfolioQuery.read(raw)
    with _uow(request, write=False) as uow:
        found = _portfolio_page(uow, query, principal, today)
        items = [_row(p, today, request.app.state.clock.tz) for p in found.projects]
        p80 = ForecastRepository(uow.session).stored_for([p.id for p in found.projects])
    params = query.params()
    base = "/" if mine else "/projets"
    return render(
        request,
        "portfolio.html",
        {
            "section": "portefeuille",
            "mine": mine,
            "rows": items,
            "pager": _pager(found, query.size, base, params),
            "params": params,
            "filtered": query.filtered,
            "regions": sorted(set(found.regions) | ({query.region} if query.region else set())),
            "states": [(st.value, STATE_LABELS[st]) for st in State],
            "statuses": list(STATUS_LABELS.items()),
            "kinds": list(KIND_LABELS.items()),
            "sorts": SORTS_FR,
            "page_sizes": PAGE_SIZES,
            "step_counts": _step_counts(query, found.by_state, base, params),
            "columns": _sort_links(query, base, params),
            "export_query": _query({k: v for k, v in params.items() if k not in ("par_page",)}),
            "status_counts": _status_counts(query, found.by_status, base, params),
            "closed_count": found.by_status.get(None, 0),
            "p80": p80,
            "today": today,
            "date_fr": charts.date_fr,
        },
    )


def _portfolio_page(uow: UnitOfWork, query: PortfolioQuery, principal: Principal, today: date) -> PortfolioPage:
    """The projects of the page asked for (the last page when asked beyond it) and the filters' counts."""
    states = [query.state.value] if query.state else []
    statuses = [query.status.value] if query.status else []
    regions = [query.region] if query.region else []
    kind = query.kind.value if query.kind else None
    q = query.q or None
    p80_after = True if query.p80_after else None

    def search(page: int, *, with_total: bool = True) -> tuple[list[Project], int]:
        return uow.projects.search(
            today=today,
            visible_to=principal,
            state=states,
            kind=kind,
            region=regions,
            status=statuses,
            q=q,
            sort=query.sort,
            offset=(page - 1) * query.size,
            limit=query.size,
            p80_after_horizon=p80_after,
            with_total=with_total,
        )

    page = query.page
    if not states and not statuses:
        # no step or status filter: the total and both filters' counts come from one grouped count
        grid = uow.projects.counts_by_state_and_status(
            today=today, visible_to=principal, kind=kind, region=regions, q=q, p80_after_horizon=p80_after
        )
        by_state: dict[str | None, int] = {}
        by_status: dict[str | None, int] = {}
        for (st, status), n in grid.items():
            by_state[st] = by_state.get(st, 0) + n
            by_status[status] = by_status.get(status, 0) + n
        total = sum(grid.values())
        pages = max(1, -(-total // query.size))
        page = min(page, pages)
        projects, _ = search(page, with_total=False)  # the grouped count gave the total
        return PortfolioPage(
            projects, total, page, pages, by_state, by_status, uow.projects.regions(visible_to=principal)
        )
    projects, total = search(page)
    pages = max(1, -(-total // query.size))
    if page > pages:
        page = pages
        projects, total = search(page)
    return PortfolioPage(
        projects=projects,
        total=total,
        page=page,
        pages=pages,
        by_state=uow.projects.counts(
            today=today,
            by="state",
            visible_to=principal,
            status=statuses,
            kind=kind,
            region=regions,
            q=q,
            p80_after_horizon=p80_after,
        ),
        by_status=uow.projects.counts(
            today=today,
            by="status",
            visible_to=principal,
            state=states,
            kind=kind,
            region=regions,
            q=q,
            p80_after_horizon=p80_after,
        ),
        regions=uow.projects.regions(visible_to=principal),
    )


def _sort_links(query: PortfolioQuery, base: str, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each sortable column's header link: sorted by it (the other way round when it already is), and
    its aria-sort."""
    links = {}
    for column, (label, first) in SORTABLE.items():
        key = first.lstrip("-")
        current = query.sort.lstrip("-") == key
        descending = query.sort.startswith("-")
        target = (key if descending else "-" + key) if current else first
        links[column] = {
            "label": label,
            "url": base + _query(params, tri=target, page=1),
            "sort": ("descending" if descending else "ascending") if current else None,
        }
    return links


def _step_counts(
    query: PortfolioQuery, by_state: dict[str | None, int], base: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """One link per step and closed state: how many projects it holds among the other filters."""
    return [
        {
            "state": st.value,
            "label": STATE_LABELS[st],
            "number": STEPS.index(st) + 1 if st in STEPS else None,
            "count": by_state.get(st.value, 0),
            "current": query.state == st,
            "url": base + _query(params, etape=st.value, page=1),
        }
        for st in State
    ]


def _status_counts(
    query: PortfolioQuery, by_status: dict[str | None, int], base: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """One link per deadline status: how many projects have it among the other filters."""
    return [
        {
            "status": st.value,
            "label": STATUS_LABELS[st],
            "count": by_status.get(st.value, 0),
            "current": query.status == st,
            "url": base + _query(params, statut=st.value, page=1),
        }
        for st in (Status.EN_RETARD, Status.A_RISQUE, Status.DANS_LES_TEMPS)
    ]


def _pager(found: PortfolioPage, size: int, base: str, params: dict[str, Any]) -> dict[str, Any]:
    page, pages, total = found.page, found.pages, found.total
    return {
        "page": page,
        "pages": pages,
        "total": total,
        "size": size,
        "first": (page - 1) * size + 1 if total else 0,
        "last": min(page * size, total),
        "prev": base + _query(params, page=page - 1) if page > 1 else None,
        "next": base + _query(params, page=page + 1) if page < pages else None,
        "links": [
            {"n": n, "url": base + _query(params, page=n), "current": n == page}
            for n in range(max(1, page - 3), min(pages, page + 3) + 1)
        ],
    }


def _row(p: Project, today: date, tz: tzinfo) -> Row:
    read = project_read(p, today)
    st = State(p.state)
    active = st in STEPS
    until = p.closed_on or today
    return Row(
        p.id,
        p.name,
        f"/projets/{p.id}",
        KIND_LABELS[Kind(p.kind)],
        STEPS.index(st) + 1 if active else None,
        st.value,
        STATE_LABELS[st],
        read.status.value if read.status else None,
        STATUS_LABELS[read.status] if read.status else ("Labellisée" if st == State.LABELLISEE else "Clos"),
        p.region,
        p.lead_name or "—",
        (today - p.state_entered_on).days if active else None,
        read.step_due_on,
        p.suspended_since is not None,
        charts.horizon_bar(p.started_on, read.horizon_on, until, read.status),
        wording.step_due_words(read, today),
        wording.reason_of(read, today).text,
        wording.local_day(p.updated_at, tz),
    )


# --- new project (declared before /projets/{project_id}, which would match "nouveau") ------------------
NEW_FIELDS = (
    "name",
    "kind",
    "region",
    "departement",
    "initiator",
    "conventionnement",
    "lead_name",
    "description",
    "started_on",
)


FIELD_MESSAGES = {
    "name": "Indiquez le nom du projet (200 caractères au plus).",
    "kind": "Choisissez le type de régie.",
    "region": "Choisissez une région de la liste.",
    "departement": "Choisissez un département de la liste (ou « Non précisé »).",
    "initiator": "Choisissez qui est à l'initiative du projet.",
    "conventionnement": "Choisissez un conventionnement de la liste.",
    "lead_name": "Le nom du porteur fait 200 caractères au plus.",
    "description": "La description fait 5000 caractères au plus.",
    "started_on": "Date invalide : attendu le format AAAA-MM-JJ.",
}


def _new_context(
    request: Request, principal: Principal, values: dict[str, str], errors: dict[str, str], error: str | None = None
) -> dict[str, Any]:
    choices = regions()
    if principal.create_regions is not None:
        choices = [r for r in choices if r in principal.create_regions] or sorted(principal.create_regions)
    return {
        "section": "nouveau",
        "values": values,
        "errors": errors,
        "error": error,
        "kinds": list(KIND_LABELS.items()),
        "initiators": list(INITIATOR_LABELS.items()),
        "conventionnements": list(CONVENTIONNEMENT_LABELS.items()),
        "regions": choices,
        "departement_groups": departement_groups(choices),
        "today": _today(request),
    }


@router.get("/projets/nouveau", name="page_new_project")
def new_project(request: Request, principal: PageUser) -> Response:
    values = {"kind": Kind.REGIE_DE_QUARTIER.value, "conventionnement": Conventionnement.AUCUN.value}
    return render(request, "project_new.html", _new_context(request, principal, values, {}))


@router.post("/projets/nouveau", name="page_create_project")
def create_project(request: Request, principal: PageUser) -> Response:
    return _create(request, principal, _form_values(request, NEW_FIELDS))


def _create(request: Request, principal: Principal, values: dict[str, str]) -> Response:
    # single-line fields keep any control character (CR and LF included) for the schema to refuse
    data = {k: v.strip(" ") if k != "description" else v for k, v in values.items() if v.strip(BLANKS)}
    errors: dict[str, str] = {}
    try:
        body = ProjectCreate.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            name = str(e.get("loc", ("",))[0])
            # a rule with its own French sentence (a control character, a date written otherwise) says it
            message = translate(e) if e.get("type") == "value_error" else FIELD_MESSAGES.get(name, "Valeur invalide.")
            errors.setdefault(name, message)
        return render(
            request,
            "project_new.html",
            _new_context(request, principal, values, errors, "Le formulaire contient des erreurs :"),
            422,
        )
    try:
        with _uow(request, write=True) as uow:
            p = create_project_as(
                uow,
                body,
                principal,
                plan=request.app.state.settings.default_plan,
                actor=actor_of(request),
                clock=request.app.state.clock,
            )
            pid = p.id
    except Refusal as exc:
        field = getattr(exc, "field", None)
        if field:
            errors[field] = exc.message
        return render(
            request,
            "project_new.html",
            _new_context(
                request, principal, values, errors, exc.message if not field else "Le formulaire contient des erreurs :"
            ),
            _status_of(exc),
        )
    raise PageRedirect(f"/projets/{pid}?ok=projet-cree")


# --- the project page ------------------------------------------------------------------------------
@dataclass
class Failure:
    """What to show after a refused write: the message, the unmet guards, what the user typed."""

    status: int
    message: str
    trigger: str | None = None
    unmet: tuple[tuple[str, str], ...] = ()
    reason: str = ""
    effective_on: str = ""
    replan: dict[str, str] | None = None
    field: str | None = None
    territory: dict[str, str] | None = None  # the région and département the user chose


@router.get("/projets/{project_id}", name="page_project")
def project_page(
    request: Request,
    project_id: str,
    principal: PageUser,
    historique: Annotated[str, Query(max_length=10)] = "1",
    quoi: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    kind = quoi if quoi in history_view.FILTERS else ""
    return _project_response(
        request, principal, _project_id(project_id), history_page=_int(historique, 1), history_kind=kind
    )


def _project_response(
    request: Request,
    principal: Principal,
    pid: uuid.UUID,
    *,
    history_page: int = 1,
    history_kind: str = "",
    failure: Failure | None = None,
) -> Response:
    today = _today(request)
    with _uow(request, write=False) as uow:
        p = get_project(uow, pid, with_evidence=True)
        ctx = _project_context(uow, p, principal, today, history_page, history_kind, request.app.state.clock.tz)
    ctx["failure"] = failure
    if failure is not None:
        ctx["flash"] = None
    return render(request, "project.html", ctx, status_code=failure.status if failure else 200)


def _project_context(
    uow: UnitOfWork,
    p: Project,
    principal: Principal,
    today: date,
    history_page: int,
    history_kind: str = "",
    tz: tzinfo = UTC,
) -> dict[str, Any]:
    read = project_read(p, today)
    view = transitions_view(p, today)
    history_of = replay(p.started_on, recorded_transitions(uow.events.of_project(p.id, transitions_only=True)))
    sch = dl.schedule(
        started_on=p.started_on,
        state=State(p.state),
        periods=history_of.periods,
        suspensions=history_of.suspensions,
        plan=plan_of(p),
        today=today,
        labelled_on=p.labelled_on,
    )
    ends = charts.step_ends(
        sch,
        state_entered_on=p.state_entered_on,
        step_due_on=read.step_due_on,
        projected_label_on=read.projected_label_on,
    )
    state = State(p.state)
    abilities = principal.abilities(p.id, p.region)
    can_write = Ability.WRITE in abilities
    is_consultant = Ability.CONSULTANT in abilities
    closed = state in TERMINAL
    actions = _actions(p, view, can_write=can_write, is_consultant=is_consultant)
    events, history = _history(uow, p.id, history_page, history_kind)
    plan = plan_of(p)
    return {
        "section": "portefeuille",
        "p": read,
        "project_id": str(p.id),
        "state": state,
        "closed": closed,
        "kind_label": KIND_LABELS[Kind(p.kind)],
        "initiator_label": _label(INITIATOR_LABELS, _enum(Initiator, p.initiator)),
        "conventionnement_label": _label(CONVENTIONNEMENT_LABELS, _enum(Conventionnement, p.conventionnement)),
        "status_label": STATUS_LABELS[read.status] if read.status else None,
        "step_number": guidance.step_number(state),
        "days_in_step": (today - p.state_entered_on).days if not closed else None,
        "stepper": _stepper(sch, state, ends, p.state_entered_on),
        "schedule": sch,
        "timeline": charts.timeline(
            sch,
            history_of.periods,
            suspensions=history_of.suspensions,
            ends=ends,
            step_due_on=read.step_due_on,
            projected_label_on=read.projected_label_on,
        ),
        "checklist": guidance.checklist(p.id, state, view, p.kind),
        "next": cards.card(p, principal, today, view=view, read=read),
        "reason": wording.reason_of(read, today),
        "due_words": wording.step_due_words(read, today),
        "evidence_groups": _evidence_groups(p, state),
        "grid": grid_context(p),  # the success-conditions grid (app/assessments)
        "can_write": can_write,
        "is_consultant": is_consultant,
        "can_replan": Ability.REPLAN in abilities and not closed,
        "territory": _territory_context(p, can_write and not closed),
        "primary": [a for a in actions if a["forward"]],
        "others": [a for a in actions if not a["forward"]],
        "not_writer": NOT_WRITER,
        "consultant_note": CONSULTANT_ONLY_NOTE,
        "plan": [(st.value, STATE_LABELS[st], plan.months(st)) for st in STEPS],
        "horizon_months": plan.horizon_months,
        "events": _event_rows(uow, p, events, tz),
        "history": history,
        "today": today,
        "date_fr": charts.date_fr,
        "short_date": charts.short_date_fr,
    }


def _label(labels: dict[E, str], value: E | None) -> str:
    """The French label of a stored choice, "—" when there is none (or it is not one of the labels)."""
    return labels.get(value, "—") if value is not None else "—"


def _stepper(sch: dl.Schedule, state: State, ends: list[date | None], state_entered_on: date) -> list[dict[str, Any]]:
    """The six steps across the top of the project page, each with its phase and its dates; `end` is
    the one end date every view gives the step (charts.step_ends). The current step's `since` is the
    start of its current stay (after a step back, not its first one: the header's « depuis N jours »)."""
    current_index = STEPS.index(state) if state in STEPS else len(STEPS)
    last_started = max((i for i, st in enumerate(sch.steps) if st.actual_start is not None), default=-1)
    stepper = []
    for i, st in enumerate(sch.steps):
        phase, phase_label = _phase(st, i, state, current_index=current_index, last_started=last_started)
        stepper.append(
            {
                "number": i + 1,
                "state": st.step.value,
                "label": st.label,
                "phase": phase,
                "phase_label": phase_label,
                "planned_start": st.planned_start,
                "planned_end": st.planned_end,
                "actual_start": st.actual_start,
                "actual_end": st.actual_end,
                "since": state_entered_on if phase == "current" else st.actual_start,
                "end": ends[i],
                "months": st.months,
            }
        )
    return stepper


def _phase(st: dl.StepSchedule, i: int, state: State, *, current_index: int, last_started: int) -> tuple[str, str]:
    """(phase, its French label) of the step at index `i`, for a project now in `state`."""
    if st.current:
        return "current", "Étape en cours"
    if state == State.ABANDONNEE and i == last_started:
        return "stopped", "Interrompue par l'abandon"
    if state == State.LABELLISEE or (st.actual_start is not None and i < current_index):
        return "done", "Terminée"
    if st.actual_start is not None:
        return "revisited", "Déjà ouverte, à reprendre"
    return "todo", "À venir"


def _actions(p: Project, view: TransitionsRead, *, can_write: bool, is_consultant: bool) -> list[dict[str, Any]]:
    """The transitions the page offers (pausing or resuming, whichever applies), each with whether the
    user may fire it, whether it may fire now and what is missing; `forward` marks the next step's."""
    forward = guidance.FORWARD_TRIGGER.get(State(p.state))
    actions = []
    for t in view.triggers:
        if t.trigger == Trigger.REPRENDRE and not p.suspended_since:
            continue
        if t.trigger == Trigger.SUSPENDRE and p.suspended_since:
            continue
        actions.append(
            {
                "trigger": t.trigger.value,
                "label": t.label,
                "allowed": t.allowed,
                "permitted": can_write and (is_consultant or not t.consultant_only),
                "to_label": STATE_LABELS[t.to_state],
                "reason_required": t.reason_required,
                "consultant_only": t.consultant_only,
                "forward": t.trigger == forward,
                "unmet": [(u.code, u.message) for u in t.unmet],
            }
        )
    return actions


def _history(uow: UnitOfWork, pid: uuid.UUID, history_page: int, kind: str = "") -> tuple[list[Event], dict[str, Any]]:
    """One page of the project's events of a kind (history_view.FILTERS; all without one), newest first
    (the last page when asked beyond it), its pager and its filters."""
    types = history_view.FILTERS[kind][1] if kind else ()

    def page(n: int) -> tuple[list[Event], int]:
        return uow.events.page(
            pid, offset=(n - 1) * HISTORY_PAGE_SIZE, limit=HISTORY_PAGE_SIZE, newest_first=True, types=types
        )

    events, total_events = page(history_page)
    history_pages = max(1, -(-total_events // HISTORY_PAGE_SIZE))
    if history_page > history_pages:  # beyond the last page: show the last one
        history_page = history_pages
        events, _ = page(history_page)
    extra = f"&quoi={kind}" if kind else ""
    return events, {
        "page": history_page,
        "pages": history_pages,
        "total": total_events,
        "kind": kind,
        "kind_label": history_view.FILTERS[kind][0] if kind else "",
        "filters": [
            {"kind": "", "label": "Tout", "url": f"/projets/{pid}#historique", "current": not kind},
            *(
                {"kind": k, "label": label, "url": f"/projets/{pid}?quoi={k}#historique", "current": k == kind}
                for k, (label, _) in history_view.FILTERS.items()
            ),
        ],
        "prev": f"/projets/{pid}?historique={history_page - 1}{extra}#historique" if history_page > 1 else None,
        "next": f"/projets/{pid}?historique={history_page + 1}{extra}#historique"
        if history_page < history_pages
        else None,
    }


def _event_rows(uow: UnitOfWork, p: Project, events: list[Event], tz: tzinfo) -> list[history_view.HistoryRow]:
    """The page's events in words: real names, what changed (old → new from the earlier events)."""
    actors = history_view.actor_names(uow.session, (e.actor for e in events))
    earlier: list[Event] = []
    if events and history_view.needs_earlier(events):
        earlier = uow.events.evidence_before(p.id, max(e.seq for e in events) + 1)
    return history_view.rows(events, actors, earlier, {st.id: st.name for st in p.stakeholders}, tz=tz)


def _evidence_groups(p: Project, state: State) -> list[dict[str, Any]]:
    """The evidence cards grouped by step (guidance.STEP_KINDS), the current step first and open, then
    the steps done, then the steps ahead folded; a kind belongs to the first step that gathers it, and
    the kinds of steps more than one ahead are shown only when something is recorded."""
    summary = {e["kind"]: e for e in _evidence_summary(p)}
    current = STEPS.index(state) if state in STEPS else len(STEPS)
    # the current step, then the steps done (the latest first), then the steps ahead
    order = sorted(range(len(STEPS)), key=lambda i: (0, 0) if i == current else ((1, -i) if i < current else (2, i)))
    placed: set[str] = set()
    groups = []
    for i in order:
        st = STEPS[i]
        kinds = [k for k in guidance.STEP_KINDS[st] if k not in placed]
        placed |= set(kinds)
        if i > current + 1:
            kinds = [k for k in kinds if summary[k]["count"]]
        items = [summary[k] for k in kinds]
        if items:
            phase = "current" if i == current else ("done" if i < current else "ahead")
            groups.append(
                {"number": i + 1, "state": st.value, "label": STATE_LABELS[st], "phase": phase, "items": items}
            )
    return groups


def _evidence_summary(p: Project) -> list[dict[str, Any]]:
    stakeholders = {st.id: st.name for st in p.stakeholders}
    out = []
    for kind in KINDS.values():
        value = getattr(p, kind.relation)
        rows = ([] if value is None else [value]) if kind.singleton else list(value)
        out.append(
            {
                "kind": kind.name,
                "label": kind.label,
                "url": guidance.evidence_url(p.id, kind.name),
                "count": len(rows),
                "singleton": kind.singleton,
                "entries": [summary_of(kind, r, stakeholders) for r in rows[:5]],
                "more": max(len(rows) - 5, 0),
            }
        )
    return out


def _form_values(request: Request, names: tuple[str, ...] | None = None) -> dict[str, str]:
    """The submitted fields (read once by the page dependency), as bounded strings."""
    form = request.state.form
    keys = names if names is not None else tuple(k for k in form if k != "csrf")
    return {k: (v if isinstance(v := form.get(k), str) else "")[:6000] for k in keys}


# --- the project's territory: région and département, chosen from the official lists ---------------
FLASH_MESSAGES["territoire"] = "Le territoire du projet (région, département) a été modifié."


def _territory_context(p: Project, can_edit: bool) -> dict[str, Any]:
    data = cog()
    dep = data.departement(p.departement) if p.departement else None
    return {
        "departement_label": f"{dep.code} — {dep.name}" if dep else (p.departement or "—"),
        "region_official": data.region_named(p.region) is not None,
        "can_edit": can_edit,
        "regions": regions() if can_edit else [],
        "departement_groups": departement_groups() if can_edit else [],
    }


@router.post("/projets/{project_id}/territoire", name="page_update_territory")
def update_territory(request: Request, project_id: str, principal: PageUser) -> Response:
    pid = _project_id(project_id)
    values = _form_values(request, ("region", "departement", "version"))
    try:
        try:
            body = ProjectUpdate(region=values["region"].strip(), departement=values["departement"].strip() or None)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error.get("loc", ("region",))[0])
            message = translate(error) if error.get("type") == "value_error" else FIELD_MESSAGES.get(field, "")
            raise InvalidInput(message or "Valeur invalide.", field) from None
        assert body.region is not None
        projects_service.check_region(principal, body.region, "placer un projet")
        with _uow(request, write=True) as uow:
            projects_service.update_project(
                uow,
                pid,
                body,
                expected_version=form_version(values["version"]),
                actor=actor_of(request),
                clock=request.app.state.clock,
            )
    except NotFound:
        raise
    except Refusal as exc:
        failure = Failure(_status_of(exc), exc.message, field=getattr(exc, "field", None), territory=values)
        return _project_response(request, principal, pid, failure=failure)
    raise PageRedirect(f"/projets/{pid}?ok=territoire#fiche")


@router.post("/projets/{project_id}/plan", name="page_replan")
def replan(request: Request, project_id: str, principal: PageUser) -> Response:
    return _replan(request, principal, _project_id(project_id), _form_values(request))


def _replan(request: Request, principal: Principal, pid: uuid.UUID, values: dict[str, str]) -> Response:
    try:
        months = {}
        for st in STEPS:
            n = form_int(values.get(f"mois_{st.value}", ""), max_digits=3)
            if n is None:
                raise InvalidInput(
                    f"Durée invalide pour l'étape « {STATE_LABELS[st]} » : un nombre de mois entre 1 et 120.",
                    f"mois_{st.value}",
                )
            months[st] = n
        horizon = form_int(values.get("horizon_months", ""), max_digits=3)
        if horizon is None:
            raise InvalidInput("Horizon invalide : un nombre de mois entre 1 et 240.", "horizon_months")
        if not values.get("reason", "").strip():
            raise InvalidInput("Indiquez le motif de la révision du planning.", "reason")
        try:
            body = PlanBody(step_months=months, horizon_months=horizon, reason=values.get("reason", ""))
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = error.get("loc", ())
            field = "horizon_months" if "horizon_months" in loc else ("reason" if "reason" in loc else "step_months")
            message = {
                "horizon_months": "Horizon invalide : un nombre de mois entre 1 et 240.",
                "reason": "Le motif doit faire entre 1 et 2000 caractères.",
            }.get(field, "Chaque étape dure entre 1 et 120 mois.")
            if error.get("type") == "value_error":  # a control character in the reason: say so
                message = translate(error)
            raise InvalidInput(message, field) from None
        with _uow(request, write=True) as uow:
            projects_service.replan(
                uow,
                pid,
                body,
                expected_version=form_version(values.get("version", "")),
                actor=actor_of(request),
                clock=request.app.state.clock,
            )
    except NotFound:
        raise
    except Refusal as exc:
        failure = Failure(_status_of(exc), exc.message, replan=values, field=getattr(exc, "field", None))
        return _project_response(request, principal, pid, failure=failure)
    raise PageRedirect(f"/projets/{pid}?ok=plan#planning")


# --- « Modifier la fiche »: the project's descriptive fields, with the version check -----------------
EDIT_FIELDS = ("name", "kind", "initiator", "conventionnement", "lead_name", "description")
FLASH_MESSAGES["fiche"] = "La fiche du projet a été modifiée ; la modification est inscrite dans l'historique."
CLOSED_FICHE = "Ce projet est clos (labellisé ou abandonné) : sa fiche ne se modifie plus."


def _edit_context(
    p: Project, principal: Principal, values: dict[str, str], errors: dict[str, str], error: str | None = None
) -> dict[str, Any]:
    abilities = principal.abilities(p.id, p.region)
    return {
        "section": "portefeuille",
        "project_id": str(p.id),
        "project_name": p.name,
        "version": values.get("version") or str(p.version),
        "values": values,
        "errors": errors,
        "error": error,
        "can_write": Ability.WRITE in abilities and State(p.state) not in TERMINAL,
        "kinds": list(KIND_LABELS.items()),
        "initiators": list(INITIATOR_LABELS.items()),
        "conventionnements": list(CONVENTIONNEMENT_LABELS.items()),
    }


def _current_values(p: Project) -> dict[str, str]:
    return {
        "name": p.name,
        "kind": p.kind,
        "initiator": p.initiator or "",
        "conventionnement": p.conventionnement,
        "lead_name": p.lead_name or "",
        "description": p.description or "",
        "version": str(p.version),
    }


@router.get("/projets/{project_id}/fiche", name="page_project_edit")
def project_edit(request: Request, project_id: str, principal: PageUser) -> Response:
    with _uow(request, write=False) as uow:
        p = get_project(uow, _project_id(project_id))
        ctx = _edit_context(p, principal, _current_values(p), {})
    return render(request, "project_edit.html", ctx)


@router.post("/projets/{project_id}/fiche", name="page_project_update")
def project_update(request: Request, project_id: str, principal: PageUser) -> Response:
    pid = _project_id(project_id)
    values = _form_values(request, (*EDIT_FIELDS, "version"))
    data: dict[str, Any] = {k: (v if k == "description" else v.strip(" ")) for k, v in values.items() if k != "version"}
    for k in ("initiator", "lead_name", "description"):  # emptied: no value any more
        if not data[k].strip(BLANKS):
            data[k] = None
    errors: dict[str, str] = {}
    try:
        body = ProjectUpdate.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            name = str(e.get("loc", ("",))[0])
            message = translate(e) if e.get("type") == "value_error" else FIELD_MESSAGES.get(name, "Valeur invalide.")
            errors.setdefault(name, message)
    if not errors:
        try:
            with _uow(request, write=True) as uow:
                if State(get_project(uow, pid).state) in TERMINAL:  # as the form says: no change any more
                    raise Conflict(CLOSED_FICHE)
                projects_service.update_project(
                    uow,
                    pid,
                    body,
                    expected_version=form_version(values["version"]),
                    actor=actor_of(request),
                    clock=request.app.state.clock,
                )
        except NotFound:
            raise
        except Refusal as exc:
            field = getattr(exc, "field", None)
            if field in EDIT_FIELDS:
                errors[field] = exc.message
            with _uow(request, write=False) as uow:
                p = get_project(uow, pid)
                message = exc.message if field not in EDIT_FIELDS else "Le formulaire contient des erreurs :"
                if isinstance(exc, PreconditionFailed):  # told so: what is typed is kept, against the new version
                    values = values | {"version": str(p.version)}
                ctx = _edit_context(p, principal, values, errors, message)
            return render(request, "project_edit.html", ctx, _status_of(exc))
        raise PageRedirect(f"/projets/{pid}?ok=fiche#fiche")
    with _uow(request, write=False) as uow:
        p = get_project(uow, pid)
        ctx = _edit_context(p, principal, values, errors, "Le formulaire contient des erreurs :")
    return render(request, "project_edit.html", ctx, 422)
