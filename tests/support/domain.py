"""The workflow as DOMAIN.md states it, written down once for the tests: states, triggers and guard
codes. It shares no code with workflow/ (only the strings), so a test comparing the two catches a
drift of either."""

from __future__ import annotations

STEPS = ["groupe_projet", "contours", "faisabilite", "validation", "prefiguration", "expertise"]
TERMINALS = {"labellisee", "abandonnee"}
FORWARD = {
    "definir_contours": ("groupe_projet", "contours"),
    "lancer_faisabilite": ("contours", "faisabilite"),
    "soumettre_validation": ("faisabilite", "validation"),
    "lancer_prefiguration": ("validation", "prefiguration"),
    "demander_expertise": ("prefiguration", "expertise"),
    "labelliser": ("expertise", "labellisee"),
}
BACKWARD = {
    "reprendre_contours": ("faisabilite", "contours"),
    "reprendre_faisabilite": ("validation", "faisabilite"),
    "ajourner_label": ("expertise", "prefiguration"),
}
PAUSE = {"abandonner", "suspendre", "reprendre"}
TRIGGERS = [*FORWARD, *BACKWARD, *sorted(PAUSE)]
NEEDS_REASON = set(BACKWARD) | PAUSE
GUARDS = {
    "definir_contours": ["pilote_mouvement", "groupe_habitants", "groupe_collectivite", "groupe_bailleur"],
    "lancer_faisabilite": ["territoire_defini", "besoins_identifies", "activites_prioritaires"],
    "soumettre_validation": [
        "besoins_valides",
        "modele_economique",
        "budget_equilibre",
        "locaux_identifies",
        "marches_mobilisables",
        "visite_terrain",
        "conclusion_favorable",
    ],
    "lancer_prefiguration": [
        "avis_habitants",
        "avis_collectivite",
        "avis_bailleur",
        "avis_partenaire",
        "aucun_avis_defavorable",
    ],
    "demander_expertise": ["association_declaree", "gouvernance_triptyque", "recrutement", "reserves_levees"],
    "labelliser": ["expertise_sur_site", "grille_expertise_complete", "avis_expertise_favorable"],
}
STATES = [*STEPS, "labellisee", "abandonnee"]
