"""`regieflow worker`: deadline watch, outbox fan-out, webhook deliveries with retries, purges.

One round (`run_once`):

1. deadline scan (app.deadline_watch; the long-running worker does it once a day);
2. fan-out: each outbox row not yet dispatched becomes one delivery per enabled subscription that
   wants its event type and whose owner may read the project; the row is then marked dispatched
   (same transaction);
3. deliveries: due ones are claimed (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
   serialises writers with BEGIN IMMEDIATE) by pushing their due time one lease ahead, then sent
   outside any transaction, then their outcome is written. Several workers never send one delivery
   at the same time; a worker that dies mid-send leaves its claims to be retried after the lease:
   delivery is at least once;
4. purges: expired idempotency records and rotated webhook secrets past their 24 hours.

Time comes from an injected clock (due times, retries, expiries): tests move it instead of sleeping.
The `webhook-timestamp` header is the wall-clock time of sending, which receivers check against
their own clocks.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpcore
import httpx
from cryptography.fernet import MultiFernet

from app.authorization.rules import Principal
from app.checkpoints import service as checkpoints
from app.core.clock import Clock
from app.core.inputs import ascii_int
from app.core.keys import KeyUnavailable, fernet
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.deadline_watch.service import scan as scan_deadlines
from app.feed.service import payload_of
from app.forecasts import service as forecasts
from app.observability import heartbeats
from app.projects.models import OutboxMessage
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.webhooks.repository import WebhookRepository
from app.webhooks.service import SecretUnreadable, may_read, owner_principal, signature_header, valid_secrets
from app.webhooks.targets import TargetRefused, resolve
from app.webhooks.transport import PinnedTransport

log = logging.getLogger("regieflow.worker")


LEASE = timedelta(minutes=5)  # a claimed delivery is not due again before this (must exceed a send)


CLAIM_BATCH = 10


FANOUT_BATCH = 200


MAX_RETRY_AFTER = 86_400.0


USER_AGENT = "regieflow-webhooks/1"


KEY_UNAVAILABLE = (
    "La clé du serveur est indisponible : rien n'a été envoyé (nouvel essai selon le calendrier ; "
    "le détail est dans le journal du serveur)."
)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None
    excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class RoundReport:
    announced: int = 0
    outbox_rows: int = 0
    deliveries_created: int = 0
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0  # deliveries that gave up after the whole schedule
    purged: int = 0
    notifications: int = 0  # created by the notification scan (app/notifications)
    mails_sent: int = 0  # e-mails the SMTP server accepted (app/mail)

    def __str__(self) -> str:
        return (
            f"deadline events {self.announced}, outbox rows {self.outbox_rows}, deliveries created "
            f"{self.deliveries_created}, attempts {self.attempted} ({self.succeeded} succeeded, {self.failed} "
            f"failed for good), purged {self.purged}"
        )


@dataclass(frozen=True)
class Prepared:
    """A claimed delivery, ready to send (or to refuse: `refusal` says why nothing may be sent)."""

    subscription_id: int
    url: str
    message_id: str
    body: str
    secrets: list[str]
    refusal: str | None
    orphaned: bool  # the owner no longer exists or may no longer act: the subscription is disabled
    failure: str | None = None  # nothing can be sent now (a secret that does not decrypt): a failed attempt


def status_error(status: int) -> str:
    """The French reason of a non-2xx answer (its body is never kept)."""
    if 300 <= status < 400:
        return f"HTTP {status} : redirection non suivie (sa destination n'est jamais appelée)."
    if 400 <= status < 500:
        return f"HTTP {status} : le récepteur a refusé la livraison."
    if status >= 500:
        return f"HTTP {status} : erreur du récepteur."
    return f"HTTP {status} : réponse inattendue."


def transport_error(exc: BaseException, host: str) -> str:
    """The French reason of a failed connection or exchange (no detail of the remote side is kept)."""
    text = str(exc)
    if isinstance(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return f"Connexion TLS impossible : le certificat du récepteur n'est pas valable pour « {host} »."
    if isinstance(exc, httpx.ConnectError):
        return "Connexion au récepteur impossible."
    if isinstance(exc, httpx.RemoteProtocolError):
        return "Réponse HTTP invalide du récepteur."
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "Connexion interrompue par le récepteur."
    return "Échec de l'envoi."


def parse_retry_after(value: str | None, now_wall: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():  # `²` and Arabic-Indic digits pass isdigit(): read ASCII digits only, bounded
        seconds = ascii_int(value)
        return None if seconds is None else min(float(seconds), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(when.timestamp() - now_wall, 0.0), MAX_RETRY_AFTER)


class Worker:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        settings: Settings,
        *,
        clock: Clock,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[float], float] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.uows = uows
        self.settings = settings
        self.clock = clock
        self.wall = wall
        self.jitter = jitter or (lambda cap: random.uniform(0, cap))  # "full jitter"
        self.ssl_context = ssl_context or httpx.create_ssl_context()
        self.network_backend = network_backend  # tests: sockets of their own under the pinned backend
        self._cipher: MultiFernet | None = None
        self._last_scan: date | None = None
        self.started = clock.now()
        self.worker_id = heartbeats.worker_id(self.started)  # its row in worker_heartbeats (/metrics)

    def close(self) -> None:
        """Nothing to release: each attempt has its own connection (see _post)."""

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rounds -------------------------------------------------------------------------------
    def run_once(self, *, scan: bool = True) -> RoundReport:
        report = RoundReport()
        if scan:
            report.announced = len(scan_deadlines(self.uows, self.clock).announced)
        report.outbox_rows, report.deliveries_created = self.fan_out()
        report.attempted, report.succeeded, report.failed = self.deliver_due()
        report.purged = self.purge()
        # collaboration (issue 15): notifications from the new events (deadline reminders and digests with
        # the daily scan), then the e-mail outbox
        from app.mail.service import send_due as send_mail
        from app.notifications.service import scan as scan_notifications

        report.notifications = scan_notifications(self.uows, self.settings, self.clock, reminders=scan).created
        report.mails_sent = send_mail(self.uows, self.settings, self.clock).sent
        checkpoints.after_round(self.uows, self.settings, self.clock)  # signed chain heads (app/checkpoints)
        forecasts.refresh_if_stale(self.uows, self.clock)  # step distributions (app/forecasts, issue 16)
        heartbeats.beat(self.uows, self.worker_id, self.started, self.clock.now())
        return report

    def run_forever(self, stop: threading.Event) -> None:
        """Rounds every REGIEFLOW_WORKER_POLL_SECONDS; the deadline scan once a day (and at start)."""
        while not stop.is_set():
            today = self.clock.today()
            try:
                self.run_once(scan=today != self._last_scan)
                self._last_scan = today
            except Exception:
                log.exception("worker round failed")
            stop.wait(self.settings.worker_poll_seconds)

    # --- fan-out ------------------------------------------------------------------------------
    def fan_out(self) -> tuple[int, int]:
        rows_seen = created = 0
        while True:
            now = self.clock.now()
            with self.uows() as uow:
                rows = uow.webhooks.undispatched(FANOUT_BATCH)
                if not rows:
                    return rows_seen, created
                created += self._fan_out_rows(uow, rows, now)
                uow.commit()
            rows_seen += len(rows)
            if len(rows) < FANOUT_BATCH:
                return rows_seen, created

    def _fan_out_rows(self, uow: UnitOfWork, rows: list[OutboxMessage], now: datetime) -> int:
        """One delivery per (row, subscription that wants it and whose owner may read it); the rows are
        marked dispatched. How many deliveries were created."""
        created = 0
        repo = uow.webhooks
        subs = repo.enabled_subscriptions()
        owners: dict[int, Principal | None] = {}
        for sub in subs:
            owner, why = owner_principal(uow.accounts, sub, now)
            if owner is None:
                repo.disable(sub.id, why, now)
            owners[sub.id] = owner
        events = repo.events(r.event_id for r in rows)
        regions = repo.regions(e.project_id for e in events.values())
        for row in rows:
            event = events[row.event_id]
            for sub in subs:
                owner = owners[sub.id]
                if (
                    owner is None
                    or (sub.event_types and event.type not in sub.event_types)
                    or event.recorded_at < sub.created_at
                    or not may_read(owner, event.project_id, regions[event.project_id])
                ):
                    continue
                repo.add_delivery(
                    WebhookDelivery(
                        subscription_id=sub.id,
                        event_id=event.id,
                        message_id=f"msg_{uuid.uuid4().hex}",
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                created += 1
            row.dispatched_at = now
        return created

    # --- deliveries ---------------------------------------------------------------------------
    def deliver_due(self, limit: int = 1000) -> tuple[int, int, int]:
        """Send every delivery due now, once each (a retry due within this round waits for the next)."""
        seen: set[int] = set()
        attempted = succeeded = failed = 0
        while attempted < limit:
            claimed = self._claim(seen)
            if not claimed:
                break
            for delivery_id in claimed:
                seen.add(delivery_id)
                result = self._deliver(delivery_id)
                if result is None:
                    continue
                attempted += 1
                if result == "succeeded":
                    succeeded += 1
                elif result == "failed":
                    failed += 1
        return attempted, succeeded, failed

    def _claim(self, seen: set[int]) -> list[int]:
        """Claim a batch of due deliveries in a short writing transaction (see claim_due: two workers
        never claim the same one)."""
        now = self.clock.now()
        with self.uows() as uow:
            ids = uow.webhooks.claim_due(now, lease_until=now + LEASE, skip=seen, limit=CLAIM_BATCH)
            if ids:
                uow.commit()
            return ids

    def _deliver(self, delivery_id: int) -> str | None:
        """Send one claimed delivery; its new status, or None when nothing was sent."""
        now = self.clock.now()
        with self.uows(write=False) as uow:  # SQLite: BEGIN, not BEGIN IMMEDIATE
            prepared = self._prepare(uow, delivery_id, now)
        if prepared is None:
            return None
        if prepared.refusal is not None:
            return self._refuse(delivery_id, prepared.subscription_id, prepared.refusal, disable=prepared.orphaned)
        if prepared.failure is not None:
            return self._record(delivery_id, Outcome(None, prepared.failure, 0))
        timestamp = int(self.wall())
        headers = {
            "content-type": "application/json",
            "webhook-id": prepared.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(prepared.secrets, prepared.message_id, timestamp, prepared.body),
        }
        outcome = self._post(prepared.url, prepared.body, headers)
        return self._record(delivery_id, outcome)

    def cipher(self) -> MultiFernet:
        """The Fernet keys of webhook secrets (current first, then REGIEFLOW_PREVIOUS_SECRET_KEYS)."""
        if self._cipher is None:
            self._cipher = fernet(self.settings)
        return self._cipher

    def _clear_secrets(self, delivery_id: int, sub: WebhookSubscription, now: datetime) -> tuple[list[str], str | None]:
        """The subscription's signing secrets in clear, or ([], why nothing can be signed)."""
        try:
            return valid_secrets(sub, now, self.cipher()), None
        except SecretUnreadable as exc:
            log.warning("delivery %s: subscription %s has a secret no server key decrypts", delivery_id, sub.id)
            return [], exc.message.replace("{id}", str(sub.id))
        except KeyUnavailable as exc:  # the detail (a path on the server) is for the log, not the subscriber
            log.error("delivery %s: %s", delivery_id, exc)
            return [], KEY_UNAVAILABLE

    def _prepare(self, uow: UnitOfWork, delivery_id: int, now: datetime) -> Prepared | None:
        """What to send for a claimed delivery (read in one transaction), or None if nothing is to be sent."""
        repo = uow.webhooks
        d = repo.delivery(delivery_id)
        if d is None or d.status != "pending":
            return None
        sub = repo.subscription(d.subscription_id)
        if sub is None or not sub.enabled:
            return None
        event = repo.event(d.event_id)
        if event is None:  # webhook_deliveries.event_id is a foreign key ON DELETE RESTRICT
            raise RuntimeError(f"delivery {d.id} names event {d.event_id}, which does not exist")
        region = repo.region_of(event.project_id)
        owner, why = owner_principal(uow.accounts, sub, now)
        refusal = None
        if owner is None:
            refusal = why
        elif region is None or not may_read(owner, event.project_id, region):
            refusal = "Le propriétaire de l'abonnement ne peut plus lire ce projet : rien n'a été envoyé."
        secrets, failure = ([], None) if refusal is not None else self._clear_secrets(delivery_id, sub, now)
        return Prepared(
            subscription_id=sub.id,
            url=sub.url,
            message_id=d.message_id,
            body=json.dumps(payload_of(event), ensure_ascii=False, separators=(",", ":"), sort_keys=True),
            secrets=secrets,
            refusal=refusal,
            orphaned=owner is None,
            failure=failure,
        )

    def _post(self, url: str, body: str, headers: dict[str, str]) -> Outcome:
        """One attempt: resolve the host once, check every address, connect to exactly those (the
        Host header, TLS server name and certificate check stay the URL's). Redirects are not followed
        (a 3xx is a failure whose Location is never fetched), and only a 2xx answer's first 500 bytes
        are kept: what a refused or failing target says is never stored nor shown."""
        try:
            target = resolve(url, allow_private=self.settings.webhook_allow_private_targets)
        except TargetRefused as exc:
            return Outcome(None, f"Cible refusée : {exc.message}", 0)
        timeout = self.settings.webhook_timeout_seconds
        transport = PinnedTransport(
            target.addresses, ssl_context=self.ssl_context, network_backend=self.network_backend
        )
        start = time.monotonic()
        try:
            # trust_env=False: no proxy from the environment; the transport connects to the checked addresses only.
            with (
                httpx.Client(
                    transport=transport,
                    timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
                    follow_redirects=False,
                    trust_env=False,
                    headers={"User-Agent": USER_AGENT},
                ) as client,
                client.stream("POST", target.url, content=body.encode(), headers=headers) as r,
            ):
                status = r.status_code
                excerpt = b""
                if 200 <= status < 300:
                    for chunk in r.iter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= 500:
                            break
                retry_after = (
                    None if 200 <= status < 300 else parse_retry_after(r.headers.get("retry-after"), self.wall())
                )
        except httpx.TimeoutException:
            return Outcome(None, "Délai dépassé.", int((time.monotonic() - start) * 1000))
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            return Outcome(None, transport_error(exc, target.host), int((time.monotonic() - start) * 1000))
        duration = int((time.monotonic() - start) * 1000)
        if 200 <= status < 300:
            return Outcome(status, None, duration, None, excerpt[:500].decode("utf-8", errors="replace") or None)
        return Outcome(status, status_error(status), duration, retry_after)

    def _record(self, delivery_id: int, outcome: Outcome) -> str | None:
        """Write an attempt's outcome: success, a retry at its due time, or the end of the schedule."""
        now = self.clock.now()
        schedule = self.settings.webhook_retry_schedule_seconds
        with self.uows() as uow:
            repo = uow.webhooks
            d = repo.delivery(delivery_id, for_update=True)
            if d is None or d.status != "pending":
                return None
            repo.add_attempt(
                WebhookAttempt(
                    delivery_id=d.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    duration_ms=outcome.duration_ms,
                    error=outcome.error,
                    response_excerpt=outcome.excerpt,
                )
            )
            d.attempts += 1
            d.last_attempt_at, d.last_status_code, d.last_error = now, outcome.status_code, outcome.error
            if outcome.ok:
                d.status, d.completed_at, d.next_attempt_at = "succeeded", now, None
                repo.reset_failures(d.subscription_id)
            elif d.attempts > len(schedule):
                d.status, d.completed_at, d.next_attempt_at = "failed", now, None
                self._count_failure(repo, d.subscription_id, outcome, now)
            else:
                if outcome.retry_after is not None:
                    delay = max(1.0, outcome.retry_after)
                else:
                    delay = max(1.0, self.jitter(float(schedule[d.attempts - 1])))
                d.next_attempt_at = now + timedelta(seconds=delay)
            status = d.status
            uow.commit()
            return status

    def _count_failure(self, repo: WebhookRepository, sub_id: int, outcome: Outcome, now: datetime) -> None:
        """A delivery failed for good: one more consecutive failure; too many disable the subscription."""
        failures = repo.count_failure(sub_id)
        if failures >= self.settings.webhook_max_consecutive_failures:
            repo.disable(
                sub_id,
                (
                    f"Désactivé automatiquement le {now.astimezone(UTC):%Y-%m-%d à %H:%M} UTC après "
                    f"{failures} livraisons échouées consécutivement (dernière erreur : {outcome.error}). "
                    "Corrigez le récepteur puis réactivez l'abonnement (PATCH enabled=true) ; les événements "
                    "manqués restent lisibles dans le flux GET /api/v1/events."
                ),
                now,
            )

    def _refuse(self, delivery_id: int, sub_id: int, reason: str, *, disable: bool) -> str | None:
        """Nothing may be sent: the owner lost access to the project (this delivery fails, uncounted) or
        no longer exists (the subscription is disabled; its deliveries wait for a re-enable)."""
        now = self.clock.now()
        with self.uows() as uow:
            repo = uow.webhooks
            d = repo.delivery(delivery_id, for_update=True)
            if d is None or d.status != "pending":
                return None
            repo.add_attempt(
                WebhookAttempt(delivery_id=d.id, attempted_at=now, status_code=None, duration_ms=0, error=reason)
            )
            d.last_attempt_at, d.last_status_code, d.last_error = now, None, reason
            if disable:
                d.next_attempt_at = now
                repo.disable(sub_id, reason, now)
            else:
                d.status, d.completed_at, d.next_attempt_at = "failed", now, None
            status = d.status
            uow.commit()
            return status

    # --- purges -------------------------------------------------------------------------------
    def purge(self) -> int:
        """Expired idempotency records and rotated webhook secrets past their overlap; how many went."""
        now = self.clock.now()
        with self.uows() as uow:
            purged = uow.idempotency.purge_expired(now) + uow.webhooks.purge_expired_secrets(now)
            uow.commit()
        return purged


def run_in_thread(uows: UnitOfWorkFactory, settings: Settings, clock: Clock) -> threading.Event:
    """Start a worker in a daemon thread (for `regieflow serve` with REGIEFLOW_WORKER_IN_SERVE); set the
    returned event to stop it."""
    stop = threading.Event()

    def run() -> None:
        with Worker(uows, settings, clock=clock) as worker:
            worker.run_forever(stop)

    threading.Thread(target=run, name="regieflow-worker", daemon=True).start()
    return stop
