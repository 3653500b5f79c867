"""Domain refusals. app/ maps each class to one HTTP status in a single place."""

from __future__ import annotations

from workflow.guards import Unmet


class DomainError(Exception):
    """Base of every refusal the domain can give. `code` is stable, `message` is French."""

    code = "refus"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownTrigger(DomainError):
    code = "declencheur_inconnu"


class TriggerNotAllowed(DomainError):
    """The trigger exists but not from the project's current state."""

    code = "transition_impossible"


class GuardsUnmet(DomainError):
    code = "conditions_non_remplies"

    def __init__(self, trigger: str, unmet: list[Unmet]) -> None:
        super().__init__(f"Conditions non remplies pour « {trigger} » : " + " ; ".join(u.message for u in unmet))
        self.trigger = trigger
        self.unmet = unmet


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a domain rule (dates, reasons, identifiers)."""

    code = "donnee_invalide"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ReasonRequired(InvalidInput):
    code = "motif_requis"


class EffectiveDateInvalid(InvalidInput):
    code = "date_effet_invalide"


class ProjectClosed(DomainError):
    """The project is labelled or abandoned: its record is frozen."""

    code = "projet_clos"
