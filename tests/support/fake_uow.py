"""A unit of work in memory, for testing the services' own logic without a database (the repository
pattern's payoff: cosmicpython, chapter 6).

It offers what the services use of app.core.unit_of_work.UnitOfWork: `projects.get/add/is_new/
add_replan`, `accounts.add_grant`, `events.append`, `flush()`, `commit()` (the services never reach the
session itself). It keeps what it was given; it checks no constraint, computes no hash chain, assigns
no feed position: those belong to the repositories and the database, tested against a real one
elsewhere."""

from __future__ import annotations

import uuid
from typing import Any

from app.projects.models import Event, Project


class FakeSession:
    """What the fake repositories share: the rows added (`added`) and those not yet flushed (`new`)."""

    def __init__(self) -> None:
        self.new: list[Any] = []
        self.added: list[Any] = []

    def add(self, obj: Any) -> None:
        self.added.append(obj)
        self.new.append(obj)


class FakeAccounts:
    def __init__(self, session: FakeSession) -> None:
        self.session = session

    def add_grant(self, grant: Any) -> None:
        self.session.add(grant)


class FakeProjects:
    def __init__(self, session: FakeSession) -> None:
        self.session = session
        self.rows: dict[uuid.UUID, Project] = {}
        self.loads: list[tuple[uuid.UUID, Any, bool]] = []  # (id, with_evidence, for_update) per get
        self.keys_day: Any = None  # the day the sort keys would be computed for (compute_keys_for)

    def add(self, project: Project) -> None:
        self.rows[project.id] = project
        self.session.new.append(project)

    def compute_keys_for(self, day: Any) -> None:
        self.keys_day = day

    def is_new(self, project: Project) -> bool:
        return project in self.session.new

    def add_replan(self, replan: Any) -> None:
        self.session.add(replan)

    def get(self, project_id: uuid.UUID, *, with_evidence: Any = False, for_update: bool = False) -> Project | None:
        self.loads.append((project_id, with_evidence, for_update))
        return self.rows.get(project_id)


class FakeEvents:
    def __init__(self) -> None:
        self.appended: list[Event] = []

    def append(self, event: Event, *, topic: str | None = None) -> Event:
        self.appended.append(event)
        return event

    def of_project(self, project_id: uuid.UUID, *, transitions_only: bool = False) -> list[Event]:
        return [
            e
            for e in self.appended
            if e.project_id == project_id and (not transitions_only or e.type == "project.transitioned")
        ]


class FakeUnitOfWork:
    """Counts its flushes and commits; `committed` is False until the service calls commit()."""

    def __init__(self) -> None:
        self.session = FakeSession()
        self.projects = FakeProjects(self.session)
        self.accounts = FakeAccounts(self.session)
        self.events = FakeEvents()
        self.flushes = 0
        self.commits = 0

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    @property
    def committed(self) -> bool:
        return self.commits > 0

    def flush(self) -> None:
        self.flushes += 1
        self.session.new.clear()

    def commit(self) -> None:
        self.flush()
        self.commits += 1
