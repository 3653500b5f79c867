"""A commune as people give it (an INSEE code, or a name) turned into a real commune, or a French
refusal that offers the communes they may have meant."""

from __future__ import annotations

from typing import Any

from app.core.errors import NotFound
from app.reference.cog import Commune, cog
from app.reference.schemas import suggestion
from workflow.errors import InvalidInput


def _listed(communes: list[Commune]) -> str:
    return ", ".join(f"{c.name} ({c.code}, {c.departement})" for c in communes)


def _vintage() -> str:
    year = cog().source.get("vintage", "")
    return f"code officiel géographique {year}".strip()


def unknown_code_message(code: str, suggestions: list[Commune]) -> str:
    former = cog().describe_former(code)
    head = (
        f"Code INSEE inconnu : {former}, pas une commune."
        if former
        else f"Code INSEE inconnu : {code} n'est pas une commune du {_vintage()}."
    )
    return head + (f" Vouliez-vous dire : {_listed(suggestions)} ?" if suggestions else "")


class UnknownCommune(InvalidInput):
    """A well-formed commune that the official code does not know (422, with `suggestions`)."""

    code = "commune_inconnue"

    def __init__(self, message: str, field: str, suggestions: list[Commune]) -> None:
        super().__init__(message, field)
        self.suggestions = suggestions
        # extension members of the problem+json answer (app.http.problems adds them)
        self.extra: dict[str, Any] = {"suggestions": [suggestion(c) for c in suggestions]}


class CommuneNotFound(NotFound):
    """GET /reference/communes/{code} for a code that is not a commune's (404, with `suggestions`)."""

    def __init__(self, code: str, suggestions: list[Commune]) -> None:
        super().__init__(unknown_code_message(code, suggestions))
        self.suggestions = suggestions
        self.extra: dict[str, Any] = {"suggestions": [suggestion(c) for c in suggestions]}


def resolve(code: str | None, name: str | None) -> Commune:
    """The commune meant by an INSEE code (the name, if any, only helps the suggestions: the official
    name is what is recorded) or, without a code, by its name when exactly one commune bears it."""
    data = cog()
    if code:
        commune = data.commune(code)
        if commune is None:
            found = data.suggestions(code, name=name)
            raise UnknownCommune(unknown_code_message(code, found), "insee_code", found)
        return commune
    if not name:
        raise InvalidInput("Indiquez le code INSEE de la commune, ou son nom.", "insee_code")
    homonyms = data.named(name)
    if len(homonyms) == 1:
        return homonyms[0]
    if homonyms:
        raise UnknownCommune(
            f"Plusieurs communes s'appellent « {homonyms[0].name} » : précisez le code INSEE "
            f"({_listed(homonyms[:10])}).",
            "insee_code",
            homonyms[:10],
        )
    found = data.search(name, limit=5)
    raise UnknownCommune(
        "Aucune commune de ce nom dans le code officiel géographique."
        + (
            f" Vouliez-vous dire : {_listed(found)} ?"
            if found
            else " Vérifiez l'orthographe ou indiquez le code INSEE."
        ),
        "name",
        found,
    )


def departement_outside_region(region: str, departement: str | None) -> str | None:
    """French: why `departement` cannot be a project's in `region`, or None when it can (or when the
    région is not an official one: such an older project is reported by `verify`, not refused here)."""
    data = cog()
    official = data.region_named(region)
    dep = data.departement(departement) if departement else None
    if official is None or dep is None or dep.region == official.code:
        return None
    return f"Le département {dep.code} ({dep.name}) est en région {data.region_of(dep).name}, pas en {official.name}."


def commune_outside(code: str, region: str, departement: str | None) -> bool:
    """Whether a real commune lies outside the project's département (or, for a project without one,
    outside its région). Accepted, and shown. An unknown code or an unofficial région: not flagged
    here (they are reported as such)."""
    data = cog()
    commune = data.commune(code)
    if commune is None:
        return False
    if departement:
        return commune.departement != departement
    official = data.region_named(region)
    dep = data.departement(commune.departement)
    return official is not None and dep is not None and dep.region != official.code
