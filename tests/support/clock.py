"""The tests' clock: fixed at TODAY unless a test moves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.core.clock import Clock

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 26)


@dataclass(frozen=True)
class SettableClock(Clock):
    """A clock the test moves by hand: `clock.set(date(2027, 1, 1))`, `clock.advance(hours=2)`."""

    state: dict[str, datetime] = field(default_factory=dict)

    def set(self, day: date) -> None:
        """Noon, Paris time, on `day`."""
        self.state["now"] = datetime.combine(day, time(12, 0), PARIS).astimezone(UTC)

    def advance(self, **delta: float) -> None:
        """Move the clock forward by `timedelta(**delta)` (`seconds=30`, `hours=25`…)."""
        self.state["now"] = self.now() + timedelta(**delta)

    def now(self) -> datetime:
        return self.state.get("now") or datetime.now(UTC)


def paris_clock(day: date = TODAY) -> SettableClock:
    """A Paris clock set on `day` (noon)."""
    clock = SettableClock(tz=PARIS)
    clock.set(day)
    return clock
