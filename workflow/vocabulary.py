"""Stable identifiers shared by the API, the database and the tests (see DOMAIN.md)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class State(StrEnum):
    GROUPE_PROJET = "groupe_projet"
    CONTOURS = "contours"
    FAISABILITE = "faisabilite"
    VALIDATION = "validation"
    PREFIGURATION = "prefiguration"
    EXPERTISE = "expertise"
    LABELLISEE = "labellisee"
    ABANDONNEE = "abandonnee"


STEPS: tuple[State, ...] = (
    State.GROUPE_PROJET,
    State.CONTOURS,
    State.FAISABILITE,
    State.VALIDATION,
    State.PREFIGURATION,
    State.EXPERTISE,
)
TERMINAL: frozenset[State] = frozenset({State.LABELLISEE, State.ABANDONNEE})

STATE_LABELS: dict[State, str] = {
    State.GROUPE_PROJET: "Constitution du groupe projet",
    State.CONTOURS: "Définition des contours du projet",
    State.FAISABILITE: "Étude de faisabilité",
    State.VALIDATION: "Validation par les acteurs du territoire",
    State.PREFIGURATION: "Structure de préfiguration",
    State.EXPERTISE: "Expertise et labellisation",
    State.LABELLISEE: "Régie labellisée",
    State.ABANDONNEE: "Projet abandonné",
}


class Trigger(StrEnum):
    DEFINIR_CONTOURS = "definir_contours"
    LANCER_FAISABILITE = "lancer_faisabilite"
    SOUMETTRE_VALIDATION = "soumettre_validation"
    LANCER_PREFIGURATION = "lancer_prefiguration"
    DEMANDER_EXPERTISE = "demander_expertise"
    LABELLISER = "labelliser"
    REPRENDRE_CONTOURS = "reprendre_contours"
    REPRENDRE_FAISABILITE = "reprendre_faisabilite"
    AJOURNER_LABEL = "ajourner_label"
    ABANDONNER = "abandonner"
    SUSPENDRE = "suspendre"
    REPRENDRE = "reprendre"


TRIGGER_LABELS: dict[Trigger, str] = {
    Trigger.DEFINIR_CONTOURS: "Passer à la définition des contours",
    Trigger.LANCER_FAISABILITE: "Lancer l'étude de faisabilité",
    Trigger.SOUMETTRE_VALIDATION: "Soumettre le projet à la validation des acteurs",
    Trigger.LANCER_PREFIGURATION: "Lancer la structure de préfiguration",
    Trigger.DEMANDER_EXPERTISE: "Demander l'expertise du Mouvement",
    Trigger.LABELLISER: "Attribuer le label",
    Trigger.REPRENDRE_CONTOURS: "Reprendre les contours du projet",
    Trigger.REPRENDRE_FAISABILITE: "Reprendre l'étude de faisabilité",
    Trigger.AJOURNER_LABEL: "Ajourner le label",
    Trigger.ABANDONNER: "Abandonner le projet",
    Trigger.SUSPENDRE: "Suspendre le projet",
    Trigger.REPRENDRE: "Reprendre le projet suspendu",
}

# Triggers whose use must be explained (DOMAIN.md: backward moves, abandon, pause and resume).
REASON_REQUIRED: frozenset[Trigger] = frozenset(
    {
        Trigger.REPRENDRE_CONTOURS,
        Trigger.REPRENDRE_FAISABILITE,
        Trigger.AJOURNER_LABEL,
        Trigger.ABANDONNER,
        Trigger.SUSPENDRE,
        Trigger.REPRENDRE,
    }
)

# Only a consultant of the Mouvement may fire these (enforced by access control in app/).
CONSULTANT_ONLY: frozenset[Trigger] = frozenset({Trigger.LABELLISER, Trigger.AJOURNER_LABEL})

DEFAULT_STEP_MONTHS: dict[State, int] = {
    State.GROUPE_PROJET: 3,
    State.CONTOURS: 4,
    State.FAISABILITE: 8,
    State.VALIDATION: 3,
    State.PREFIGURATION: 12,
    State.EXPERTISE: 6,
}
DEFAULT_HORIZON_MONTHS = 36


class Kind(StrEnum):
    REGIE_DE_QUARTIER = "regie_de_quartier"
    REGIE_DE_TERRITOIRE = "regie_de_territoire"


KIND_LABELS = {Kind.REGIE_DE_QUARTIER: "Régie de Quartier", Kind.REGIE_DE_TERRITOIRE: "Régie de Territoire"}


class Initiator(StrEnum):
    HABITANTS = "habitants"
    BAILLEUR = "bailleur"
    COLLECTIVITE = "collectivite"


class Conventionnement(StrEnum):
    AUCUN = "aucun"
    ACI = "aci"
    EI = "ei"
    ACI_EI = "aci_ei"


class Category(StrEnum):
    HABITANT = "habitant"
    COLLECTIVITE = "collectivite"
    BAILLEUR_SOCIAL = "bailleur_social"
    PARTENAIRE_SOCIO_ECONOMIQUE = "partenaire_socio_economique"
    MOUVEMENT = "mouvement"


CATEGORY_LABELS = {
    Category.HABITANT: "Habitant",
    Category.COLLECTIVITE: "Collectivité",
    Category.BAILLEUR_SOCIAL: "Bailleur social",
    Category.PARTENAIRE_SOCIO_ECONOMIQUE: "Partenaire socio-économique",
    Category.MOUVEMENT: "Mouvement des Régies",
}
TRIPTYQUE: frozenset[Category] = frozenset({Category.HABITANT, Category.COLLECTIVITE, Category.BAILLEUR_SOCIAL})


class NeedStatus(StrEnum):
    A_ETUDIER = "a_etudier"
    CONFIRME = "confirme"
    ECARTE = "ecarte"


NEED_STATUS_LABELS = {
    NeedStatus.A_ETUDIER: "À étudier",
    NeedStatus.CONFIRME: "Confirmé par l'étude",
    NeedStatus.ECARTE: "Écarté par l'étude",
}


class Verdict(StrEnum):
    FAVORABLE = "favorable"
    DEFAVORABLE = "defavorable"


VERDICT_LABELS = {Verdict.FAVORABLE: "Favorable", Verdict.DEFAVORABLE: "Défavorable"}


class ExpertiseConclusion(StrEnum):
    FAVORABLE = "favorable"
    RESERVES = "reserves"
    DEFAVORABLE = "defavorable"


EXPERTISE_CONCLUSION_LABELS = {
    ExpertiseConclusion.FAVORABLE: "Favorable",
    ExpertiseConclusion.RESERVES: "Avec réserves",
    ExpertiseConclusion.DEFAVORABLE: "Défavorable",
}


class BuyerCategory(StrEnum):
    COLLECTIVITE = "collectivite"
    BAILLEUR_SOCIAL = "bailleur_social"


BUYER_CATEGORY_LABELS = {BuyerCategory.COLLECTIVITE: "Collectivité", BuyerCategory.BAILLEUR_SOCIAL: "Bailleur social"}


class Status(StrEnum):
    DANS_LES_TEMPS = "dans_les_temps"
    A_RISQUE = "a_risque"
    EN_RETARD = "en_retard"


STATUS_LABELS = {Status.DANS_LES_TEMPS: "Dans les temps", Status.A_RISQUE: "À risque", Status.EN_RETARD: "En retard"}


class Condition(StrEnum):
    """The label's success conditions (DOMAIN.md, "The label's success conditions (grille)")."""

    ANCRAGE_TERRITORIAL = "ancrage_territorial"
    SERVICES_NOUVEAUX = "services_nouveaux"
    PERENNITE_ECONOMIQUE = "perennite_economique"
    COOPERATION_AUTONOMIE = "cooperation_autonomie"
    IMPLICATION_HABITANTS = "implication_habitants"


CONDITION_LABELS = {
    Condition.ANCRAGE_TERRITORIAL: "Ancrage territorial",
    Condition.SERVICES_NOUVEAUX: "Services nouveaux",
    Condition.PERENNITE_ECONOMIQUE: "Pérennité économique",
    Condition.COOPERATION_AUTONOMIE: "Coopération et autonomie",
    Condition.IMPLICATION_HABITANTS: "Implication des habitants",
}


class SelfLevel(StrEnum):
    """The project group's own reading of a condition."""

    ATTEINT = "atteint"
    EN_COURS = "en_cours"
    NON_ATTEINT = "non_atteint"


SELF_LEVEL_LABELS = {SelfLevel.ATTEINT: "Atteint", SelfLevel.EN_COURS: "En cours", SelfLevel.NON_ATTEINT: "Non atteint"}


class ExpertLevel(StrEnum):
    """The expertise's rating of a condition."""

    ATTEINT = "atteint"
    PARTIEL = "partiel"
    NON_ATTEINT = "non_atteint"


EXPERT_LEVEL_LABELS = {
    ExpertLevel.ATTEINT: "Atteint",
    ExpertLevel.PARTIEL: "Partiel",
    ExpertLevel.NON_ATTEINT: "Non atteint",
}


# --- dates in French words: every message and page says « 1er octobre 2026 », never ISO ------------
MONTHS_FR_LONG = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def date_fr(d: date | None) -> str:
    """ "1er octobre 2026", "26 novembre 2026" (empty for None)."""
    if d is None:
        return ""
    return f"{'1er' if d.day == 1 else d.day} {MONTHS_FR_LONG[d.month - 1]} {d.year}"
