"""The portfolio filters of GET /projects, shared with the routes that read a filtered portfolio
(the CSV and XLSX exports; tests/test_partners_exports.py checks they take the same parameters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, Query

from app.core.inputs import CONTROL_MESSAGE, has_control
from app.core.schemas import UNSTORABLE, unstorable
from app.projects.repository import SORTS, SearchFilters
from workflow.errors import InvalidInput
from workflow.vocabulary import Kind, State, Status

if TYPE_CHECKING:  # a sort key is a string to the type checker; FastAPI needs the literal choices at run time
    SortKey = str
else:
    SortKey = Literal[tuple(SORTS) + tuple("-" + k for k in SORTS)]


class ProjectFilters:
    def __init__(
        self,
        state: Annotated[list[State], Query(max_length=8)] = [],  # noqa: B006 - FastAPI reads it, never mutates
        kind: Kind | None = None,
        region: Annotated[list[Annotated[str, Query(max_length=100)]], Query(max_length=30)] = [],  # noqa: B006
        status_: Annotated[list[Status], Query(alias="status", max_length=3)] = [],  # noqa: B006
        q: Annotated[str | None, Query(max_length=100, description="Search in name, region and lead")] = None,
        sort: Annotated[
            SortKey,
            Query(
                description="Sort key; prefix with '-' for descending. 'status' puts late then at-risk projects first."
            ),
        ] = "status",
        p80_after_horizon: Annotated[
            bool | None,
            Query(
                description="History-based forecast (issue 16, as of the last refresh; open projects only): true, "
                "the projects whose P80 label date falls after the horizon; false, those whose P80 is on or "
                "before it. Sort by it with sort=p80_label_on (projects without a forecast last)."
            ),
        ] = None,
    ) -> None:
        for name, value in (("q", q), ("region", region)):
            if unstorable(value):  # PostgreSQL cannot even compare with a NUL: answer 422, not 500
                raise InvalidInput(UNSTORABLE, name)
            if any(has_control(v) for v in ([value] if isinstance(value, str) else value or [])):
                raise InvalidInput(CONTROL_MESSAGE, name)  # no stored name or region holds one
        self.state = [x.value for x in state]
        self.kind = kind.value if kind else None
        self.region = list(region)
        self.status = [x.value for x in status_]
        self.q = q
        self.sort = sort
        self.p80_after_horizon = p80_after_horizon

    def search_args(self) -> SearchFilters:
        return {
            "state": self.state,
            "kind": self.kind,
            "region": self.region,
            "status": self.status,
            "q": self.q,
            "sort": self.sort,
            "p80_after_horizon": self.p80_after_horizon,
        }


ProjectFiltersDep = Annotated[ProjectFilters, Depends()]
