"""Forgotten password ("Mot de passe oublié"): a single-use, expiring link sent by e-mail.

The form answers the same words whether the address belongs to someone or not, and does the same
work either way: it looks nobody up; it writes one request into the e-mail outbox (kind
RESET_REQUEST, no body yet), whatever the address. The worker resolves it before sending (`resolve`):
for an active user's address it makes the link (a reset row) and turns the request into the mail; for
any other address, or a second request within RESEND_AFTER_SECONDS, it deletes it (no list of typed
addresses is kept). The answer's time therefore says nothing of the address.
Only the SHA-256 of the link's token is stored; using it sets the new password, ends the user's
sessions and marks the link used, in one transaction (a second use finds it used)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import Clock
from app.core.database import Base, UTCDateTime
from app.core.security import hash_password, new_token, sha256_hex
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.web import wording
from workflow.errors import InvalidInput


class PasswordReset(Base):
    __tablename__ = "password_resets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def lifetime_fr(minutes: int) -> str:
    """« une heure », « 30 minutes », « 2 heures », « une heure et 30 minutes »: a link's lifetime in words."""
    hours, rest = divmod(minutes, 60)
    if hours == 0:
        return f"{rest} minute{'s' if rest > 1 else ''}"
    text = "une heure" if hours == 1 else f"{hours} heures"
    return text if rest == 0 else f"{text} et {rest} minute{'s' if rest > 1 else ''}"


def same_answer(settings: Settings) -> str:
    """What the forgotten-password form answers, whether the address is an account's or not."""
    return (
        "Si cette adresse correspond à un compte actif, un e-mail vient de lui être envoyé avec un lien pour "
        "choisir un nouveau mot de passe. Le lien sert une fois et expire au bout "
        f"{wording.de(lifetime_fr(settings.password_reset_minutes))}."
    )


RESEND_AFTER_SECONDS = 120
DEAD_LINK = "Ce lien n'est plus valable (déjà utilisé, expiré ou inconnu). Demandez-en un nouveau."


RESET_REQUEST = "password_reset_request"  # an outbox row the worker turns into the mail, or deletes


def request_reset(uow: UnitOfWork, settings: Settings, clock: Clock, email: str) -> None:
    """Queue the request, whatever the address (the same statements for every address: nobody is
    looked up here). Two requests for one address within RESEND_AFTER_SECONDS are one row."""
    from app.mail.service import insert_once

    # as the login form: PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded
    address = email.strip().lower().replace("\x00", "\ufffd")[:254].encode("utf-8", "replace").decode("utf-8")
    now = clock.now()
    window = int(now.timestamp()) // RESEND_AFTER_SECONDS
    digest = hashlib.sha256(address.encode()).hexdigest()
    from app.mail.models import OutgoingMail

    insert_once(
        uow.session,
        OutgoingMail,
        {
            "kind": RESET_REQUEST,
            "to_address": address,
            "subject": "",
            "text_body": "",
            "html_body": "",
            "message_id": f"<{uuid.uuid4().hex}@reset.invalid>",
            "dedupe_key": f"{RESET_REQUEST}:{digest[:40]}:{window}",
            "user_id": None,
            "unsubscribe": False,
            "secret": True,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
        "dedupe_key",
    )
    uow.commit()


def resolve(uows: UnitOfWorkFactory, settings: Settings, clock: Clock, *, limit: int = 200) -> int:
    """Turn the queued requests into reset mails (an active user's address, no link sent in the
    RESEND_AFTER_SECONDS before the request) or delete them; how many mails it made. Each row is taken
    under its lock (SKIP LOCKED): two workers never resolve one twice."""
    from app.mail.models import OutgoingMail
    from app.mail.service import render, seal

    made = 0
    with uows() as uow:
        rows = list(
            uow.session.scalars(
                select(OutgoingMail)
                .where(OutgoingMail.kind == RESET_REQUEST, OutgoingMail.status == "pending")
                .order_by(OutgoingMail.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            asked = row.created_at
            user = uow.accounts.user_by_email(row.to_address) if row.to_address else None
            recent = (
                uow.session.scalar(
                    select(PasswordReset.id).where(
                        PasswordReset.user_id == user.id,
                        PasswordReset.created_at > asked - timedelta(seconds=RESEND_AFTER_SECONDS),
                    )
                )
                if user is not None
                else None
            )
            if user is None or not user.active or recent is not None:
                uow.session.execute(delete(OutgoingMail).where(OutgoingMail.id == row.id))
                continue
            token = new_token(32)
            minutes = settings.password_reset_minutes
            now = clock.now()
            uow.session.add(
                PasswordReset(
                    user_id=user.id,
                    token_hash=sha256_hex(token),
                    created_at=asked,
                    expires_at=now + timedelta(minutes=minutes),
                )
            )
            link = f"{settings.public_base_url.rstrip('/')}/mot-de-passe/nouveau/{token}"
            rendered = render("password_reset", {"name": user.name, "link": seal(settings, link), "minutes": minutes})
            row.kind, row.to_address, row.user_id = "password_reset", user.email, user.id
            row.subject, row.text_body, row.html_body = rendered.subject, rendered.text, rendered.html
            row.next_attempt_at = now
            made += 1
        uow.commit()
    return made


def _live(uow: UnitOfWork, token: str, now: datetime, *, lock: bool = False) -> PasswordReset | None:
    if not token or len(token) > 100:
        return None
    stmt = select(PasswordReset).where(PasswordReset.token_hash == sha256_hex(token))
    if lock:
        stmt = stmt.with_for_update()
    row = uow.session.scalar(stmt)
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def forget_links(uow: UnitOfWork, user_id: int, now: datetime) -> None:
    """Kill every reset link of the user not used yet: once the password has changed (through a link,
    the account page or an administrator), an older link still in a mailbox must not work."""
    uow.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def link_is_live(uow: UnitOfWork, clock: Clock, token: str) -> bool:
    return _live(uow, token, clock.now()) is not None


def use_reset(uow: UnitOfWork, clock: Clock, token: str, password: str, confirm: str) -> bool:
    """Set the new password through a live link; False when the link is dead (used, expired, unknown)."""
    from app.accounts.service import _check_password  # the same rule as an administrator's

    _check_password(password)
    if password != confirm:
        raise InvalidInput("Les deux mots de passe ne sont pas identiques.", "confirm")
    now = clock.now()
    row = _live(uow, token, now, lock=True)
    if row is None:
        return False
    # single use even under two submissions at once: only the UPDATE that finds it unused wins
    won = uow.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == row.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(won, "rowcount", 0) != 1:
        return False
    user = uow.accounts.user(row.user_id)
    if user is None or not user.active:
        return False
    user.password_hash = hash_password(password)
    uow.accounts.end_web_sessions_of(user.id)
    forget_links(uow, user.id, now)
    uow.commit()
    return True
