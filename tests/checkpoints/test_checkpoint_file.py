"""The checkpoint file: what a line holds, signatures (tampered lines, other keys, rotation), lines that
go back, the writer that never blesses a regression, the worker's checkpoints and the commands."""

from __future__ import annotations

import contextlib
import json
import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import text

from app.checkpoints import service as ck
from app.cli import cli
from app.core.keys import derived_key
from app.core.settings import Settings
from tests.checkpoints.tampering import History, checkpoint, uows, verify_all, write_history
from tests.checkpoints.test_chain_tampering import GENERATED, _truncate
from tests.support.api import post
from tests.support.webhooks import worker

OTHER_KEY = "another-server-key-0123456789abcdefghijklmnop"


@pytest.fixture
def history(client) -> History:
    return write_history(client)


def _lines(outcome: ck.Outcome) -> list[str]:
    return outcome.path.read_text(encoding="utf-8").splitlines()


def test_a_checkpoint_is_one_signed_line_with_every_chain_head(db, session_factory, settings, clock, history) -> None:
    outcome = checkpoint(session_factory, settings, clock)
    assert outcome.path.parent == settings.checkpoint_dir
    [line] = _lines(outcome)
    doc = json.loads(line)
    assert doc["format"] == "regieflow-checkpoint" and doc["v"] == 1
    assert doc["database"] == ck.database_label(settings.database_url)
    with db.begin() as conn:
        heads = dict(conn.execute(text("SELECT project_id, max(seq) FROM events GROUP BY project_id")).all())
        feed_head = conn.execute(text("SELECT max(feed_seq) FROM events")).scalar_one()
    assert {pid: seq for pid, (seq, _) in doc["projects"].items()} == {
        str(uuid.UUID(str(k))): v for k, v in heads.items()
    }
    assert doc["project_count"] == 3 and doc["feed_head"] == feed_head
    assert len(doc["sig"]) == 64
    # Nothing new: the worker's call writes nothing before the interval; a new event: a new line.
    assert ck.write(uows(session_factory, settings), settings, clock.now(), force=False).unchanged
    clock.advance(seconds=settings.checkpoint_interval_seconds)
    assert ck.write(uows(session_factory, settings), settings, clock.now(), force=False).written is not None
    assert len(_lines(outcome)) == 2
    report, problems = verify_all(session_factory, settings)
    assert problems == {} and report.checkpoint is not None and f"{outcome.path} line 2" in report.checkpoint


MUTATIONS = st.sampled_from(["feed_head", "project_count", "seq", "hash", "drop", "written_at", "database", "sig"])


@GENERATED
@given(data=st.data(), what=MUTATIONS)
def test_a_tampered_checkpoint_line_is_reported_and_the_previous_one_is_used(
    db, session_factory, settings, clock, history, data, what
) -> None:
    """A field of the last line changed (the signature kept), or any byte of it changed: the line is
    reported and verify compares the database with the line before."""
    ck.path_for(settings, settings.database_url).unlink(missing_ok=True)  # each example its own file
    first = checkpoint(session_factory, settings, clock)
    clock.advance(seconds=1)
    ck.write(uows(session_factory, settings), settings, clock.now())
    lines = _lines(first)
    doc = json.loads(lines[-1])
    pid = data.draw(st.sampled_from(sorted(doc["projects"])), label="project")
    if what in ("feed_head", "project_count"):
        doc[what] = data.draw(st.integers(0, 10**9).filter(lambda v: v != doc[what]), label="value")
    elif what == "seq":
        doc["projects"][pid][0] = data.draw(st.integers(1, 10**6).filter(lambda v: v != doc["projects"][pid][0]))
    elif what == "hash":
        doc["projects"][pid][1] = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64))
        assume(doc["projects"][pid][1] != json.loads(lines[-1])["projects"][pid][1])
    elif what == "drop":
        del doc["projects"][pid]
    elif what == "written_at":
        doc[what] = "2020-01-01T00:00:00.000000Z"
    elif what == "database":
        doc[what] = "sqlite:////tmp/elsewhere.db"
    else:
        doc["sig"] = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64).filter(lambda s: s != doc["sig"]))
    mutated = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    first.path.write_text("\n".join([*lines[:-1], mutated]) + "\n", encoding="utf-8")
    report, problems = verify_all(session_factory, settings)
    line = len(lines)
    assert problems == {
        "database": [
            f"checkpoint {first.path} line {line}: signature does not match (edited, or signed with a key this "
            "server does not have)"
        ]
    }
    assert report.checkpoint is not None and f"line {line - 1}," in report.checkpoint


@GENERATED
@given(data=st.data())
def test_any_byte_of_a_line_changed_is_reported(db, session_factory, settings, clock, history, data) -> None:
    ck.path_for(settings, settings.database_url).unlink(missing_ok=True)  # each example its own file
    outcome = checkpoint(session_factory, settings, clock)
    raw = outcome.path.read_bytes()
    at = data.draw(st.integers(0, len(raw) - 2), label="offset")  # not the final newline
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at] and b != ord("\n")), label="byte")
    changed = raw[:at] + bytes([byte]) + raw[at + 1 :]
    with contextlib.suppress(ValueError):  # not JSON any more: reported as such
        assume(json.loads(changed) != json.loads(raw))
    outcome.path.write_bytes(changed)
    report, problems = verify_all(session_factory, settings)
    assert report.checkpoint is None  # no valid line left to compare with
    assert list(problems) == ["database"] and len(problems["database"]) == 1, problems
    assert problems["database"][0].startswith(f"checkpoint {outcome.path} line 1: "), problems


def test_a_line_signed_with_another_key_is_refused_unless_it_is_a_previous_server_key(
    db, session_factory, settings, clock, history
) -> None:
    other = settings.model_copy(update={"secret_key": SecretStr(OTHER_KEY)})
    outcome = checkpoint(session_factory, other, clock)
    _, problems = verify_all(session_factory, settings)
    assert problems == {
        "database": [
            f"checkpoint {outcome.path} line 1: signature does not match (edited, or signed with a key this "
            "server does not have)"
        ]
    }
    rotated = Settings(
        database_url=settings.database_url,
        checkpoint_dir=settings.checkpoint_dir,
        secret_key=settings.secret_key,
        previous_secret_keys=[OTHER_KEY],
    )
    report, problems = verify_all(session_factory, rotated)
    assert problems == {} and report.checkpoint is not None


def test_checkpoints_that_go_back_and_lines_of_another_database_are_reported(
    db, session_factory, settings, clock, history
) -> None:
    """Lines signed with the right key (a writer of an older version, or the key holder): a later
    checkpoint never holds a shorter chain, fewer projects or a lower feed head."""
    outcome = checkpoint(session_factory, settings, clock)
    good = ck.parse_line(_lines(outcome)[0], [derived_key(settings, ck.PURPOSE)])
    projects = dict(good.projects)
    seq, _ = projects[history.last]
    with db.begin() as conn:
        digest = conn.execute(
            text("SELECT hash FROM events WHERE seq = :s AND project_id = (SELECT id FROM projects WHERE name = :n)"),
            {"s": seq - 1, "n": "Régie de Bellevue"},
        ).scalar_one()
    projects[history.last] = (seq - 1, digest)
    del projects[history.plain]
    behind = ck.Checkpoint(good.database, good.written_at, 2, good.feed_head - 1, projects)
    elsewhere = ck.Checkpoint("sqlite:////tmp/elsewhere.db", good.written_at, 0, 0, {})
    key = derived_key(settings, ck.PURPOSE)
    with outcome.path.open("a", encoding="utf-8") as f:
        f.write(ck.line_of(behind, key) + "\n" + ck.line_of(elsewhere, key) + "\n")
    _, problems = verify_all(session_factory, settings)
    where = f"checkpoint {outcome.path} line"
    assert problems[history.plain] == [f"{where} 2: project {history.plain} dropped (was at event 3)"]
    assert problems[history.last] == [f"{where} 2: project {history.last} went back from event {seq} to {seq - 1}"]
    assert problems["database"] == [
        f"{where} 2: feed head went back from {good.feed_head} to {good.feed_head - 1}",
        f"{where} 3: for another database (sqlite:////tmp/elsewhere.db)",
    ]


def test_the_writer_never_blesses_a_truncation(db, session_factory, settings, clock, history) -> None:
    first = checkpoint(session_factory, settings, clock)
    with db.begin() as conn:
        _truncate(conn, history.last, 2)
    clock.advance(hours=2)
    refused = ck.write(uows(session_factory, settings), settings, clock.now())
    assert refused.written is None and [p.project_id for p in refused.problems] == [uuid.UUID(history.last)] * 2 + [
        None
    ]
    assert len(_lines(first)) == 1  # the good checkpoint stays the reference
    assert ck.after_round(uows(session_factory, settings), settings, clock).written is None  # the worker's call


def test_the_worker_writes_a_checkpoint_after_a_round_with_new_events(app, client, clock) -> None:
    settings = app.state.settings
    path = ck.path_for(settings, settings.database_url)
    with worker(app) as w:
        w.run_once(scan=False)
    [empty] = path.read_text(encoding="utf-8").splitlines()  # the first round writes one, even of nothing
    assert json.loads(empty)["projects"] == {} and json.loads(empty)["feed_head"] == 0
    history = write_history(client)
    with worker(app) as w:
        w.run_once(scan=False)
        lines = path.read_text(encoding="utf-8").splitlines()
        assert history.last in json.loads(lines[-1])["projects"]
        w.run_once(scan=False)
        assert len(path.read_text(encoding="utf-8").splitlines()) == len(lines)  # nothing new
        post(client, f"/projects/{history.plain}/needs", {"label": "Épicerie"})
        w.run_once(scan=False)
    after = path.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(lines) + 1 and json.loads(after[-1])["projects"][history.plain][0] == 4


def test_checkpoint_and_verify_commands(client, db, cli_env) -> None:
    history = write_history(client)
    r = cli_env.invoke(cli, ["verify"])
    assert r.exit_code == 0, r.output
    assert (
        "No checkpoint of this database yet" in r.output and "3 project(s) checked, 0 with discrepancies." in r.output
    )
    r = cli_env.invoke(cli, ["checkpoint"])
    assert r.exit_code == 0, r.output
    assert "Checkpoint written to " in r.output and ": 3 project(s), change feed at " in r.output
    r = cli_env.invoke(cli, ["verify"])
    assert r.exit_code == 0 and "Compared with the checkpoint " in r.output, r.output
    with db.begin() as conn:
        _truncate(conn, history.last, 1)
    r = cli_env.invoke(cli, ["verify"])
    assert r.exit_code == 1, r.output
    assert f"✗ {history.last} Régie de Bellevue" in r.output and "chain shorter than the checkpoint" in r.output
    assert "✗ database" in r.output and "3 project(s) checked, 1 with discrepancies." in r.output
    r = cli_env.invoke(cli, ["checkpoint"])
    assert r.exit_code == 1 and "No checkpoint written" in r.output and "went back" in r.output, r.output


@pytest.mark.parametrize("command", [["verify"], ["checkpoint"], ["rechain"]])
def test_a_server_key_that_cannot_be_read_is_one_line(tmp_path, command) -> None:
    from app.core.migrate import upgrade
    from tests.fixtures.cli import error_line, invoke_cli

    url = f"sqlite:///{tmp_path / 'keyless.db'}"
    upgrade(url)
    (tmp_path / "secret.key").write_text("short\n", encoding="ascii")
    env = {
        "REGIEFLOW_DATABASE_URL": url,
        "REGIEFLOW_SECRET_KEY": None,
        "REGIEFLOW_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    line = error_line(invoke_cli(command, env=env))
    assert line.startswith(f"Error: Clé du serveur trop courte dans {tmp_path / 'secret.key'}"), line
