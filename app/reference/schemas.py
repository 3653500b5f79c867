"""Fields that take their values from the official geographic code, and the reference API's bodies.

`RegionName` and `DepartementCode` are validated enumerations: the OpenAPI document lists the values
(computed when the document is generated, so the data file is read on first use only) and anything
else is a French 422."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.reference.cog import Commune, cog


def _region(value: str) -> str:
    region = cog().region(value)
    if region is None:
        raise ValueError("Région inconnue : choisissez l'une des 18 régions officielles.")
    return region.name


def _departement(value: str) -> str:
    departement = cog().departement(value)
    if departement is None:
        raise ValueError("Département inconnu : indiquez le numéro d'un des 101 départements (59, 2A, 974…).")
    return departement.code


def _region_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = [r.name for r in cog().regions]


def _departement_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = [d.code for d in cog().departements]


RegionName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=100),
    AfterValidator(_region),
    Field(
        description="One of the 18 régions, by its official name (accents, case and hyphens are forgiven; "
        "the official name is stored) or its INSEE code.",
        json_schema_extra=_region_enum,
    ),
]


DepartementCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10),
    AfterValidator(_departement),
    Field(
        description="One of the 101 départements, by its INSEE number: 59, 2A, 974.",
        json_schema_extra=_departement_enum,
    ),
]


# --- the reference API's answers -------------------------------------------------------------------
class RegionRead(BaseModel):
    code: str = Field(description="INSEE code of the région")
    name: str


class DepartementRead(BaseModel):
    code: str
    name: str
    region_code: str
    region: str


class OfficialCommuneRead(BaseModel):
    insee_code: str
    name: str
    departement: str
    departement_name: str
    region: str
    population: int = Field(description="Legal population (ranks a name search)")


def commune_read(c: Commune) -> OfficialCommuneRead:
    data = cog()
    dep = data.departement(c.departement)
    assert dep is not None  # every commune of the file is in one of its départements
    return OfficialCommuneRead(
        insee_code=c.code,
        name=c.name,
        departement=c.departement,
        departement_name=dep.name,
        region=data.region_of(dep).name,
        population=c.population,
    )


class CommuneSuggestion(BaseModel):
    """A real commune offered in place of an unknown code or an ambiguous name."""

    insee_code: str
    name: str
    departement: str


def suggestion(c: Commune) -> dict[str, str]:
    return CommuneSuggestion(insee_code=c.code, name=c.name, departement=c.departement).model_dump()
