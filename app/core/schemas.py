"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from workflow import identifiers
from workflow.errors import InvalidInput

MAX_TEXT = 5000


MAX_LIST = 50


def _wrap(fn: Callable[[str], str]) -> Callable[[str | None], str | None]:
    """Turn a domain InvalidInput into a pydantic validation error (422 with the field)."""

    def run(v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return fn(v)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    return run


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


Departement = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(\d{2}|2[AB]|97\d)$")]


InseeCode = Annotated[str, StringConstraints(max_length=10), AfterValidator(_wrap(identifiers.insee_code))]


QpvCode = Annotated[str, StringConstraints(max_length=10), AfterValidator(_wrap(identifiers.qpv_code))]


Rna = Annotated[str, StringConstraints(max_length=12), AfterValidator(_wrap(identifiers.rna))]


Siret = Annotated[str, StringConstraints(max_length=20), AfterValidator(_wrap(identifiers.siret))]


def _not_a_boolean(value: Any) -> Any:
    """JSON true and false are not numbers (pydantic's lax mode would read true as 1). Strings of
    digits still are (the pages' forms send text)."""
    if isinstance(value, bool):
        raise ValueError("un nombre entier est attendu, pas vrai/faux")
    return value


Int = Annotated[int, BeforeValidator(_not_a_boolean)]


Flag = StrictBool  # true or false only: not 1, "yes" or "on" (the pages send real booleans)


Euros = Annotated[Int, Field(ge=0, le=1_000_000_000)]


Reason = Annotated[str, StringConstraints(max_length=2000)]


def unstorable(value: Any) -> bool:
    """Text no database column can take: a NUL character (PostgreSQL refuses it) or a lone UTF-16
    surrogate (not encodable in UTF-8), anywhere in a string, a list or a mapping."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(unstorable(v) for v in value)
    if isinstance(value, dict):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    return False


UNSTORABLE = "Caractère interdit : caractère nul (U+0000) ou texte qui n'est pas de l'Unicode valide."


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if unstorable(value):
            raise ValueError(UNSTORABLE)
        return value


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
