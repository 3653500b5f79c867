"""The reference API: the régions, départements and communes a project is placed in (read-only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.http.dependencies import Authorized
from app.reference.cog import MAX_QUERY, MAX_RESULTS, cog
from app.reference.communes import CommuneNotFound
from app.reference.schemas import DepartementRead, OfficialCommuneRead, RegionRead, commune_read
from workflow import identifiers
from workflow.errors import InvalidInput

router = APIRouter(prefix="/reference", tags=["reference"], dependencies=[Authorized])


PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid input (unknown région or département, malformed code)"},
}


@router.get(
    "/regions",
    response_model=list[RegionRead],
    name="list_reference_regions",
    summary="The 18 régions of the official geographic code (COG), in alphabetical order",
)
def list_regions() -> list[RegionRead]:
    return [RegionRead(code=r.code, name=r.name) for r in cog().regions]


@router.get(
    "/departements",
    response_model=list[DepartementRead],
    responses=PROBLEMS,
    name="list_reference_departements",
    summary="The 101 départements, in code order; `region` (name or INSEE code) keeps those of one région",
)
def list_departements(
    region: Annotated[str | None, Query(max_length=100, description="Name or INSEE code of a région")] = None,
) -> list[DepartementRead]:
    data = cog()
    departements = data.departements
    if region is not None:
        found = data.region(region)
        if found is None:
            raise InvalidInput(
                "Région inconnue : choisissez l'une des 18 régions officielles.",
                "region",
            )
        departements = data.departements_of(found)
    return [
        DepartementRead(code=d.code, name=d.name, region_code=d.region, region=data.region_of(d).name)
        for d in departements
    ]


@router.get(
    "/communes",
    response_model=list[OfficialCommuneRead],
    responses=PROBLEMS,
    name="search_reference_communes",
    summary="Find communes by name (accents, case, hyphens and apostrophes ignored) or by the start of their "
    "INSEE code: exact names first, then names starting with the text, then names containing it",
)
def search_communes(
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description="A name, or the start of a code")],
    departement: Annotated[
        str | None, Query(max_length=10, description="Only the communes of this département (59, 2A, 974)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
) -> list[OfficialCommuneRead]:
    data = cog()
    code: str | None = None
    if departement is not None:
        dep = data.departement(departement)
        if dep is None:
            raise InvalidInput(
                "Département inconnu : indiquez le numéro d'un des 101 départements (59, 2A, 974…).", "departement"
            )
        code = dep.code
    return [commune_read(c) for c in data.search(q, limit=limit, departement=code)]


@router.get(
    "/communes/{insee_code}",
    response_model=OfficialCommuneRead,
    responses={
        404: {"description": "No commune has this code: `suggestions` lists the communes it may mean"},
        422: {"description": "Not an INSEE code (5 characters, 2A/2B in Corsica)"},
    },
    name="get_reference_commune",
    summary="One commune by its INSEE code; an unknown code answers 404 with suggestions",
)
def get_commune(insee_code: Annotated[str, Path(max_length=10)]) -> OfficialCommuneRead:
    code = identifiers.insee_code(insee_code)  # InvalidInput (422) when malformed
    data = cog()
    commune = data.commune(code)
    if commune is None:
        raise CommuneNotFound(code, data.suggestions(code))
    return commune_read(commune)
