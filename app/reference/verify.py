"""What `regieflow verify` (and migration 0006) report about territory: projects placed in a région
or a département that the official geographic code does not know, a département outside the
project's région, communes whose INSEE code is not a commune's. Reported, never changed: a person
decides what was meant (PATCH the project, or replace the commune).

`verify_territory(session)` gives the problems by project id, in English like the rest of verify;
`commune_name_agrees` says whether a commune's stored name agrees with the one its events recorded
(migration 0006 gave the communes whose code is known their official name)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.reference.cog import cog

# (project id, project name, region, departement) and (project id, insee code)
ProjectRow = tuple[str, str, str, str | None]
CommuneRow = tuple[str, str]


def project_problems(region: str, departement: str | None, codes: Iterable[str]) -> list[str]:
    """Everything about one project's territory that the official geographic code contradicts."""
    data = cog()
    problems: list[str] = []
    official = data.region_named(region)
    if official is None:
        problems.append(f"region {region!r} is not one of the 18 régions of the official geographic code")
    dep = data.departement(departement) if departement else None
    if departement and dep is None:
        problems.append(f"departement {departement!r} is not one of the 101 départements")
    if official is not None and dep is not None and dep.region != official.code:
        problems.append(f"departement {dep.code} ({dep.name}) is in {data.region_of(dep).name}, not in {official.name}")
    for code in sorted(set(codes)):
        if data.commune(code) is None:
            problems.append(f"commune {code!r} is not a commune of the official geographic code")
    return problems


def territory_findings(projects: Iterable[ProjectRow], communes: Iterable[CommuneRow]) -> list[str]:
    """One line per problem, naming the project (what migration 0006 logs)."""
    codes: dict[str, list[str]] = defaultdict(list)
    for project_id, code in communes:
        codes[project_id].append(code)
    lines = []
    for project_id, name, region, departement in projects:
        for problem in project_problems(region, departement, codes.get(project_id, [])):
            lines.append(f"project {project_id} ({name}): {problem}")
    return lines


def verify_territory(session: Session) -> dict[uuid.UUID, list[str]]:
    """The territory problems of every project that has some (for `regieflow verify`)."""
    from app.evidence.models import Commune
    from app.projects.models import Project

    codes: dict[uuid.UUID, list[str]] = defaultdict(list)
    for project_id, code in session.execute(select(Commune.project_id, Commune.insee_code)):
        codes[project_id].append(code)
    out: dict[uuid.UUID, list[str]] = {}
    rows = session.execute(select(Project.id, Project.region, Project.departement).order_by(Project.id))
    for project_id, region, departement in rows:
        problems = project_problems(region, departement, codes.get(project_id, []))
        if problems:
            out[project_id] = problems
    return out


def commune_name_agrees(insee_code: str, stored: str, recorded: str) -> bool:
    """A commune's stored name agrees with the name its events recorded when it is that name, or the
    official name of its code (what migration 0006 wrote over names typed before the data shipped)."""
    if stored == recorded:
        return True
    commune = cog().commune(insee_code)
    return commune is not None and stored == commune.name
