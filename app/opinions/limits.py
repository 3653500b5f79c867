"""What keeps opinion requests from becoming a way to flood someone's mailbox (review of issue 15).

- **One address, plainly written** (`single_address`): a request's link goes to exactly one mailbox.
  Only a plain `local@domain` in ASCII is taken: no list (`,` `;`), no display name or angle brackets
  (`Nom <a@b.fr>`), no quotes, comments or spaces, no line break, no IP literal, no `%` or `!` routing;
  the local part is at most 64 characters, each domain label at most 63, the whole at most 254.
- **So many a day** (`check_quota`), counted over the service's day (REGIEFLOW_TIMEZONE):
  REQUESTS_PER_PROJECT_PER_DAY new requests per project, RESENDS_PER_REQUEST_PER_DAY re-sendings of one
  request, and MAILS_PER_ADDRESS_PER_DAY request mails (new or re-sent, whatever the project) to one
  address. Beyond, the API answers 429 (problem+json, `Retry-After` until the next day) and the pages
  say it in French. The counts are taken under the project's row lock and, for the address, a lock on
  the address (PostgreSQL: a transaction-level advisory lock; SQLite serialises writers): requests sent
  at the same time cannot all pass."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta
from email.utils import getaddresses

from sqlalchemy import func, select

from app.core.clock import Clock
from app.core.errors import Throttled
from app.core.unit_of_work import UnitOfWork
from app.mail.models import OutgoingMail
from app.opinions.models import OpinionRequest
from workflow.errors import InvalidInput

REQUESTS_PER_PROJECT_PER_DAY = 20
RESENDS_PER_REQUEST_PER_DAY = 3
MAILS_PER_ADDRESS_PER_DAY = 5

_LOCAL = re.compile(r"^[A-Za-z0-9#$&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
ONE_ADDRESS = (
    "Une seule adresse e-mail, écrite simplement (nom@domaine.fr) : ni liste, ni nom devant, ni guillemets, "
    "ni espaces ; 254 caractères au plus."
)


def single_address(value: str) -> str:
    """`value` as one plain address (surrounding spaces removed), or InvalidInput on the `email` field."""
    text = value.strip()
    if not text or len(text) > 254 or not text.isascii() or text.count("@") != 1:
        raise InvalidInput(ONE_ADDRESS, "email")
    local, _, domain = text.partition("@")
    labels = domain.split(".")
    if (
        len(local) > 64
        or not _LOCAL.match(local)
        or len(domain) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TLD.match(labels[-1])
    ):
        raise InvalidInput(ONE_ADDRESS, "email")
    if getaddresses([text]) != [("", text)]:  # what a mail header would read: this one address, no more
        raise InvalidInput(ONE_ADDRESS, "email")
    return text


def _day_start(clock: Clock) -> datetime:
    return datetime.combine(clock.today(), time(0, 0), clock.tz).astimezone(UTC)


def _until_tomorrow(clock: Clock) -> int:
    return max(1, int((_day_start(clock) + timedelta(days=1) - clock.now()).total_seconds()))


def _lock_address(uow: UnitOfWork, address: str) -> None:
    """Serialise the writers that count mail to one address (PostgreSQL; SQLite serialises all writers)."""
    if uow.session.get_bind().dialect.name == "postgresql":
        uow.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(address.lower(), 15))))


def _mails_to(uow: UnitOfWork, address: str, since: datetime) -> int:
    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(OutgoingMail)
            .where(
                OutgoingMail.kind == "opinion_request",
                func.lower(OutgoingMail.to_address) == address.lower(),
                OutgoingMail.created_at >= since,
            )
        )
        or 0
    )


def check_new_request(uow: UnitOfWork, clock: Clock, project_id: uuid.UUID, address: str) -> None:
    """Refuse (429) a new request past the project's or the address's count of the day. Call it with
    the project's row locked."""
    since = _day_start(clock)
    made = int(
        uow.session.scalar(
            select(func.count())
            .select_from(OpinionRequest)
            .where(OpinionRequest.project_id == project_id, OpinionRequest.created_at >= since)
        )
        or 0
    )
    if made >= REQUESTS_PER_PROJECT_PER_DAY:
        raise Throttled(
            f"Ce projet a déjà envoyé {REQUESTS_PER_PROJECT_PER_DAY} demandes d'avis aujourd'hui : "
            "les suivantes pourront partir demain.",
            _until_tomorrow(clock),
        )
    _check_address(uow, clock, address, since)


def check_resend(uow: UnitOfWork, clock: Clock, req: OpinionRequest) -> None:
    """Refuse (429) a re-sending past the request's or the address's count of the day. Call it with the
    project's row locked."""
    since = _day_start(clock)
    resent = int(
        uow.session.scalar(
            select(func.count())
            .select_from(OutgoingMail)
            .where(
                OutgoingMail.dedupe_key.startswith(f"opinion_request:{req.id}:", autoescape=True),
                OutgoingMail.dedupe_key != f"opinion_request:{req.id}:1",  # the first sending is no re-send
                OutgoingMail.created_at >= since,
            )
        )
        or 0
    )
    if resent >= RESENDS_PER_REQUEST_PER_DAY:
        raise Throttled(
            f"Cette demande d'avis a déjà été renvoyée {RESENDS_PER_REQUEST_PER_DAY} fois aujourd'hui : "
            "vous pourrez la renvoyer de nouveau demain.",
            _until_tomorrow(clock),
        )
    _check_address(uow, clock, req.email, since)


def _check_address(uow: UnitOfWork, clock: Clock, address: str, since: datetime) -> None:
    _lock_address(uow, address)
    if _mails_to(uow, address, since) >= MAILS_PER_ADDRESS_PER_DAY:
        raise Throttled(
            f"Cette adresse a déjà reçu {MAILS_PER_ADDRESS_PER_DAY} demandes d'avis aujourd'hui : "
            "les suivantes pourront partir demain.",
            _until_tomorrow(clock),
        )
