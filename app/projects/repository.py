"""Repositories: load and persist aggregates. They never commit; the unit of work does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, TypedDict, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    event,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, aliased, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from app.authorization.rules import Principal
from app.core.database import by_bytes, desc_nulls_last
from app.core.security import hash_of_event
from app.evidence.registry import EVIDENCE_RELATIONS
from app.forecasts.models import ProjectForecast
from app.projects import sort_keys
from app.projects.models import Event, OutboxMessage, Project, Replan, SuspensionRecord
from workflow.vocabulary import Status

NEW_EVENTS = "regieflow_new_events"


# Per transaction: project id -> (seq, hash) of its latest event, read with the locked project row, so
# that appending the next event needs no SELECT of the previous one.
CHAIN_TAILS = "regieflow_chain_tails"


class SearchFilters(TypedDict, total=False):
    """The filters and order of a portfolio search: keyword arguments of ProjectRepository.search."""

    state: Sequence[str]
    kind: str | None
    region: Sequence[str]
    status: Sequence[str]
    q: str | None
    sort: str
    p80_after_horizon: bool | None  # issue 16: the stored forecast (project_forecasts) of the last refresh


# p80_label_on (issue 16): the history-based P80 label date of the last forecast refresh, none last
SORTS = (
    *("name", "started_on", "step_due_on", "horizon_on", "updated_at", "created_at", "status", "region"),
    "p80_label_on",
)


# --- search that ignores case and accents, the same on SQLite and PostgreSQL -------------------------
# Every project stores `search_text`: its name, région, département code, lead, communes and QPV (names and
# codes), one per line, folded: every letter to lower case without its accent (Œ/œ → oe, Æ/æ → ae), the
# typographic apostrophe to "'". A plain character mapping done in Python, so both databases hold the
# same text whatever their locale (PostgreSQL's lower() and unaccent depend on it); the query folds
# the words typed the same way and compares with LIKE, one column, no function call per row. The write
# path keeps it current: a flush that adds or changes a project's descriptive fields, communes or QPV
# recomputes it (refresh_search_text below); migration 0011 filled it for the projects already there.
FOLD_FROM = "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝŸýÿ’"
FOLD_TO = "abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaacceeeeeeeeiiiiiiiinnoooooooooooouuuuuuuuyyyy'"
FOLD_MULTI = {"Œ": "oe", "œ": "oe", "Æ": "ae", "æ": "ae"}
# Combining accents (U+0300-U+036F) dropped: a name stored or typed decomposed ("I" + U+0302 for "Î",
# as some systems and keyboards send it) folds like its composed form, still character by character.
COMBINING = range(0x300, 0x370)
_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO) | {ord(k): v for k, v in FOLD_MULTI.items()} | dict.fromkeys(COMBINING)
SEARCHED_FIELDS = ("name", "region", "departement", "lead_name")


def fold(text: str | None) -> str | None:
    """ "Île-de-France" → "ile-de-france" (None stays None)."""
    return None if text is None else text.translate(_FOLD_TABLE)


def search_text_of(p: Project) -> str:
    """What the search reads of a project, folded, one value per line (so that no match spans two)."""
    parts = [p.name, p.region, p.departement or "", p.lead_name or ""]
    parts += [c.name for c in p.communes]
    parts += [x for q in p.qpvs for x in (q.name, q.code)]
    return fold("\n".join(v.replace("\n", " ") for v in parts if v)) or ""


@event.listens_for(Session, "before_flush")
def refresh_search_text(session: Session, _context: Any, _instances: Any) -> None:
    """Keep `search_text` current: for a new project, a project whose searched fields changed, and the
    project of a commune or QPV added, changed or removed (its collections are loaded then; the other
    one loads here if it must)."""
    from app.evidence.models import Commune, Qpv

    touched: dict[int, Project] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Project) and obj not in session.deleted:
            state = sa_inspect(obj)
            if obj in session.new or any(state.attrs[f].history.has_changes() for f in SEARCHED_FIELDS):
                touched[id(obj)] = obj
        elif isinstance(obj, Commune | Qpv):
            project = None
            if obj.project_id is not None:
                with session.no_autoflush:  # from the identity map: the write loaded its project
                    project = session.get(Project, obj.project_id)
            if project is not None and project not in session.deleted:
                touched[id(project)] = project
    if touched:
        with session.no_autoflush:
            for project in touched.values():
                text = search_text_of(project)
                if project.search_text != text:
                    project.search_text = text
                for key, value in sort_keys.timeless_keys(project.name, project.region).items():
                    if getattr(project, key) != value:
                        setattr(project, key, value)


@event.listens_for(Session, "before_flush")
def refresh_dated_keys(session: Session, _context: Any, _instances: Any) -> None:
    """Keep a written project's dated sort keys (app.projects.sort_keys) those of the day of the change
    (record_change names it; the machine's date otherwise), or of the portfolio's day if later, whatever
    the write changed of their inputs."""
    day = session.info.get(sort_keys.KEYS_DAY)
    if day is None and any(isinstance(obj, Project) for obj in (*session.new, *session.dirty)):
        with session.no_autoflush:  # a write without record_change: the stored keys' day, else the machine's
            day = session.info[sort_keys.KEYS_DAY] = sort_keys.day_for(date.today(), recorded_day(session))
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Project) and obj not in session.deleted:
            state = sa_inspect(obj)
            if obj in session.new or any(state.attrs[f].history.has_changes() for f in sort_keys.DATED_INPUTS):
                if obj.step_months is None or obj.horizon_on is None or day is None:
                    continue  # not a whole project yet: its creation flushes it again
                keys = sort_keys.dated_keys(obj, day)
                for key, value in keys.items():
                    if getattr(obj, key) != value:
                        setattr(obj, key, value)


RECORDED_DAY = "regieflow_sort_keys_recorded_day"


def recorded_day(session: Session) -> date | None:
    """portfolio_keys.as_of (app.projects.sort_keys.keys_day), read once per unit of work: the list's
    choice of keys and the day a write computes them for share the one read."""
    if RECORDED_DAY not in session.info:
        session.info[RECORDED_DAY] = sort_keys.keys_day(session)
    return cast(date | None, session.info[RECORDED_DAY])


def _like(text: str) -> str:
    folded = fold(text) or ""
    return "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _p80_after_horizon(after: bool) -> ColumnElement[bool]:
    """Issue 16: projects whose stored forecast (project_forecasts, as of the last refresh; open projects
    only) has its P80 label date after the horizon (`after`), or on or before it (not `after`)."""
    stored = select(ProjectForecast.project_id).where(ProjectForecast.p80_after_horizon == after)
    return Project.id.in_(stored)


def search_condition(q: str) -> ColumnElement[bool]:
    """Projects whose name, région, département (code or name), communes, QPV (name or code) or lead
    contain `q`, case and accents aside."""
    from app.reference.cog import cog

    condition: ColumnElement[bool] = Project.search_text.like(_like(q), escape="\\")
    folded = fold(q.strip()) or ""
    departements = [d.code for d in cog().departements if folded and folded in (fold(d.name) or "")]
    if departements:
        condition = or_(condition, Project.departement.in_(departements))
    return condition


def status_expression(today: date) -> Any:
    """The SQL twin of workflow.deadlines.status_at (tested against it)."""
    ref = func.coalesce(Project.suspended_since, literal(today, Project.started_on.type))
    late = or_(ref > Project.horizon_on, ref > Project.step_due_on)
    return case(
        (Project.step_due_on.is_(None), None),
        (late, literal(Status.EN_RETARD.value)),
        (Project.projected_label_on > Project.horizon_on, literal(Status.A_RISQUE.value)),
        else_=literal(Status.DANS_LES_TEMPS.value),
    )


def _severity(today: date) -> Any:
    st = status_expression(today)
    return case(
        (st == Status.EN_RETARD.value, 0),
        (st == Status.A_RISQUE.value, 1),
        (st == Status.DANS_LES_TEMPS.value, 2),
        else_=3,
    )


def _shown_days(column: Any, today: date, dialect: str) -> Any:
    """A deadline column as the pages show it (workflow.deadlines.present: while suspended, a date still
    ahead of the pause moves one day per suspended day), as a number of days, for ORDER BY."""

    def days(d: Any) -> Any:
        if dialect == "postgresql":
            return d - literal(date(2000, 1, 1), Project.started_on.type)  # date - date: an integer
        return func.julianday(d)

    today_ = literal(today, Project.started_on.type)
    moved = and_(
        Project.suspended_since.is_not(None), column >= Project.suspended_since, today_ > Project.suspended_since
    )
    return case((moved, days(column) + days(today_) - days(Project.suspended_since)), else_=days(column))


STATUS_OF_RANK: dict[int | None, str | None] = {v: k for k, v in sort_keys.RANK.items()} | {None: None}


# _load_relations asks first which relations hold rows when it loads more than this many (a project page's
# sixteen, most of them empty before the later steps); a few chosen relations are read directly.
PROBE_FROM = 4


class AtLeast(int):
    """A count that stopped at this number: there are at least as many (ProjectRepository.search's
    count_cap)."""


class ProjectRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def visible_to(principal: Principal) -> ColumnElement[bool]:
        """The SQL condition on projects that `principal` may read: the one rule every list, export,
        feed, calendar and webhook query applies."""
        reach = principal.reach()
        if reach.everything:
            return true()
        parts = []
        if reach.regions:
            parts.append(Project.region.in_(reach.regions))
        if reach.project_ids:
            parts.append(Project.id.in_(reach.project_ids))
        return or_(*parts) if parts else false()

    def add(self, project: Project) -> None:
        self.session.add(project)

    def compute_keys_for(self, day: date) -> None:
        """Have this unit of work's writes compute the projects' dated sort keys (app.projects.sort_keys;
        the flush writes them) for `day` (the day of the change), or the portfolio's day if later."""
        if sort_keys.KEYS_DAY not in self.session.info:
            self.session.info[sort_keys.KEYS_DAY] = sort_keys.day_for(day, recorded_day(self.session))

    def is_new(self, project: Project) -> bool:
        """Added in this unit of work and not yet written (its events must wait for its row)."""
        return project in self.session.new

    def add_replan(self, replan: Replan) -> None:
        self.session.add(replan)

    def remove_evidence(self, row: object) -> None:
        """Delete one evidence row of a project (the caller has taken it out of the project's collection)."""
        self.session.delete(row)

    def region_of(self, project_id: uuid.UUID) -> str | None:
        """The project's region (what access rules need), or None if there is no such project."""
        return self.session.scalar(select(Project.region).where(Project.id == project_id))

    def ids_in_creation_order(self) -> list[uuid.UUID]:
        return list(self.session.scalars(select(Project.id).order_by(Project.created_at, Project.id)))

    def with_suspensions(self, ids: Sequence[uuid.UUID]) -> list[Project]:
        """These projects, their pauses loaded (what verify compares with the events)."""
        stmt = select(Project).where(Project.id.in_(ids)).options(selectinload(Project.suspensions))
        return list(self.session.scalars(stmt))

    def exists(self) -> bool:
        """Whether the database holds any project."""
        return self.session.scalar(select(Project.id).limit(1)) is not None

    def get(
        self, project_id: uuid.UUID, *, with_evidence: bool | Iterable[str] = False, for_update: bool = False
    ) -> Project | None:
        """One project; `with_evidence` loads every evidence relation (True) or only the named ones."""
        relations = (*EVIDENCE_RELATIONS, "suspensions") if with_evidence is True else tuple(with_evidence or ())
        if for_update:
            loads: list[ExecutableOption] = [selectinload(getattr(Project, rel)) for rel in relations]
            return self._get_locked(project_id, relations, loads)
        project = self.session.scalars(select(Project).where(Project.id == project_id)).one_or_none()
        if project is not None and relations:
            self._load_relations([project], relations)
        return project

    def _load_relations(self, projects: Sequence[Project], relations: Sequence[str]) -> None:
        """Load these one-to-many (or one-to-one) relations of these projects where they are not loaded
        yet: one statement says which relations hold rows for them, then one plain statement each of those
        (WHERE project_id IN …, in the relation's order). What selectinload would read, for a fraction of
        its CPU: no loader options to key and adapt per statement, no statement for an empty relation."""
        states = [(p, sa_inspect(p).unloaded) for p in projects]
        wanted = [
            (rel, Project.__mapper__.relationships[rel]) for rel in relations if any(rel in u for _p, u in states)
        ]
        if not wanted:
            return
        ids = [p.id for p in projects]
        remotes = [prop.local_remote_pairs[0][1] for _rel, prop in wanted]
        holding = set(range(len(wanted)))
        if len(wanted) > PROBE_FROM:
            # which of them hold rows, in one statement: most projects have no evidence yet for the later
            # steps, so those are known empty without a statement each
            holding = set(
                self.session.scalars(
                    union_all(
                        *(
                            select(literal(i)).where(select(remote).where(remote.in_(ids)).exists())
                            for i, remote in enumerate(remotes)
                        )
                    )
                )
            )
        for i, (rel, prop) in enumerate(wanted):
            rows: dict[uuid.UUID, list[Any]] = {}
            if i in holding:
                key = prop.mapper.get_property_by_column(remotes[i]).key
                stmt = select(prop.mapper).where(remotes[i].in_(ids))
                if prop.order_by:
                    stmt = stmt.order_by(*prop.order_by)
                for row in self.session.scalars(stmt):
                    rows.setdefault(getattr(row, key), []).append(row)
            for p, unloaded in states:
                if rel in unloaded:
                    mine = rows.get(p.id, [])
                    set_committed_value(p, rel, mine if prop.uselist else (mine[0] if mine else None))

    def _get_locked(
        self, project_id: uuid.UUID, relations: tuple[str, ...], loads: list[ExecutableOption]
    ) -> Project | None:
        """The project's row locked for a write.

        A write appends an event: read the chain's tail (the hash of the event whose seq is the
        version) in the same statement as the locked row; and whether it was ever paused: most
        never were, and then the suspensions every write reads (for the deadline index) are
        known to be none without another query."""
        tail = (
            select(Event.hash)
            .where(Event.project_id == Project.id, Event.seq == Project.version)
            .correlate(Project)
            .scalar_subquery()
        )
        paused = (
            select(SuspensionRecord.id).where(SuspensionRecord.project_id == Project.id).correlate(Project).exists()
        )
        stmt = select(Project, tail, paused).where(Project.id == project_id).with_for_update(of=Project)
        if loads:
            stmt = stmt.options(*loads)
        row = self.session.execute(stmt).one_or_none()
        if row is None:
            return None
        project: Project
        project, last_hash, ever_paused = row
        if last_hash is not None:
            self.session.info.setdefault(CHAIN_TAILS, {})[project.id] = (project.version, last_hash)
        if not ever_paused and "suspensions" not in relations and "suspensions" in sa_inspect(project).unloaded:
            set_committed_value(project, "suspensions", [])
        return project

    def search(
        self,
        *,
        today: date,
        visible_to: Principal | None = None,
        state: Sequence[str] = (),
        kind: str | None = None,
        region: Sequence[str] = (),
        status: Sequence[str] = (),
        q: str | None = None,
        sort: str = "status",
        offset: int = 0,
        limit: int = 50,
        p80_after_horizon: bool | None = None,
        with_total: bool = True,
        count_cap: int | None = None,
    ) -> tuple[list[Project], int]:
        """One page of the projects matching the filters, sorted, and how many match (-1 when not
        `with_total`: the caller counts them otherwise)."""
        stored = self.keys_current(today)
        where = self._where(
            today=today,
            visible_to=visible_to,
            state=state,
            kind=kind,
            region=region,
            status=status,
            q=q,
            stored=stored,
        )
        if p80_after_horizon is not None:
            where = and_(where, _p80_after_horizon(p80_after_horizon))
        total: int = -1
        if q and count_cap is not None and stored and sort.lstrip("-") != "p80_label_on":
            found = self._text_search_page(where, sort, today, offset, limit, count_cap)
            if found is not None:
                ids, total = found
                return self._rows(ids), total
            total = AtLeast(count_cap)  # more matches than count_cap: in the sort's index order below
        elif with_total:
            total = self.session.scalar(select(func.count()).select_from(Project).where(where)) or 0
        # The page's ids first, then their rows: sorting narrow rows (an id and the sort keys) instead of
        # whole projects halves the sort of a national portfolio (10,000 rows: 46 -> 21 ms on PostgreSQL).
        stmt: Select[uuid.UUID] = select(Project.id).where(where)
        if sort.lstrip("-") == "p80_label_on":
            stmt = stmt.outerjoin(ProjectForecast, ProjectForecast.project_id == Project.id)
        ids = list(self.session.scalars(stmt.order_by(*self._order(sort, today, stored)).offset(offset).limit(limit)))
        return self._rows(ids), total

    def _rows(self, ids: list[uuid.UUID]) -> list[Project]:
        if not ids:
            return []
        found = {p.id: p for p in self.session.scalars(select(Project).where(Project.id.in_(ids)))}
        return [found[i] for i in ids if i in found]

    def _text_search_page(
        self, where: Any, sort: str, today: date, offset: int, limit: int, cap: int
    ) -> tuple[list[uuid.UUID], int] | None:
        """A text search's page and its number of matches, in one statement, when it has at most `cap`
        matches (None otherwise): the matches first (the trigram index), at most cap + 1 of them, then
        sorted, counted by a window over them. In the sort's index order, filtering each row by its
        text, the page would come only after every project sorting before the matches (a word common
        in one région's names, say); OFFSET 0 … LIMIT keeps PostgreSQL from merging the two steps."""
        matches = aliased(Project, select(Project).where(where).limit(cap + 1).subquery())
        stmt = select(matches.id, func.count().over()).order_by(*self._order(sort, today, True, matches))
        rows = self.session.execute(stmt.offset(offset).limit(limit)).all()
        if rows:
            total = int(rows[0][1])
            return None if total > cap else ([r[0] for r in rows], total)
        total = (
            self.session.scalar(
                select(func.count()).select_from(select(Project.id).where(where).limit(cap + 1).subquery())
            )
            or 0
        )
        return None if total > cap else ([], total)

    def keys_current(self, today: date) -> bool:
        """Whether the projects' stored dated sort keys are today's (app.projects.sort_keys)."""
        return recorded_day(self.session) == today

    def _order(self, sort: str, today: date, stored: bool = False, entity: Any = Project) -> list[Any]:
        """The ORDER BY of a portfolio sort, the same on both databases: the dates as the pages show
        them (a suspended project's dates ahead moved by the pause), projects without one last in
        either direction, closed projects last whatever the direction of the status sort, names and
        régions in French order (accents and case aside: the folded name, sort_name), and
        the project's id last, so that paging neither repeats nor skips a project."""
        dialect = self.session.get_bind().dialect.name
        desc = sort.startswith("-")
        key = sort.lstrip("-")

        def way(expr: Any) -> Any:
            return (expr.desc() if desc else expr.asc()).nulls_last()

        P = entity
        name = by_bytes(P.sort_name)
        if stored and key == "status":  # the stored keys, in the order of an index (migration 0014)
            if desc:
                return [P.sort_status_desc, desc_nulls_last(P.shown_step_due_on), name, P.id]
            return [P.sort_status, P.shown_step_due_on.asc().nulls_last(), name, P.id]
        if stored and key == "step_due_on":
            due = desc_nulls_last(P.shown_step_due_on) if desc else P.shown_step_due_on.asc().nulls_last()
            return [due, P.id]
        if stored and key == "horizon_on":  # never NULL once stored: no NULLS clause, the index serves both ways
            return [P.shown_horizon_on.desc() if desc else P.shown_horizon_on.asc(), P.id]
        if key == "name":
            return [name.desc() if desc else name.asc(), P.id]
        if key == "region":
            # never NULL (migration 0014 filled sort_region): no NULLS clause, the index serves both ways
            return (
                [P.sort_region.desc(), P.region.desc(), name, P.id] if desc else [P.sort_region, P.region, name, P.id]
            )
        if key == "status":
            severity = _severity(today)
            closed = case((severity == 3, 1), else_=0)
            due = _shown_days(Project.step_due_on, today, dialect)
            return [closed, way(severity), way(due), name, Project.id]
        if key == "p80_label_on":
            return [way(ProjectForecast.p80_on), Project.id]
        if key in ("step_due_on", "horizon_on"):
            return [way(_shown_days(getattr(Project, key), today, dialect)), Project.id]
        column = getattr(P, key)  # started_on, updated_at, created_at: never NULL (no NULLS clause,
        return [column.desc() if desc else column.asc(), P.id]  # so that their index serves both ways)

    @staticmethod
    def _where(
        *,
        p80_after_horizon: bool | None = None,
        today: date,
        visible_to: Principal | None = None,
        state: Sequence[str] = (),
        kind: str | None = None,
        region: Sequence[str] = (),
        status: Sequence[str] = (),
        q: str | None = None,
        stored: bool = False,
    ) -> Any:
        conditions = [] if visible_to is None else [ProjectRepository.visible_to(visible_to)]
        if state:
            conditions.append(Project.state.in_(list(state)))
        if kind:
            conditions.append(Project.kind == kind)
        if region:
            conditions.append(Project.region.in_(list(region)))
        if status and stored:
            conditions.append(Project.sort_status.in_(sorted({sort_keys.RANK.get(st, -1) for st in status})))
        elif status:
            conditions.append(status_expression(today).in_(list(status)))
        if q:
            conditions.append(search_condition(q))
        if p80_after_horizon is not None:
            conditions.append(_p80_after_horizon(p80_after_horizon))
        return and_(*conditions) if conditions else literal(True)

    def counts(self, *, today: date, by: str, **filters: Any) -> dict[str | None, int]:
        """How many projects match `filters` (those of `search`), grouped `by` "state" or "status"."""
        stored = self.keys_current(today)
        key = Project.state if by == "state" else (Project.sort_status if stored else status_expression(today))
        where = self._where(today=today, stored=stored, **filters)
        rows = self.session.execute(select(key, func.count()).select_from(Project).where(where).group_by(key))
        if by != "state" and stored:
            out: dict[str | None, int] = {}
            for k, n in rows:
                out[STATUS_OF_RANK[k]] = out.get(STATUS_OF_RANK[k], 0) + n
            return out
        return {k: n for k, n in rows}

    def counts_by_state_and_status(self, *, today: date, **filters: Any) -> dict[tuple[str, str | None], int]:
        """How many projects match `filters` (those of `search`), per (state, status): one statement where
        a total, counts() by state and counts() by status take three, when neither filter applies."""
        stored = self.keys_current(today)
        status = Project.sort_status if stored else status_expression(today)
        rows = self.session.execute(
            select(Project.state, status, func.count())
            .select_from(Project)
            .where(self._where(today=today, stored=stored, **filters))
            .group_by(Project.state, status)
        )
        if stored:
            grid: dict[tuple[str, str | None], int] = {}
            for state, st, n in rows:
                grid[state, STATUS_OF_RANK[st]] = grid.get((state, STATUS_OF_RANK[st]), 0) + n
            return grid
        return {(state, st): n for state, st, n in rows}

    def regions(self, *, visible_to: Principal | None = None) -> list[str]:
        """The regions of the projects `visible_to` may read (all projects without it), sorted."""
        stmt = select(Project.region).distinct().order_by(Project.region)
        if visible_to is not None:
            stmt = stmt.where(self.visible_to(visible_to))
        return list(self.session.scalars(stmt))

    def with_evidence(self, ids: Sequence[uuid.UUID], relations: Sequence[str] | None = None) -> list[Project]:
        """These projects with every evidence relation and their pauses loaded (only `relations` when
        given), in the order of `ids`: at most one statement per relation whatever their number (the
        home's cards, each with its checklist)."""
        if not ids:
            return []
        wanted = (*EVIDENCE_RELATIONS, "suspensions") if relations is None else tuple(relations)
        found = {p.id: p for p in self.session.scalars(select(Project).where(Project.id.in_(list(ids))))}
        self._load_relations(list(found.values()), wanted)
        return [found[i] for i in ids if i in found]

    def upcoming(
        self, *, today: date, until: date, visible_to: Principal | None, limit: int
    ) -> tuple[list[Project], int]:
        """The open projects whose step due date or horizon falls on or before `until` (overdue ones
        included), the earliest first, and how many there are. A suspended project's stored dates are
        those of the day it was paused (workflow.deadlines.DeadlineIndex): never later than the dates
        it shows, so none is missed; the caller keeps those whose shown dates are in the window."""
        soonest = case((Project.horizon_on < Project.step_due_on, Project.horizon_on), else_=Project.step_due_on)
        visible = true() if visible_to is None else self.visible_to(visible_to)
        where = and_(
            Project.step_due_on.is_not(None), or_(Project.step_due_on <= until, Project.horizon_on <= until), visible
        )
        total = self.session.scalar(select(func.count()).select_from(Project).where(where)) or 0
        # The first `limit` by (soonest, name, id) are among the first `limit` by (step_due_on, name, id) and
        # the first `limit` by (horizon_on, name, id): a project whose soonest date is its step due date has
        # before it in (step_due_on, name, id) order only projects that also come before it by (soonest,
        # name, id); likewise for the horizon. Each branch reads an index in order and stops early
        # (ix_projects_step_due_on_horizon_on, ix_projects_horizon_on) instead of sorting the whole window.
        by_step = (
            select(Project.id)
            .where(Project.step_due_on <= until, visible)
            .order_by(Project.step_due_on, Project.name, Project.id)
            .limit(limit)
            .subquery()
        )
        by_horizon = (
            select(Project.id)
            .where(Project.step_due_on.is_not(None), Project.horizon_on <= until, visible)
            .order_by(Project.horizon_on, Project.name, Project.id)
            .limit(limit)
            .subquery()
        )
        candidates = union(select(by_step.c.id), select(by_horizon.c.id))
        stmt = select(Project).where(Project.id.in_(candidates)).order_by(soonest, Project.name, Project.id)
        return list(self.session.scalars(stmt.limit(limit))), total

    def all_ids(self) -> list[uuid.UUID]:
        return list(self.session.scalars(select(Project.id).order_by(Project.created_at, Project.id)))


class EventRepository:
    """Events and their outbox messages. `chain_key` gives the key of the hash chain (HMAC-SHA256,
    app.core.security.event_hash); the unit of work passes it in, derived from the server key."""

    def __init__(self, session: Session, chain_key: Callable[[], bytes]) -> None:
        self.session = session
        self._chain_key = chain_key

    def append(self, event: Event, *, topic: str | None = None) -> Event:
        """Append an event, chained to the previous one by hash, and its outbox message (same transaction)."""
        tails = self.session.info.setdefault(CHAIN_TAILS, {})
        known = tails.get(event.project_id)
        if event.seq > 1:
            event.prev_hash = (
                known[1]
                if known is not None and known[0] == event.seq - 1
                else self.session.scalar(
                    select(Event.hash).where(Event.project_id == event.project_id, Event.seq == event.seq - 1)
                )
            )
        event.hash = hash_of_event(event, self._chain_key())
        tails[event.project_id] = (event.seq, event.hash)
        self.session.add(event)
        self.session.info.setdefault(NEW_EVENTS, []).append(event)  # feed positions are given at commit
        # Inserted at the next flush, with the event (at the latest when the unit of work commits).
        self.session.add(
            OutboxMessage(
                event=event,
                topic=topic or event.type,
                payload={"project_id": str(event.project_id), "seq": event.seq, "type": event.type},
            )
        )
        return event

    def page(
        self,
        project_id: uuid.UUID,
        *,
        offset: int,
        limit: int,
        newest_first: bool = False,
        types: Sequence[str] = (),
    ) -> tuple[list[Event], int]:
        """One page of a project's events; `types`: only these (a name ending with "." is a prefix)."""
        where = Event.project_id == project_id
        if types:
            where = and_(
                where,
                or_(
                    *(Event.type.startswith(t, autoescape=True) if t.endswith(".") else Event.type == t for t in types)
                ),
            )
        total = self.session.scalar(select(func.count()).select_from(Event).where(where)) or 0
        order = Event.seq.desc() if newest_first else Event.seq
        rows = self.session.scalars(select(Event).where(where).order_by(order).offset(offset).limit(limit))
        return list(rows), total

    def evidence_before(self, project_id: uuid.UUID, seq: int) -> list[Event]:
        """The project's evidence events before `seq` (what an evidence row held before a change)."""
        stmt = select(Event).where(
            Event.project_id == project_id, Event.seq < seq, Event.type.startswith("evidence.", autoescape=True)
        )
        return list(self.session.scalars(stmt.order_by(Event.seq)))

    def count_without_outbox(self, project_id: uuid.UUID) -> int:
        """How many of the project's events have no outbox message (each one should have exactly one)."""
        stmt = (
            select(func.count())
            .select_from(Event)
            .outerjoin(OutboxMessage, OutboxMessage.event_id == Event.id)
            .where(Event.project_id == project_id, OutboxMessage.id.is_(None))
        )
        return self.session.scalar(stmt) or 0

    def of_project(self, project_id: uuid.UUID, *, transitions_only: bool = False) -> list[Event]:
        stmt = select(Event).where(Event.project_id == project_id)
        if transitions_only:
            stmt = stmt.where(Event.type == "project.transitioned")
        return list(self.session.scalars(stmt.order_by(Event.seq)))
