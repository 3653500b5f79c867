"""E-mail: the outbox (queue), rendering in French (plain text + HTML), the unsubscribe token, the
sender the worker runs (`send_due`), and each user's preference.

Delivery mirrors the webhook deliveries (app/webhooks/worker.py): a mail row is written in the
transaction that causes it; the worker claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
serialises writers) by moving them to `sending` with a lease, talks SMTP outside any transaction, and
marks a row `sent` only after the server accepted it. A worker that dies mid-send leaves its row in
`sending`; once the lease is over, another round takes it again, with the same Message-ID; every write
of a worker is conditioned on its claim (attempt number and lease end), renewed just before each send,
so a worker whose lease ran out neither sends nor records. Temporary refusals (4xx, per recipient too)
and dropped conversations are retried on REGIEFLOW_MAIL_RETRY_SCHEDULE_SECONDS, then `failed`; a
permanent refusal (5xx) fails that mail; a server that cannot be reached or refuses our login or sender
(configuration) ends the round: the mail tried counts that attempt and waits on the same schedule (so a
server down for good fails it after the last wait, `failed` with the last error, instead of keeping it
forever), the rest of the round's mail waits as long without an attempt counted (it was not tried).
The outbox's figures are in /metrics: `email` (waiting or being sent) and `email_failed` (given up).
Without REGIEFLOW_SMTP_HOST nothing is sent: mail stays queued."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.core.clock import Clock
from app.core.keys import derived_key, fernet
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.mail.models import MODES, MailPreference, OutgoingMail
from app.observability.metrics import QUEUES, Queue
from app.web.charts import date_fr

log = logging.getLogger("regieflow.mail")

UNSUBSCRIBE_PURPOSE = "mail-unsubscribe"
LINK_PURPOSE = "mail-links"  # the key that encrypts a secret mail's link until it is sent
SEALED_LINK = re.compile(r"\[\[lien-chiffre:([A-Za-z0-9_\-=]+)\]\]")
WIPED = "(contenu effacé : il portait un lien personnel)"
CLAIM_BATCH = 20
MODE_LABELS = {
    "immediat": "À chaque notification",
    "quotidien": "Un récapitulatif par jour",
    "aucun": "Aucun e-mail de notification",
}


def _templates_dir() -> str:
    from app.web.templating import ROOT

    return str(ROOT / "templates" / "mail")


_ENV: dict[bool, Environment] = {}


def _env(html: bool) -> Environment:
    if html not in _ENV:
        env = Environment(
            loader=FileSystemLoader(_templates_dir()),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        env.filters["date_fr"] = date_fr
        _ENV[html] = env
    return _ENV[html]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, context: dict[str, Any]) -> Rendered:
    """`templates/mail/<template>.subject.txt`, `.txt` and `.html`, in French."""
    subject = _env(False).get_template(f"{template}.subject.txt").render(context)
    text = _env(False).get_template(f"{template}.txt").render(context)
    html = _env(True).get_template(f"{template}.html").render(context)
    return Rendered(" ".join(subject.split())[:300], text, html)


def _domain(settings: Settings | None) -> str:
    sender = parseaddr(settings.mail_sender)[1] if settings is not None else ""
    return sender.rpartition("@")[2] or "regieflow.invalid"


def queue(
    uow: UnitOfWork,
    clock: Clock,
    *,
    kind: str,
    to: str,
    template: str,
    context: dict[str, Any],
    user_id: int | None = None,
    secret: bool = False,
    unsubscribe: bool = False,
    dedupe_key: str | None = None,
    settings: Settings | None = None,
) -> int | None:
    """Write one mail into the outbox (in the caller's transaction; the caller commits). With a
    `dedupe_key` already queued, nothing is written and None is returned (one mail per occurrence,
    even under two writers at once: the unique key decides). A `secret` mail's `link` (a personal
    token) is stored encrypted, never in clear: the bodies hold a mark that the sender replaces with
    the link at send time (build_message); the bodies are wiped once sent, failed or cancelled."""
    if secret and "link" in context:
        if settings is None:
            raise ValueError("a secret mail needs the settings (its link is encrypted)")
        context = context | {"link": seal(settings, str(context["link"]))}
    rendered = render(template, context)
    now = clock.now()
    values = {
        "kind": kind,
        "to_address": to,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "message_id": f"<{uuid.uuid4().hex}@{_domain(settings)}>",
        "dedupe_key": dedupe_key,
        "user_id": user_id,
        "unsubscribe": unsubscribe,
        "secret": secret,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    if dedupe_key is None:
        row = OutgoingMail(**values)
        uow.session.add(row)
        uow.session.flush()
        return row.id
    return insert_once(uow.session, OutgoingMail, values, "dedupe_key")


def seal(settings: Settings, link: str) -> str:
    """The mark a secret mail's body holds in place of its link (encrypted; build_message opens it)."""
    sealed = fernet(settings, LINK_PURPOSE).encrypt(link.encode()).decode()
    return f"[[lien-chiffre:{sealed}]]"


def insert_once(session: Session, model: Any, values: dict[str, Any], *conflict: str) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when the unique key
    `conflict` already held a row (PostgreSQL and SQLite alike)."""
    dialect = session.get_bind().dialect.name
    table = model.__table__
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=list(conflict))
    else:
        stmt = sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=list(conflict))
    result = session.execute(stmt.returning(table.c.id))
    new = result.scalar_one_or_none()
    return int(new) if new is not None else None


# --- preferences and unsubscribe ------------------------------------------------------------------
def mode_of(session: Session, user_id: int) -> str:
    pref = session.get(MailPreference, user_id)
    return pref.mode if pref is not None else "immediat"


def set_mode(uow: UnitOfWork, clock: Clock, user_id: int, mode: str) -> None:
    if mode not in MODES:
        from workflow.errors import InvalidInput

        raise InvalidInput("Choix inconnu : immédiat, récapitulatif quotidien ou aucun.", "mode")
    pref = uow.session.get(MailPreference, user_id)
    if pref is None:
        uow.session.add(MailPreference(user_id=user_id, mode=mode, changed_at=clock.now()))
    else:
        pref.mode, pref.changed_at = mode, clock.now()
    uow.commit()


def _signature(settings: Settings, user_id: int) -> str:
    mac = hmac.new(derived_key(settings, UNSUBSCRIBE_PURPOSE), f"unsubscribe:{user_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:20]).decode().rstrip("=")


def unsubscribe_token(settings: Settings, user_id: int) -> str:
    return f"{user_id}.{_signature(settings, user_id)}"


def unsubscribe_url(settings: Settings, user_id: int) -> str:
    return f"{settings.public_base_url.rstrip('/')}/desabonnement/{unsubscribe_token(settings, user_id)}"


def user_of_token(settings: Settings, token: str) -> int | None:
    """The user a signed unsubscribe token names, or None (forged, malformed)."""
    head, _, sig = token.partition(".")
    if not (head.isascii() and head.isdigit()) or len(head) > 10 or not sig or len(sig) > 64:
        return None
    user_id = int(head)
    # compared as bytes: compare_digest refuses str holding non-ASCII characters (a TypeError, a 500)
    return user_id if hmac.compare_digest(sig.encode(), _signature(settings, user_id).encode()) else None


# --- sending (the worker's round) -----------------------------------------------------------------
@dataclass
class SendReport:
    attempted: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


def build_message(row: OutgoingMail, settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_sender
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(row.created_at)
    msg["Auto-Submitted"] = "auto-generated"
    if row.unsubscribe and row.user_id is not None:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url(settings, row.user_id)}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(_unseal(row.text_body, settings) if row.secret else row.text_body)
    msg.add_alternative(_unseal(row.html_body, settings) if row.secret else row.html_body, subtype="html")
    return msg


def _unseal(body: str, settings: Settings) -> str:
    """The body with its encrypted link back in clear (only in the message handed to the server)."""
    keys = fernet(settings, LINK_PURPOSE)
    return SEALED_LINK.sub(lambda m: keys.decrypt(m.group(1).encode()).decode(), body)


def wipe(row: OutgoingMail) -> None:
    if row.secret:
        row.text_body = row.html_body = WIPED


def cancel(uow: UnitOfWork, dedupe_prefix: str, why: str) -> int:
    """Give up the mail not yet sent whose dedupe key starts with `dedupe_prefix` (a link replaced or
    revoked: the mail would carry a dead link); their bodies are wiped. Returns how many."""
    rows = list(
        uow.session.scalars(
            select(OutgoingMail)
            .where(
                OutgoingMail.dedupe_key.startswith(dedupe_prefix, autoescape=True),
                OutgoingMail.status.in_(("pending", "sending")),
            )
            .with_for_update()
        )
    )
    for row in rows:
        row.status, row.last_error = "failed", why[:500]
        wipe(row)
    return len(rows)


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of the SMTP connection: the certificate and the host name are checked, against
    REGIEFLOW_SMTP_CA_FILE's authorities when set (an internal CA), the system's otherwise."""
    return ssl.create_default_context(cafile=settings.smtp_ca_file or None)


def _smtp(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_host is not None
    timeout = settings.smtp_timeout_seconds
    server: smtplib.SMTP
    if settings.smtp_security == "tls":
        server = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=tls_context(settings)
        )
    else:
        server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        try:
            if settings.smtp_security == "starttls":
                server.starttls(context=tls_context(settings))
        except BaseException:
            server.close()
            raise
    try:
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            login(server, settings.smtp_user, password)
    except BaseException:
        server.close()
        raise
    return server


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def login(server: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN (preferred) or AUTH LOGIN with the login and password in UTF-8 (RFC 4616): smtplib's
    own login encodes them in ASCII and fails on « très » before saying a word to the server."""
    server.ehlo_or_helo_if_needed()
    if not server.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("the SMTP server offers no AUTH (is TLS on?)")
    offered = server.esmtp_features["auth"].upper().split()
    name, secret = user.encode("utf-8"), password.encode("utf-8")
    if "PLAIN" in offered:
        code, reply = server.docmd("AUTH", "PLAIN " + _b64(b"\0" + name + b"\0" + secret))
    elif "LOGIN" in offered:
        code, reply = server.docmd("AUTH", "LOGIN " + _b64(name))
        if code == 334:
            code, reply = server.docmd(_b64(secret))
    else:
        raise smtplib.SMTPException(f"no AUTH mechanism we speak (PLAIN, LOGIN) among {' '.join(offered)}")
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


@dataclass(frozen=True)
class Claim:
    """One row a worker holds: its id and the claim's token (the attempt number and the lease's end it
    set). Whatever the worker writes later is conditioned on the row still carrying that token, so a
    worker whose lease ran out (another one took the row again) neither sends nor records it."""

    id: int
    attempts: int
    until: datetime


def _owned(claim_: Claim) -> Any:
    return (
        (OutgoingMail.id == claim_.id)
        & (OutgoingMail.status == "sending")
        & (OutgoingMail.attempts == claim_.attempts)
        & (OutgoingMail.next_attempt_at == claim_.until)
    )


def claim(uows: UnitOfWorkFactory, settings: Settings, now: datetime, skip: set[int]) -> list[Claim]:
    """Claim due mail: pending rows due now, and rows left `sending` by a worker whose lease is over."""
    due = (
        OutgoingMail.status.in_(("pending", "sending"))
        & (OutgoingMail.next_attempt_at <= now)
        & (OutgoingMail.kind != "password_reset_request")  # resolved first (app.accounts.password_reset)
    )
    until = now + timedelta(seconds=settings.mail_lease_seconds)
    with uows() as uow:
        stmt = (
            select(OutgoingMail.id)
            .where(due)
            .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
            .limit(CLAIM_BATCH)
            .with_for_update(skip_locked=True)
        )
        if skip:
            stmt = stmt.where(OutgoingMail.id.not_in(skip))
        ids = list(uow.session.scalars(stmt))
        if not ids:
            return []
        uow.session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id.in_(ids), due)  # still due: another worker may have been first (SQLite)
            .values(status="sending", attempts=OutgoingMail.attempts + 1, next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )
        rows = uow.session.execute(
            select(OutgoingMail.id, OutgoingMail.attempts)
            .where(OutgoingMail.id.in_(ids), OutgoingMail.status == "sending", OutgoingMail.next_attempt_at == until)
            .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        ).all()
        uow.commit()
        return [Claim(mail_id, attempts, until) for mail_id, attempts in rows]


def send_due(uows: UnitOfWorkFactory, settings: Settings, clock: Clock, *, limit: int = 500) -> SendReport:
    """Send every mail due now (once each this round); nothing without REGIEFLOW_SMTP_HOST. A server
    that cannot be reached (or refuses the login) ends the round: the claimed mail waits, its attempt
    not counted."""
    report = SendReport()
    from app.accounts.password_reset import resolve

    # Forgotten-password requests become mail (or go) before the claim, with or without SMTP: a typed
    # address that is nobody's is never kept longer than one round of the worker.
    resolve(uows, settings, clock)
    if not settings.smtp_host:
        return report
    seen: set[int] = set()
    while report.attempted < limit:
        claims = claim(uows, settings, clock.now(), seen)
        if not claims:
            break
        for index, held in enumerate(claims):
            seen.add(held.id)
            report.attempted += 1
            try:
                mine = _renew(uows, settings, clock, held)
                if mine is None:  # another worker took it again: it is theirs now
                    continue
                try:
                    outcome = _send_one(uows, settings, mine)
                except Exception as err:  # one bad row must not end the round for the others
                    log.exception("mail %s: unexpected error while sending", held.id)
                    outcome = Outcome(False, f"erreur inattendue à l'envoi ({type(err).__name__})", "retry")
                _record(uows, settings, clock, mine, outcome, report)
            except Exception:
                log.exception("mail %s: could not be recorded; retried once its lease is over", held.id)
                continue
            if outcome.kind == "unavailable":
                untried = Outcome(False, outcome.error, "untried")
                for rest in claims[index + 1 :]:
                    _record(uows, settings, clock, rest, untried, report)
                return report
    return report


def _renew(uows: UnitOfWorkFactory, settings: Settings, clock: Clock, held: Claim) -> Claim | None:
    """A fresh lease for the row about to be sent, if this worker still holds it (else None)."""
    until = clock.now() + timedelta(seconds=settings.mail_lease_seconds)
    with uows() as uow:
        done = uow.session.execute(
            update(OutgoingMail)
            .where(_owned(held))
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    return Claim(held.id, held.attempts, until) if getattr(done, "rowcount", 0) == 1 else None


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None
    # "sent"; "retry" (a temporary refusal: counted, retried on the schedule); "permanent" (failed now);
    # "unavailable" (the server cannot be reached or refuses our login: counted, retried on the schedule,
    # and the round ends); "untried" (the rest of that round: waits as long, the attempt not counted)
    kind: str


AUTH_CODES = frozenset({530, 534, 535, 538})  # authentication required / refused: our configuration


def _send_one(uows: UnitOfWorkFactory, settings: Settings, held: Claim) -> Outcome:
    with uows(write=False) as uow:
        row = uow.session.scalar(select(OutgoingMail).where(_owned(held)))
        if row is None:
            return Outcome(False, "disparu", "gone")
        msg = build_message(row, settings)
    try:
        server = _smtp(settings)
    except smtplib.SMTPResponseException as err:
        return Outcome(False, f"serveur indisponible ou connexion refusée ({err.smtp_code})", "unavailable")
    except (smtplib.SMTPException, OSError) as err:
        return Outcome(False, f"serveur injoignable ({type(err).__name__})", "unavailable")
    try:
        server.send_message(msg)
    except smtplib.SMTPRecipientsRefused as err:
        codes = [code for code, _ in err.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return Outcome(
            False,
            f"destinataire refusé par le serveur : {_codes(err.recipients)}",
            "permanent" if permanent else "retry",
        )
    except smtplib.SMTPSenderRefused as err:  # our sender address: the configuration, not this mail
        return Outcome(False, f"expéditeur refusé par le serveur ({err.smtp_code})", "unavailable")
    except smtplib.SMTPResponseException as err:
        code = err.smtp_code
        if code in AUTH_CODES:
            return Outcome(False, f"authentification refusée par le serveur ({code})", "unavailable")
        permanent = 500 <= code < 600 and code != 554
        return Outcome(False, f"refus du serveur ({code})", "permanent" if permanent else "retry")
    except (smtplib.SMTPException, OSError) as err:
        return Outcome(False, f"serveur injoignable ou connexion interrompue ({type(err).__name__})", "retry")
    finally:
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):
            server.close()
    return Outcome(True, None, "sent")


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(str(code) for code, _ in recipients.values())


def _record(
    uows: UnitOfWorkFactory,
    settings: Settings,
    clock: Clock,
    held: Claim,
    outcome: Outcome,
    report: SendReport,
) -> None:
    now = clock.now()
    with uows() as uow:
        row = uow.session.scalar(select(OutgoingMail).where(_owned(held)).with_for_update())
        if row is None:  # no longer this worker's (its lease ran out and another took it)
            return
        schedule = settings.mail_retry_schedule_seconds
        if outcome.ok:
            row.status, row.sent_at, row.last_error = "sent", now, None
            wipe(row)  # a link's token lived only as long as the mail had to be sent
            report.sent += 1
        elif outcome.kind == "untried":  # not tried this round: its attempt is given back
            row.last_error = (outcome.error or "serveur indisponible")[:500]
            row.status, row.attempts = "pending", row.attempts - 1
            row.next_attempt_at = now + timedelta(seconds=_wait(schedule, max(row.attempts, 1)))
            report.retried += 1
        else:
            row.last_error = (outcome.error or "échec")[:500]
            if outcome.kind in ("permanent", "gone") or row.attempts > len(schedule):
                row.status = "failed"
                wipe(row)  # never sent: its link is of no use to anyone any more
                report.failed += 1
            else:
                row.status = "pending"
                row.next_attempt_at = now + timedelta(seconds=_wait(schedule, row.attempts))
                report.retried += 1
        uow.commit()


def _wait(schedule: list[int], attempts: int) -> int:
    """Seconds before the next attempt after `attempts` attempts (the schedule's last wait beyond it)."""
    if not schedule:
        return 60
    return schedule[min(attempts, len(schedule)) - 1]


QUEUES.append(Queue("email_failed", "mail_outbox", "status = 'failed'"))  # given up: /metrics shows how many


def outbox(uow: UnitOfWork, *, status: str | None = None, limit: int = 50) -> list[OutgoingMail]:
    from app.accounts.password_reset import RESET_REQUEST

    stmt = (  # not the forgotten-password requests still to resolve: typed addresses, maybe nobody's
        select(OutgoingMail).where(OutgoingMail.kind != RESET_REQUEST).order_by(OutgoingMail.id.desc()).limit(limit)
    )
    if status:
        stmt = stmt.where(OutgoingMail.status == status)
    return list(uow.session.scalars(stmt))


def pending_count(uow: UnitOfWork) -> int:
    from sqlalchemy import func

    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(OutgoingMail)
            .where(or_(OutgoingMail.status == "pending", OutgoingMail.status == "sending"))
        )
        or 0
    )
