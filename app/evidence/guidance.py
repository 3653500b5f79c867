"""What a project lead must do next: each guard code points to the evidence form that satisfies it.

The forms live at /projets/{id}/preuves/{kind}, `kind` being a name of app.evidence.KINDS.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.evidence.registry import CONSULTANT_ONLY_KINDS, KINDS
from app.transitions.schemas import TransitionsRead
from workflow.machine import FORWARD_GUARDS
from workflow.vocabulary import STATE_LABELS, STEPS, State, Trigger

GUARD_KINDS: dict[str, tuple[str, ...]] = {
    "pilote_mouvement": ("stakeholders",),
    "groupe_habitants": ("stakeholders",),
    "groupe_collectivite": ("stakeholders",),
    "groupe_bailleur": ("stakeholders",),
    "territoire_defini": ("communes", "qpvs"),
    "besoins_identifies": ("needs",),
    "activites_prioritaires": ("activities",),
    "besoins_valides": ("needs",),
    "modele_economique": ("feasibility",),
    "budget_equilibre": ("feasibility",),
    "locaux_identifies": ("feasibility",),
    "marches_mobilisables": ("markets",),
    "visite_terrain": ("site-visits",),
    "conclusion_favorable": ("feasibility",),
    "avis_habitants": ("approvals",),
    "avis_collectivite": ("approvals",),
    "avis_bailleur": ("approvals",),
    "avis_partenaire": ("approvals",),
    "aucun_avis_defavorable": ("approvals",),
    "association_declaree": ("association",),
    "gouvernance_triptyque": ("board-members",),
    "recrutement": ("hires",),
    "reserves_levees": ("reservations",),
    "expertise_sur_site": ("expertises",),
    "grille_expertise_complete": ("expertise-assessments",),
    "avis_expertise_favorable": ("expertises",),
}

# Where a guard's forms differ with the project's kind: a Régie de Territoire's territory is its
# communes (at least two), it records no QPV (workflow.guards._territory).
GUARD_KINDS_BY_PROJECT_KIND: dict[tuple[str, str], tuple[str, ...]] = {
    ("regie_de_territoire", "territoire_defini"): ("communes",),
}


def guard_kinds(code: str, project_kind: str | None = None) -> tuple[str, ...]:
    """The evidence forms that satisfy a guard, for a project of this kind."""
    return GUARD_KINDS_BY_PROJECT_KIND.get((project_kind or "", code), GUARD_KINDS.get(code, ()))


# The evidence kinds each step gathers, in the order the pages list them.
STEP_KINDS: dict[State, tuple[str, ...]] = {
    State.GROUPE_PROJET: ("stakeholders",),
    State.CONTOURS: ("communes", "qpvs", "needs", "activities", "self-assessments"),
    State.FAISABILITE: ("needs", "feasibility", "markets", "site-visits", "self-assessments"),
    State.VALIDATION: ("approvals", "self-assessments"),
    State.PREFIGURATION: ("association", "board-members", "hires", "reservations", "self-assessments"),
    State.EXPERTISE: ("expertises", "expertise-assessments", "reservations", "self-assessments"),
}


FORWARD_TRIGGER: dict[State, Trigger] = {
    State.GROUPE_PROJET: Trigger.DEFINIR_CONTOURS,
    State.CONTOURS: Trigger.LANCER_FAISABILITE,
    State.FAISABILITE: Trigger.SOUMETTRE_VALIDATION,
    State.VALIDATION: Trigger.LANCER_PREFIGURATION,
    State.PREFIGURATION: Trigger.DEMANDER_EXPERTISE,
    State.EXPERTISE: Trigger.LABELLISER,
}


def evidence_url(project_id: object, kind: str) -> str:
    return f"/projets/{project_id}/preuves/{kind}"


@dataclass(frozen=True)
class Link:
    kind: str
    label: str
    url: str
    consultant_only: bool = False  # only a Mouvement consultant records it (the expertise and its grid)


@dataclass(frozen=True)
class Missing:
    code: str
    message: str
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Checklist:
    trigger: Trigger
    trigger_label: str
    next_label: str
    total: int  # guards of the forward trigger (evidence guards only)
    missing: tuple[Missing, ...]

    @property
    def done(self) -> int:
        return self.total - len([m for m in self.missing if m.code in GUARD_KINDS])


def checklist(
    project_id: object, state: State, transitions: TransitionsRead, project_kind: str | None = None
) -> Checklist | None:
    """What is missing for the current step's forward trigger (None for a closed project), each item with
    the forms that satisfy it for a project of `project_kind`."""
    trigger = FORWARD_TRIGGER.get(state)
    if trigger is None:
        return None
    view = next((t for t in transitions.triggers if t.trigger == trigger), None)
    if view is None:
        return None
    missing = tuple(
        Missing(
            u.code,
            u.message,
            tuple(
                Link(k, KINDS[k].label, evidence_url(project_id, k), k in CONSULTANT_ONLY_KINDS)
                for k in guard_kinds(u.code, project_kind)
            ),
        )
        for u in view.unmet
    )
    return Checklist(trigger, view.label, STATE_LABELS[view.to_state], len(FORWARD_GUARDS[trigger]), missing)


def step_number(state: State) -> int | None:
    return STEPS.index(state) + 1 if state in STEPS else None


# "Comment faire ?": what a project group does in each step, in plain French (the glossary, /aide,
# explains the acronyms; each checklist item links to it).
HOW_TO: dict[State, str] = {
    State.GROUPE_PROJET: (
        "Réunissez des habitants, la collectivité et un bailleur social autour du projet, et demandez au "
        "Mouvement des Régies un consultant qui pilotera le groupe comme assistant à maîtrise d'ouvrage (AMO). "
        "Inscrivez chacun dans « Parties prenantes »."
    ),
    State.CONTOURS: (
        "Décrivez le territoire : les communes (par leur code INSEE) et, pour une Régie de Quartier, les "
        "quartiers prioritaires (QPV). Notez les besoins des habitants et les activités que la régie "
        "pourrait mener en priorité."
    ),
    State.FAISABILITE: (
        "Menez l'étude de faisabilité : confirmez ou écartez chaque besoin, établissez un budget équilibré, "
        "trouvez des locaux, repérez les marchés que la collectivité ou le bailleur pourraient confier à la "
        "régie, visitez une régie existante, puis concluez l'étude."
    ),
    State.VALIDATION: (
        "Présentez le projet aux habitants, à la collectivité, au bailleur et aux partenaires "
        "socio-économiques, et enregistrez l'avis favorable de chacun."
    ),
    State.PREFIGURATION: (
        "Déclarez l'association en préfecture (numéro RNA), composez son conseil d'administration avec les "
        "trois collèges (habitants, collectivité, bailleur) et recrutez une personne pour lancer le projet."
    ),
    State.EXPERTISE: (
        "Le Mouvement des Régies conduit une expertise sur site et évalue les cinq conditions de réussite ; "
        "seul un consultant du Mouvement attribue ou ajourne le label."
    ),
}


def how_to(state: State) -> str:
    return HOW_TO.get(state, "")
