"""HTML forms generated from the API's pydantic schemas: widgets, French labels, parsing, French errors.

A page never validates on its own: it turns the submitted form into the dict the API would receive as
JSON, hands it to the same pydantic schema and the same service, and translates what they refuse into
French messages beside the fields.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, StringConstraints, ValidationError
from pydantic.fields import FieldInfo
from starlette.datastructures import FormData

from app.core.inputs import CONTROL_MESSAGE, ascii_int, has_control
from app.core.messages import translate as translate  # re-exported: the pages import it from here
from workflow.vocabulary import (
    BUYER_CATEGORY_LABELS,
    CATEGORY_LABELS,
    EXPERTISE_CONCLUSION_LABELS,
    NEED_STATUS_LABELS,
    VERDICT_LABELS,
    BuyerCategory,
    Category,
    ExpertiseConclusion,
    NeedStatus,
    Verdict,
)

ENUM_LABELS: dict[type[Enum], dict[Any, str]] = {
    Category: CATEGORY_LABELS,
    NeedStatus: NEED_STATUS_LABELS,
    Verdict: VERDICT_LABELS,
    ExpertiseConclusion: EXPERTISE_CONCLUSION_LABELS,
    BuyerCategory: BUYER_CATEGORY_LABELS,
}
LONG_TEXT = 1000  # strings allowed beyond this many characters get a textarea

# French label of each field, by name; KIND_FIELD_LABELS overrides it for one kind of evidence.
FIELD_LABELS: dict[str, str] = {
    "name": "Nom",
    "category": "Catégorie",
    "organisation": "Organisme",
    "email": "Adresse e-mail",
    "is_amo_pilot": "Pilote du groupe projet (AMO)",
    "insee_code": "Code INSEE",
    "code": "Code du QPV",
    "label": "Intitulé",
    "description": "Description",
    "status": "Statut",
    "annual_charges": "Charges annuelles prévues (en euros)",
    "market_income": "Produits marchands annuels prévus (en euros)",
    "non_market_income": "Produits non marchands annuels prévus (en euros)",
    "premises_address": "Adresse des locaux",
    "conclusion": "Conclusion",
    "conclusion_on": "Date de la conclusion",
    "summary": "Synthèse de l'étude",
    "buyer_name": "Acheteur (donneur d'ordre)",
    "buyer_category": "Catégorie de l'acheteur",
    "annual_amount": "Montant annuel (en euros)",
    "regie_name": "Régie visitée",
    "visited_on": "Date de la visite",
    "notes": "Notes",
    "stakeholder_id": "Partie prenante",
    "verdict": "Avis",
    "given_on": "Date de l'avis",
    "comment": "Commentaire",
    "declared_on": "Date de déclaration en préfecture",
    "rna": "Numéro RNA",
    "siret": "Numéro SIRET",
    "address": "Adresse du siège",
    "college": "Collège",
    "office": "Fonction au bureau",
    "role": "Poste",
    "start_on": "Date de prise de poste",
    "conducted_on": "Date de l'expertise",
    "experts": "Experts",
    "report": "Rapport d'expertise",
}
KIND_FIELD_LABELS: dict[str, dict[str, str]] = {
    "communes": {"name": "Nom de la commune"},
    "qpvs": {"name": "Nom du quartier"},
    "association": {"name": "Nom de l'association"},
    "hires": {"name": "Nom de la personne recrutée"},
    "expertises": {"conclusion": "Conclusion de l'expertise"},
    "feasibility": {"conclusion": "Conclusion de l'étude"},
}
FIELD_HINTS: dict[str, str] = {
    "insee_code": "5 caractères, par exemple 59512.",
    "code": "QP ou QN suivi de 6 caractères, par exemple QP059036.",
    "rna": "W suivi de 9 chiffres ou lettres majuscules, par exemple W595012345 ou W2A1000123.",
    "siret": "14 chiffres, facultatif.",
    "experts": "Un nom par ligne.",
    "is_amo_pilot": "Uniquement pour un consultant du Mouvement des Régies.",
    "email": "Par exemple nom@domaine.fr.",
}
# Fields shown together under a legend (other kinds: one group titled by the form).
GROUPS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "feasibility": (
        ("Modèle économique", ("annual_charges", "market_income", "non_market_income")),
        ("Locaux", ("premises_address",)),
        ("Conclusion de l'étude", ("conclusion", "conclusion_on", "summary")),
    ),
    "association": (
        ("Identification", ("name", "declared_on", "rna", "siret")),
        ("Siège", ("address",)),
    ),
}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    widget: str  # text | email | password | textarea | date | number | checkbox | checkboxes | select | lines
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    hint: str | None = None
    min: int | None = None
    max: int | None = None
    default: str = ""
    autocomplete: str | None = None
    datalist: str | None = None  # id of a <datalist> of suggestions on the page
    blank: str | None = None  # a select's empty choice ("— Choisir —"), None when a value is always set

    @property
    def id(self) -> str:
        return f"f-{self.name.replace('_', '-')}"

    @property
    def error_id(self) -> str:
        return f"{self.id}-erreur"

    @property
    def hint_id(self) -> str:
        return f"{self.id}-aide"


@dataclass
class Group:
    legend: str
    fields: list[Field]


@dataclass
class FormState:
    """What a form shows: its fields (in groups), the values as entered, and the errors."""

    groups: list[Group]
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[Field]:
        return [f for g in self.groups for f in g.fields]

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.general)

    def summary(self) -> list[tuple[str | None, str]]:
        """(anchor or None, text) for the error summary at the top of the page, in the fields' order."""
        out: list[tuple[str | None, str]] = [(None, msg) for msg in self.general]
        known = {f.name for f in self.fields}
        out += [(f"#{f.id}", f"{f.label} : {self.errors[f.name]}") for f in self.fields if f.name in self.errors]
        out += [(None, msg) for name, msg in self.errors.items() if name not in known]
        return out

    def fail(self, name: str | None, message: str) -> None:
        if name and name in {f.name for f in self.fields}:
            self.errors.setdefault(name, message)
        else:
            self.general.append(message)


# --- schema introspection -----------------------------------------------------------------------
@dataclass
class _Shape:
    base: Any
    optional: bool = False
    is_list: bool = False
    max_length: int | None = None
    ge: int | None = None
    le: int | None = None


def _absorb(shape: _Shape, metadata: Any) -> None:
    for meta in metadata:
        if isinstance(meta, StringConstraints):
            shape.max_length = meta.max_length if meta.max_length is not None else shape.max_length
        elif isinstance(meta, FieldInfo):
            _absorb(shape, meta.metadata)
        else:
            if getattr(meta, "ge", None) is not None:
                shape.ge = meta.ge
            if getattr(meta, "le", None) is not None:
                shape.le = meta.le


def shape_of(info: FieldInfo) -> _Shape:
    shape = _Shape(info.annotation)
    _absorb(shape, info.metadata)
    t = info.annotation
    while True:
        origin = get_origin(t)
        if origin is Annotated:
            args = get_args(t)
            t = args[0]
            if not shape.is_list:
                _absorb(shape, args[1:])
        elif origin in (Union, types.UnionType):
            present = [a for a in get_args(t) if a is not type(None)]
            shape.optional = shape.optional or len(present) < len(get_args(t))
            t = present[0]
        elif origin is list:
            shape.is_list = True
            t = get_args(t)[0]
        else:
            break
    shape.base = t
    return shape


def enum_options(enum: type[Enum]) -> tuple[tuple[str, str], ...]:
    labels = ENUM_LABELS.get(enum, {})
    return tuple((member.value, labels.get(member, member.value)) for member in enum)


def fields_of(
    schema: type[BaseModel],
    *,
    kind: str = "",
    choices: dict[str, tuple[tuple[str, str], ...]] | None = None,
    labels: dict[str, str] | None = None,
    hints: dict[str, str] | None = None,
) -> list[Field]:
    """One Field per schema field, its widget decided by the field's type."""
    out = []
    for name, info in schema.model_fields.items():
        shape = shape_of(info)
        label = (labels or {}).get(name) or KIND_FIELD_LABELS.get(kind, {}).get(name) or FIELD_LABELS.get(name, name)
        hint = (hints or {}).get(name, FIELD_HINTS.get(name))
        default = info.default if info.default is not None and not info.is_required() else None
        base = shape.base
        options: tuple[tuple[str, str], ...] = ()
        lo = hi = None
        if choices and name in choices:
            widget, options = "select", choices[name]
        elif shape.is_list:
            widget = "lines"
        elif base is bool:
            widget = "checkbox"
        elif base is date:
            widget = "date"
        elif isinstance(base, type) and issubclass(base, Enum):
            widget, options = "select", enum_options(base)
        elif base is int:
            widget, lo, hi = "number", shape.ge, shape.le
        elif name == "email":
            widget = "email"
        elif name == "password":
            widget = "password"
        elif shape.max_length is None or shape.max_length >= LONG_TEXT:
            widget = "textarea"
        else:
            widget = "text"
        blank = None
        if widget == "select":
            if info.is_required():
                blank = "— Choisir —"
            elif shape.optional:
                blank = "— Non renseigné —"
        out.append(
            Field(
                name,
                label,
                widget,
                required=info.is_required(),
                options=options,
                hint=hint,
                min=lo,
                max=hi,
                default=_shown(default),
                blank=blank,
            )
        )
    return out


def grouped(kind: str, fields: list[Field], legend: str) -> list[Group]:
    by_name = {f.name: f for f in fields}
    groups = [Group(title, [by_name[n] for n in names if n in by_name]) for title, names in GROUPS.get(kind, ())]
    groups = [g for g in groups if g.fields]
    placed = {f.name for g in groups for f in g.fields}
    rest = [f for f in fields if f.name not in placed]
    if rest and groups:
        groups.append(Group("Autres informations", rest))
    elif rest:
        groups.append(Group(legend, rest))
    return groups


# --- values ----------------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    """A stored value as a form control shows it."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    return str(value)


def values_from(row: Any, fields: list[Field]) -> dict[str, str]:
    return {f.name: _shown(getattr(row, f.name, None)) for f in fields}


def defaults(fields: list[Field]) -> dict[str, str]:
    return {f.name: f.default for f in fields}


_FR_DATE = re.compile(r"^ *([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4}) *$", re.ASCII)
_SPACES = re.compile(r"[ \u00a0\u202f]")  # 420 000 (not tabs or line breaks: those are refused)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# What a form field may carry around its value (str.strip() would also drop control characters,
# U+001C–U+001F and U+0085, that the schemas must see to refuse).
BLANKS = " \t\r\n\u00a0\u202f"


def form_int(value: object, *, max_digits: int = 18) -> int | None:
    """A whole number typed in a form or a query string: ASCII digits only, bounded length (the shared
    strict parser, app.core.inputs.ascii_int); None for anything else."""
    return ascii_int(value.strip(BLANKS) if isinstance(value, str) else value, max_digits=max_digits)


def form_version(value: object) -> int | None:
    """The project version a page's form was built from (its hidden `version` field): None when absent
    or unreadable (no check), else what the service compares with the project's version (412)."""
    return form_int(value, max_digits=12) if isinstance(value, str) and value else None


_WHOLE_NUMBER = re.compile(r"-?[0-9]+", re.ASCII)
NOT_A_WHOLE_NUMBER = "Saisissez un nombre entier, sans décimale."


def early_errors(fields: list[Field], form: FormData) -> dict[str, str]:
    """What the form's text alone refuses, before any schema sees it, as French messages by field:
    a control character (any, CR and LF included, in a single-line field; any but tab, CR and LF in a
    multi-line one), and a number field that is not ASCII digits (`²`, Arabic-Indic digits, `1_000` or
    `12.0`, which the schema's lax parsing would read or choke on)."""
    errors: dict[str, str] = {}
    for f in fields:
        raw = form.get(f.name)
        if not isinstance(raw, str):
            continue
        multi_line = f.widget in ("textarea", "lines")
        text = _LINE_BREAK.sub("", raw).replace("\t", "") if multi_line else raw
        if has_control(text):
            errors[f.name] = CONTROL_IN_TEXT if multi_line else CONTROL_MESSAGE
        elif f.widget == "number" and text.strip() and not _WHOLE_NUMBER.fullmatch(_SPACES.sub("", text.strip())):
            errors[f.name] = NOT_A_WHOLE_NUMBER
    return errors


CONTROL_IN_TEXT = "Caractère interdit : ce texte contient un caractère de contrôle (invisible)."


def parse(fields: list[Field], form: FormData, *, partial: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """(data for the schema, values to show again). An empty field is left out (the schema's default
    applies, or "missing" when required); when `partial` (a change), an empty field is sent as null."""
    data: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for f in fields:
        raw = form.get(f.name)
        text = raw if isinstance(raw, str) else ""
        if f.widget == "checkbox":
            data[f.name] = raw is not None
            shown[f.name] = "1" if raw is not None else ""
            continue
        shown[f.name] = text
        if f.widget == "lines":
            items = [line.strip(BLANKS) for line in _LINE_BREAK.split(text) if line.strip(BLANKS)]
            if items:
                data[f.name] = items
            elif partial:
                data[f.name] = None
            continue
        if not text.strip(BLANKS):
            if partial:
                data[f.name] = None
            continue
        if f.widget == "date" and (m := _FR_DATE.match(text)):  # 26/11/2026, where no date picker exists
            text = f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
        elif f.widget == "number":
            text = _SPACES.sub("", text.strip(BLANKS))  # 420 000
        elif f.widget != "textarea":
            text = text.strip(BLANKS)
        data[f.name] = text
    return data, shown


# --- errors in French: app.core.messages.translate (the table shared with the API) ---------------
def field_of(loc: tuple[Any, ...], aliases: dict[str, str] | None = None) -> tuple[str, str]:
    """(form field name, prefix for the message) from a pydantic error location."""
    parts = [p for p in loc if p not in ("body",)]
    path = ".".join(str(p) for p in parts)
    for pattern, name in (aliases or {}).items():
        if path == pattern or path.startswith(pattern + "."):
            return name, ""
    name = str(parts[0]) if parts else ""
    prefix = f"Ligne {parts[1] + 1} : " if len(parts) > 1 and isinstance(parts[1], int) else ""
    return name, prefix


def record_validation(form: FormState, exc: ValidationError, aliases: dict[str, str] | None = None) -> None:
    for error in exc.errors():
        name, prefix = field_of(tuple(error.get("loc", ())), aliases)
        form.fail(name, prefix + translate(error))
