"""The kinds of document a project keeps (DOMAIN.md, "Working together") and which ones each step expects.

Expected documents are advice, never a guard: the pages show what is missing, the workflow ignores it."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.vocabulary import State

KINDS: dict[str, str] = {
    "rapport_faisabilite": "Rapport de l'étude de faisabilité",
    "compte_rendu_validation": "Compte rendu de la réunion de validation",
    "deliberation": "Délibération d'une collectivité ou d'un bailleur",
    "statuts": "Statuts de l'association",
    "recepisse_rna": "Récépissé de déclaration (RNA)",
    "rapport_expertise": "Rapport d'expertise",
    "autre": "Autre pièce",
}

# Uploaded (first version or a new one) only by a Mouvement consultant, like the expertise itself.
CONSULTANT_KINDS = frozenset({"rapport_expertise"})


@dataclass(frozen=True)
class Expected:
    step: State
    kind: str
    evidence_kind: str | None  # the evidence it is usually attached to (app.evidence.registry.KINDS)


EXPECTED: tuple[Expected, ...] = (
    Expected(State.FAISABILITE, "rapport_faisabilite", "feasibility"),
    Expected(State.VALIDATION, "compte_rendu_validation", None),
    Expected(State.VALIDATION, "deliberation", "approvals"),
    Expected(State.PREFIGURATION, "statuts", "association"),
    Expected(State.PREFIGURATION, "recepisse_rna", "association"),
    Expected(State.EXPERTISE, "rapport_expertise", "expertises"),
)

STEP_OF_KIND: dict[str, State] = {e.kind: e.step for e in EXPECTED}


# A content type is recognised from the file's first bytes (app.documents.detect), never from its
# name or the client's Content-Type; these are the ones accepted, with the extension a download gets.
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/tiff": "tif",
    "image/heic": "heic",
    "image/avif": "avif",
    "text/plain": "txt",
}
