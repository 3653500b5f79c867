"""Notifications: what concerns a user, produced once per occurrence; their e-mails and digests.

`scan` (a worker round, and `regieflow notifications scan`) derives notifications

- from the events written since its watermark (`notification_watermarks`): a transition of the
  project, an opinion answered, a message, a status turning at risk or late, a reservation recorded;
- from the deadlines as of today (DOMAIN.md, "Reminders"): a step due within 30 days, a step overdue,
  a projected label beyond the horizon, an opinion due within 7 days or overdue (the stakeholder also
  gets a reminder e-mail), a reservation still open.

Each is inserted with `INSERT … ON CONFLICT DO NOTHING` on (user, occurrence key): re-running the
scan, or two scans at once, produce nothing new. The recipients are the active users whose grants
cover the project (its porteurs and observers, consultants of the project, its region or everywhere),
never the author of the change. A new notification goes out by e-mail at once (`immediat`, the
default), in the next daily digest (`quotidien`), or not at all (`aucun`), in the same transaction.
Consultant notes write no event: no notification can speak of one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.accounts.models import RoleGrant, User
from app.core.clock import Clock
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.mail import service as mail
from app.mail.models import MailPreference
from app.notifications.models import Notification, ScanWatermark
from app.opinions.models import OpinionAnswer, OpinionRequest
from app.projects.models import Event, Project
from app.web import wording
from app.web.charts import date_fr
from workflow.vocabulary import STATE_LABELS, STATUS_LABELS, TERMINAL, TRIGGER_LABELS, State, Status, Trigger

WATERMARK = "events"
EVENT_BATCH = 500
# An event older than this when the scan first reads it is old news (the first scan after an upgrade, an
# import): read past, never notified nor mailed.
OLD_NEWS = timedelta(days=2)
ANSWER_LABELS = {"favorable": "favorable", "reserve": "favorable avec réserves", "defavorable": "défavorable"}
TERMINAL_VALUES = tuple(s.value for s in TERMINAL)


@dataclass
class ScanReport:
    events_read: int = 0
    created: int = 0
    mails: int = 0
    digests: int = 0

    def __str__(self) -> str:
        return (
            f"events read {self.events_read}, notifications created {self.created}, e-mails queued {self.mails}, "
            f"digests {self.digests}"
        )


@dataclass(frozen=True)
class Recipient:
    id: int
    name: str
    email: str
    label: str


def recipients(uow: UnitOfWork, project_id: uuid.UUID, region: str) -> list[Recipient]:
    """Active users with a grant on the project: porteurs and observers of it or of its region,
    consultants of it, of its region or of every project (an admin's global grant alone is not one)."""
    covers = or_(
        RoleGrant.project_id == project_id,
        RoleGrant.region == region,
        and_(RoleGrant.role == "consultant", RoleGrant.project_id.is_(None), RoleGrant.region.is_(None)),
    )
    rows = uow.session.execute(
        select(User.id, User.name, User.email)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(User.active.is_(True), RoleGrant.role != "admin", covers)
        .distinct()
        .order_by(User.id)
    ).all()
    return [Recipient(r.id, r.name, r.email, f"user:{r.email}") for r in rows]


def _base(settings: Settings) -> str:
    return settings.public_base_url.rstrip("/")


def notify(
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    who: Recipient,
    *,
    kind: str,
    occurrence: str,
    text: str,
    href: str,
    project_id: uuid.UUID | None,
    due_on: date | None = None,
) -> bool:
    """One notification for `who`, unless this occurrence was notified already; its e-mail (immediate
    mode) in the same transaction. Whether it is new."""
    now = clock.now()
    new_id = mail.insert_once(
        uow.session,
        Notification,
        {
            "user_id": who.id,
            "project_id": project_id,
            "kind": kind,
            "occurrence": occurrence[:200],
            "text": text[:500],
            "href": href[:300],
            "due_on": due_on,
            "created_at": now,
            "read_at": None,
            "mailed_at": None,
        },
        "user_id",
        "occurrence",
    )
    if new_id is None:
        return False
    if mail.mode_of(uow.session, who.id) == "immediat":
        mail.queue(
            uow,
            clock,
            kind="notification",
            to=who.email,
            template="notification",
            context={
                "name": who.name,
                "text": text,
                "link": _base(settings) + href,
                "preferences_url": _base(settings) + "/preferences/e-mail",
                "unsubscribe_url": mail.unsubscribe_url(settings, who.id),
            },
            user_id=who.id,
            unsubscribe=True,
            dedupe_key=f"notification:{new_id}",
            settings=settings,
        )
        uow.session.execute(update(Notification).where(Notification.id == new_id).values(mailed_at=now))
    return True


# --- from events ----------------------------------------------------------------------------------
def _label(enum: Any, value: Any, labels: dict[Any, str]) -> str:
    try:
        return labels[enum(value)]
    except (ValueError, KeyError):
        return str(value)


def describe(event: Event, project_name: str) -> tuple[str, str] | None:
    """(kind, French text) of an event that concerns the project's people; None for the others."""
    data = event.data if isinstance(event.data, dict) else {}
    where = f"« {project_name} »"
    if event.type == "project.transitioned" and event.trigger:
        what = _label(Trigger, event.trigger, TRIGGER_LABELS)
        to = _label(State, event.to_state, STATE_LABELS) if event.to_state else ""
        return "transition", f"{where} : {what}" + (f" — désormais « {to} »" if to else "")
    if event.type == "opinion.answered":
        verdict = ANSWER_LABELS.get(str(data.get("verdict")), str(data.get("verdict")))
        return "avis_recu", f"{where} : {data.get('stakeholder_name', 'une partie prenante')} a donné un avis {verdict}"
    if event.type == "message.posted":
        return "message", f"{where} : nouveau message {wording.de(str(data.get('author_name') or 'quelqu’un'))}"
    if event.type == "deadline.status_changed" and data.get("to") in (Status.A_RISQUE, Status.EN_RETARD):
        status = _label(Status, data.get("to"), STATUS_LABELS).lower()
        return "statut", f"{where} est désormais {status}"
    if event.type == "evidence.created" and data.get("kind") == "reservations":
        return "reserve_ouverte", f"{where} : une réserve de l'expertise est ouverte"
    return None


def occurrence_of(event: Event) -> str:
    """What a notification from this event is one of: the event itself, except a reservation, whose
    recording and its "still open" reminder are one occurrence (`reserve_ouverte:{id}`): notified once."""
    data = event.data if isinstance(event.data, dict) else {}
    if event.type == "evidence.created" and data.get("kind") == "reservations" and data.get("id") is not None:
        return f"reserve_ouverte:{data['id']}"
    return f"event:{event.id}"


def _href(event: Event) -> str:
    anchor = {"message.posted": "#messages", "opinion.answered": "#avis"}.get(event.type, "")
    return f"/projets/{event.project_id}{anchor}"


def scan_events(uow: UnitOfWork, settings: Settings, clock: Clock, report: ScanReport) -> bool:
    """One batch of events after the watermark; whether there may be more."""
    mark = uow.session.scalar(select(ScanWatermark).where(ScanWatermark.name == WATERMARK).with_for_update())
    if mark is None:  # the first scan: events older than OLD_NEWS then are read past, never notified
        # (only here: later, a worker stopped for days catches up on everything it missed)
        table: Any = ScanWatermark.__table__
        insert = postgresql.insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        old_news = uow.session.scalar(select(func.max(Event.id)).where(Event.recorded_at < clock.now() - OLD_NEWS))
        start = int(old_news or 0)
        uow.session.execute(insert(table).values(name=WATERMARK, value=start).on_conflict_do_nothing())
        mark = uow.session.scalar(select(ScanWatermark).where(ScanWatermark.name == WATERMARK).with_for_update())
        assert mark is not None
    events = list(uow.session.scalars(select(Event).where(Event.id > mark.value).order_by(Event.id).limit(EVENT_BATCH)))
    if not events:
        return False
    projects = {
        p.id: p for p in uow.session.scalars(select(Project).where(Project.id.in_({e.project_id for e in events})))
    }
    people: dict[uuid.UUID, list[Recipient]] = {}
    for event in events:
        p = projects.get(event.project_id)
        described = describe(event, p.name) if p is not None else None
        if p is None or described is None:
            continue
        kind, text = described
        if p.id not in people:
            people[p.id] = recipients(uow, p.id, p.region)
        for who in people[p.id]:
            if who.label == event.actor:
                continue
            if notify(
                uow,
                settings,
                clock,
                who,
                kind=kind,
                occurrence=occurrence_of(event),
                text=text,
                href=_href(event),
                project_id=p.id,
            ):
                report.created += 1
    report.events_read += len(events)
    mark.value = events[-1].id
    uow.commit()
    return len(events) == EVENT_BATCH


# --- reminders (DOMAIN.md) ------------------------------------------------------------------------
def _project_reminders(uow: UnitOfWork, settings: Settings, clock: Clock, today: date, report: ScanReport) -> None:
    soon = today + timedelta(days=30)
    rows = uow.session.scalars(
        select(Project).where(Project.state.not_in(TERMINAL_VALUES), Project.suspended_since.is_(None))
    )
    for p in rows:
        found: list[tuple[str, str, str, date | None]] = []
        step = _label(State, p.state, STATE_LABELS)
        if p.step_due_on is not None and p.step_due_on < today:
            found.append(
                (
                    "etape_en_retard",
                    f"etape_en_retard:{p.id}:{p.state}:{p.step_due_on}",
                    f"« {p.name} » : l'étape « {step} » devait s'achever le {date_fr(p.step_due_on)}",
                    p.step_due_on,
                )
            )
        elif p.step_due_on is not None and p.step_due_on <= soon:
            found.append(
                (
                    "etape_a_30_jours",
                    f"etape_a_30_jours:{p.id}:{p.state}:{p.step_due_on}",
                    f"« {p.name} » : l'étape « {step} » doit s'achever le {date_fr(p.step_due_on)}",
                    p.step_due_on,
                )
            )
        if p.projected_label_on is not None and p.projected_label_on > p.horizon_on:
            found.append(
                (
                    "label_hors_horizon",
                    f"label_hors_horizon:{p.id}:{p.state}:{p.horizon_on}",
                    f"« {p.name} » : le label est projeté au {date_fr(p.projected_label_on)}, après l'horizon "
                    f"du {date_fr(p.horizon_on)}",
                    p.horizon_on,
                )
            )
        if not found:
            continue
        for who in recipients(uow, p.id, p.region):
            for kind, occurrence, text, due in found:
                if notify(
                    uow,
                    settings,
                    clock,
                    who,
                    kind=kind,
                    occurrence=occurrence,
                    text=text,
                    href=f"/projets/{p.id}",
                    project_id=p.id,
                    due_on=due,
                ):
                    report.created += 1


def _opinion_reminders(uow: UnitOfWork, settings: Settings, clock: Clock, today: date, report: ScanReport) -> None:
    now = clock.now()
    rows = uow.session.execute(
        select(OpinionRequest, Project)
        .join(Project, Project.id == OpinionRequest.project_id)
        .outerjoin(OpinionAnswer, OpinionAnswer.request_id == OpinionRequest.id)
        .where(
            OpinionAnswer.id.is_(None),
            OpinionRequest.revoked_at.is_(None),
            OpinionRequest.token_expires_at > now,
            OpinionRequest.due_on <= today + timedelta(days=7),
            Project.state.not_in(TERMINAL_VALUES),
        )
        .order_by(OpinionRequest.id)
    ).all()
    for req, p in rows:
        overdue = req.due_on < today
        phase = "en_retard" if overdue else "sous_7_jours"
        asked_on = req.created_at.astimezone(clock.tz).date()
        if not overdue and asked_on >= req.due_on - timedelta(days=7):
            # a reminder only when its time comes after the request was made: one asked with less than
            # 7 days to answer has just been told its date (the request's own mail), no reminder that day
            continue
        text = (
            f"« {p.name} » : l'avis {wording.de(req.stakeholder_name)} était attendu le {date_fr(req.due_on)}"
            if overdue
            else f"« {p.name} » : l'avis {wording.de(req.stakeholder_name)} est attendu le {date_fr(req.due_on)}"
        )
        for who in recipients(uow, p.id, p.region):
            if notify(
                uow,
                settings,
                clock,
                who,
                kind=f"avis_{phase}",
                occurrence=f"avis_{phase}:{req.id}:{req.due_on}",
                text=text,
                href=f"/projets/{p.id}#avis",
                project_id=p.id,
                due_on=req.due_on,
            ):
                report.created += 1
        # the stakeholder: one reminder e-mail per request, due date and phase
        if mail.queue(
            uow,
            clock,
            kind="opinion_reminder",
            to=req.email,
            template="opinion_reminder",
            context={
                "stakeholder_name": req.stakeholder_name,
                "project_name": p.name,
                "due_on": req.due_on,
                "overdue": overdue,
            },
            dedupe_key=f"opinion_reminder:{req.id}:{req.due_on}:{phase}",
            settings=settings,
        ):
            report.mails += 1


def _reservation_reminders(uow: UnitOfWork, settings: Settings, clock: Clock, today: date, report: ScanReport) -> None:
    """A reservation still open, once per person (the occurrence its recording was notified under): for
    those its recording did not reach (its author; the event older than the scan's start), from the day
    after it was recorded."""
    from app.assessments.models import Reservation

    rows = uow.session.execute(
        select(Reservation, Project)
        .join(Project, Project.id == Reservation.project_id)
        .where(
            Reservation.lifted_on.is_(None),
            Reservation.recorded_on < today,
            Project.state.not_in(TERMINAL_VALUES),
        )
        .order_by(Reservation.id)
    ).all()
    for res, p in rows:
        text = f"« {p.name} » : une réserve de l'expertise reste à lever ({res.description[:120]})"
        for who in recipients(uow, p.id, p.region):
            if notify(
                uow,
                settings,
                clock,
                who,
                kind="reserve_ouverte",
                occurrence=f"reserve_ouverte:{res.id}",
                text=text,
                href=f"/projets/{p.id}",
                project_id=p.id,
            ):
                report.created += 1


def scan(uows: UnitOfWorkFactory, settings: Settings, clock: Clock, *, reminders: bool = True) -> ScanReport:
    """The events since the watermark; with `reminders`, the deadlines as of today and the digests
    (the worker: the events every round, the rest once a day)."""
    report = ScanReport()
    more = True
    while more:
        with uows() as uow:
            more = scan_events(uow, settings, clock, report)
    if not reminders:
        return report
    today = clock.today()
    with uows() as uow:
        _project_reminders(uow, settings, clock, today, report)
        _opinion_reminders(uow, settings, clock, today, report)
        _reservation_reminders(uow, settings, clock, today, report)
        uow.commit()
    report.digests = send_digests(uows, settings, clock)
    return report


# --- daily digests --------------------------------------------------------------------------------
def send_digests(uows: UnitOfWorkFactory, settings: Settings, clock: Clock) -> int:
    """One digest a day for each user who chose it and has notifications not mailed yet."""
    today = clock.today()
    sent = 0
    with uows() as uow:
        users = list(
            uow.session.scalars(
                select(User)
                .join(MailPreference, MailPreference.user_id == User.id)
                .where(MailPreference.mode == "quotidien", User.active.is_(True))
                .order_by(User.id)
            )
        )
        for user in users:
            items = list(
                uow.session.scalars(
                    select(Notification)
                    .where(Notification.user_id == user.id, Notification.mailed_at.is_(None))
                    .order_by(Notification.id)
                    .limit(200)
                )
            )
            if not items:
                continue
            queued = mail.queue(
                uow,
                clock,
                kind="digest",
                to=user.email,
                template="digest",
                context={
                    "name": user.name,
                    "day": today,
                    "items": [{"text": n.text, "link": _base(settings) + n.href} for n in items],
                    "preferences_url": _base(settings) + "/preferences/e-mail",
                    "unsubscribe_url": mail.unsubscribe_url(settings, user.id),
                },
                user_id=user.id,
                unsubscribe=True,
                dedupe_key=f"digest:{user.id}:{today.isoformat()}",
                settings=settings,
            )
            if queued is None:
                continue  # today's digest went out already: the rest waits for tomorrow's
            now = clock.now()
            for n in items:
                n.mailed_at = now
            sent += 1
        uow.commit()
    return sent


# --- a user's notifications -----------------------------------------------------------------------
def of_user(uow: UnitOfWork, user_id: int, *, unread_only: bool = False, limit: int = 100) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(uow.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def unread_count(uow: UnitOfWork, user_id: int) -> int:
    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(uow: UnitOfWork, clock: Clock, user_id: int, notification_id: int | None) -> int:
    """Mark one notification (or all, with None) of `user_id` read; how many changed. Another user's
    notification is never touched (it looks missing)."""
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = uow.session.execute(stmt.values(read_at=clock.now()).execution_options(synchronize_session=False))
    uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def exists_for(uow: UnitOfWork, user_id: int, notification_id: int) -> bool:
    return (
        uow.session.scalar(
            select(Notification.id).where(Notification.id == notification_id, Notification.user_id == user_id)
        )
        is not None
    )
