"""API schemas of the bulk import: the file and its report."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.transitions.schemas import UnmetRead

MAX_PROJECTS = 200


MAX_EVIDENCE = 2000


MAX_TRANSITIONS = 200


class ImportProjectIn(BaseModel):
    """One project of a bulk import; checked project by project (a wrong one is refused in the report)."""

    model_config = ConfigDict(extra="allow")
    ref: Any = Field(None, description="Your own identifier for the project, echoed in the report.")
    project: dict[str, Any] = Field(
        default_factory=dict,
        description="The body of POST /projects, with `started_on` (required here): the day the groupe projet started.",
    )
    evidence: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_EVIDENCE,
        description=(
            "Items `{kind, on, ref?, update?, data}`: `kind` an evidence collection (stakeholders, communes, qpvs, "
            "needs, activities, feasibility, markets, site-visits, approvals, association, board-members, hires, "
            "expertises), `on` the day it was recorded, `data` the body of its POST (or PUT), or of its PATCH "
            "with `update: <ref of an earlier item>`. An approval names its stakeholder with `stakeholder`: the "
            "`ref` (or the name) of a stakeholder recorded before it."
        ),
    )
    transitions: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_TRANSITIONS,
        description=("Items `{trigger, effective_on, reason?}` in the order they happened."),
    )


class ImportRequest(BaseModel):
    projects: list[ImportProjectIn] = Field(..., min_length=1, max_length=MAX_PROJECTS)


# --- the report ---------------------------------------------------------------------------------
class FieldProblem(BaseModel):
    field: str
    message: str


class ProjectOutcome(BaseModel):
    index: int = Field(..., description="Position of the project in the file, from 0.")
    ref: str | None = None
    name: str | None = None
    status: Literal["imported", "refused"]
    project_id: uuid.UUID | None = Field(None, description="The new project (absent in a dry run).")
    state: str | None = None
    version: int | None = None
    code: str | None = Field(
        None,
        description="Why it was refused: a problem code (conditions_non_remplies, "
        "donnee_invalide, requete_invalide, transition_impossible, …).",
    )
    detail: str | None = None
    at: str | None = Field(None, description="The step that was refused, e.g. `transitions.2` or `evidence.5`.")
    unmet: list[UnmetRead] = Field(default_factory=list, description="Unmet guards, when a transition was refused.")
    errors: list[FieldProblem] = Field(default_factory=list, description="Invalid fields, with where they are.")


class ImportReport(BaseModel):
    dry_run: bool
    imported: int
    refused: int
    projects: list[ProjectOutcome]
