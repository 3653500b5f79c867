"""API schemas of the success-conditions grid (Pydantic v2): bodies reject unknown fields."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import MAX_TEXT, Body, Day, Id, Read, Text
from workflow.vocabulary import Condition, ExpertLevel, SelfLevel

Comment = Text
# Text that says something: not empty, not only spaces.
Said = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]


class SelfAssessmentIn(Body):
    condition: Condition
    level: SelfLevel
    comment: Comment | None = None
    assessed_on: Day | None = Field(None, description="Default: today. Never in the future.")


class SelfAssessmentPatch(Body):
    level: SelfLevel | None = None
    comment: Comment | None = None


class SelfAssessmentRead(Read):
    id: int
    condition: Condition
    level: SelfLevel
    comment: str | None
    assessed_on: date


class ExpertiseAssessmentIn(Body):
    expertise_id: Id = Field(description="The expertise (…/expertises/{id}) this rating belongs to.")
    condition: Condition
    level: ExpertLevel
    comment: Comment | None = None


class ExpertiseAssessmentPatch(Body):
    level: ExpertLevel | None = None
    comment: Comment | None = None


class ExpertiseAssessmentRead(Read):
    id: int
    expertise_id: int
    condition: Condition
    level: ExpertLevel
    comment: str | None


class ReservationIn(Body):
    expertise_id: Id = Field(description="An expertise of the project concluding `reserves` or `defavorable`.")
    condition: Condition
    description: Said = Field(description="What must change.")
    recorded_on: Day | None = Field(None, description="Default: today. Never in the future.")


class ReservationPatch(Body):
    """The group reports what it did (`response`); a Mouvement consultant marks the reservation lifted
    (`lifted_on` and `lifted_how` together; `lifted_by` is the consultant's name, set by the server)."""

    description: Said | None = None
    response: Said | None = None
    responded_on: Day | None = None
    lifted_on: Day | None = None
    lifted_how: Said | None = None


class ReservationRead(Read):
    id: int
    expertise_id: int
    condition: Condition
    description: str
    recorded_on: date
    response: str | None
    responded_on: date | None
    lifted_on: date | None
    lifted_how: str | None
    lifted_by: str | None


class ReservationResponseIn(Body):
    """What the project group did about a reservation (any writer of the project, porteur included)."""

    response: Said
    responded_on: Day | None = Field(None, description="Default: today. Never in the future.")


class ConditionRead(Read):
    condition: Condition
    label: str
    self_assessment: SelfAssessmentRead | None
    self_history: list[SelfAssessmentRead]
    expertise_assessment: ExpertiseAssessmentRead | None
    reservations: list[ReservationRead]


class GridFactsRead(Read):
    board_members: int
    board_habitants: int
    habitant_share: float | None = Field(description="Share of inhabitants on the board (0 to 1)")
    market_total: int = Field(description="Sum of the markets' annual amounts, in euros")
    market_from_board_buyers: int = Field(description="Of which bought by buyers who sit on the board")
    board_buyer_share: float | None
    board_buyers: list[str]
    hires_with_home: int = Field(description="Hires whose commune of residence is recorded")
    hires_in_territory: int = Field(description="Of which living in one of the project's communes")


class GridRead(Read):
    conditions: list[ConditionRead]
    latest_expertise_id: int | None
    complete: bool = Field(description="The latest expertise rates all five conditions")
    open_reservations: int
    facts: GridFactsRead
