"""Plain French words for dates, delays and a project's deadline status: one place, pure functions.

Every page that says when something is due or why a project is late (the porteur's home, "Mes
échéances", the portfolio, the project page) calls these, so the same numbers always read the same.
Nothing here touches the database or the web: the inputs are dates, the output is text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Protocol

from dateutil.relativedelta import relativedelta

from workflow.vocabulary import Status
from workflow.vocabulary import date_fr as date_fr  # one definition (workflow), re-exported


def local_day(moment: datetime, tz: tzinfo) -> date:
    """The calendar day of an instant where the service runs (settings.timezone, Europe/Paris): a change
    recorded at 23:30 UTC on 26 November happened on 27 November in Paris."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz).date()


VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüœæhAEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆH")


def de(name: str) -> str:
    """ "de Claire", "d'Alex", "d'Émilie": the preposition elided before a vowel (or a mute h)."""
    name = name.strip()
    return f"d'{name}" if name and name[0] in VOWELS else f"de {name}"


@lru_cache(maxsize=4096)  # pure; a list of 50 projects asks for the same few hundred spans on every request
def span(earlier: date, later: date) -> str:
    """The time from `earlier` to `later` in words: "12 jours", "3 mois", "1 an et 2 mois".

    Under two months, in days ("45 jours" says more than "1 mois"); then in whole calendar months
    (months add like the deadlines do); from twelve months, in years and months. `later` before
    `earlier` reads as the same span reversed."""
    if later < earlier:
        earlier, later = later, earlier
    delta = relativedelta(later, earlier)
    months = delta.years * 12 + delta.months
    if months < 2:
        days = (later - earlier).days
        return f"{days} jour{'s' if days > 1 else ''}"
    years, rest = divmod(months, 12)
    if years == 0:
        return f"{months} mois"
    text = f"{years} an{'s' if years > 1 else ''}"
    return text + (f" et {rest} mois" if rest else "")


def reference_day(due: date, today: date, suspended_since: date | None) -> date:
    """The day a project's due date is measured from. While a project is suspended its deadlines are
    frozen: a date still ahead at the pause has already been moved by the pause (workflow.deadlines
    .present), so it is measured from today ("dans 30 jours" stays "dans 30 jours"); a date already
    passed at the pause stays passed by what it was that day (not one day more per suspended day)."""
    if suspended_since is not None and due < suspended_since <= today:
        return suspended_since
    return today


def due_in_words(due: date, today: date, *, feminine: bool = True, suspended_since: date | None = None) -> str:
    """ "dans 3 mois", "aujourd'hui", "dépassée de 12 jours" (an échéance is feminine; a horizon is not:
    `feminine=False` gives "dépassé de …"). For a suspended project, pass `suspended_since` with the
    dates present() gives: see reference_day."""
    ref = reference_day(due, today, suspended_since)
    if due == ref:
        return "aujourd'hui"
    if due > ref:
        return f"dans {span(ref, due)}"
    return f"dépassé{'e' if feminine else ''} de {span(due, ref)}"


@dataclass(frozen=True)
class Reason:
    """Why a project has its status, in one sentence, and the date that decides it."""

    status: Status | None
    text: str  # "échéance de l'étape dépassée de 3 mois"
    severity: int  # 0 late, 1 at risk, 2 on time, 3 closed or unknown: the order of the lists


SEVERITY = {Status.EN_RETARD: 0, Status.A_RISQUE: 1, Status.DANS_LES_TEMPS: 2}


def status_reason(
    *,
    status: Status | None,
    today: date,
    step_due_on: date | None,
    horizon_on: date,
    projected_label_on: date | None,
    suspended_since: date | None = None,
) -> Reason:
    """The reason behind a deadline status (DOMAIN.md, "Deadlines"), from the same numbers the status
    comes from: late when the reference day is past the horizon or the step's due date (the step's
    due date is said first when both are passed: it is the one the group can act on), at risk when the
    projected label falls after the horizon. A suspended project is judged on the day it was paused:
    the dates are those workflow.deadlines.present gives (the ones still ahead at the pause already
    moved by it), each measured from reference_day, as due_in_words does for the same date elsewhere."""
    if status is None or step_due_on is None:
        return Reason(status, "", 3)
    parts: list[str] = []
    if status == Status.EN_RETARD:
        if reference_day(step_due_on, today, suspended_since) > step_due_on:
            parts.append(f"échéance de l'étape {due_in_words(step_due_on, today, suspended_since=suspended_since)}")
        if reference_day(horizon_on, today, suspended_since) > horizon_on:
            words = due_in_words(horizon_on, today, feminine=False, suspended_since=suspended_since)
            parts.append(f"horizon {words}")
    elif status == Status.A_RISQUE and projected_label_on is not None:
        parts.append(f"label projeté {span(horizon_on, projected_label_on)} après l'horizon")
    else:
        parts.append(f"échéance de l'étape {due_in_words(step_due_on, today, suspended_since=suspended_since)}")
        if projected_label_on is not None and projected_label_on < horizon_on:
            parts.append(f"label projeté {span(projected_label_on, horizon_on)} avant l'horizon")
    text = " ; ".join(parts)
    if suspended_since is not None:
        text = f"projet suspendu depuis le {date_fr(suspended_since)}, délais gelés ; {text}"
    return Reason(status, text, SEVERITY[status])


class Deadlines(Protocol):
    """What a project shows of its deadlines (app.projects.schemas.ProjectRead has these)."""

    @property
    def status(self) -> Status | None: ...
    @property
    def step_due_on(self) -> date | None: ...
    @property
    def horizon_on(self) -> date: ...
    @property
    def projected_label_on(self) -> date | None: ...
    @property
    def suspended_since(self) -> date | None: ...


def reason_of(p: Deadlines, today: date) -> Reason:
    """status_reason for a project as the pages show it (its deadlines as of today)."""
    return status_reason(
        status=p.status,
        today=today,
        step_due_on=p.step_due_on,
        horizon_on=p.horizon_on,
        projected_label_on=p.projected_label_on,
        suspended_since=p.suspended_since,
    )


def step_due_words(p: Deadlines, today: date) -> str:
    """How the step's due date of a project reads beside its reason ("dans 30 jours"; empty if none)."""
    if p.step_due_on is None:
        return ""
    return due_in_words(p.step_due_on, today, suspended_since=p.suspended_since)
