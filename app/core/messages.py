"""French messages for pydantic's validation errors: ONE table, by pydantic error type, used by the
pages (beside the fields) and by the API (in a problem's `errors`), so no English sentence of pydantic's
ever reaches a person or a partner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic_core import ErrorDetails


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _too_short_text(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    n = int(ctx.get("min_length", 1))
    return "Ce champ est obligatoire." if n <= 1 else f"Saisissez au moins {n} caractères."


def _too_long_text(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    return f"Ce texte est trop long : {ctx.get('max_length')} caractères au maximum."


def _pattern_mismatch(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    loc = error.get("loc") or ("",)
    if str(loc[-1]) == "email" or "@" in str(ctx.get("pattern", "")):
        return "Adresse e-mail invalide : elle doit ressembler à nom@domaine.fr."
    return "Le format de cette valeur n'est pas valide."


def _lower_bound(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    bound = ctx.get("ge", ctx.get("gt"))
    if error["type"] == "greater_than_equal":
        return f"La valeur doit être supérieure ou égale à {bound}."
    return f"La valeur doit être supérieure à {bound}."


def _upper_bound(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    bound = ctx.get("le", ctx.get("lt"))
    if error["type"] == "less_than_equal":
        return f"La valeur doit être inférieure ou égale à {bound}."
    return f"La valeur doit être inférieure à {bound}."


def _too_few_items(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    n = int(ctx.get("min_length", 1))
    return "Indiquez au moins un élément." if n <= 1 else f"Indiquez au moins {n} éléments."


def _too_many_items(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    n = ctx.get("max_length")
    return f"{n} {_plural(int(n or 0), 'élément', 'éléments')} au maximum."


def _domain_rule(error: ErrorDetails, ctx: dict[str, Any]) -> str:
    """Raised by the schemas from a domain rule: its message is already French."""
    inner = ctx.get("error")
    return str(inner) if inner is not None else "Valeur invalide."


# Errors whose sentence never depends on the error's context, by pydantic error type.
_FIXED_MESSAGES: dict[str, str] = {
    "missing": "Ce champ est obligatoire.",
    **dict.fromkeys(
        ("date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_type"),
        "Date invalide : saisissez-la au format JJ/MM/AAAA.",
    ),
    **dict.fromkeys(
        ("datetime_parsing", "datetime_type", "datetime_from_date_parsing", "timezone_aware"),
        "Date et heure invalides.",
    ),
    **dict.fromkeys(
        ("int_parsing", "int_type", "int_from_float", "int_parsing_size"), "Saisissez un nombre entier, sans décimale."
    ),
    **dict.fromkeys(("enum", "literal_error"), "Choisissez une valeur dans la liste."),
    "bool_parsing": "Valeur invalide : cochez ou décochez la case.",
    **dict.fromkeys(("uuid_parsing", "uuid_type"), "Identifiant invalide."),
    "extra_forbidden": "Ce champ n'est pas attendu.",
    **dict.fromkeys(("string_type", "string_sub_type", "bytes_type"), "Saisissez un texte."),
    "string_unicode": "Ce texte contient des caractères illisibles.",
    "bool_type": "Indiquez vrai (true) ou faux (false).",
    **dict.fromkeys(
        ("float_parsing", "float_type", "decimal_parsing", "decimal_type", "finite_number", "complex_type"),
        "Saisissez un nombre.",
    ),
    **dict.fromkeys(
        ("model_type", "model_attributes_type", "dict_type", "mapping_type", "dataclass_type", "is_instance_of"),
        "Un objet est attendu ici, avec ses champs entre accolades.",
    ),
    **dict.fromkeys(
        ("list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type"), "Une liste est attendue ici."
    ),
    "set_item_not_hashable": "Cette liste contient une valeur qui ne peut y figurer.",
    **dict.fromkeys(("json_invalid", "json_type"), "Ce texte n'est pas du JSON valide."),
    **dict.fromkeys(("time_parsing", "time_type", "time_delta_parsing", "time_delta_type"), "Durée ou heure invalide."),
    **dict.fromkeys(("date_future", "datetime_future"), "La date doit être dans le futur."),
    **dict.fromkeys(("date_past", "datetime_past"), "La date ne peut pas être dans le futur."),
    **dict.fromkeys(("union_tag_invalid", "union_tag_not_found"), "Le type indiqué n'est pas reconnu."),
    "uuid_version": "Identifiant invalide.",
    "none_required": "Ce champ doit rester vide.",
    **dict.fromkeys(("frozen_field", "frozen_instance"), "Ce champ ne peut pas être modifié."),
    "multiple_of": "Cette valeur n'est pas un multiple autorisé.",
    **dict.fromkeys(
        ("decimal_max_digits", "decimal_max_places", "decimal_whole_digits"), "Ce nombre a trop de chiffres."
    ),
    **dict.fromkeys(
        ("url_parsing", "url_type", "url_scheme", "url_syntax_violation", "url_too_long"), "Adresse web invalide."
    ),
    "assertion_error": "Valeur invalide.",
}
# Errors whose sentence quotes the error's context (a length, a bound, the domain's message).
_WORDED: dict[str, Callable[[ErrorDetails, dict[str, Any]], str]] = {
    "string_too_short": _too_short_text,
    "string_too_long": _too_long_text,
    "string_pattern_mismatch": _pattern_mismatch,
    "greater_than_equal": _lower_bound,
    "greater_than": _lower_bound,
    "less_than_equal": _upper_bound,
    "less_than": _upper_bound,
    "too_short": _too_few_items,
    "too_long": _too_many_items,
    "value_error": _domain_rule,
}

# Every pydantic error type the table words on purpose (the others get "Valeur invalide.").
TRANSLATED_TYPES = frozenset(_FIXED_MESSAGES) | frozenset(_WORDED)


def translate(error: ErrorDetails) -> str:
    """One pydantic error as a French sentence (the domain's own messages pass through)."""
    kind = error.get("type", "")
    if kind in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[kind]
    if kind in _WORDED:
        return _WORDED[kind](error, dict(error.get("ctx") or {}))
    return "Valeur invalide."
