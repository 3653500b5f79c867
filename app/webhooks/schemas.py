"""API schemas of webhook subscriptions and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from app.core.schemas import Body
from app.webhooks.models import DeliveryStatus
from app.webhooks.service import EVENT_TYPES, EventType

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


class WebhookCreate(Body):
    url: Url = Field(..., description="http(s) URL receiving the POSTs; it must resolve to public addresses.")
    event_types: list[EventType] = Field(
        default_factory=list, max_length=len(EVENT_TYPES), description="Event types wanted; empty: all of them."
    )
    description: Description | None = None


class WebhookUpdate(Body):
    url: Url | None = None
    event_types: list[EventType] | None = Field(None, max_length=len(EVENT_TYPES))
    description: Description | None = None
    enabled: StrictBool | None = Field(None, description="true re-enables a disabled subscription (failures reset).")


class SecretRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: datetime
    expires_at: datetime | None


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    owner: str
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime
    secrets: list[SecretRead] = Field(description="Signing secrets in use (values are shown only once).")


class WebhookWithSecret(WebhookRead):
    secret: str = Field(description="The signing secret (whsec_…), shown this once only.")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    subscription_id: int
    message_id: str = Field(description="The webhook-id header: the same on every attempt of this delivery.")
    event_id: int
    event_type: str
    project_id: uuid.UUID
    feed_seq: int | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None


class DeliveryAttempts(BaseModel):
    delivery: DeliveryRead
    attempts: list[AttemptRead]
