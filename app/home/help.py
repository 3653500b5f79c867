"""Plain French help: the glossary of the words a project group meets (DOMAIN.md, "Glossary").

Each term has a stable anchor (`/aide#qpv`), so a checklist item can point at the word it uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    anchor: str
    term: str
    meaning: str


GLOSSARY: tuple[Term, ...] = (
    Term(
        "aci-ei",
        "ACI / EI",
        "Atelier et chantier d'insertion / entreprise d'insertion : les deux conventionnements que l'État peut "
        "accorder à une régie pour embaucher des personnes éloignées de l'emploi. Ce n'est pas une étape du "
        "parcours.",
    ),
    Term(
        "amo",
        "AMO",
        "Assistance à maîtrise d'ouvrage : le consultant du Mouvement des Régies qui accompagne et pilote le "
        "groupe projet, du début jusqu'au label.",
    ),
    Term(
        "bailleur",
        "Bailleur social",
        "L'organisme qui loue les logements sociaux du quartier (office public, société d'HLM). Il fait partie "
        "du triptyque.",
    ),
    Term(
        "collectivite",
        "Collectivité",
        "La commune, l'intercommunalité (EPCI), le département ou la région. Elle fait partie du triptyque.",
    ),
    Term(
        "insee",
        "Code INSEE",
        "Le code à cinq caractères qui identifie une commune dans le code officiel géographique de l'INSEE "
        "(par exemple 59512 pour Roubaix). Il est différent du code postal.",
    ),
    Term(
        "marche-public",
        "Marché public",
        "Un travail qu'une collectivité ou un bailleur commande et paie (entretien des halls, espaces verts…) : "
        "c'est une part des ressources de la régie.",
    ),
    Term(
        "mouvement",
        "Mouvement des Régies",
        "Le réseau national des Régies de Quartier et de Territoire (anciennement CNLRQ). Lui seul attribue le label.",
    ),
    Term(
        "prefiguration",
        "Préfiguration",
        "La structure provisoire (une association déclarée) qui prépare la régie avant qu'elle ne soit labellisée.",
    ),
    Term(
        "qpv",
        "QPV",
        "Quartier prioritaire de la politique de la ville. Son code commence par QP ou QN, suivi de six "
        "caractères (par exemple QP059036).",
    ),
    Term(
        "rna",
        "RNA",
        "Répertoire national des associations : le numéro donné à l'association lors de sa déclaration en "
        "préfecture, un W suivi de neuf chiffres ou lettres (par exemple W595012345).",
    ),
    Term("siret", "SIRET", "Le numéro à quatorze chiffres d'un établissement (facultatif pour l'association)."),
    Term(
        "triptyque",
        "Triptyque",
        "Les trois partenaires fondateurs d'une régie : les habitants, la collectivité et le bailleur social.",
    ),
)


# The glossary entry each guard's wording leans on (a checklist item links to it).
GUARD_TERMS: dict[str, str] = {
    "pilote_mouvement": "amo",
    "groupe_habitants": "triptyque",
    "groupe_collectivite": "collectivite",
    "groupe_bailleur": "bailleur",
    "territoire_defini": "qpv",
    "marches_mobilisables": "marche-public",
    "avis_collectivite": "collectivite",
    "avis_bailleur": "bailleur",
    "association_declaree": "rna",
    "gouvernance_triptyque": "triptyque",
    "expertise_sur_site": "mouvement",
}


# Where the term differs with the project's kind: a Régie de Territoire's territory is its communes.
GUARD_TERMS_BY_PROJECT_KIND: dict[tuple[str, str], str] = {("regie_de_territoire", "territoire_defini"): "insee"}


def term_url(code: str, project_kind: str | None = None) -> str | None:
    """The glossary anchor a guard's message leans on, if any, for a project of this kind."""
    anchor = GUARD_TERMS_BY_PROJECT_KIND.get((project_kind or "", code), GUARD_TERMS.get(code))
    return f"/aide#{anchor}" if anchor else None
