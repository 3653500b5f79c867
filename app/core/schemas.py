"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
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

from app.core.inputs import (
    CONTROL_IN_TEXT_MESSAGE,
    CONTROL_MESSAGE,
    ISO_DAY,
    SINGLE_LINE_PATTERN,
    has_control,
    has_control_in_text,
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


def _one_line(value: Any) -> Any:
    """Single-line text (a name, a label, a region…) flows into iCalendar, CSV, XLSX and headers: no
    CR, LF, tab or other control character, not even at either end (checked before spaces are stripped)."""
    if isinstance(value, str) and has_control(value):
        raise ValueError(CONTROL_MESSAGE)
    return value


OneLine = BeforeValidator(_one_line)  # refuses control characters,
ONE_LINE = Field(json_schema_extra={"pattern": SINGLE_LINE_PATTERN})  # and says so in the OpenAPI document


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), OneLine, ONE_LINE]


Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), OneLine, ONE_LINE]


ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), OneLine, ONE_LINE]


Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), OneLine, ONE_LINE]


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


_NOT_IN_EMAIL = r"[^@\s\x00-\x1f\x7f-\x9f]"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=rf"^{_NOT_IN_EMAIL}+@{_NOT_IN_EMAIL}+\.{_NOT_IN_EMAIL}+$"
    ),
]


Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine, ONE_LINE]


Departement = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^([0-9]{2}|2[AB]|97[0-9])$")]


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


Id = Annotated[Int, Field(ge=1, le=2**31 - 1)]  # a row of another table, named in a body (a PostgreSQL integer)


DATE_MESSAGE = "Date invalide : écrivez-la au format AAAA-MM-JJ (par exemple 2026-11-26)."


def _iso_day(value: Any) -> Any:
    """Dates are ISO strings (or dates, from the pages and the services) only: pydantic's lax mode would
    read `0` as 1970-01-01, `true` as a number and "2026-11-26T00:00:00" as a day."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DAY.fullmatch(value):
        return value
    raise ValueError(DATE_MESSAGE)


Day = Annotated[date, BeforeValidator(_iso_day)]  # every date a body or a form sends


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


def controlled(value: Any) -> bool:
    """A control character other than tab, LF and CR, anywhere in a string, a list or a mapping (every
    text of every body: single-line types refuse those three as well)."""
    if isinstance(value, str):
        return has_control_in_text(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(controlled(v) for v in value)
    if isinstance(value, dict):
        return any(controlled(k) or controlled(v) for k, v in value.items())
    return False


UNSTORABLE = "Caractère interdit : caractère nul (U+0000) ou texte qui n'est pas de l'Unicode valide."


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control(cls, value: Any) -> Any:
        """Checked on the text as sent, before any field strips its spaces (which would take a vertical
        tab or a U+0085 at either end away unseen)."""
        if controlled(value):
            raise ValueError(CONTROL_IN_TEXT_MESSAGE)
        return value

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
