"""Reads and writes of the forecasts' tables, and the history they are computed from. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, delete, func, select, tuple_
from sqlalchemy.orm import Session

from app.forecasts.models import NATIONAL, ForecastRefresh, ProjectForecast, StepDistribution
from app.projects.models import Event, Project
from workflow.history import RecordedTransition

TRANSITIONED = "project.transitioned"
EVIDENCE_CHANGES = ("evidence.updated", "evidence.deleted")


class EvidenceChange(NamedTuple):
    recorded_at: datetime
    kind: str  # the evidence kind's name in the API (« board-members »)


@dataclass(frozen=True, slots=True)
class ProjectHistory:
    id: uuid.UUID
    kind: str
    region: str
    state: str
    started_on: date
    horizon_on: date
    transitions: list[RecordedTransition]
    step_months: dict[str, int] | None = None  # the project's plan (None: the default plan)


class Fingerprint(NamedTuple):
    rows: tuple[tuple[object, ...], ...]  # group, step, counts and quantiles, refresh time and watermark
    computed_at: datetime | None  # None: no row


class StoredP80(NamedTuple):
    p80_on: date | None
    after_horizon: bool


class ForecastRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- freshness -----------------------------------------------------------------------------
    def last_transition_id(self) -> int:
        return self.session.scalar(select(func.max(Event.id)).where(Event.type == TRANSITIONED)) or 0

    def transitions_since(self, watermark: int) -> bool:
        """Whether a transition event was recorded after `watermark` (a range scan of the primary key)."""
        stmt = select(Event.id).where(Event.id > watermark, Event.type == TRANSITIONED).limit(1)
        return self.session.scalar(stmt) is not None

    def refresh_row(self) -> ForecastRefresh | None:
        return self.session.get(ForecastRefresh, 1)

    # --- the history -------------------------------------------------------------------------------
    def histories(self, *, batch: int = 2000) -> Iterator[ProjectHistory]:
        """Every project with its recorded transitions, in batches of projects (bounded memory)."""
        last: uuid.UUID | None = None
        while True:
            stmt = select(
                Project.id,
                Project.kind,
                Project.region,
                Project.state,
                Project.started_on,
                Project.horizon_on,
                Project.step_months,
            ).order_by(Project.id)
            if last is not None:
                stmt = stmt.where(Project.id > last)
            rows = self.session.execute(stmt.limit(batch)).all()
            if not rows:
                return
            ids = [r.id for r in rows]
            by: dict[uuid.UUID, list[RecordedTransition]] = {i: [] for i in ids}
            events = self.session.execute(
                select(Event.project_id, Event.trigger, Event.from_state, Event.to_state, Event.effective_on)
                .where(Event.project_id.in_(ids), Event.type == TRANSITIONED)
                .order_by(Event.project_id, Event.seq)
            )
            for e in events:
                if e.effective_on is not None:
                    by[e.project_id].append(
                        RecordedTransition(e.trigger or "", e.from_state or "", e.to_state or "", e.effective_on)
                    )
            for r in rows:
                yield ProjectHistory(
                    r.id, r.kind, r.region, r.state, r.started_on, r.horizon_on, by[r.id], dict(r.step_months)
                )
            last = ids[-1]

    def events_of(self, project_id: uuid.UUID) -> tuple[list[RecordedTransition], list[EvidenceChange]]:
        """One project's recorded transitions, in order, and the updates and deletions of its evidence
        (why late): one statement over its events of these three types."""
        rows = self.session.execute(
            select(Event.type, Event.trigger, Event.from_state, Event.to_state, Event.effective_on, Event.recorded_at)
            .add_columns(Event.data)
            .where(Event.project_id == project_id, Event.type.in_((TRANSITIONED, *EVIDENCE_CHANGES)))
            .order_by(Event.seq)
        )
        transitions: list[RecordedTransition] = []
        changes: list[EvidenceChange] = []
        for e in rows:
            if e.type == TRANSITIONED:
                if e.effective_on is not None:
                    transitions.append(
                        RecordedTransition(e.trigger or "", e.from_state or "", e.to_state or "", e.effective_on)
                    )
            else:
                changes.append(EvidenceChange(e.recorded_at, str((e.data or {}).get("kind", ""))))
        return transitions, changes

    def stored_for(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredP80]:
        """The stored forecasts' P80 (last refresh) of these projects, by id (the portfolio's column)."""
        if not ids:
            return {}
        stmt = select(ProjectForecast.project_id, ProjectForecast.p80_on, ProjectForecast.p80_after_horizon)
        rows = self.session.execute(stmt.where(ProjectForecast.project_id.in_(list(ids))))
        return {r.project_id: StoredP80(r.p80_on, r.p80_after_horizon) for r in rows}

    # --- distributions -----------------------------------------------------------------------------
    @staticmethod
    def _of_groups(groups: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
        return tuple_(StepDistribution.kind, StepDistribution.region).in_(groups)

    @staticmethod
    def _of_regions(regions: Sequence[str] | None) -> ColumnElement[bool]:
        if regions is None:
            return StepDistribution.region == NATIONAL
        return (StepDistribution.region != NATIONAL) & StepDistribution.region.in_(list(regions))

    def distributions(self, groups: Sequence[tuple[str, str]]) -> list[StepDistribution]:
        """The rows of these (kind, region) groups; (NATIONAL, NATIONAL) for the national ones."""
        return list(self.session.scalars(select(StepDistribution).where(self._of_groups(groups))))

    def distributions_of_regions(self, regions: Sequence[str] | None) -> list[StepDistribution]:
        """National rows (regions None), or every kind-and-region row of these regions."""
        return list(self.session.scalars(select(StepDistribution).where(self._of_regions(regions))))

    def fingerprint(
        self, groups: Sequence[tuple[str, str]] | None = None, *, regions: Sequence[str] | None = None
    ) -> Fingerprint:
        """What identifies the stored rows of these groups (or of these régions, national when None) without
        their durations, in one small read: a cache's key, and when they were computed."""
        d = StepDistribution
        where = self._of_groups(groups) if groups is not None else self._of_regions(regions)
        stmt = (
            select(d.kind, d.region, d.step, d.sample_size, d.p50, d.p80, d.p90, d.computed_at, d.watermark)
            .where(where)
            .order_by(d.kind, d.region, d.step)
        )
        found = self.session.execute(stmt).all()
        return Fingerprint(tuple(tuple(r) for r in found), max((r.computed_at for r in found), default=None))

    def replace(self, rows: list[StepDistribution], refresh: ForecastRefresh, forecasts: list[ProjectForecast]) -> None:
        self.session.execute(delete(StepDistribution))
        self.session.execute(delete(ProjectForecast))
        self.session.add_all(rows)
        self.session.add_all(forecasts)
        self.session.merge(refresh)
