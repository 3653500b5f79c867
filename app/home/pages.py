"""The pages that say what to do next (French): the porteur's home ("Mes projets"), "Mes échéances"
(every due date of the next 60 days, overdue first) and the help page (glossary, one "Comment faire ?"
per step).

Reads only; every route has its rule in app.authorization.rules.RULES and depends on PageUser. Each
page runs a fixed number of statements whatever the number of projects (bench/portfolio.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from app.authorization.rules import Principal
from app.calendars import service as calendars
from app.core.unit_of_work import UnitOfWork
from app.evidence import guidance
from app.evidence.registry import relations_for
from app.home import cards, collaboration
from app.home.help import GLOSSARY
from app.http.dependencies import unit_of_work
from app.projects.service import project_read
from app.web import wording
from app.web.templating import PageRedirect, PageRoute, PageUser, render
from workflow import machine as wf
from workflow.vocabulary import STATE_LABELS, STEPS, State

router = APIRouter(include_in_schema=False, route_class=PageRoute)


HOME_CARDS = 12  # projects shown as cards on the home; beyond, the portfolio lists them all
FILTER_FROM = 6  # below this many projects, no search form
WINDOW_DAYS = 60  # "Mes échéances": what falls due in the next 60 days, and everything overdue
DEADLINE_PROJECTS = 50  # projects read for "Mes échéances" (the earliest dates first)
# Open opinion requests due within the window, over every project the person reads, in one statement
# (not only those of the projects listed for their own deadlines): the earliest first, at most this many.
OPINION_ITEMS = 100


def _today(request: Request) -> date:
    today: date = request.app.state.clock.today()
    return today


@router.get("/", name="page_home")
def home(request: Request, principal: PageUser) -> Response:
    """A project lead lands on their projects, each with what to do next; consultants, admins and
    observers on the portfolio (they also have "Mes échéances")."""
    if not set(principal.roles) <= {"porteur"}:
        raise PageRedirect("/projets")
    today = _today(request)
    with unit_of_work(request, write=False) as uow:
        found, total = uow.projects.search(today=today, visible_to=principal, sort="status", limit=HOME_CARDS)
        # only the evidence the cards' checklists read (the guards of the triggers out of their steps)
        reads = frozenset[str]().union(*(wf.reads_from(p.state) for p in found))
        loaded = uow.projects.with_evidence([p.id for p in found], relations=relations_for(reads))
        items = collaboration.open_items(
            uow, principal, [p.id for p in loaded], today=today, now=request.app.state.clock.now()
        )
        shown = [cards.card(p, principal, today, collaboration=items[str(p.id)]) for p in loaded]
    return render(
        request,
        "home.html",
        {
            "section": "accueil",
            "cards": shown,
            "total": total,
            "more": max(total - len(shown), 0),
            "show_search": total >= FILTER_FROM,
            "today": today,
            "date_fr": wording.date_fr,
        },
    )


@dataclass(frozen=True)
class Due:
    """One dated item of "Mes échéances"."""

    on: date
    what: str
    words: str
    overdue: bool
    project_id: str
    project_name: str
    url: str
    reason: str
    state_label: str


def _open_requests(uow: UnitOfWork, principal: Principal, *, until: date, now: datetime) -> list[tuple[Any, Any]]:
    """The opinion requests still awaiting an answer (not answered, revoked or expired: the status
    app.opinions.service.status_of calls « en_attente »), due by `until`, of the projects `principal`
    reads, with their project: one statement, the earliest first, OPINION_ITEMS + 1 at most (to know
    whether some were left out)."""
    from app.opinions.models import OpinionAnswer, OpinionRequest
    from app.projects.models import Project
    from app.projects.repository import ProjectRepository

    answered = select(OpinionAnswer.id).where(OpinionAnswer.request_id == OpinionRequest.id).exists()
    stmt = (
        select(OpinionRequest, Project)
        .join(Project, Project.id == OpinionRequest.project_id)
        .where(
            ProjectRepository.visible_to(principal),
            OpinionRequest.due_on <= until,
            OpinionRequest.revoked_at.is_(None),
            OpinionRequest.token_expires_at > now,
            ~answered,
        )
        .order_by(OpinionRequest.due_on, OpinionRequest.id)
        .limit(OPINION_ITEMS + 1)
    )
    return [(r, p) for r, p in uow.session.execute(stmt)]


@router.get("/echeances", name="page_deadlines")
def deadlines(request: Request, principal: PageUser) -> Response:
    today = _today(request)
    until = today + timedelta(days=WINDOW_DAYS)
    with unit_of_work(request, write=False) as uow:
        found, total = uow.projects.upcoming(today=today, until=until, visible_to=principal, limit=DEADLINE_PROJECTS)
        items: list[Due] = []
        for p in found:
            read = project_read(p, today)
            reason = wording.reason_of(read, today).text
            state = State(p.state)
            step = STEPS.index(state) + 1 if state in STEPS else None
            common = {
                "project_id": str(p.id),
                "project_name": p.name,
                "url": f"/projets/{p.id}",
                "reason": reason,
                "state_label": f"Étape {step}/6 : {STATE_LABELS[state]}" if step else STATE_LABELS[state],
            }
            if read.step_due_on is not None and read.step_due_on <= until:
                items.append(
                    Due(
                        read.step_due_on,
                        f"Fin prévue de l'étape « {STATE_LABELS[state]} »",
                        wording.step_due_words(read, today),
                        read.step_due_on < today,
                        **common,
                    )
                )
            if read.horizon_on <= until:
                items.append(
                    Due(
                        read.horizon_on,
                        f"Horizon de {p.horizon_months} mois",
                        wording.due_in_words(
                            read.horizon_on, today, feminine=False, suspended_since=read.suspended_since
                        ),
                        read.horizon_on < today,
                        **common,
                    )
                )
        requests = _open_requests(uow, principal, until=until, now=request.app.state.clock.now())
        for req, p in requests[:OPINION_ITEMS]:
            state = State(p.state)
            step = STEPS.index(state) + 1 if state in STEPS else None
            items.append(
                Due(
                    req.due_on,
                    f"Avis attendu {wording.de(req.stakeholder_name)}",
                    wording.due_in_words(req.due_on, today),
                    req.due_on < today,
                    project_id=str(p.id),
                    project_name=p.name,
                    url=f"/projets/{p.id}#avis",
                    reason=wording.reason_of(project_read(p, today), today).text,
                    state_label=f"Étape {step}/6 : {STATE_LABELS[state]}" if step else STATE_LABELS[state],
                )
            )
    items.sort(key=lambda d: (not d.overdue, d.on, d.project_name))
    return render(
        request,
        "deadlines.html",
        {
            "section": "echeances",
            "overdue": [d for d in items if d.overdue],
            "coming": [d for d in items if not d.overdue],
            "total_projects": total,
            "shown_projects": len(found),
            "requests_truncated": len(requests) > OPINION_ITEMS,
            "window_days": WINDOW_DAYS,
            "until": until,
            "today": today,
            "date_fr": wording.date_fr,
        },
    )


@router.post("/echeances/agenda", name="page_calendar_create")
def calendar_create(request: Request, principal: PageUser) -> Response:
    """A calendar feed (iCalendar, app/calendars) of the projects this person follows: its address is
    shown once, to paste into an agenda; the same token as POST /api/v1/calendars gives."""
    with unit_of_work(request, write=True) as uow:
        new = calendars.create_token(uow, principal, project_id=None, now=request.app.state.clock.now())
    url = str(request.url_for("calendar_feed", token=new.token))
    return render(request, "calendar_created.html", {"section": "echeances", "url": url})


@router.get("/aide", name="page_help")
def help_page(request: Request, principal: PageUser) -> Response:
    steps = [
        {"number": i + 1, "state": st.value, "label": STATE_LABELS[st], "how_to": guidance.how_to(st)}
        for i, st in enumerate(STEPS)
    ]
    return render(request, "help.html", {"section": "aide", "glossary": GLOSSARY, "steps": steps})
