"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

import re
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
# The spaces that Python's str.strip() and pydantic's strip_whitespace take away, control characters
# aside (no text takes them), as a regular-expression class body that Python and JavaScript read alike.
SPACE = r"\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A single-line value that must not be blank: spaces are stripped before min_length=1 is checked, so
# "   " is refused; the document says so (at least one character that is neither a space nor a control).
_LINE_CHAR = r"[^\x00-\x1f\x7f-\x9f]"
NON_BLANK_LINE_PATTERN = rf"^{_LINE_CHAR}*[^{SPACE}\x00-\x1f\x7f-\x9f]{_LINE_CHAR}*$"
NON_BLANK_LINE = Field(json_schema_extra={"pattern": NON_BLANK_LINE_PATTERN})


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), OneLine, NON_BLANK_LINE]


Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), OneLine, NON_BLANK_LINE]


ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), OneLine, ONE_LINE]


Address = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), OneLine, NON_BLANK_LINE
]


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


_NOT_IN_EMAIL = r"[^@\s\x00-\x1f\x7f-\x9f]"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=rf"^{_NOT_IN_EMAIL}+@{_NOT_IN_EMAIL}+\.{_NOT_IN_EMAIL}+$"
    ),
]


Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine, NON_BLANK_LINE]


Departement = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^([0-9]{2}|2[AB]|97[0-9])$")]


def either_case(pattern: str) -> str:
    """`pattern` (a regular expression on capitals, as workflow.identifiers writes them) reading ASCII
    letters in either case: `W` becomes `[Ww]`, `[0-9A-Z]` becomes `[0-9A-Z0-9a-z]`."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif char == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            lower = body.lower() if "\\" not in body and not body.startswith("^") else body
            out.append(f"[{body}{lower if lower != body else ''}]")
            i = end + 1
        else:
            out.append(f"[{char}{char.lower()}]" if char.isascii() and char.isupper() else char)
            i += 1
    return "".join(out)


def identifier_pattern(regex: re.Pattern[str]) -> str:
    """The JSON Schema pattern of what a workflow.identifiers check accepts: it strips surrounding spaces
    and reads letters in either case before matching `regex` (anchored ^…$). Derived from the check's
    own regular expression, so that the document follows the rule wherever it changes."""
    inner = regex.pattern.removeprefix("^").removesuffix("$")
    return rf"^[{SPACE}]*(?:{either_case(inner)})[{SPACE}]*$"


# The identifiers' patterns as the OpenAPI document declares them. Spaces are spelled out (SPACE):
# `\s` differs between Python and JavaScript regular expressions, and the control characters among
# Python's spaces are refused by every body anyway.
INSEE_PATTERN = identifier_pattern(identifiers.INSEE_RE)  # 5 digits, or 2A/2B + 3 digits (Corsica)
QPV_PATTERN = identifier_pattern(identifiers.QPV_RE)
RNA_PATTERN = identifier_pattern(identifiers.RNA_RE)  # W + 9 digits or capital letters (W2A1000123)
SIRET_PATTERN = rf"^[{SPACE}.]*(?:[0-9][{SPACE}.]*){{14}}$"  # 14 digits, spaces and dots aside; and the Luhn key


def _declared(pattern: str, description: str) -> Any:
    return Field(json_schema_extra={"pattern": pattern}, description=description)


InseeCode = Annotated[
    str,
    StringConstraints(max_length=10),
    AfterValidator(_wrap(identifiers.insee_code)),
    _declared(INSEE_PATTERN, "INSEE commune code: 5 digits, or 2A/2B and 3 digits (Corsica)."),
]


QpvCode = Annotated[
    str,
    StringConstraints(max_length=10),
    AfterValidator(_wrap(identifiers.qpv_code)),
    _declared(QPV_PATTERN, "QPV code, e.g. QP059036."),
]


Rna = Annotated[
    str,
    StringConstraints(max_length=12),
    AfterValidator(_wrap(identifiers.rna)),
    _declared(RNA_PATTERN, "RNA number: W and 9 characters, e.g. W595012345."),
]


Siret = Annotated[
    str,
    StringConstraints(max_length=20),
    AfterValidator(_wrap(identifiers.siret)),
    _declared(SIRET_PATTERN, "SIRET number: 14 digits whose Luhn check digit is right."),
]


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


# The JSON Schema pattern of any text a body takes (what Body._no_control refuses), for the document.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def _declare_text(schema: dict[str, Any]) -> None:
    """Give every string property of a body's schema without a pattern of its own the pattern that
    Body._no_control enforces (OneLine fields declare their stricter one), in lists and nullables too."""

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & node.keys():
            node["pattern"] = TEXT_PATTERN
        for key in ("anyOf", "oneOf", "allOf"):
            for child in node.get(key, ()):
                visit(child)
        for key in ("items", "additionalProperties"):
            visit(node.get(key))

    for prop in schema.get("properties", {}).values():
        visit(prop)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_declare_text)

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
    total_exact: bool = Field(
        True,
        description="False when `total` is a lower bound: the project list's text search (`q`) counts its "
        "matches up to 10,000; the following pages are served as usual.",
    )
    page: int
    page_size: int
