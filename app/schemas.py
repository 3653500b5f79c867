"""API schemas (Pydantic v2). Bodies reject unknown fields; every string and list is bounded."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from workflow import identifiers
from workflow.errors import InvalidInput
from workflow.vocabulary import (
    BuyerCategory,
    Category,
    Conventionnement,
    ExpertiseConclusion,
    Initiator,
    Kind,
    NeedStatus,
    State,
    Status,
    Trigger,
    Verdict,
)

MAX_TEXT = 5000
MAX_LIST = 50


def _wrap(fn):  # turn a domain InvalidInput into a pydantic validation error (422 with the field)
    def run(v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return fn(v)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    return run


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Departement = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(\d{2}|2[AB]|97\d)$")]
InseeCode = Annotated[str, StringConstraints(max_length=10), AfterValidator(_wrap(identifiers.insee_code))]
QpvCode = Annotated[str, StringConstraints(max_length=10), AfterValidator(_wrap(identifiers.qpv_code))]
Rna = Annotated[str, StringConstraints(max_length=12), AfterValidator(_wrap(identifiers.rna))]
Siret = Annotated[str, StringConstraints(max_length=20), AfterValidator(_wrap(identifiers.siret))]


def _not_a_boolean(value: Any) -> Any:
    """JSON true and false are not numbers (pydantic's lax mode would read true as 1). Strings of
    digits still are (the pages' forms send text)."""
    if isinstance(value, bool):
        raise ValueError("un nombre entier est attendu, pas vrai/faux")
    return value


Int = Annotated[int, BeforeValidator(_not_a_boolean)]
Flag = StrictBool  # true or false only: not 1, "yes" or "on" (the pages send real booleans)
Euros = Annotated[Int, Field(ge=0, le=1_000_000_000)]
Reason = Annotated[str, StringConstraints(max_length=2000)]


def unstorable(value: Any) -> bool:
    """Text no database column can take: a NUL character (PostgreSQL refuses it) or a lone UTF-16
    surrogate (not encodable in UTF-8), anywhere in a string, a list or a mapping."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(unstorable(v) for v in value)
    if isinstance(value, dict):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    return False


UNSTORABLE = "Caractère interdit : caractère nul (U+0000) ou texte qui n'est pas de l'Unicode valide."


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if unstorable(value):
            raise ValueError(UNSTORABLE)
        return value


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- projects ---------------------------------------------------------------------------------
class ProjectCreate(Body):
    name: Name
    kind: Kind
    region: Region
    initiator: Initiator | None = None
    departement: Departement | None = None
    conventionnement: Conventionnement = Conventionnement.AUCUN
    lead_name: Name | None = None
    description: Text | None = None
    started_on: date | None = Field(None, description="Day the groupe projet started (default: today, never in the future).")


class ProjectUpdate(Body):
    name: Name | None = None
    kind: Kind | None = None
    region: Region | None = None
    initiator: Initiator | None = None
    departement: Departement | None = None
    conventionnement: Conventionnement | None = None
    lead_name: Name | None = None
    description: Text | None = None


class PlanBody(Body):
    step_months: dict[State, Annotated[Int, Field(ge=1, le=120)]] = Field(
        ..., description="Months for each of the six steps (all six must be given).", max_length=6
    )
    horizon_months: Int = Field(..., ge=1, le=240)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PlanRead(BaseModel):
    step_months: dict[str, int]
    horizon_months: int


class ProjectRead(Read):
    id: uuid.UUID
    name: str
    kind: Kind
    region: str
    initiator: Initiator | None
    departement: str | None
    conventionnement: Conventionnement
    lead_name: str | None
    description: str | None
    state: State
    state_label: str
    suspended: bool
    suspended_since: date | None
    started_on: date
    state_entered_on: date
    last_transition_on: date
    labelled_on: date | None
    closed_on: date | None
    closed_reason: str | None
    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None
    status: Status | None
    within_horizon: bool | None
    plan: PlanRead
    version: int
    created_at: datetime
    updated_at: datetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


# --- transitions ----------------------------------------------------------------------------
class TransitionBody(Body):
    effective_on: date | None = Field(None, description="Default: today (Europe/Paris). Never in the future, "
                                      "never before the previous transition.")
    reason: Reason | None = Field(None, description="Required for backward moves, abandon, suspend and resume.")


class UnmetRead(BaseModel):
    code: str
    message: str


class TriggerRead(BaseModel):
    trigger: Trigger
    label: str
    to_state: State
    allowed: bool
    reason_required: bool
    consultant_only: bool
    unmet: list[UnmetRead]


class TransitionsRead(BaseModel):
    state: State
    suspended: bool
    version: int
    triggers: list[TriggerRead]


class EventRead(Read):
    id: int
    seq: int
    type: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    effective_on: date | None
    recorded_at: datetime
    actor: str | None
    reason: str | None
    data: dict[str, Any]


# --- schedule ---------------------------------------------------------------------------------
class StepScheduleRead(BaseModel):
    step: State
    label: str
    months: int
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    current: bool


class ScheduleRead(BaseModel):
    today: date
    started_on: date
    horizon_on: date
    step_due_on: date | None
    projected_label_on: date | None
    status: Status | None
    suspended_since: date | None
    suspended_days: int
    labelled_on: date | None
    within_horizon: bool | None
    plan: PlanRead
    steps: list[StepScheduleRead]


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
    insee_code: InseeCode
    name: Name


class CommunePatch(Body):
    insee_code: InseeCode | None = None
    name: Name | None = None


class CommuneRead(Read):
    id: int
    insee_code: str
    name: str


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
    conclusion_on: date | None = None
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
    visited_on: date
    notes: Text | None = None


class SiteVisitPatch(Body):
    regie_name: Name | None = None
    visited_on: date | None = None
    notes: Text | None = None


class SiteVisitRead(Read):
    id: int
    regie_name: str
    visited_on: date
    notes: str | None


class ApprovalIn(Body):
    stakeholder_id: Int = Field(..., ge=1)
    verdict: Verdict
    given_on: date
    comment: Text | None = None


class ApprovalPatch(Body):
    verdict: Verdict | None = None
    given_on: date | None = None
    comment: Text | None = None


class ApprovalRead(Read):
    id: int
    stakeholder_id: int
    verdict: Verdict
    given_on: date
    comment: str | None


class AssociationIn(Body):
    name: Name
    declared_on: date
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
    start_on: date


class HirePatch(Body):
    name: Name | None = None
    role: Name | None = None
    start_on: date | None = None


class HireRead(Read):
    id: int
    name: str
    role: str
    start_on: date


class ExpertiseIn(Body):
    conducted_on: date
    experts: list[Name] = Field(..., min_length=1, max_length=MAX_LIST)
    conclusion: ExpertiseConclusion | None = None
    report: Text | None = None


class ExpertisePatch(Body):
    conducted_on: date | None = None
    experts: list[Name] | None = Field(None, min_length=1, max_length=MAX_LIST)
    conclusion: ExpertiseConclusion | None = None
    report: Text | None = None


class ExpertiseRead(Read):
    id: int
    conducted_on: date
    experts: list[str]
    conclusion: ExpertiseConclusion | None
    report: str | None


# --- workflow description ---------------------------------------------------------------------
class GuardRead(BaseModel):
    code: str
    message: str


class WorkflowTransitionRead(BaseModel):
    trigger: Trigger
    label: str
    sources: list[State]
    dest: State | None
    guards: list[GuardRead]
    reason_required: bool
    consultant_only: bool


class WorkflowStateRead(BaseModel):
    id: State
    label: str
    step: int | None
    default_months: int | None
    terminal: bool


class WorkflowRead(BaseModel):
    states: list[WorkflowStateRead]
    transitions: list[WorkflowTransitionRead]
    horizon_months: int
    mermaid: str


# --- access control ---------------------------------------------------------------------------
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
RoleName = Annotated[str, StringConstraints(pattern=r"^(admin|consultant|observateur|porteur)$")]


class LoginBody(Body):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Password


class GrantIn(Body):
    role: RoleName
    project_id: uuid.UUID | None = None
    region: Region | None = None


class GrantRead(Read):
    id: int
    role: str
    project_id: uuid.UUID | None
    region: str | None


class UserCreate(Body):
    email: Email
    name: Name
    password: Password
    grants: list[GrantIn] = Field(default_factory=list, max_length=MAX_LIST)


class UserPatch(Body):
    name: Name | None = None
    active: Flag | None = None
    password: Password | None = None


class UserRead(Read):
    id: int
    email: str
    name: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    grants: list[GrantRead]


class MeRead(BaseModel):
    kind: str
    label: str
    name: str
    roles: list[str]
    is_admin: bool
    csrf_token: str | None = None


class ApiKeyCreate(Body):
    name: Name
    scopes: list[Annotated[str, StringConstraints(pattern=r"^(read|write)$")]] = Field(..., min_length=1, max_length=2)
    regions: list[Region] | None = Field(None, max_length=MAX_LIST)
    project_ids: list[uuid.UUID] | None = Field(None, max_length=MAX_LIST)
    expires_at: AwareDatetime | None = Field(None, description="With a time zone, e.g. 2027-06-30T00:00:00Z.")
    consultant: Flag = Field(False, description="For the Mouvement's own systems: may record expertise, "
                             "grant or postpone the label, and re-plan.")


class ApiKeyRead(Read):
    id: int
    prefix: str
    name: str
    scopes: list[str]
    consultant: bool
    regions: list[str] | None
    project_ids: list[str] | None
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(..., description="The key itself: shown only in this response, never again.")
