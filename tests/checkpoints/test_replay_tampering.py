"""Rows changed without an event: every evidence row, project field and outbox message must be what
the events say (replay), and the change feed must be contiguous and in commit order."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Integer,
    String,
    Text,
    delete,
    insert,
    select,
    update,
)

from app.evidence.registry import KINDS
from app.feed.models import FeedCounter
from app.projects.models import Event, OutboxMessage, Project
from app.transitions.verify import normal, replay_evidence
from tests.checkpoints.tampering import History, tampering, verify_all, write_history
from tests.checkpoints.test_chain_tampering import GENERATED, TEXT
from workflow.vocabulary import Conventionnement, Initiator, Kind, State


@pytest.fixture
def history(client) -> History:
    return write_history(client)


def _constrained(table: Any, column: str) -> bool:
    return any(isinstance(c, CheckConstraint) and column in str(c.sqltext) for c in table.constraints)


def _values_for(column: Any) -> st.SearchStrategy[Any]:
    """Values the column's type accepts on both databases."""
    t = column.type
    if isinstance(t, (String, Text)):
        length = getattr(t, "length", None) or 30
        return st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=min(length, 30))
    if isinstance(t, Boolean):
        return st.booleans()
    if isinstance(t, (Integer, BigInteger)):
        return st.integers(-(10**9), 10**9)
    if isinstance(t, Date):
        return st.dates(date(1990, 1, 1), date(2100, 12, 31))
    if isinstance(t, JSON):
        return st.lists(TEXT, max_size=3)
    raise AssertionError(f"no strategy for {column} ({t!r})")


def _recorded(conn: Any, pid: str) -> dict[str, dict[Any, dict[str, Any]]]:
    table = Event.__table__
    rows = conn.execute(select(table).where(table.c.project_id == uuid.UUID(pid)).order_by(table.c.seq)).mappings()
    expected, problems = replay_evidence([SimpleNamespace(**row) for row in rows])  # type: ignore[misc]
    assert problems == []
    return expected


def _rows(conn: Any, pid: str) -> list[tuple[str, Any, str]]:
    """(kind, row id, column) for every column of every evidence row that its events record and that
    SQL may change without breaking a constraint (not a key, not a checked enumeration)."""
    out = []
    for kind in KINDS.values():
        table = kind.model.__table__
        rows = conn.execute(select(table).where(table.c.project_id == uuid.UUID(pid))).mappings().all()
        for row in rows:
            for c in table.columns:
                if c.primary_key or c.foreign_keys or _constrained(table, c.name):
                    continue
                out.append((kind.name, row.get("id"), c.name))
    return out


def test_the_replay_gives_every_column_of_every_evidence_row(db, history) -> None:
    """What the replay compares: each column of each kind, but its keys, is in the events' values or
    holds the default of a new row (a column set elsewhere would escape verify)."""
    with tampering(db) as conn:
        expected = _recorded(conn, history.rich)
        for kind in KINDS.values():
            table = kind.model.__table__
            columns = {c.name for c in table.columns if not c.primary_key and c.name != "project_id"}
            assert expected[kind.name], kind.name
            for values in expected[kind.name].values():
                assert columns <= set(values), (kind.name, columns - set(values))


@GENERATED
@given(data=st.data())
def test_an_evidence_row_changed_without_an_event_is_reported(db, session_factory, settings, history, data) -> None:
    with tampering(db) as conn:
        kind_name, rid, column = data.draw(st.sampled_from(_rows(conn, history.rich)), label="row")
        kind = KINDS[kind_name]
        table = kind.model.__table__
        where = table.c.project_id == uuid.UUID(history.rich)
        if rid is not None:
            where = where & (table.c.id == rid)
        old = conn.execute(select(table.c[column]).where(where)).scalar_one()
        value = data.draw(_values_for(table.c[column]), label="value")
        assume(normal(value) != normal(old))
        conn.execute(update(table).where(where).values({column: value}))
        _, problems = verify_all(session_factory, settings)
    assert set(problems) == {history.rich}, problems
    assert any(p.startswith(f"{kind_name} row {rid}: {column} is ") for p in problems[history.rich]), problems


# Rows another evidence table refers to (stakeholders, expertises) cannot be deleted alone.
REFERRED = {fk.column.table.name for k in KINDS.values() for fk in k.model.__table__.foreign_keys}
DELETABLE = [k.name for k in KINDS.values() if not k.singleton and k.model.__table__.name not in REFERRED]


@pytest.mark.parametrize("kind_name", DELETABLE)
def test_an_evidence_row_deleted_or_replaced_without_an_event_is_reported(
    db, session_factory, settings, history, kind_name
) -> None:
    table = KINDS[kind_name].model.__table__
    missing = "{} row {} recorded by the events is missing (deleted behind the service's back)"
    with tampering(db) as conn:
        row = dict(conn.execute(select(table).where(table.c.project_id == uuid.UUID(history.rich))).mappings().one())
        conn.execute(delete(table).where(table.c.id == row["id"]))
        _, problems = verify_all(session_factory, settings)
    assert problems == {history.rich: [missing.format(kind_name, row["id"])]}
    with tampering(db) as conn:  # the same values under another id: a row no event created
        conn.execute(delete(table).where(table.c.id == row["id"]))
        new_id = row["id"] + 1000  # SQLite would give the freed id again: the very same row
        conn.execute(insert(table).values({**row, "id": new_id}))
        _, problems = verify_all(session_factory, settings)
    assert problems == {
        history.rich: [
            f"{kind_name} row {new_id} has no event (added behind the service's back)",
            missing.format(kind_name, row["id"]),
        ]
    }


PROJECT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": _values_for(Project.__table__.c.name),
    "region": _values_for(Project.__table__.c.region),
    "lead_name": st.none() | _values_for(Project.__table__.c.lead_name),
    "description": st.none() | _values_for(Project.__table__.c.description),
    "departement": st.none() | _values_for(Project.__table__.c.departement),
    "kind": st.sampled_from([k.value for k in Kind]),
    "initiator": st.none() | st.sampled_from([i.value for i in Initiator]),
    "conventionnement": st.sampled_from([c.value for c in Conventionnement]),
    "state": st.sampled_from([s.value for s in State]),
    "closed_reason": st.none() | _values_for(Project.__table__.c.closed_reason),
    "deadline_status": st.sampled_from(["a_risque", "en_retard"]),
    "horizon_months": st.integers(1, 240),
    "step_months": st.dictionaries(st.sampled_from([s.value for s in State]), st.integers(1, 120), max_size=6),
    "version": st.integers(1, 10**6),
    "updated_at": st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    **{
        name: (st.none() if Project.__table__.c[name].nullable else st.nothing())
        | st.dates(date(2000, 1, 1), date(2100, 12, 31))
        for name in (
            "started_on",
            "state_entered_on",
            "last_transition_on",
            "suspended_since",
            "labelled_on",
            "closed_on",
            "horizon_on",
            "step_due_on",
            "projected_label_on",
        )
    },
}


@GENERATED
@given(data=st.data(), column=st.sampled_from(sorted(PROJECT_FIELDS)))
def test_a_project_field_changed_without_an_event_is_reported(
    db, session_factory, settings, history, data, column
) -> None:
    pid = data.draw(st.sampled_from([history.rich, history.plain]), label="project")
    projects = Project.__table__
    with tampering(db) as conn:
        where = projects.c.id == uuid.UUID(pid)
        old = conn.execute(select(projects.c[column]).where(where)).scalar_one()
        value = data.draw(PROJECT_FIELDS[column], label="value")
        assume(normal(value) != normal(old))
        conn.execute(update(projects).where(where).values({column: value}))
        _, problems = verify_all(session_factory, settings)
    assert set(problems) == {pid}, problems
    assert any(column in p for p in problems[pid]), problems


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT, lambda inner: st.lists(inner, max_size=3), max_leaves=5
)


@GENERATED
@given(data=st.data())
def test_an_outbox_message_changed_or_removed_is_reported(db, session_factory, settings, history, data) -> None:
    pid = data.draw(st.sampled_from([history.rich, history.plain, history.last]), label="project")
    outbox = OutboxMessage.__table__
    with tampering(db) as conn:
        events = conn.execute(
            select(Event.id, Event.seq).where(Event.project_id == uuid.UUID(pid)).order_by(Event.seq)
        ).all()
        event_id, seq = data.draw(st.sampled_from(events), label="event")
        payload = conn.execute(select(outbox.c.payload).where(outbox.c.event_id == event_id)).scalar_one()
        how = data.draw(st.sampled_from(["payload", "topic", "delete"]), label="how")
        if how == "payload":
            key = data.draw(st.sampled_from(sorted(payload)) | st.text(max_size=8), label="key")
            value = data.draw(JSON_VALUES, label="value")
            assume(payload.get(key, object()) != value)
            conn.execute(update(outbox).where(outbox.c.event_id == event_id).values(payload={**payload, key: value}))
        elif how == "topic":
            conn.execute(update(outbox).where(outbox.c.event_id == event_id).values(topic="project.deleted"))
        else:
            conn.execute(delete(outbox).where(outbox.c.event_id == event_id))
        _, problems = verify_all(session_factory, settings)
    expected = {
        "payload": f"outbox message of event {seq}: payload ",
        "topic": f"outbox message of event {seq}: topic 'project.deleted'",
        "delete": "1 event(s) without their outbox message",
    }[how]
    assert set(problems) == {pid}, problems
    assert any(p.startswith(expected) for p in problems[pid]), problems


def _positions(conn: Any, pid: str) -> list[tuple[int, int]]:
    query = select(Event.id, Event.feed_seq).where(Event.project_id == uuid.UUID(pid)).order_by(Event.seq)
    return [(i, pos) for i, pos in conn.execute(query).all()]


@GENERATED
@given(data=st.data())
def test_feed_positions_swapped_within_a_project_are_reported(db, session_factory, settings, history, data) -> None:
    pid = data.draw(st.sampled_from([history.rich, history.plain, history.last]), label="project")
    table = Event.__table__
    with tampering(db) as conn:
        events = _positions(conn, pid)
        i, j = data.draw(st.lists(st.integers(0, len(events) - 1), min_size=2, max_size=2, unique=True), label="i, j")
        (a, pa), (b, pb) = events[i], events[j]
        conn.execute(update(table).where(table.c.id == a).values(feed_seq=-1))  # positions are unique
        conn.execute(update(table).where(table.c.id == b).values(feed_seq=pa))
        conn.execute(update(table).where(table.c.id == a).values(feed_seq=pb))
        _, problems = verify_all(session_factory, settings)
    assert set(problems) == {"database"}, problems
    assert len(problems["database"]) == 1 and problems["database"][0].startswith("feed positions out of commit order")


@GENERATED
@given(data=st.data(), beyond=st.integers(1, 10**6))
def test_a_feed_position_moved_away_leaves_a_gap(db, session_factory, settings, history, data, beyond) -> None:
    table = Event.__table__
    with tampering(db) as conn:
        ids = conn.execute(select(table.c.id).order_by(table.c.feed_seq)).scalars().all()
        victim = data.draw(st.sampled_from(ids), label="event")
        head = conn.execute(select(FeedCounter.value)).scalar_one()
        conn.execute(update(table).where(table.c.id == victim).values(feed_seq=head + beyond))
        _, problems = verify_all(session_factory, settings)
    assert set(problems) == {"database"}, problems
    text = "\n".join(problems["database"])
    assert "feed positions have " in text and " gap(s) or repeat(s): " in text, problems  # where it was
    assert f"feed counter is at {head} but the highest position is {head + beyond}" in text, problems
