"""Write, read and check signed checkpoints (app/checkpoints/__init__.py says what they are).

The writer never blesses a regression: before it appends a checkpoint it compares the database with
the last valid one, and if a chain got shorter, a project vanished, a checkpointed hash is no longer in
its chain or the feed head went down, it writes nothing and reports why (the last good checkpoint stays
the reference for `regieflow verify`). Only `regieflow rechain`, which re-keys every hash on purpose
after checking the chain, writes a checkpoint whose hashes differ from the previous one (`rechained`):
it starts a new file, the old one kept beside it (`archive`), since its lines are signed with a key
that is being retired.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.clock import Clock
from app.core.keys import derived_key, derived_keys
from app.core.security import same, signature
from app.core.settings import Settings
from app.core.unit_of_work import UnitOfWorkFactory
from app.projects.models import Event, Project

log = logging.getLogger("regieflow.checkpoints")

PURPOSE = "checkpoints"
FORMAT = "regieflow-checkpoint"
VERSION = 1
_CHUNK = 200  # (project, seq) pairs per query


@dataclass(frozen=True)
class Checkpoint:
    database: str
    written_at: datetime
    project_count: int
    feed_head: int
    projects: dict[str, tuple[int, str]]  # project id -> (seq, hash) of its last event
    rechained: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "v": VERSION,
            "database": self.database,
            "written_at": self.written_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "project_count": self.project_count,
            "feed_head": self.feed_head,
            "projects": {pid: [seq, h] for pid, (seq, h) in sorted(self.projects.items())},
            "rechained": self.rechained,
        }


@dataclass(frozen=True)
class Problem:
    """One way the database (or the checkpoint file) disagrees; `project_id` None: not one project's."""

    project_id: uuid.UUID | None
    message: str


@dataclass
class Reading:
    """What a checkpoint file holds: its valid checkpoints (line number, checkpoint), in file order, and
    the problems of the file itself (bad signatures, unreadable lines, checkpoints that go back)."""

    path: Path
    valid: list[tuple[int, Checkpoint]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def last(self) -> Checkpoint | None:
        return self.valid[-1][1] if self.valid else None


@dataclass
class Outcome:
    """What a write did: `written` (the checkpoint appended), or why not (`problems`: the database went
    back since the last checkpoint; `unchanged`: nothing new and the interval has not elapsed)."""

    path: Path
    written: Checkpoint | None = None
    problems: list[Problem] = field(default_factory=list)
    unchanged: bool = False


# --- where -------------------------------------------------------------------------------------------
def database_label(url: str) -> str:
    """The database a checkpoint belongs to: its URL without password (a SQLite file by absolute path)."""
    parsed = make_url(url)
    file = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and file and file != ":memory:" and not file.startswith("file:"):
        parsed = parsed.set(database=str(Path(file).resolve()))
    return parsed.render_as_string(hide_password=True)


def path_for(settings: Settings, url: str) -> Path:
    """The database's checkpoint file: `<checkpoint_dir>/<16 hex of its label's SHA-256>.jsonl`."""
    digest = hashlib.sha256(database_label(url).encode()).hexdigest()[:16]
    return settings.checkpoint_dir / f"{digest}.jsonl"


def url_of(uows: UnitOfWorkFactory) -> str:
    bind = uows.session_factory.kw.get("bind")
    engine = getattr(bind, "engine", bind)
    url = getattr(engine, "url", None)
    if url is None:  # pragma: no cover - every factory here is bound
        raise RuntimeError("the unit of work factory is not bound to a database")
    return str(url.render_as_string(hide_password=False))


# --- signing ---------------------------------------------------------------------------------------
def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def line_of(checkpoint: Checkpoint, key: bytes) -> str:
    body = checkpoint.body()
    return json.dumps({**body, "sig": signature(key, _canonical(body))}, sort_keys=True, separators=(",", ":"))


def parse_line(text: str, keys: list[bytes]) -> Checkpoint:
    """A checkpoint line, its signature checked against the current and previous keys; ValueError (in
    English, for verify) when it is unreadable or its signature matches no key."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("v") != VERSION:
        raise ValueError("not a regieflow checkpoint")
    sig = doc.pop("sig", None)
    if not isinstance(sig, str) or not any(same(sig, signature(k, _canonical(doc))) for k in keys):
        raise ValueError("signature does not match (edited, or signed with a key this server does not have)")
    try:
        projects = {str(uuid.UUID(pid)): (int(v[0]), str(v[1])) for pid, v in doc["projects"].items()}
        return Checkpoint(
            database=str(doc["database"]),
            written_at=datetime.fromisoformat(doc["written_at"]),
            project_count=int(doc["project_count"]),
            feed_head=int(doc["feed_head"]),
            projects=projects,
            rechained=bool(doc.get("rechained", False)),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        raise ValueError("signed but malformed") from None


# --- reading -----------------------------------------------------------------------------------------
def read(path: Path, keys: list[bytes], database: str | None = None) -> Reading:
    """Every line of the file: valid checkpoints, and problems (bad lines, another database's
    checkpoints, a checkpoint that goes back from an earlier one)."""
    reading = Reading(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return reading
    with handle:
        previous: Checkpoint | None = None
        for number, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                ck = parse_line(text, keys)
            except ValueError as err:
                reading.problems.append(Problem(None, f"checkpoint {path} line {number}: {err}"))
                continue
            if database is not None and ck.database != database:
                reading.problems.append(
                    Problem(None, f"checkpoint {path} line {number}: for another database ({ck.database})")
                )
                continue
            if previous is not None:
                reading.problems += [
                    Problem(p.project_id, f"checkpoint {path} line {number}: {p.message}")
                    for p in _regressions(previous, ck)
                ]
            reading.valid.append((number, ck))
            previous = ck
    return reading


def _regressions(before: Checkpoint, after: Checkpoint) -> list[Problem]:
    """How a later checkpoint goes back from an earlier one (it never should)."""
    problems = []
    for pid, (seq, _) in before.projects.items():
        now = after.projects.get(pid)
        if now is None:
            problems.append(Problem(uuid.UUID(pid), f"project {pid} dropped (was at event {seq})"))
        elif now[0] < seq:
            problems.append(Problem(uuid.UUID(pid), f"project {pid} went back from event {seq} to {now[0]}"))
    if after.feed_head < before.feed_head:
        problems.append(Problem(None, f"feed head went back from {before.feed_head} to {after.feed_head}"))
    return problems


def _reversed_lines(path: Path, block: int = 65536) -> Iterator[bytes]:
    """The file's lines from the last one back (the writer only needs the last valid checkpoint)."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        pos, tail = f.tell(), b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step) + tail
            lines = chunk.split(b"\n")
            tail = lines.pop(0)
            yield from reversed(lines)
        yield tail


def last_valid(path: Path, keys: list[bytes], database: str) -> Checkpoint | None:
    try:
        for raw in _reversed_lines(path):
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            with contextlib.suppress(ValueError):
                ck = parse_line(text, keys)
                if ck.database == database:
                    return ck
    except FileNotFoundError:
        return None
    return None


# --- the database's side -----------------------------------------------------------------------------
def current(session: Session, database: str, now: datetime, *, rechained: bool = False) -> Checkpoint:
    """The database as a checkpoint sees it (every project's last event, the count, the feed head)."""
    last = select(Event.project_id, func.max(Event.seq).label("seq")).group_by(Event.project_id).subquery()
    heads = session.execute(
        select(Event.project_id, Event.seq, Event.hash).join(
            last, (last.c.project_id == Event.project_id) & (last.c.seq == Event.seq)
        )
    ).all()
    return Checkpoint(
        database=database,
        written_at=now,
        project_count=session.scalar(select(func.count()).select_from(Project)) or 0,
        feed_head=session.scalar(select(func.max(Event.feed_seq))) or 0,
        projects={str(pid): (seq, h or "") for pid, seq, h in heads},
        rechained=rechained,
    )


def compare(session: Session, checkpoint: Checkpoint, *, hashes: bool = True) -> list[Problem]:
    """How the database falls short of `checkpoint`: a project missing, a chain shorter than its
    checkpointed event (events deleted at the end, version lowered), a checkpointed hash no longer in
    its chain (rewritten), the feed head or the project count lower."""
    problems: list[Problem] = []
    when = checkpoint.written_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ids = {uuid.UUID(pid): v for pid, v in checkpoint.projects.items()}
    present = dict(session.execute(select(Project.id, Project.version).where(Project.id.in_(list(ids)))).all())
    tops = dict(
        session.execute(
            select(Event.project_id, func.max(Event.seq))
            .where(Event.project_id.in_(list(ids)))
            .group_by(Event.project_id)
        ).all()
    )
    pairs = [(pid, seq) for pid, (seq, _) in ids.items()]
    stored: dict[tuple[uuid.UUID, int], str | None] = {}
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        for pid, seq, h in session.execute(
            select(Event.project_id, Event.seq, Event.hash).where(tuple_(Event.project_id, Event.seq).in_(chunk))
        ):
            stored[(pid, seq)] = h
    for pid, (seq, digest) in sorted(ids.items(), key=lambda kv: str(kv[0])):
        if pid not in present:
            problems.append(Problem(pid, f"project missing: the checkpoint of {when} has it at event {seq}"))
            continue
        top = tops.get(pid) or 0
        if top < seq:
            problems.append(
                Problem(pid, f"chain shorter than the checkpoint of {when}: last event {top}, checkpointed {seq}")
            )
        if present[pid] < seq:
            problems.append(Problem(pid, f"version {present[pid]} lower than the checkpoint's event {seq} ({when})"))
        if hashes and (pid, seq) in stored and stored[(pid, seq)] != digest:
            problems.append(Problem(pid, f"event {seq}: hash differs from the checkpoint of {when} (chain rewritten)"))
    count = session.scalar(select(func.count()).select_from(Project)) or 0
    if count < checkpoint.project_count:
        problems.append(
            Problem(None, f"{count} project(s), the checkpoint of {when} counted {checkpoint.project_count}")
        )
    head = session.scalar(select(func.max(Event.feed_seq))) or 0
    if head < checkpoint.feed_head:
        problems.append(
            Problem(None, f"change feed head {head} lower than the checkpoint's {checkpoint.feed_head} ({when})")
        )
    return problems


# --- writing -----------------------------------------------------------------------------------------
def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # one writer at a time (the worker and the command line)
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def write(
    uows: UnitOfWorkFactory,
    settings: Settings,
    now: datetime,
    *,
    force: bool = True,
    rechained: bool = False,
) -> Outcome:
    """Append a checkpoint of the database unless it went back since the last valid one (then
    `problems`), or, without `force`, unless nothing changed within `checkpoint_interval_seconds`."""
    url = url_of(uows)
    label = database_label(url)
    path = path_for(settings, url)
    keys = derived_keys(settings, PURPOSE)
    previous = last_valid(path, keys, label)
    with uows(write=False) as uow:
        if (
            not force
            and previous is not None
            and now - previous.written_at < timedelta(seconds=settings.checkpoint_interval_seconds)
        ):  # the worker's call, every round: two indexed reads when nothing was written
            head = uow.session.scalar(select(func.max(Event.feed_seq))) or 0
            count = uow.session.scalar(select(func.count()).select_from(Project)) or 0
            if (head, count) == (previous.feed_head, previous.project_count):
                return Outcome(path, unchanged=True)
        if previous is not None:
            problems = compare(uow.session, previous, hashes=not rechained)
            if problems:
                return Outcome(path, problems=problems)
        checkpoint = current(uow.session, label, now, rechained=rechained)
    if rechained:  # the earlier lines hold the old hashes, signed with a key that is being retired
        archive(path, now)
    _append(path, line_of(checkpoint, derived_key(settings, PURPOSE)))
    return Outcome(path, written=checkpoint)


def archive(path: Path, now: datetime) -> Path | None:
    """Move the file aside (`<name>.before-rechain-<UTC time>.jsonl`, kept): a re-keyed chain starts a
    new file, whose first checkpoint is the re-keyed one."""
    if not path.exists():
        return None
    target = path.with_name(f"{path.stem}.before-rechain-{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}.jsonl")
    path.rename(target)
    return target


def after_round(uows: UnitOfWorkFactory, settings: Settings, clock: Clock) -> Outcome | None:
    """The worker's call after each round: a checkpoint when events were written since the last one,
    or when the interval elapsed. A checkpoint it must not write (the database went back) or cannot
    (the directory is not writable) is logged; the round goes on."""
    try:
        outcome = write(uows, settings, clock.now(), force=False)
    except OSError as err:
        log.error("checkpoint not written: %s", err)
        return None
    for problem in outcome.problems:
        log.error("checkpoint refused, the database went back: %s", problem.message)
    return outcome
