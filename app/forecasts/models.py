"""Precomputed step-duration distributions (issue 16, DOMAIN.md "Forecasts").

One row per (step, kind, region) holding the durations, in days, of the projects of that kind and
region that completed the step and of those still in it or abandoned in it (open stays, censored: the
Kaplan-Meier estimate uses both), and one row per step with kind and region empty: every project
nationally. A forecast reads at most twelve rows (its group's and the national ones). The single row
of `forecast_refreshes` says when they were computed and from which history: `watermark` is the id of
the last transition event they include; a transition event with a larger id makes them stale
(app/forecasts/service.py: `refresh_if_stale`, called by the worker's round and `regieflow forecast
refresh`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime, _in
from workflow.vocabulary import STEPS

NATIONAL = ""  # kind and region of the national rows


class StepDistribution(Base):
    __tablename__ = "forecast_distributions"
    __table_args__ = (
        UniqueConstraint("step", "kind", "region", name="uq_forecast_distributions_group"),
        CheckConstraint(_in("step", STEPS), name="step"),
        CheckConstraint("sample_size >= 1", name="sample_size_positive"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # NATIONAL: every kind
    region: Mapped[str] = mapped_column(String(100))  # NATIONAL: every region
    sample_size: Mapped[int] = mapped_column(Integer)
    p50: Mapped[float] = mapped_column(Float)
    p80: Mapped[float] = mapped_column(Float)
    p90: Mapped[float] = mapped_column(Float)
    # {"done": the completed stays' days, sorted; "open": the open stays' days so far, sorted (censored)};
    # rows written before the open stays were kept hold a plain list of completed stays
    days: Mapped[dict[str, list[int]] | list[int]] = mapped_column(JSON)
    # sample_size: completed stays; p50, p80, p90: the Kaplan-Meier quantiles (workflow/forecast.py)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    watermark: Mapped[int] = mapped_column(BigInteger)


class ForecastRefresh(Base):
    """One row (id 1): the last computation of the distributions."""

    __tablename__ = "forecast_refreshes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watermark: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    projects: Mapped[int] = mapped_column(Integer)  # projects whose history was read
    samples: Mapped[int] = mapped_column(Integer)  # completed steps found


class ProjectForecast(Base):
    """Each open project's history-based forecast as of the last refresh: what the portfolio filters and
    sorts by ("label P80 after the horizon") without a simulation per listed project."""

    __tablename__ = "project_forecasts"
    __table_args__ = (CheckConstraint("basis IN ('kind_region', 'national', 'plan')", name="basis"),)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(String(16))
    sample_size: Mapped[int] = mapped_column(Integer)
    p50_on: Mapped[date | None] = mapped_column(Date)
    p80_on: Mapped[date | None] = mapped_column(Date, index=True)
    p80_after_horizon: Mapped[bool] = mapped_column(Boolean, index=True)
