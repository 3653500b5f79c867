"""Webhook subscriptions: targets, secrets, signatures, and the owner's view of deliveries.

A subscription belongs to the principal that created it (`owner`, its label); only that principal
or an admin sees or changes it. Deliveries are signed per Standard Webhooks
(https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp` and `webhook-signature`
= space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per valid secret.
The delivery worker itself is in app.webhooks.worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from cryptography.fernet import InvalidToken, MultiFernet

from app.accounts.repository import AccountRepository
from app.authorization.rules import Ability, Principal, key_principal, user_principal
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.unit_of_work import UnitOfWork
from app.projects.models import Event
from app.webhooks import targets
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSecret, WebhookSubscription
from app.webhooks.targets import TargetRefused
from workflow.errors import InvalidInput

SECRET_PREFIX = "whsec_"


SECRET_BYTES = 32


ROTATION_OVERLAP = timedelta(hours=24)


EventType = Literal[
    "project.created",
    "project.updated",
    "project.transitioned",
    "evidence.created",
    "evidence.updated",
    "evidence.deleted",
    "plan.changed",
    "deadline.status_changed",
    # documents of a project (app/documents)
    "document.created",
    "document.version_added",
    "document.updated",
    "document.deleted",
    # opinion requests and the project's messages (app/opinions, app/messages); consultant notes write no event
    "opinion.requested",
    "opinion.answered",
    "opinion.revoked",
    "opinion.resent",
    "message.posted",
]


EVENT_TYPES: tuple[str, ...] = get_args(EventType)


NOT_FOUND = "Abonnement introuvable."


# --- targets (the checks themselves are in app.webhooks.targets) ----------------------------------
def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse anything but http(s) URLs whose host resolves only to public addresses (targets.check).

    Called when a subscription is created or its URL changed; the worker resolves and checks again
    before every attempt, and connects to the address it checked (targets.resolve)."""
    targets.check(url, allow_private=allow_private)


def _validated_url(url: str, allow_private: bool) -> str:
    try:
        check_target(url, allow_private=allow_private)
    except TargetRefused as exc:
        raise InvalidInput(exc.message, "url") from None
    return url


# --- secrets and signatures ----------------------------------------------------------------------
def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: str) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


# --- secrets at rest ----------------------------------------------------------------------------
# `webhook_secrets.secret` holds a Fernet token of the secret (app.core.keys.fernet: a key derived from
# REGIEFLOW_SECRET_KEY, never stored in the database; REGIEFLOW_PREVIOUS_SECRET_KEYS still decrypt
# during a key rotation). The clear secret exists only in memory: when it is made (and shown once) and
# when a delivery is signed.
class SecretUnreadable(Exception):
    """A stored secret does not decrypt with the server's keys (message in French)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


UNREADABLE = (
    "Le secret de signature ne se déchiffre avec aucune clé du serveur (REGIEFLOW_SECRET_KEY changée "
    "sans garder l'ancienne dans REGIEFLOW_PREVIOUS_SECRET_KEYS, ou base importée d'un autre serveur) : "
    "rien n'a été envoyé. Remettez l'ancienne clé, ou faites renouveler le secret "
    "(POST /api/v1/webhooks/{id}/rotate-secret)."
)


def encrypt_secret(cipher: MultiFernet, secret: str) -> str:
    return cipher.encrypt(secret.encode("ascii")).decode("ascii")


def decrypt_secret(cipher: MultiFernet, token: str) -> str:
    try:
        return cipher.decrypt(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, ValueError, TypeError):
        raise SecretUnreadable(UNREADABLE) from None


def valid_secrets(sub: WebhookSubscription, now: datetime, cipher: MultiFernet) -> list[str]:
    """The secrets that sign a delivery, in clear, newest first: the current secret, then a rotated one
    still within its 24 hours. The current one must decrypt (SecretUnreadable otherwise); a rotated one
    that does not (made under a key since dropped) is left out: the receiver holds the current one."""
    rows = sorted(sub.secrets, key=lambda r: (r.created_at, r.id), reverse=True)
    live = [r for r in rows if r.expires_at is None or r.expires_at > now]
    if not live:
        raise SecretUnreadable("L'abonnement n'a plus de secret de signature valable : faites-le renouveler.")
    clear = [decrypt_secret(cipher, live[0].secret)]
    for row in live[1:]:
        try:
            clear.append(decrypt_secret(cipher, row.secret))
        except SecretUnreadable:
            continue
    return clear


@dataclass(frozen=True)
class Reencrypted:
    rotated: int
    unreadable: list[int]  # subscriptions with a secret no key decrypts: to be renewed by their owners


def reencrypt_secrets(uow: UnitOfWork, cipher: MultiFernet) -> Reencrypted:
    """Re-encrypt every stored secret with the current key (MultiFernet.rotate), in one transaction;
    secrets that no key decrypts are left as they are and their subscriptions listed."""
    rotated, unreadable = 0, set()
    for row in uow.webhooks.all_secrets():
        try:
            row.secret = cipher.rotate(row.secret.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, ValueError, TypeError):
            unreadable.add(row.subscription_id)
            continue
        rotated += 1
    uow.commit()
    return Reencrypted(rotated, sorted(unreadable))


# --- owners --------------------------------------------------------------------------------------
def may_subscribe(principal: Principal) -> bool:
    return any(Ability.READ in s.abilities for s in principal.scopes)


def owner_principal(
    accounts: AccountRepository, sub: WebhookSubscription, now: datetime
) -> tuple[Principal | None, str]:
    """The owner as it stands now, or (None, why the subscription can no longer be served)."""
    if sub.api_key_id is not None:
        key = accounts.api_key(sub.api_key_id)
        if key is None or key.revoked_at is not None:
            return None, "La clé d'API propriétaire de l'abonnement a été révoquée."
        if key.expires_at is not None and key.expires_at <= now:
            return None, "La clé d'API propriétaire de l'abonnement a expiré."
        return key_principal(key), ""
    if sub.user_id is not None:
        user = accounts.user(sub.user_id)
        if user is None or not user.active:
            return None, "Le compte propriétaire de l'abonnement est désactivé."
        return user_principal(user), ""
    return None, "Le propriétaire de l'abonnement n'existe plus."


def may_read(principal: Principal, project_id: Any, region: str) -> bool:
    return Ability.READ in principal.abilities(project_id, region)


# --- subscriptions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewSecret:
    subscription: WebhookSubscription
    secret: str


def _types(event_types: list[str] | None) -> list[str]:
    types = sorted(set(event_types or []))
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(
            f"Types d'événements inconnus : {', '.join(unknown)}. Possibles : " + ", ".join(EVENT_TYPES) + ".",
            "event_types",
        )
    return types


def _load(uow: UnitOfWork, sub_id: int, principal: Principal, *, for_update: bool = False) -> WebhookSubscription:
    sub = uow.webhooks.subscription(sub_id, for_update=for_update)
    if sub is None or not (principal.is_admin or sub.owner == principal.label):
        raise NotFound(NOT_FOUND)  # someone else's subscription looks exactly like a missing one
    return sub


def create_subscription(
    uow: UnitOfWork,
    principal: Principal,
    *,
    url: str,
    event_types: list[str] | None,
    description: str | None,
    now: datetime,
    allow_private: bool,
    cipher: MultiFernet,
) -> NewSecret:
    if not may_subscribe(principal):
        raise Forbidden("Il faut pouvoir lire au moins un projet pour s'abonner à ses événements.")
    sub = WebhookSubscription(
        owner=principal.label,
        api_key_id=principal.id if principal.kind == "key" else None,
        user_id=principal.id if principal.kind == "user" else None,
        url=_validated_url(url, allow_private),
        event_types=_types(event_types),
        description=description,
        enabled=True,
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    secret = new_secret()
    sub.secrets = [WebhookSecret(secret=encrypt_secret(cipher, secret), created_at=now)]
    uow.webhooks.add(sub)
    uow.commit()
    return NewSecret(sub, secret)


def list_subscriptions(uow: UnitOfWork, principal: Principal) -> list[WebhookSubscription]:
    return uow.webhooks.subscriptions(owner=None if principal.is_admin else principal.label)


def get_subscription(uow: UnitOfWork, sub_id: int, principal: Principal) -> WebhookSubscription:
    return _load(uow, sub_id, principal)


def update_subscription(
    uow: UnitOfWork, sub_id: int, principal: Principal, changes: dict[str, Any], *, now: datetime, allow_private: bool
) -> WebhookSubscription:
    sub = _load(uow, sub_id, principal, for_update=True)
    if "url" in changes:
        if changes["url"] is None:
            raise InvalidInput("Ce champ ne peut pas être vidé.", "url")
        sub.url = _validated_url(changes["url"], allow_private)
    if "event_types" in changes:
        sub.event_types = _types(changes["event_types"])
    if "description" in changes:
        sub.description = changes["description"]
    if "enabled" in changes and changes["enabled"] is not None and changes["enabled"] != sub.enabled:
        sub.enabled = changes["enabled"]
        if sub.enabled:  # re-enabled by its owner: a fresh start
            sub.disabled_at, sub.disabled_reason, sub.consecutive_failures = None, None, 0
        else:
            sub.disabled_at, sub.disabled_reason = now, "Désactivé par son propriétaire."
    sub.updated_at = now
    uow.commit()
    return sub


def delete_subscription(uow: UnitOfWork, sub_id: int, principal: Principal) -> None:
    sub = _load(uow, sub_id, principal, for_update=True)
    uow.webhooks.delete(sub)
    uow.commit()


def rotate_secret(
    uow: UnitOfWork, sub_id: int, principal: Principal, *, now: datetime, cipher: MultiFernet
) -> NewSecret:
    """A new secret, shown once; the current one stays valid 24 hours (deliveries carry both signatures)."""
    sub = _load(uow, sub_id, principal, for_update=True)
    for row in sub.secrets:
        if row.expires_at is None or row.expires_at > now + ROTATION_OVERLAP:
            row.expires_at = now + ROTATION_OVERLAP
    secret = new_secret()
    sub.secrets.append(WebhookSecret(secret=encrypt_secret(cipher, secret), created_at=now))
    sub.updated_at = now
    uow.commit()
    return NewSecret(sub, secret)


# --- deliveries, as the owner sees them ----------------------------------------------------------
def deliveries_page(
    uow: UnitOfWork, sub_id: int, principal: Principal, *, status: str | None, offset: int, limit: int
) -> tuple[list[tuple[WebhookDelivery, Event]], int]:
    _load(uow, sub_id, principal)
    return uow.webhooks.deliveries_page(sub_id, status=status, offset=offset, limit=limit)


def _delivery(
    uow: UnitOfWork, delivery_id: int, principal: Principal, *, for_update: bool = False
) -> tuple[WebhookDelivery, WebhookSubscription]:
    d = uow.webhooks.delivery(delivery_id, for_update=for_update)
    if d is None:
        raise NotFound("Livraison introuvable.")
    try:
        sub = _load(uow, d.subscription_id, principal)
    except NotFound:
        raise NotFound("Livraison introuvable.") from None
    return d, sub


def _event_of(uow: UnitOfWork, d: WebhookDelivery) -> Event:
    event = uow.webhooks.event(d.event_id)
    if event is None:  # webhook_deliveries.event_id is a foreign key ON DELETE RESTRICT
        raise RuntimeError(f"delivery {d.id} names event {d.event_id}, which does not exist")
    return event


def delivery_attempts(
    uow: UnitOfWork, delivery_id: int, principal: Principal
) -> tuple[WebhookDelivery, Event, list[WebhookAttempt]]:
    d, _ = _delivery(uow, delivery_id, principal)
    return d, _event_of(uow, d), uow.webhooks.attempts(d.id)


def redeliver(
    uow: UnitOfWork, delivery_id: int, principal: Principal, *, now: datetime
) -> tuple[WebhookDelivery, Event]:
    """Send a delivery again from the start of the retry schedule (its attempts stay in the log).
    Returns the delivery and its event."""
    d, sub = _delivery(uow, delivery_id, principal, for_update=True)
    if not sub.enabled:
        raise Conflict("L'abonnement est désactivé : réactivez-le (PATCH enabled=true) avant de relivrer.")
    d.status, d.attempts, d.next_attempt_at, d.completed_at = "pending", 0, now, None
    uow.commit()
    return d, _event_of(uow, d)
