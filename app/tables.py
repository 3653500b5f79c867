"""Every concept's tables, imported in one place.

SQLAlchemy learns a table when its model's module is imported. What needs the whole schema —
Alembic's autogenerate (migrations/env.py), the full dump (app.exchange.dump), the check that the
migrations build exactly the models (tests) — imports this module, so no table can be forgotten."""

from __future__ import annotations

from types import ModuleType

from app.accounts import models as accounts
from app.accounts import password_reset
from app.assessments import models as assessments
from app.calendars import models as calendars
from app.core.database import Base
from app.documents import models as documents
from app.evidence import models as evidence
from app.feed import models as feed
from app.forecasts import models as forecasts
from app.idempotency import models as idempotency
from app.mail import models as mail
from app.messages import models as messages
from app.notifications import models as notifications
from app.observability import models as observability
from app.opinions import models as opinions
from app.projects import models as projects
from app.webhooks import models as webhooks

MODEL_MODULES: tuple[ModuleType, ...] = (
    projects,
    evidence,
    assessments,
    accounts,
    webhooks,
    calendars,
    feed,
    idempotency,
    documents,
)
MODEL_MODULES += (observability,)  # worker heartbeats (issue 17)
MODEL_MODULES += (opinions, messages, notifications, mail, password_reset)  # collaboration (issue 15)
MODEL_MODULES += (forecasts,)  # step-duration distributions (issue 16)
metadata = Base.metadata

__all__ = ["MODEL_MODULES", "metadata"]
