"""The one settings class: environment variables prefixed REGIEFLOW_."""

from __future__ import annotations

import ipaddress
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from workflow.deadlines import MAX_HORIZON_MONTHS, MAX_STEP_MONTHS, Plan
from workflow.vocabulary import DEFAULT_HORIZON_MONTHS, DEFAULT_STEP_MONTHS, STEPS


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/regieflow` (else `~/.local/share/regieflow`): the same whatever the current directory."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    root = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return root / "regieflow"


def default_database_url() -> str:
    """A SQLite file in the user's data directory (`default_data_dir()/regieflow.db`)."""
    return f"sqlite:///{default_data_dir() / 'regieflow.db'}"


def default_secret_key_file() -> Path:
    return default_data_dir() / "secret.key"


MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGIEFLOW_", extra="ignore")

    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL; by default a SQLite file in the user's data directory.",
    )
    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` requires REGIEFLOW_SECRET_KEY; `development` generates one in "
        "REGIEFLOW_SECRET_KEY_FILE on first use.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Server key (at least 32 characters, never stored in the database): encrypts webhook "
        "secrets at rest and keys the event chain and its checkpoints. Required in production.",
    )
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Earlier server keys, still accepted for reading during a rotation (comma-separated "
        "or a JSON list); see docs/RELIABILITY.md.",
    )
    secret_key_file: Path = Field(
        default_factory=default_secret_key_file,
        description="Where development generates and keeps its key when REGIEFLOW_SECRET_KEY is not set.",
    )
    host: str = Field("127.0.0.1", description="Address `regieflow serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `regieflow serve` listens on.")
    timezone: str = Field("Europe/Paris", description="Time zone that decides what 'today' is.")
    horizon_months: int = Field(
        DEFAULT_HORIZON_MONTHS,
        ge=1,
        le=MAX_HORIZON_MONTHS,
        description="Horizon from groupe projet to label, for new projects.",
    )
    step_months: dict[str, int] = Field(
        default_factory=lambda: {s.value: m for s, m in DEFAULT_STEP_MONTHS.items()},
        description="Indicative months per step for new projects (JSON object).",
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (413 beyond).")
    body_timeout_seconds: float = Field(
        30.0, gt=0, le=3600, description="Time to receive a whole request body, from its first byte read (408 beyond)."
    )
    max_header_bytes: int = Field(
        16_384,
        ge=1024,
        le=1_048_576,
        description="Largest header block `serve` reads, and largest header (431 beyond).",
    )
    keep_alive_seconds: int = Field(5, ge=1, le=3600, description="How long `serve` keeps an idle connection open.")
    default_page_size: int = Field(50, ge=1, le=500)
    max_page_size: int = Field(200, ge=1, le=1000)
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0, description="How long SQLite writers wait for the lock.")
    log_level: str = Field("info")
    # operations (app/observability): one log line per request, /metrics, health probes
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per log line (request lines included), for a log collector."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, GET /metrics needs `Authorization: Bearer <token>`; unset: open (bind it to a "
        "private network or set the token).",
    )
    session_hours: int = Field(8, ge=1, le=24 * 30, description="Lifetime of a login session.")
    secure_cookies: bool | None = Field(
        None,
        description="Force the Secure flag on cookies; default: when the "
        "request came over HTTPS (uvicorn honours X-Forwarded-Proto).",
    )
    login_max_failures: int = Field(
        5, ge=1, le=100, description="Failed logins (per e-mail or address) before a block."
    )
    login_block_minutes: int = Field(15, ge=1, le=24 * 60, description="Window and block length for failed logins.")
    login_max_failures_per_address: int = Field(
        50,
        ge=1,
        le=100_000,
        description="Failed logins from one client address (an IPv6 /64), whatever the e-mail, before a block.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or CIDR networks of the reverse proxies whose X-Forwarded-For is believed "
        "(comma-separated or a JSON list); empty: the header is believed from no one.",
    )
    # partner systems: webhooks, the delivery worker, idempotency keys
    webhook_allow_private_targets: bool = Field(
        False,
        description="Accept webhook targets that resolve to private, "
        "loopback, link-local, multicast or reserved addresses (tests).",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60, description="Timeout of one webhook POST.")
    webhook_retry_schedule_seconds: list[int] = Field(
        default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 36000],
        description="Upper bound of the wait before each retry (full jitter); failed after the last one.",
    )
    webhook_max_consecutive_failures: int = Field(
        5, ge=1, le=1000, description="Failed deliveries in a row after which a subscription is disabled."
    )
    worker_in_serve: bool = Field(False, description="Run the delivery worker inside `regieflow serve`.")
    demo_history_projects: int = Field(
        200,
        ge=0,
        le=5000,
        description="Past projects `regieflow demo` and `serve --demo` generate for the forecasts to learn from.",
    )
    worker_poll_seconds: float = Field(2.0, gt=0, le=3600, description="Pause between two rounds of the worker.")
    idempotency_retention_hours: int = Field(
        24, ge=1, le=24 * 30, description="How long an Idempotency-Key and its stored response are kept."
    )
    idempotency_stale_seconds: int = Field(
        60,
        ge=1,
        le=3600,
        description="After this, a request still marked "
        "in progress (and not committed) is taken to have died: it may be retried.",
    )
    # --- tamper evidence: signed checkpoints of the event chains (issue 11 §5; app/checkpoints) ---
    checkpoint_dir: Path = Field(
        default_factory=lambda: default_data_dir() / "checkpoints",
        description="Directory of the signed checkpoints (one append-only JSON-lines file per database); "
        "keep it off the database's disk (docs/RELIABILITY.md, Tamper evidence).",
    )
    checkpoint_interval_seconds: int = Field(
        3600,
        ge=1,
        le=7 * 24 * 3600,
        description="The worker writes a checkpoint after each round that saw new events, and at least "
        "this often otherwise.",
    )
    # --- documents of a project: storage and limits (issue 14; app/documents) ---
    documents_storage: Literal["local", "s3"] = Field(
        "local", description="Where document files go: a local directory, or an S3-compatible object store."
    )
    documents_dir: Path = Field(
        default_factory=lambda: default_data_dir() / "documents",
        description="Directory of the document files (local storage); back it up with the database.",
    )
    documents_max_file_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, le=5 * 1024**3, description="Largest document file accepted (413 beyond)."
    )
    documents_max_project_bytes: int = Field(
        1024**3, ge=1024, le=1024**4, description="Total size of every version of every document of one project."
    )
    documents_s3_endpoint: str | None = Field(
        None, description="S3 endpoint URL (e.g. http://127.0.0.1:8333); none: the AWS default."
    )
    documents_s3_bucket: str = Field("regieflow-documents", min_length=3, max_length=63)
    documents_s3_region: str = Field("us-east-1")
    documents_s3_access_key: str | None = Field(None, description="S3 access key id.")
    documents_s3_secret_key: SecretStr | None = Field(None, description="S3 secret access key.")
    documents_s3_prefix: str = Field("", max_length=200, description="Prefix of every object key in the bucket.")
    # --- e-mail, opinion links, notifications, password reset (issue 15; app/mail, app/opinions) ---
    smtp_host: str | None = Field(
        None, description="SMTP server the worker sends e-mail through; unset: nothing is sent (mail stays queued)."
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port (587 with STARTTLS, 465 with TLS).")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "none", description="`starttls` upgrades a plain connection; `tls` connects over TLS from the start."
    )
    smtp_user: str | None = Field(None, description="SMTP login, when the server asks for one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_timeout_seconds: float = Field(30.0, gt=0, le=600, description="Timeout of one SMTP conversation.")
    smtp_ca_file: str | None = Field(
        None,
        max_length=1000,
        description="PEM file of the authorities that sign the SMTP server's certificate (an internal CA); "
        "unset: the system's authorities. The certificate and its name are always checked.",
    )
    mail_sender: str = Field(
        "regieflow <ne-pas-repondre@regieflow.invalid>", max_length=300, description="From: of every e-mail."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        max_length=300,
        description="Address of the service as people reach it: the links in e-mails start with it.",
    )
    mail_lease_seconds: int = Field(
        300, ge=1, le=24 * 3600, description="A mail claimed by a worker is not claimed again before this."
    )
    mail_retry_schedule_seconds: list[int] = Field(
        default_factory=lambda: [60, 300, 1800, 7200, 21600, 43200, 86400],
        description="Wait before each new attempt of a mail the server refused or did not take; failed after the last.",
    )
    opinion_link_days_after_due: int = Field(
        30, ge=1, le=3650, description="An opinion link stops working this many days after the request's due date."
    )
    password_reset_minutes: int = Field(60, ge=5, le=24 * 60, description="Lifetime of a password-reset link.")

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

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip()
            return json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, v: list[str]) -> list[str]:
        try:
            return [str(ipaddress.ip_network(p.strip(), strict=False)) for p in v]
        except ValueError as err:
            raise ValueError(f"trusted_proxies: addresses or CIDR networks only ({err})") from None

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value().strip()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"secret_key: at least {MIN_SECRET_KEY_LENGTH} characters")
        return v

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _previous_keys(cls, v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip()
            return json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        return v

    @model_validator(mode="after")
    def _production_key(self) -> Settings:
        if self.environment == "production" and self.secret_key is None:
            raise ValueError("secret_key: REGIEFLOW_SECRET_KEY is required when REGIEFLOW_ENVIRONMENT=production")
        return self

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def _schedule(cls, v: list[int]) -> list[int]:
        if not v or len(v) > 20 or any(not (1 <= s <= 86_400) for s in v):
            raise ValueError("webhook_retry_schedule_seconds: 1 to 20 waits, each from 1 to 86400 seconds")
        return v

    @model_validator(mode="after")
    def _plan_fits(self) -> Settings:
        """The default plan's steps fit in its horizon (DOMAIN.md; workflow.deadlines.check_plan)."""
        if sum(self.step_months.values()) > self.horizon_months:
            raise ValueError(
                f"step_months add up to {sum(self.step_months.values())} months, more than horizon_months "
                f"({self.horizon_months}): every project would be late on the day it starts"
            )
        return self

    @model_validator(mode="after")
    def _pages(self) -> Settings:
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
