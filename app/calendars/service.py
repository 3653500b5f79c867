"""iCalendar feeds of deadlines, subscribable by URL with a revocable token.

A token (`rfcal_1a2b3c4d_…`) is shown once; the database keeps its SHA-256 and its visible prefix,
like an API key. It belongs to the principal who created it and covers one project or that
principal's whole portfolio. The feed is built at fetch time with the owner's *current* rights: a
project the owner can no longer read leaves the feed, a revoked token, a disabled user or a revoked
or expired key makes it answer 404.

Events are all-day: for each open project the planned end of every step (the baseline plan, what a
timeline draws as "prévu"), the current step's due date and the three-year horizon; for a labelled
project the label date. UIDs are stable (`<project id>-<what>[-<step>]@regieflow`), so a calendar
application updates an event in place when its date moves; SEQUENCE is the project's version and
DTSTAMP its last change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.accounts.repository import AccountRepository
from app.authorization.rules import Ability, Principal, key_principal, user_principal
from app.calendars.models import CalendarToken
from app.calendars.repository import CalendarRepository
from app.core.errors import NotFound
from app.core.inputs import single_line
from app.core.security import new_prefixed_secret, same, sha256_hex
from app.core.security import prefix_of as security_prefix_of
from app.core.unit_of_work import UnitOfWork
from app.projects.models import Project
from app.projects.service import plan_of, suspensions_of
from workflow import deadlines as dl
from workflow.vocabulary import STATE_LABELS, STEPS, State

TOKEN_PREFIX = "rfcal"


TOUCH_EVERY = timedelta(seconds=60)


PRODID = "-//Mouvement des Régies//regieflow//FR"


UID_DOMAIN = "regieflow"


REFRESH = timedelta(hours=6)


NOT_FOUND = "Calendrier introuvable."


def _line(value: str | None) -> str:
    """Stored text (a project's name, region, lead) on one line: every control character, CR and LF
    included, becomes a space. iCalendar TEXT holds no control character but the line feed it escapes
    (RFC 5545, 3.3.11), and a summary or a calendar name is one line; the API refuses such text, but
    the feed must survive any stored row."""
    return single_line(value or "")


# --- tokens -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewToken:
    row: CalendarToken
    token: str  # shown once, never stored


def new_token() -> tuple[str, str, str]:
    """(token, visible prefix, SHA-256 of the token). Format: rfcal_<8 hex>_<secret>."""
    return new_prefixed_secret(TOKEN_PREFIX)


def prefix_of(token: str) -> str | None:
    return security_prefix_of(token, TOKEN_PREFIX)


def _can_read(repo: CalendarRepository, principal: Principal, project_id: uuid.UUID) -> bool:
    region = repo.region_of(project_id)
    return region is not None and Ability.READ in principal.abilities(project_id, region)


def create_token(uow: UnitOfWork, principal: Principal, *, project_id: uuid.UUID | None, now: datetime) -> NewToken:
    """A token for one project the principal may read, or for its whole portfolio. Commits."""
    if project_id is not None and not _can_read(uow.calendars, principal, project_id):
        raise NotFound("Projet introuvable.")
    token, prefix, digest = new_token()
    row = CalendarToken(
        token_hash=digest,
        prefix=prefix,
        owner=principal.label,
        project_id=project_id,
        api_key_id=principal.id if principal.kind == "key" else None,
        user_id=principal.id if principal.kind == "user" else None,
        created_at=now,
    )
    uow.calendars.add(row)
    uow.commit()
    return NewToken(row, token)


def list_tokens(uow: UnitOfWork, principal: Principal) -> list[CalendarToken]:
    return uow.calendars.of_owner(principal.label)


def revoke_token(uow: UnitOfWork, principal: Principal, token_id: int, *, now: datetime) -> CalendarToken:
    """Revoke one of the principal's own tokens (someone else's answers 404, like a missing one). Commits."""
    row = uow.calendars.get(token_id)
    if row is None or row.owner != principal.label:
        raise NotFound(NOT_FOUND)
    if row.revoked_at is None:
        row.revoked_at = now
        uow.commit()
    return row


def owner_principal(accounts: AccountRepository, row: CalendarToken, now: datetime) -> Principal | None:
    """The token owner's rights as of now; None if the owner can no longer act."""
    if row.user_id is not None:
        user = accounts.active_user(row.user_id)
        return user_principal(user) if user is not None else None
    if row.api_key_id is not None:
        key = accounts.api_key(row.api_key_id)
        if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
            return None
        return key_principal(key)
    return None


def resolve(uow: UnitOfWork, token: str, now: datetime) -> tuple[CalendarToken, Principal]:
    """The live token and its owner's rights; NotFound for anything else (unknown, revoked, orphaned)."""
    prefix = prefix_of(token)
    if prefix is None:
        raise NotFound(NOT_FOUND)
    row = uow.calendars.by_hash(sha256_hex(token))
    if row is None or row.prefix != prefix or not same(row.token_hash, sha256_hex(token)) or row.revoked_at:
        raise NotFound(NOT_FOUND)
    principal = owner_principal(uow.accounts, row, now)
    if principal is None:
        raise NotFound(NOT_FOUND)
    return row, principal


# --- the feed ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One all-day event of the feed."""

    uid: str
    on: date
    summary: str
    category: str


def entries_of(p: Project, today: date) -> list[Entry]:
    """What a project puts in a calendar (see the module docstring); needs `p.suspensions` loaded."""
    state = State(p.state)
    if state == State.LABELLISEE and p.labelled_on is not None:
        return [Entry(f"{p.id}-label@{UID_DOMAIN}", p.labelled_on, f"Label attribué — {p.name}", "label")]
    if state not in STEPS:
        return []
    sch = dl.schedule(
        started_on=p.started_on,
        state=state,
        periods=[dl.Period(state, p.state_entered_on, None)],
        suspensions=suspensions_of(p),
        plan=plan_of(p),
        today=today,
        labelled_on=p.labelled_on,
    )
    out = [
        Entry(
            f"{p.id}-planned-{st.step.value}@{UID_DOMAIN}",
            st.planned_end,
            f"Fin prévue : {st.label} — {p.name}",
            "fin prévue",
        )
        for st in sch.steps
    ]
    if sch.step_due_on is not None:
        out.append(
            Entry(
                f"{p.id}-due-{state.value}@{UID_DOMAIN}",
                sch.step_due_on,
                f"Échéance : {STATE_LABELS[state]} — {p.name}",
                "échéance",
            )
        )
    out.append(
        Entry(
            f"{p.id}-horizon@{UID_DOMAIN}",
            sch.horizon_on,
            f"Horizon de labellisation ({p.horizon_months} mois) — {p.name}",
            "horizon",
        )
    )
    return out


def _description(p: Project) -> str:
    lines = [f"Projet : {_line(p.name)}", f"Région : {_line(p.region)}", f"Étape : {STATE_LABELS[State(p.state)]}"]
    if p.suspended_since is not None:
        lines.append(f"Suspendu depuis le {p.suspended_since.strftime('%d/%m/%Y')}")
    if p.lead_name:
        lines.append(f"Porteur : {_line(p.lead_name)}")
    lines.append(f"Identifiant : {p.id}")
    return "\n".join(lines)


def feed_projects(repo: CalendarRepository, row: CalendarToken, principal: Principal) -> list[Project]:
    """The projects the feed shows: the token's project, or every project the owner may read now."""
    if row.project_id is not None and not _can_read(repo, principal, row.project_id):
        raise NotFound(NOT_FOUND)
    return repo.feed_projects(project_id=row.project_id, visible_to=principal)


def to_ical(projects: list[Project], *, name: str, today: date) -> bytes:
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _line(name))
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH)
    for p in projects:
        description = _description(p)
        for entry in entries_of(p, today):
            ev = Event()
            ev.add("uid", entry.uid)
            ev.add("dtstamp", p.updated_at)
            ev.add("last-modified", p.updated_at)
            ev.add("sequence", p.version)
            ev.add("dtstart", entry.on)
            ev.add("dtend", entry.on + timedelta(days=1))
            ev.add("summary", _line(entry.summary))
            ev.add("description", description)  # lines of _line()d values, joined by LF (escaped as \\n)
            ev.add("categories", ["regieflow", entry.category])
            ev.add("transp", "TRANSPARENT")
            cal.add_component(ev)
    document: bytes = cal.to_ical()  # icalendar ships no type information
    return document


def feed(uow: UnitOfWork, token: str, *, now: datetime, today: date) -> bytes:
    """The iCalendar document a token gives access to (NotFound otherwise). Touches last_used_at (commits)."""
    row, principal = resolve(uow, token, now)
    projects = feed_projects(uow.calendars, row, principal)
    name = f"regieflow — {projects[0].name}" if row.project_id is not None else f"regieflow — {principal.name}"
    body = to_ical(projects, name=name, today=today)
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
        uow.commit()
    return body


def token_read(row: CalendarToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "prefix": row.prefix,
        "project_id": row.project_id,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "last_used_at": row.last_used_at,
    }
