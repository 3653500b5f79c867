"""The success-conditions grid: what the project page and GET …/grid show, and the group's report on
a reservation (one transaction, one event, like every evidence change)."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.assessments.models import ExpertiseAssessment, Reservation, SelfAssessment
from app.assessments.schemas import ReservationResponseIn
from app.core.clock import Actor, Clock
from app.core.errors import Conflict, NotFound
from app.core.unit_of_work import UnitOfWork
from app.projects.models import Project
from app.projects.service import jsonable, load_for_write, plain, record_change
from workflow.errors import InvalidInput
from workflow.vocabulary import Category, Condition, ExpertiseConclusion

GRID_RELATIONS = (
    "self_assessments",
    "expertise_assessments",
    "reservations",
    "expertises",
    "board_members",
    "markets",
    "hires",
    "communes",
)


@dataclass(frozen=True)
class ConditionLine:
    condition: Condition
    self_assessment: SelfAssessment | None  # the group's latest reading
    history: tuple[SelfAssessment, ...]  # every reading, oldest first
    expertise_assessment: ExpertiseAssessment | None  # the latest expertise's rating
    reservations: tuple[Reservation, ...]  # of every expertise, oldest first


@dataclass(frozen=True)
class Facts:
    """Computed from the evidence, shown beside the grid (never guards)."""

    board_members: int
    board_habitants: int
    market_total: int  # the markets' annual amounts, where given
    market_from_board_buyers: int  # of which bought by a buyer who sits on the board
    board_buyers: tuple[str, ...]
    hires_with_home: int  # hires whose commune of residence is recorded
    hires_in_territory: int  # of which living in one of the project's communes

    @property
    def habitant_share(self) -> float | None:
        return None if not self.board_members else self.board_habitants / self.board_members

    @property
    def board_buyer_share(self) -> float | None:
        return None if not self.market_total else self.market_from_board_buyers / self.market_total


@dataclass(frozen=True)
class Grid:
    lines: tuple[ConditionLine, ...]
    latest_expertise_id: int | None
    complete: bool  # the latest expertise rates all five conditions (grille_expertise_complete)
    open_reservations: int
    facts: Facts


def _key(name: str) -> str:
    """A name compared without accents, case or extra spaces (a buyer and a board member)."""
    plain_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(plain_text.casefold().split())


def facts_of(p: Project) -> Facts:
    board = {_key(b.name) for b in p.board_members}
    amounts = [(m.annual_amount or 0, _key(m.buyer_name), m.buyer_name) for m in p.markets]
    buyers = tuple(dict.fromkeys(name for _, key, name in amounts if key in board))
    communes = {c.insee_code for c in p.communes}
    homes = [h.home_insee_code for h in p.hires if h.home_insee_code]
    return Facts(
        board_members=len(p.board_members),
        board_habitants=sum(1 for b in p.board_members if b.college == Category.HABITANT.value),
        market_total=sum(a for a, _, _ in amounts),
        market_from_board_buyers=sum(a for a, key, _ in amounts if key in board),
        board_buyers=buyers,
        hires_with_home=len(homes),
        hires_in_territory=sum(1 for code in homes if code in communes),
    )


def grid_of(p: Project) -> Grid:
    """Needs GRID_RELATIONS loaded (or loadable)."""
    latest = max(p.expertises, key=lambda x: (x.conducted_on, x.id), default=None)
    lines = []
    for condition in Condition:
        history = tuple(
            sorted(
                (a for a in p.self_assessments if a.condition == condition.value), key=lambda a: (a.assessed_on, a.id)
            )
        )
        rating = next(
            (
                a
                for a in p.expertise_assessments
                if latest is not None and a.expertise_id == latest.id and a.condition == condition.value
            ),
            None,
        )
        reservations = tuple(r for r in p.reservations if r.condition == condition.value)
        lines.append(ConditionLine(condition, history[-1] if history else None, history, rating, reservations))
    return Grid(
        lines=tuple(lines),
        latest_expertise_id=latest.id if latest is not None else None,
        complete=all(line.expertise_assessment is not None for line in lines),
        open_reservations=sum(1 for r in p.reservations if r.lifted_on is None),
        facts=facts_of(p),
    )


def report_on_reservation(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    reservation_id: int,
    body: ReservationResponseIn,
    *,
    expected_version: int | None,
    actor: Actor,
    clock: Clock,
) -> tuple[Project, Reservation]:
    """The project group says what it did about a reservation (a porteur may; lifting it is a
    consultant's PATCH of the reservation). Recorded as an update of the reservation row."""
    p = load_for_write(uow, project_id, expected_version, relations=("reservations",))
    row = next((r for r in p.reservations if r.id == reservation_id), None)
    if row is None:
        raise NotFound("Élément introuvable (Réserves de l'expertise).")
    if row.lifted_on is not None:
        raise Conflict("Cette réserve est déjà levée : il n'y a plus rien à en dire.")
    values: dict[str, Any] = plain(body.model_dump())
    today = clock.today()
    when: date = values.get("responded_on") or today
    if when > today:
        raise InvalidInput("Cette date ne peut pas être dans le futur.", "responded_on")
    if when < row.recorded_on:
        raise InvalidInput("La réponse ne peut pas précéder la réserve.", "responded_on")
    changes = {"response": values["response"], "responded_on": when}
    changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
    for name, value in changes.items():
        setattr(row, name, value)
    if changes:
        record_change(
            uow,
            p,
            clock,
            actor,
            "evidence.updated",
            data={"kind": "reservations", "id": row.id, "values": jsonable(changes)},
        )
    uow.commit()
    return p, row


RESERVING = (ExpertiseConclusion.RESERVES, ExpertiseConclusion.DEFAVORABLE)
