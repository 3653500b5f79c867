"""« Mes échéances » reads its projects through two index-ordered branches (ProjectRepository.upcoming):
the same projects, in the same order, as the one plain statement it replaced (every project of the
window sorted by its soonest date, name and id), on both databases, whatever the limit and the reader's
reach; dates, names and soonest dates tied on purpose."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import and_, case, func, or_, select, true

TODAY = date(2026, 12, 2)
UNTIL = TODAY + timedelta(days=60)
REGIONS = ("Bretagne", "Occitanie", "Normandie")


@pytest.fixture
def portfolio(session_factory):
    """150 projects with step due dates and horizons spread around the window (a few closed: no step
    due date), drawn from few days and few names so that ties abound."""
    from app.projects.models import Project

    r = random.Random(13)
    days = [TODAY + timedelta(days=d) for d in (-400, -30, -1, 0, 5, 59, 60, 61, 200)]
    with session_factory() as s:
        for i in range(150):
            step = None if i % 11 == 0 else r.choice(days)
            s.add(
                Project(
                    id=uuid.UUID(int=r.getrandbits(128)),
                    name=f"Régie {r.choice('ABCDE')}",
                    kind="regie_de_quartier",
                    region=REGIONS[i % 3],
                    state="abandonnee" if step is None else "contours",
                    started_on=TODAY - timedelta(days=500),
                    state_entered_on=TODAY - timedelta(days=100),
                    last_transition_on=TODAY - timedelta(days=100),
                    step_months={},
                    horizon_months=36,
                    horizon_on=r.choice(days),
                    step_due_on=step,
                    version=1,
                )
            )
        s.commit()
    return session_factory


def _reference(session, limit: int, regions: tuple[str, ...] | None) -> tuple[list[uuid.UUID], int]:
    """The statement upcoming() ran before: the whole window sorted, then cut."""
    from app.projects.models import Project

    soonest = case((Project.horizon_on < Project.step_due_on, Project.horizon_on), else_=Project.step_due_on)
    where = and_(
        Project.step_due_on.is_not(None),
        or_(Project.step_due_on <= UNTIL, Project.horizon_on <= UNTIL),
        true() if regions is None else Project.region.in_(regions),
    )
    total = session.scalar(select(func.count()).select_from(Project).where(where))
    ids = session.scalars(select(Project.id).where(where).order_by(soonest, Project.name, Project.id).limit(limit))
    return list(ids), total


@pytest.mark.parametrize("limit", [1, 7, 50, 200])
@pytest.mark.parametrize("regions", [None, ("Occitanie",)])
def test_upcoming_gives_the_projects_and_order_of_the_plain_sort(portfolio, limit, regions) -> None:
    from app.authorization.rules import Ability, Principal, Scope
    from app.projects.repository import ProjectRepository

    everything = Scope(frozenset({Ability.READ}))
    scopes = (everything,) if regions is None else tuple(Scope(frozenset({Ability.READ}), region=x) for x in regions)
    reader = Principal("user", 1, "user:t@example.fr", "T", scopes=scopes)
    with portfolio() as s:
        found, total = ProjectRepository(s).upcoming(today=TODAY, until=UNTIL, visible_to=reader, limit=limit)
        expected, expected_total = _reference(s, limit, regions)
    assert [p.id for p in found] == expected
    assert total == expected_total
    assert len(found) == min(limit, expected_total) and expected_total > 7  # the limits do cut
