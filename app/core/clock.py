"""What time it is, injected everywhere (the domain never reads the clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Clock:
    tz: ZoneInfo

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()


@dataclass(frozen=True)
class FixedClock(Clock):
    """A clock stopped at a given instant (tests, demos, replays)."""

    at: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Actor:
    """Who makes a change; recorded on every event."""

    kind: str  # "user", "key", "system", "anonymous"
    id: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


ANONYMOUS = Actor("anonymous", "anonyme", "Anonyme")


SYSTEM = Actor("system", "regieflow", "regieflow")
