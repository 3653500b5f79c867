"""The event chain and the checkpoints against someone who writes to the database behind the
service's back: an edited event, an event rewritten with every later hash recomputed (with the old
unkeyed rule, with a wrong key, with the right key), a deleted middle event, the last events deleted
with the version lowered, a whole project deleted."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from app.core.security import canonical_event
from app.evidence.registry import KINDS
from app.feed.models import FeedCounter
from app.projects.models import Event, OutboxMessage, Project, Replan, SuspensionRecord
from tests.checkpoints.tampering import (
    History,
    chain_key,
    checkpoint,
    keyed,
    rechain_from,
    tampering,
    unkeyed,
    verify_all,
    write_history,
)

EXAMPLES = int(os.environ.get("REGIEFLOW_TAMPER_EXAMPLES", "25"))
GENERATED = hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
# A new value for each hashed column (None where the column may be empty).
NEW_VALUES = {
    "type": TEXT,
    "trigger": st.none() | TEXT,
    "from_state": st.none() | TEXT,
    "to_state": st.none() | TEXT,
    "effective_on": st.none() | st.dates(date(2000, 1, 1), date(2100, 12, 31)),
    "recorded_at": st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    "actor": st.none() | TEXT,
    "reason": st.none() | TEXT,
    "data": st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8) | st.none(), max_size=3)
    | st.lists(st.integers(), max_size=3),
}


@pytest.fixture
def history(client) -> History:
    return write_history(client)


def _events(conn, pid: str) -> list[dict]:
    table = Event.__table__
    query = select(table).where(table.c.project_id == uuid.UUID(pid)).order_by(table.c.seq)
    return [dict(r) for r in conn.execute(query).mappings()]


def _changed(column: str, old, new) -> bool:
    return canonical_event({column: old}, None) != canonical_event({column: new}, None)


@GENERATED
@given(data=st.data(), column=st.sampled_from(sorted(NEW_VALUES)), rule=st.sampled_from(["none", "unkeyed", "wrong"]))
def test_an_event_edited_or_rewritten_without_the_key_is_reported(
    db, session_factory, settings, history, data, column, rule
) -> None:
    """Any hashed column of any event, with the chain after it left as it is, recomputed with the old
    unkeyed SHA-256 rule, or recomputed with a key that is not the server's: verify names that event."""
    pid = data.draw(st.sampled_from([history.rich, history.plain, history.last]), label="project")
    with tampering(db) as conn:
        events = _events(conn, pid)
        seq = data.draw(st.integers(1, len(events)), label="seq")
        value = data.draw(NEW_VALUES[column], label="value")
        assume(_changed(column, events[seq - 1][column], value))
        table = Event.__table__
        where = (table.c.project_id == uuid.UUID(pid)) & (table.c.seq == seq)
        conn.execute(update(table).where(where).values({column: value}))
        if rule != "none":
            wrong = data.draw(st.binary(min_size=32, max_size=32), label="wrong key")
            assume(wrong != chain_key(settings))
            rechain_from(conn, pid, seq, unkeyed if rule == "unkeyed" else keyed(wrong))
        _report, problems = verify_all(session_factory, settings)
    assert f"event {seq}: content does not match its hash (edited behind the service's back?)" in problems[pid], (
        problems
    )
    assert set(problems) <= {pid, "database"}, problems  # the other projects are unaffected


def test_a_rewrite_with_the_key_passes_the_chain_but_not_the_checkpoint(
    db, session_factory, settings, clock, history
) -> None:
    """Someone who has the key (but not the checkpoint file) recomputes a valid chain: the checkpoint
    still holds the old head, which is no longer in the chain."""
    checkpoint(session_factory, settings, clock)
    with tampering(db) as conn:
        table = Event.__table__
        where = (table.c.project_id == uuid.UUID(history.plain)) & (table.c.seq == 2)
        conn.execute(update(table).where(where).values(actor="user:personne@example.fr"))
        rechain_from(conn, history.plain, 2, keyed(chain_key(settings)))
        _, problems = verify_all(session_factory, settings)
    assert set(problems) == {history.plain}, problems
    assert problems[history.plain] == [problems[history.plain][0]] and problems[history.plain][0].startswith(
        "event 3: hash differs from the checkpoint of "
    ), problems


@GENERATED
@given(data=st.data())
def test_a_deleted_middle_event_is_reported(db, session_factory, settings, history, data) -> None:
    pid = data.draw(st.sampled_from([history.rich, history.plain, history.last]), label="project")
    with tampering(db) as conn:
        events = _events(conn, pid)
        seq = data.draw(st.integers(2, len(events) - 1), label="seq")
        victim = events[seq - 1]["id"]
        conn.execute(delete(OutboxMessage.__table__).where(OutboxMessage.__table__.c.event_id == victim))
        conn.execute(delete(Event.__table__).where(Event.__table__.c.id == victim))
        _, problems = verify_all(session_factory, settings)
    assert any("event sequence has gaps or repeats" in p for p in problems[pid]), problems
    assert f"event {seq + 1}: hash chain broken (prev_hash does not match event {seq})" in problems[pid], problems
    assert any(p.startswith("feed positions have 1 gap(s)") for p in problems["database"]), problems


def _truncate(conn, pid: str, keep: int) -> None:
    """Delete the project's events after `keep` as someone covering their tracks would: their outbox
    messages, the need rows they recorded, the version and updated_at put back, the feed counter
    lowered (they held the highest positions)."""
    table, outbox = Event.__table__, OutboxMessage.__table__
    gone = [e for e in _events(conn, pid) if e["seq"] > keep]
    assert all(e["type"] == "evidence.created" and e["data"]["kind"] == "needs" for e in gone)
    ids = [e["id"] for e in gone]
    conn.execute(delete(outbox).where(outbox.c.event_id.in_(ids)))
    conn.execute(delete(table).where(table.c.id.in_(ids)))
    needs = KINDS["needs"].model.__table__
    conn.execute(delete(needs).where(needs.c.id.in_([e["data"]["id"] for e in gone])))
    kept = _events(conn, pid)[-1]
    projects = Project.__table__
    conn.execute(
        update(projects).where(projects.c.id == uuid.UUID(pid)).values(version=keep, updated_at=kept["recorded_at"])
    )
    head = conn.execute(select(func.max(table.c.feed_seq))).scalar_one()
    conn.execute(update(FeedCounter.__table__).values(value=head))


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_the_last_events_deleted_with_the_version_lowered(db, session_factory, settings, clock, history, keep) -> None:
    """A careful truncation leaves a database that replays cleanly: only the checkpoint sees it."""
    checkpoint(session_factory, settings, clock)
    with tampering(db) as conn:
        _truncate(conn, history.last, keep)
        report, problems = verify_all(session_factory, settings)
        assert set(problems) == {history.last, "database"}, problems
        assert problems[history.last] == [
            f"chain shorter than the checkpoint of {_when(report)}: last event {keep}, checkpointed 4",
            f"version {keep} lower than the checkpoint's event 4 ({_when(report)})",
        ]
        assert problems["database"] == [
            f"change feed head {_head(conn)} lower than the checkpoint's {_head(conn) + 4 - keep} ({_when(report)})"
        ]
    # Without a checkpoint, the same truncation goes unseen: that is what checkpoints are for.
    with tampering(db) as conn:
        _truncate(conn, history.last, keep)
        _, problems = verify_all(
            session_factory, settings.model_copy(update={"checkpoint_dir": settings.checkpoint_dir / "none"})
        )
    assert problems == {}


def _when(report) -> str:
    assert report.checkpoint is not None
    written = datetime.fromisoformat(report.checkpoint.rsplit(", ", 1)[1])
    return written.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _head(conn) -> int:
    return conn.execute(select(func.max(Event.__table__.c.feed_seq))).scalar_one()


def _delete_project(conn, pid: str) -> None:
    """Everything of one project, children first, as SQL would have to."""
    key = uuid.UUID(pid)
    table, outbox = Event.__table__, OutboxMessage.__table__
    ids = [e["id"] for e in _events(conn, pid)]
    conn.execute(delete(outbox).where(outbox.c.event_id.in_(ids)))
    conn.execute(delete(table).where(table.c.id.in_(ids)))
    for kind in reversed(list(KINDS.values())):  # approvals refer to stakeholders
        rows = kind.model.__table__
        conn.execute(delete(rows).where(rows.c.project_id == key))
    for model in (SuspensionRecord, Replan):
        conn.execute(delete(model.__table__).where(model.__table__.c.project_id == key))
    conn.execute(delete(Project.__table__).where(Project.__table__.c.id == key))


def test_a_whole_project_deleted_is_reported(db, session_factory, settings, clock, history) -> None:
    checkpoint(session_factory, settings, clock)
    with tampering(db) as conn:
        _delete_project(conn, history.plain)
        report, problems = verify_all(session_factory, settings)
    assert report.checked == 2
    assert problems[history.plain] == [f"project missing: the checkpoint of {_when(report)} has it at event 3"]
    name = next(f.name for f in report.findings if str(f.project_id) == history.plain)
    assert name == "(not in the database)"
    assert f"2 project(s), the checkpoint of {_when(report)} counted 3" in problems["database"]
    assert any(p.startswith("feed positions have 1 gap(s)") for p in problems["database"]), problems
