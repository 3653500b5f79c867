"""Unit of work: one transaction; rolls back unless `commit()` was called.

The one way to the database. The API and the pages get a unit of work from one dependency
(app.http.dependencies.unit_of_work); the CLI, the worker and the demo from a UnitOfWorkFactory.
Only the unit of work commits; repositories read and write through its session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.repository import AccountRepository
from app.calendars.repository import CalendarRepository
from app.core.database import make_engine, make_session_factory
from app.core.errors import ConcurrentUpdate
from app.core.settings import Settings
from app.deadline_watch.repository import DeadlineWatchRepository
from app.feed.models import FeedCounter
from app.feed.repository import FeedRepository
from app.idempotency.repository import IdempotencyRepository
from app.projects.repository import CHAIN_TAILS, NEW_EVENTS, EventRepository, ProjectRepository
from app.webhooks.repository import WebhookRepository

# Callables run inside the transaction just before COMMIT (after every change, before the feed positions):
# the idempotency layer marks its record "committed" there, so the effect and the record cannot disagree.
BEFORE_COMMIT = "regieflow_before_commit"
EVENT_SEQUENCE_CONSTRAINT = "uq_events_project_seq"
CONCURRENT_MESSAGE = "Le projet a été modifié par une autre requête : rechargez-le puis réessayez."
FEED_COUNTER = cast(Table, FeedCounter.__table__)
TAKE_POSITIONS = (
    update(FEED_COUNTER)
    .where(FEED_COUNTER.c.id == 1)
    .values(value=FEED_COUNTER.c.value + bindparam("n"))
    .returning(FEED_COUNTER.c.value)
)


@dataclass(frozen=True, slots=True)
class WrittenEvent:
    """An event written with SQLAlchemy Core (app/transitions/store.py), its feed position already
    taken: listed with the session's new ORM events (NEW_EVENTS) for the before-commit hooks, which
    read `project_id`, `seq` and `type` of every event of the transaction."""

    project_id: uuid.UUID
    seq: int
    type: str
    feed_seq: int


def is_event_sequence_conflict(err: IntegrityError) -> bool:
    """Whether the commit lost the race for a project's next event number (uq_events_project_seq):
    another transaction wrote the project's event first. Any other integrity error is not a
    concurrent update and is raised as it is."""
    diag = getattr(err.orig, "diag", None)  # psycopg names the violated constraint
    if diag is not None and getattr(diag, "constraint_name", None):
        return bool(diag.constraint_name == EVENT_SEQUENCE_CONSTRAINT)
    # SQLite names the columns instead: "UNIQUE constraint failed: events.project_id, events.seq"
    return "events.project_id, events.seq" in str(err.orig)


_CHAIN_KEYS: dict[int, tuple[Settings, bytes]] = {}


def _chain_key(settings: Settings) -> bytes:
    """derived_key(settings, CHAIN_PURPOSE), once per Settings object (the object is held, so its id
    is never reused for another one while cached; a few objects at most, tests aside: bounded)."""
    cached = _CHAIN_KEYS.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    from app.core.keys import derived_key
    from app.core.security import CHAIN_PURPOSE

    key = derived_key(settings, CHAIN_PURPOSE)
    if len(_CHAIN_KEYS) >= 32:
        _CHAIN_KEYS.clear()
    _CHAIN_KEYS[id(settings)] = (settings, key)
    return key


class UnitOfWork:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        write: bool = True,
        snapshot: bool = False,
        before_commit: Sequence[Callable[[Session], None]] = (),
        settings: Settings | None = None,
    ) -> None:
        self._factory = session_factory
        self._write = write
        self._snapshot = snapshot
        self._before_commit = list(before_commit)
        self._settings = settings  # the server key's source (None: the process's settings, get_settings())
        self._key: bytes | None = None

    @property
    def writes(self) -> bool:
        """Whether this unit of work was opened for writing (BEGIN IMMEDIATE on SQLite)."""
        return self._write

    def chain_key(self) -> bytes:
        """The event chain's HMAC key, derived from the server key on first use (never stored in the
        database; kept in memory per Settings object, so a write does not read the key file and run HKDF)."""
        if self._key is None:
            from app.core.settings import get_settings

            self._key = _chain_key(self._settings or get_settings())
        return self._key

    def __enter__(self) -> Self:
        self.session = self._factory()
        if self._before_commit:
            self.session.info[BEFORE_COMMIT] = list(self._before_commit)
        options: dict[str, object] = {}
        if not self._write:
            options["regieflow_write"] = False
        if self._snapshot and self.session.get_bind().dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"  # every read sees one moment (full exports)
        if options:
            self.session.connection(execution_options=options)
        self.projects = ProjectRepository(self.session)
        self.events = EventRepository(self.session, self.chain_key)
        self.accounts = AccountRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.calendars = CalendarRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.feed = FeedRepository(self.session)
        self.deadlines = DeadlineWatchRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.info.pop(NEW_EVENTS, None)
        self.session.info.pop(BEFORE_COMMIT, None)
        self.session.info.pop(CHAIN_TAILS, None)
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as err:
            raise ConcurrentUpdate(CONCURRENT_MESSAGE) from err

    def take_feed_positions(self, extra: int = 0) -> int:
        """Take change-feed positions for this transaction's new events that have none yet (ORM events
        appended through EventRepository, set here and flushed), then `extra` more for events the
        caller writes itself; return the first of those `extra` positions.

        The counter row stays locked until commit, so a transaction that takes positions N.. commits
        before any other can take the next ones: a client polling `?after=N` never sees a gap filled
        later, and never misses an event. Events get positions in the order they were appended."""
        events = self.session.info.get(NEW_EVENTS, [])
        pending = [e for e in events if e.feed_seq is None]
        wanted = len(pending) + extra
        if not wanted:
            return 0
        top: int | None = self.session.connection().execute(TAKE_POSITIONS, {"n": wanted}).scalar_one_or_none()
        if top is None:
            raise RuntimeError("feed_counter has no row: run the migrations (regieflow db upgrade)")
        first = top - wanted + 1
        for offset, event in enumerate(pending):
            event.feed_seq = first + offset
        if pending:
            self.flush()  # inserted with their position, with the rest of the pending changes
        return first + len(pending)

    def _assign_feed_positions(self) -> None:
        """Give this transaction's new events their change-feed positions, as its last statements
        (see take_feed_positions); events not flushed yet are inserted with their position, in the
        same flush as the rest of the transaction's pending changes."""
        self.take_feed_positions()
        self.session.info.pop(NEW_EVENTS, None)

    def commit(self) -> None:
        try:
            for hook in self.session.info.pop(BEFORE_COMMIT, []):
                hook(self.session)
            self._assign_feed_positions()
            self.session.commit()
        except (StaleDataError, IntegrityError) as err:
            self.session.info.pop(CHAIN_TAILS, None)
            self.session.rollback()
            if isinstance(err, IntegrityError) and not is_event_sequence_conflict(err):
                raise
            raise ConcurrentUpdate(CONCURRENT_MESSAGE) from err
        finally:
            self.session.info.pop(CHAIN_TAILS, None)  # the rows are no longer locked: read tails again


class BatchUnitOfWork(UnitOfWork):
    """Several service calls in one transaction (bulk imports: a refused project leaves no trace).

    The services end with `uow.commit()`; here that only flushes, so each call sees what the previous
    ones wrote. `finish()` commits the whole batch (feed positions included); leaving the block without
    it rolls everything back, like any unit of work."""

    def commit(self) -> None:
        self.flush()

    def finish(self) -> None:
        super().commit()


class UnitOfWorkFactory:
    """Units of work on one database, for the code that runs outside a request: the CLI, the worker,
    the demo loader, verify, imports and the deadline scan."""

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings | None = None) -> None:
        self.session_factory = session_factory
        self.settings = settings  # where the event chain's key comes from (None: get_settings())

    @classmethod
    def connect(cls, settings: Settings) -> UnitOfWorkFactory:
        """A new engine on REGIEFLOW_DATABASE_URL; `dispose()` closes its connections."""
        engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        return cls(make_session_factory(engine), settings)

    def __call__(
        self, *, write: bool = True, snapshot: bool = False, before_commit: Sequence[Callable[[Session], None]] = ()
    ) -> UnitOfWork:
        return UnitOfWork(
            self.session_factory, write=write, snapshot=snapshot, before_commit=before_commit, settings=self.settings
        )

    def batch(self) -> BatchUnitOfWork:
        return BatchUnitOfWork(self.session_factory, settings=self.settings)

    def dispose(self) -> None:
        bind = self.session_factory.kw.get("bind")
        if bind is not None:
            bind.dispose()
