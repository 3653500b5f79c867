"""Re-key the event chain (`regieflow rechain`): after a rotation of the server key, or after an import
from a server with another key, recompute every hash with the current key.

The chain is verified first, with every key this server accepts (the current one and
REGIEFLOW_PREVIOUS_SECRET_KEYS), together with the rest of `regieflow verify` (replay, feed, last
checkpoint): a database that does not verify is refused, since re-keying it would bless what broke it.
Each project is then re-keyed in a transaction of its own, its row locked as a write would lock it, and
a checkpoint marked `rechained` is written (its hashes replace those of the previous checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.checkpoints import service as ck
from app.core.security import hash_of_event
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWorkFactory
from app.projects.models import Event, Project
from app.transitions.verify import Finding, run


@dataclass
class Rechained:
    refused: list[Finding] = field(default_factory=list)  # the database did not verify: nothing changed
    projects: int = 0
    events: int = 0  # hashes rewritten
    checkpoint: ck.Outcome | None = None


def rechain(uows: UnitOfWorkFactory, settings: Settings, now: datetime) -> Rechained:
    report = run(uows, settings=settings)
    if report.findings:
        return Rechained(refused=report.findings)
    done = Rechained()
    with uows(write=False) as uow:
        ids = uow.projects.ids_in_creation_order()
    for pid in ids:
        with uows() as uow:
            uow.session.scalar(select(Project.id).where(Project.id == pid).with_for_update())
            key = uow.chain_key()
            prev: str | None = None
            for event in uow.session.scalars(select(Event).where(Event.project_id == pid).order_by(Event.seq)):
                event.prev_hash = prev
                digest = hash_of_event(event, key)
                if digest != event.hash:
                    event.hash = digest
                    done.events += 1
                prev = digest
            uow.commit()
        done.projects += 1
    done.checkpoint = ck.write(uows, settings, now, rechained=True)
    return done
