"""A project's history in words (the project page): who did it by their real name, what changed
("Ajout : Groupe projet — Nolwenn Riou (Mouvement des Régies) — pilote (AMO)", "Charges annuelles :
420 000 € → 450 000 €"), every event type in French, filtered by kind.

Reads only what the page shows: the names behind the page's actors in one statement each for users and
keys, and the project's earlier evidence events only when the page holds a change or a removal whose
"before" they give."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import ApiKey, User
from app.evidence.registry import KINDS, summary_of
from app.projects.models import Event
from app.web import forms, wording
from workflow.vocabulary import (
    KIND_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
    STEPS,
    TRIGGER_LABELS,
    Conventionnement,
    Initiator,
    State,
    Status,
    Trigger,
)

# The French name of every event type the code writes (tests/web/test_history.py walks them all:
# app.webhooks.service.EVENT_TYPES and every literal given to record_change). Other concepts add theirs
# here (app/opinions/pages.py does, through app.projects.pages.EVENT_TYPES, the same dict).
EVENT_TYPES: dict[str, str] = {
    "project.created": "Projet créé",
    "project.updated": "Fiche du projet modifiée",
    "project.transitioned": "Transition",
    "plan.changed": "Planning révisé",
    "evidence.created": "Élément ajouté",
    "evidence.updated": "Élément modifié",
    "evidence.deleted": "Élément retiré",
    "deadline.status_changed": "Statut des délais changé",
    "document.created": "Pièce déposée",
    "document.version_added": "Nouvelle version d'une pièce",
    "document.updated": "Pièce renommée",
    "document.deleted": "Pièce retirée",
}


# The history's filters: a kind of event → the types it covers (a prefix ends with a dot).
FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "etapes": ("Étapes et suspensions", ("project.transitioned",)),
    "dossier": ("Dossier (éléments)", ("evidence.",)),
    "pieces": ("Pièces", ("document.",)),
    "fiche": ("Fiche et planning", ("project.created", "project.updated", "plan.changed")),
    "delais": ("Délais", ("deadline.",)),
    "echanges": ("Avis et messages", ("opinion.", "message.")),
}


PROJECT_FIELDS = {
    "name": "Nom",
    "kind": "Type",
    "region": "Région",
    "departement": "Département",
    "initiator": "À l'initiative de",
    "conventionnement": "Conventionnement",
    "lead_name": "Porteur",
    "description": "Description",
}
INITIATOR_LABELS = {
    Initiator.HABITANTS: "Des habitants",
    Initiator.BAILLEUR: "Un bailleur social",
    Initiator.COLLECTIVITE: "Une collectivité",
}
CONVENTIONNEMENT_LABELS = {
    Conventionnement.AUCUN: "Aucun pour l'instant",
    Conventionnement.ACI: "ACI",
    Conventionnement.EI: "EI",
    Conventionnement.ACI_EI: "ACI et EI",
}
PROJECT_VALUE_LABELS: dict[str, dict[str, str]] = {
    "kind": {k.value: label for k, label in KIND_LABELS.items()},
    "initiator": {k.value: label for k, label in INITIATOR_LABELS.items()},
    "conventionnement": {k.value: label for k, label in CONVENTIONNEMENT_LABELS.items()},
}
AMOUNTS = frozenset({"annual_charges", "market_income", "non_market_income", "annual_amount"})
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ENUM_VALUE_LABELS: dict[str, str] = {
    str(getattr(member, "value", member)): label
    for labels in forms.ENUM_LABELS.values()
    for member, label in labels.items()
}


def actor_names(session: Session, actors: Iterable[str | None]) -> dict[str, str]:
    """The people and keys behind the actors ("user:<email>", "key:<prefix>", "system:<name>", and
    "lien:avis-<id>": a stakeholder who answered through an opinion request's link)."""
    wanted: set[str] = {a for a in actors if a}
    emails = [a.partition(":")[2] for a in wanted if a.startswith("user:")]
    prefixes = [a.partition(":")[2] for a in wanted if a.startswith("key:")]
    links = {
        int(ident[5:])
        for a in wanted
        for kind, _, ident in [a.partition(":")]
        if kind == "lien"
        and ident.startswith("avis-")
        and ident[5:].isascii()
        and ident[5:].isdigit()
        and len(ident) < 25
    }
    names: dict[str, str] = {}
    if links:
        from app.opinions.models import OpinionRequest

        rows = session.execute(
            select(OpinionRequest.id, OpinionRequest.stakeholder_name).where(OpinionRequest.id.in_(links))
        )
        for request_id, stakeholder in rows:
            names[f"lien:avis-{request_id}"] = f"{stakeholder} (par le lien de demande d'avis)"
    if emails:
        for email, name in session.execute(select(User.email, User.name).where(User.email.in_(emails))):
            names[f"user:{email}"] = name
    if prefixes:
        for prefix, name in session.execute(select(ApiKey.prefix, ApiKey.name).where(ApiKey.prefix.in_(prefixes))):
            names[f"key:{prefix}"] = f"Clé d'API « {name} »"
    for a in wanted:
        if a in names:
            continue
        kind, _, ident = a.partition(":")
        if kind == "system":
            names[a] = "regieflow (démonstration)" if ident == "demo" else "regieflow (automatique)"
        elif kind == "user":
            names[a] = ident  # a user since removed: their e-mail is all there is
        elif kind == "key":
            names[a] = f"Clé d'API {ident} (révoquée ou supprimée)"
        elif kind == "lien":
            names[a] = "Partie prenante (par un lien de demande d'avis)"
        else:
            names[a] = "Anonyme"
    return names


def value_fr(field: str, value: Any) -> str:
    """A recorded value as a person reads it: amounts in euros, dates in French, choices by their label."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if field in AMOUNTS and isinstance(value, int | float):
        return f"{value:,.0f} €".replace(",", "\u202f")
    if isinstance(value, str) and ISO_DAY.match(value):
        try:
            return wording.date_fr(date.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(value_fr(field, v) for v in value)
    if isinstance(value, str):
        return ENUM_VALUE_LABELS.get(value, value)
    return str(value)


def field_fr(kind: str, field: str) -> str:
    label = forms.KIND_FIELD_LABELS.get(kind, {}).get(field) or forms.FIELD_LABELS.get(field) or field
    return label.replace(" (en euros)", "")


class _Row:
    """An evidence row rebuilt from its events' values, for its one-line summary (absent fields: None;
    what the row computes from the reference data, a commune's standing, is not the history's to say)."""

    official = True
    outside_territory = False

    def __init__(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            if isinstance(v, str) and ISO_DAY.match(v):
                with contextlib.suppress(ValueError):
                    v = date.fromisoformat(v)
            setattr(self, k, v)

    def __getattr__(self, name: str) -> Any:
        return None


def _summary(kind_name: str, values: dict[str, Any], names: dict[int, str]) -> str:
    kind = KINDS.get(kind_name)
    if kind is None:
        return ""
    try:
        return summary_of(kind, _Row(values), names)
    except (AttributeError, KeyError, TypeError, ValueError):
        return str(values.get("name") or values.get("label") or "")


@dataclass(frozen=True)
class HistoryRow:
    seq: int
    type: str
    what: str
    detail: str
    changes: tuple[str, ...]
    effective_on: date | None
    recorded_on: date
    actor: str
    reason: str | None


def needs_earlier(events: Sequence[Event]) -> bool:
    """Whether the page's events need the project's earlier evidence events (their "before")."""
    return any(e.type in ("evidence.updated", "evidence.deleted") for e in events)


def rows(
    events: Sequence[Event],
    actors: dict[str, str],
    earlier: Sequence[Event] = (),
    stakeholders: dict[int, str] | None = None,
    *,
    tz: tzinfo = UTC,
) -> list[HistoryRow]:
    """The page's events in words, newest first as given. `earlier`: the project's evidence events up to
    the page's oldest change (for "old → new"). `tz`: where a recording instant's day is read."""
    names = stakeholders or {}
    before: dict[int, dict[tuple[str, Any], dict[str, Any]]] = {}
    if earlier:
        ordered = sorted(earlier, key=lambda e: e.seq)
        running: dict[tuple[str, Any], dict[str, Any]] = {}
        for e in ordered:
            data = e.data if isinstance(e.data, dict) else {}
            key = (str(data.get("kind")), data.get("id"))
            before[e.seq] = {key: dict(running.get(key, {}))}
            if e.type in ("evidence.created", "evidence.updated"):
                running.setdefault(key, {}).update(data.get("values") or {})
    out = []
    for e in events:
        what, detail, changes = describe(e, before.get(e.seq, {}), names)
        out.append(
            HistoryRow(
                e.seq,
                e.type,
                what,
                detail,
                tuple(changes),
                e.effective_on,
                wording.local_day(e.recorded_at, tz),
                actors.get(e.actor or "", e.actor or "—"),
                e.reason,
            )
        )
    return out


def _enum(enum: Any, value: Any) -> Any:
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def describe(
    e: Event, before: dict[tuple[str, Any], dict[str, Any]], names: dict[int, str]
) -> tuple[str, str, list[str]]:
    """(what happened, a detail, the changes one by one) for one event."""
    data = e.data if isinstance(e.data, dict) else {}
    what = EVENT_TYPES.get(e.type, e.type)
    if e.type == "project.transitioned" and e.trigger:
        t = _enum(Trigger, e.trigger)
        src, dst = _enum(State, e.from_state), _enum(State, e.to_state)
        detail = f"{STATE_LABELS[src]} → {STATE_LABELS[dst]}" if src and dst and src != dst else ""
        return (TRIGGER_LABELS[t] if t else e.trigger), detail, []
    if e.type == "project.created":
        return what, STATE_LABELS[State.GROUPE_PROJET], []
    if e.type.startswith("evidence."):
        return _evidence(e.type, data, before, names)
    if e.type == "project.updated":
        pairs = (data.get("changes") or {}).items()
        return (
            what,
            "",
            [
                f"{PROJECT_FIELDS.get(f, f)} : {_project_value(f, pair[0])} → {_project_value(f, pair[1])}"
                for f, pair in pairs
                if isinstance(pair, list) and len(pair) == 2
            ],
        )
    if e.type == "plan.changed":
        return what, "", _plan_changes(data.get("before") or {}, data.get("after") or {})
    if e.type == "deadline.status_changed":
        return what, "", [f"Statut : {_status(data.get('from'))} → {_status(data.get('to'))}"]
    if e.type.startswith("document."):
        detail = str(data.get("title") or "") + (f" (version {data['version']})" if data.get("version") else "")
        renamed = e.type == "document.updated" and data.get("previous_title")
        return what, detail, [f"Titre : {data.get('previous_title')} → {data.get('title')}"] if renamed else []
    return what, "", []


def _project_value(field: str, value: Any) -> str:
    labels = PROJECT_VALUE_LABELS.get(field, {})
    return labels.get(value, value_fr(field, value)) if isinstance(value, str) else value_fr(field, value)


def _status(value: Any) -> str:
    s = _enum(Status, value)
    return STATUS_LABELS[s] if s else "—"


def _plan_changes(old_plan: dict[str, Any], new_plan: dict[str, Any]) -> list[str]:
    changes = []
    if old_plan.get("horizon_months") != new_plan.get("horizon_months"):
        changes.append(f"Horizon : {old_plan.get('horizon_months')} → {new_plan.get('horizon_months')} mois")
    old_months, new_months = old_plan.get("step_months") or {}, new_plan.get("step_months") or {}
    for st in STEPS:
        if old_months.get(st.value) != new_months.get(st.value):
            changes.append(f"{STATE_LABELS[st]} : {old_months.get(st.value)} → {new_months.get(st.value)} mois")
    return changes


def _evidence(
    type_: str, data: dict[str, Any], before: dict[tuple[str, Any], dict[str, Any]], names: dict[int, str]
) -> tuple[str, str, list[str]]:
    kind_name = str(data.get("kind"))
    kind = KINDS.get(kind_name)
    label = kind.label if kind else kind_name
    values = data.get("values") or {}
    old = before.get((kind_name, data.get("id")), {})
    if type_ == "evidence.created":
        return f"Ajout : {label}", _summary(kind_name, values, names), []
    if type_ == "evidence.deleted":
        return f"Retrait : {label}", (_summary(kind_name, old, names) if old else ""), []
    changes = []
    for field, new in values.items():
        name = field_fr(kind_name, field)
        if field in old and old[field] != new:
            changes.append(f"{name} : {value_fr(field, old[field])} → {value_fr(field, new)}")
        elif field not in old:
            changes.append(f"{name} : {value_fr(field, new)}")
    return f"Modification : {label}", (_summary(kind_name, old | values, names) if old else ""), changes
