"""The one settings class: environment variables prefixed REGIEFLOW_."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflow.deadlines import MAX_HORIZON_MONTHS, MAX_STEP_MONTHS, Plan
from workflow.vocabulary import DEFAULT_HORIZON_MONTHS, DEFAULT_STEP_MONTHS, STEPS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGIEFLOW_", extra="ignore")

    database_url: str = Field("sqlite:///regieflow.db", description="SQLAlchemy URL; SQLite file by default.")
    host: str = Field("127.0.0.1", description="Address `regieflow serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `regieflow serve` listens on.")
    timezone: str = Field("Europe/Paris", description="Time zone that decides what 'today' is.")
    horizon_months: int = Field(DEFAULT_HORIZON_MONTHS, ge=1, le=MAX_HORIZON_MONTHS,
                                description="Horizon from groupe projet to label, for new projects.")
    step_months: dict[str, int] = Field(
        default_factory=lambda: {s.value: m for s, m in DEFAULT_STEP_MONTHS.items()},
        description="Indicative months per step for new projects (JSON object).",
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (413 beyond).")
    default_page_size: int = Field(50, ge=1, le=500)
    max_page_size: int = Field(200, ge=1, le=1000)
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0, description="How long SQLite writers wait for the lock.")
    log_level: str = Field("info")
    session_hours: int = Field(8, ge=1, le=24 * 30, description="Lifetime of a login session.")
    secure_cookies: bool | None = Field(None, description="Force the Secure flag on cookies; default: when the "
                                        "request came over HTTPS (uvicorn honours X-Forwarded-Proto).")
    login_max_failures: int = Field(5, ge=1, le=100, description="Failed logins (per e-mail or address) before a block.")
    login_block_minutes: int = Field(15, ge=1, le=24 * 60, description="Window and block length for failed logins.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        ZoneInfo(v)
        return v

    @field_validator("step_months")
    @classmethod
    def _steps(cls, v: dict[str, int]) -> dict[str, int]:
        expected = {s.value for s in STEPS}
        if set(v) != expected:
            raise ValueError(f"step_months must give exactly the steps {sorted(expected)}")
        if any(not (1 <= m <= MAX_STEP_MONTHS) for m in v.values()):
            raise ValueError(f"each step lasts 1 to {MAX_STEP_MONTHS} months")
        return v

    @model_validator(mode="after")
    def _pages(self) -> "Settings":
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size cannot exceed max_page_size")
        return self

    @property
    def default_plan(self) -> Plan:
        return Plan(dict(self.step_months), self.horizon_months)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
