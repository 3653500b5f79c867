"""Repository: Idempotency-Key records. It never commits; the unit of work does.

A record is taken by one attempt at a time: its `created_at` is that attempt's lease token, so every
change to a record someone else may hold is one conditional UPDATE that says whether it won."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, select, update
from sqlalchemy.orm import Session

from app.idempotency.models import IdempotencyRecord


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (Session.execute is typed for SELECTs only)."""
    return cast("CursorResult[Any]", result).rowcount or 0


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, caller: str, key: str) -> IdempotencyRecord | None:
        return self.session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
        ).one_or_none()

    def get(self, record_id: int, *, for_update: bool = False) -> IdempotencyRecord | None:
        if not for_update:
            return self.session.get(IdempotencyRecord, record_id)
        return self.session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.id == record_id).with_for_update()
        ).one_or_none()

    def add(self, record: IdempotencyRecord) -> None:
        self.session.add(record)

    def delete(self, record_id: int) -> None:
        self.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))

    def renew_expired(
        self, record: IdempotencyRecord, *, method: str, path: str, body_hash: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take an expired record for a new request (unless another one renewed it first)."""
        return (
            _rowcount(
                self.session.execute(
                    update(IdempotencyRecord)
                    .where(IdempotencyRecord.id == record.id, IdempotencyRecord.expires_at == record.expires_at)
                    .values(
                        method=method,
                        path=path,
                        body_hash=body_hash,
                        state="in_progress",
                        created_at=now,
                        expires_at=expires_at,
                        response_status=None,
                        response_headers=None,
                        response_body=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            == 1
        )

    def take_over(self, record: IdempotencyRecord, now: datetime) -> bool:
        """Take over the record of an attempt that never committed (unless another retry took it first)."""
        return (
            _rowcount(
                self.session.execute(
                    update(IdempotencyRecord)
                    .where(
                        IdempotencyRecord.id == record.id,
                        IdempotencyRecord.state == "in_progress",
                        IdempotencyRecord.created_at == record.created_at,
                    )
                    .values(created_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
            == 1
        )

    def mark_committed(self, record_id: int, started: datetime, effect: list[dict[str, Any]]) -> bool:
        """Mark the attempt that started at `started` committed, with the events it wrote; False if the
        record is no longer that attempt's in-progress record."""
        return (
            _rowcount(
                self.session.execute(
                    update(IdempotencyRecord)
                    .where(
                        IdempotencyRecord.id == record_id,
                        IdempotencyRecord.created_at == started,
                        IdempotencyRecord.state == "in_progress",
                    )
                    .values(state="committed", response_body=json.dumps({"events": effect}))
                    .execution_options(synchronize_session=False)
                )
            )
            == 1
        )

    def purge_expired(self, now: datetime) -> int:
        """Delete expired records; how many went."""
        return _rowcount(self.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)))
