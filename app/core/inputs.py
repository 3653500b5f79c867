"""Text that people and partners type, read strictly at the boundary (API and pages alike).

- Numbers written in text (identifiers, cursors, page numbers, integer form fields): ASCII digits only
  and a bounded length. Python's `int()` also reads Arabic-Indic and other Unicode digits and raises on
  `²` (which `str.isdigit()` accepts) or on thousands of digits; nothing here ever calls it on text that
  has not been checked first.
- Control characters (Unicode category Cc: U+0000–U+001F, U+007F–U+009F): never in a single-line value
  (a name, a label, a region… which flow into iCalendar, CSV and headers), and only tab, line feed and
  carriage return in a multi-line one.
"""

from __future__ import annotations

import re
from datetime import date

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)
MAX_DIGITS = 18  # below 2**63: any such number fits every integer column and compares safely

# Every C0 and C1 control character, and DEL.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR allowed
# The JSON Schema pattern of a single-line value (what CONTROL refuses), for the OpenAPI document.
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"

CONTROL_MESSAGE = "Caractère interdit : ce champ tient sur une ligne, sans retour à la ligne ni caractère de contrôle."
CONTROL_IN_TEXT_MESSAGE = (
    "Caractère interdit : un caractère de contrôle (U+0000 à U+001F sauf tabulation et retour à la ligne, "
    "U+007F à U+009F) n'est pas accepté."
)


def ascii_int(value: object, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The number written in `value` with ASCII digits only (no sign, no space, no `_`, at most
    `max_digits` digits); None for anything else, whatever its type."""
    if not isinstance(value, str) or not 0 < len(value) <= max_digits or not _ASCII_DIGITS.fullmatch(value):
        return None
    return int(value)


def ascii_id(value: object, *, high: int = 2**31 - 1) -> int | None:
    """A database identifier written in text: ASCII digits, from 1 to `high` (a PostgreSQL integer); None
    otherwise (the caller answers 404)."""
    n = ascii_int(value)
    return n if n is not None and 1 <= n <= high else None


def has_control(value: str) -> bool:
    """A control character that no single-line value may hold (CR and LF included)."""
    return CONTROL.search(value) is not None


def has_control_in_text(value: str) -> bool:
    """A control character that no text may hold, even on several lines (tab, LF and CR excepted)."""
    return CONTROL_IN_TEXT.search(value) is not None


def single_line(value: str) -> str:
    """`value` with every control character (CR, LF and tab included) replaced by a space: for stored
    text written into a line-oriented format (an iCalendar property, a CSV or XLSX cell, a header)."""
    return CONTROL.sub(" ", value)


ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def iso_day(value: object) -> date | None:
    """A day written AAAA-MM-JJ (ASCII digits; not `20261126`, a week date or a time): None otherwise."""
    if not isinstance(value, str) or not ISO_DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
