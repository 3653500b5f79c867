"""Forgotten password ("Mot de passe oublié"): a single-use, expiring link sent by e-mail.

The form answers the same words whether the address belongs to someone or not (and does the same
work: a reset row is written only for an active user, but the answer and its timing do not say so).
Only the SHA-256 of the link's token is stored; using it sets the new password, ends the user's
sessions and marks the link used, in one transaction (a second use finds it used)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import Clock
from app.core.database import Base, UTCDateTime
from app.core.security import hash_password, new_token, sha256_hex
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork
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


def request_reset(uow: UnitOfWork, settings: Settings, clock: Clock, email: str) -> None:
    """Queue a reset mail when `email` is an active user's; otherwise nothing (the caller says the same)."""
    from app.mail.service import queue

    address = email.strip().lower()
    user = uow.accounts.user_by_email(address) if address and len(address) <= 254 else None
    if user is None or not user.active:
        return
    now = clock.now()
    recent = uow.session.scalar(
        select(PasswordReset.id).where(
            PasswordReset.user_id == user.id, PasswordReset.created_at > now - timedelta(seconds=RESEND_AFTER_SECONDS)
        )
    )
    if recent is not None:  # a link went out a moment ago: no flood of a mailbox (the answer is the same)
        return
    token = new_token(32)
    minutes = settings.password_reset_minutes
    uow.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=sha256_hex(token),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    link = f"{settings.public_base_url.rstrip('/')}/mot-de-passe/nouveau/{token}"
    queue(
        uow,
        clock,
        kind="password_reset",
        to=user.email,
        template="password_reset",
        context={"name": user.name, "link": link, "minutes": minutes},
        user_id=user.id,
        secret=True,
        settings=settings,
    )
    uow.commit()


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
