"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import (
    Field,
)

from app.core.schemas import (
    MAX_LIST,
    Address,
    Body,
    Day,
    Email,
    Euros,
    Flag,
    Id,
    InseeCode,
    Label,
    Name,
    QpvCode,
    Read,
    Rna,
    ShortText,
    Siret,
    Text,
)
from workflow.vocabulary import (
    BuyerCategory,
    Category,
    ExpertiseConclusion,
    NeedStatus,
    Verdict,
)


# --- evidence -------------------------------------------------------------------------------
class StakeholderIn(Body):
    name: Name
    category: Category
    organisation: Name | None = None
    email: Email | None = None
    is_amo_pilot: Flag = False


class StakeholderPatch(Body):
    name: Name | None = None
    category: Category | None = None
    organisation: Name | None = None
    email: Email | None = None
    is_amo_pilot: Flag | None = None


class StakeholderRead(Read):
    id: int
    name: str
    category: Category
    organisation: str | None
    email: str | None
    is_amo_pilot: bool


class CommuneIn(Body):
    """A commune of the official geographic code, by its INSEE code or, without one, by its name."""

    insee_code: InseeCode | None = Field(
        None, description="INSEE code (COG). An unknown code is refused (422) with `suggestions`."
    )
    name: Name | None = Field(
        None,
        description="Without a code: the commune's name (accents, case, hyphens ignored), which must designate "
        "exactly one commune (else 422 with `suggestions`). With a code: only used for suggestions; "
        "the official name of the code is recorded.",
    )


class CommunePatch(Body):
    insee_code: InseeCode | None = Field(None, description="Another commune: its official name comes with it.")


class CommuneRead(Read):
    id: int
    insee_code: str
    name: str = Field(description="Official name (COG)")
    official: bool = Field(description="The code is a commune of the official geographic code shipped")
    departement: str | None = Field(description="The commune's département (None: not an official code)")
    outside_territory: bool = Field(
        description="Outside the project's département (without one, its région): accepted, but shown"
    )


class QpvIn(Body):
    code: QpvCode
    name: Name


class QpvPatch(Body):
    code: QpvCode | None = None
    name: Name | None = None


class QpvRead(Read):
    id: int
    code: str
    name: str


class NeedIn(Body):
    label: Label
    description: Text | None = None
    status: NeedStatus = NeedStatus.A_ETUDIER


class NeedPatch(Body):
    label: Label | None = None
    description: Text | None = None
    status: NeedStatus | None = None


class NeedRead(Read):
    id: int
    label: str
    description: str | None
    status: NeedStatus


class ActivityIn(Body):
    label: Label
    description: Text | None = None


class ActivityPatch(Body):
    label: Label | None = None
    description: Text | None = None


class ActivityRead(Read):
    id: int
    label: str
    description: str | None


class FeasibilityIn(Body):
    annual_charges: Euros | None = Field(None, description="Forecast annual charges, in euros.")
    market_income: Euros | None = Field(None, description="Forecast annual market income, in euros.")
    non_market_income: Euros | None = Field(None, description="Forecast annual non-market income, in euros.")
    premises_address: Address | None = None
    conclusion: Verdict | None = None
    conclusion_on: Day | None = None
    summary: Text | None = None


class FeasibilityRead(Read):
    annual_charges: int | None
    market_income: int | None
    non_market_income: int | None
    premises_address: str | None
    conclusion: Verdict | None
    conclusion_on: date | None
    summary: str | None


class MarketIn(Body):
    label: Label
    buyer_name: Name
    buyer_category: BuyerCategory
    annual_amount: Euros | None = None


class MarketPatch(Body):
    label: Label | None = None
    buyer_name: Name | None = None
    buyer_category: BuyerCategory | None = None
    annual_amount: Euros | None = None


class MarketRead(Read):
    id: int
    label: str
    buyer_name: str
    buyer_category: BuyerCategory
    annual_amount: int | None


class SiteVisitIn(Body):
    regie_name: Name
    visited_on: Day
    notes: Text | None = None


class SiteVisitPatch(Body):
    regie_name: Name | None = None
    visited_on: Day | None = None
    notes: Text | None = None


class SiteVisitRead(Read):
    id: int
    regie_name: str
    visited_on: date
    notes: str | None


class ApprovalIn(Body):
    stakeholder_id: Id
    verdict: Verdict
    given_on: Day
    comment: Text | None = None


class ApprovalPatch(Body):
    verdict: Verdict | None = None
    given_on: Day | None = None
    comment: Text | None = None


class ApprovalRead(Read):
    id: int
    stakeholder_id: int
    verdict: Verdict
    given_on: date
    comment: str | None
    # None: someone recorded it for the stakeholder; `lien` / `compte`: the stakeholder gave it
    # themselves, answering an opinion request through the personal link or from an account.
    source: Literal["lien", "compte"] | None = None


class AssociationIn(Body):
    name: Name
    declared_on: Day
    rna: Rna
    siret: Siret | None = None
    address: Address | None = None


class AssociationRead(Read):
    name: str
    declared_on: date
    rna: str
    siret: str | None
    address: str | None


class BoardMemberIn(Body):
    name: Name
    college: Category
    office: ShortText | None = None


class BoardMemberPatch(Body):
    name: Name | None = None
    college: Category | None = None
    office: ShortText | None = None


class BoardMemberRead(Read):
    id: int
    name: str
    college: Category
    office: str | None


class HireIn(Body):
    name: Name
    role: Name
    start_on: Day
    home_insee_code: InseeCode | None = Field(
        None, description="Commune of residence (INSEE code), when recorded: hires from the territory."
    )


class HirePatch(Body):
    name: Name | None = None
    role: Name | None = None
    start_on: Day | None = None
    home_insee_code: InseeCode | None = None


class HireRead(Read):
    id: int
    name: str
    role: str
    start_on: date
    home_insee_code: str | None


class ExpertiseIn(Body):
    conducted_on: Day
    experts: list[Name] = Field(..., min_length=1, max_length=MAX_LIST)
    conclusion: ExpertiseConclusion | None = None
    report: Text | None = None


class ExpertisePatch(Body):
    conducted_on: Day | None = None
    experts: list[Name] | None = Field(None, min_length=1, max_length=MAX_LIST)
    conclusion: ExpertiseConclusion | None = None
    report: Text | None = None


class ExpertiseRead(Read):
    id: int
    conducted_on: date
    experts: list[str]
    conclusion: ExpertiseConclusion | None
    report: str | None
