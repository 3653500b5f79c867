"""Run Alembic from code (`regieflow db upgrade`, `regieflow serve`, the tests).

Alembic itself is imported only when there is something for it to do: `upgrade()` to the head first
asks the database which revision it holds and reads the head from the revision files' text (no
import of Alembic, of every revision module, of the models env.py loads). On a database already at
the head that is all a start costs (issue 17: a few ms instead of 0.15-0.25 s); behind, ahead, empty,
a branch, or any file this reading cannot follow, and Alembic decides as before.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent.parent
VERSIONS = ROOT / "migrations" / "versions"

# `revision: str = '0013'`, `down_revision: str | None = "0012"` (the lines Alembic's template writes)
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)
# alembic.ini settings that change which files are revisions: then only Alembic knows the head
_LAYOUT_OPTIONS = re.compile(r"^\s*(version_locations|recursive_version_locations|sourceless)\s*=", re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if revision == "head" and at_head(url):
        return  # nothing to migrate: what Alembic would have found, without loading it
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def revisions() -> list[str]:
    """Every schema revision, oldest first (the last one is the head)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def script_heads() -> frozenset[str] | None:
    """The head revision(s) of migrations/versions, read from each file's `revision` and
    `down_revision` lines without importing anything; None when unsure (a file without exactly one
    literal of each, no file at all, or an alembic.ini that moves or widens where revisions live)."""
    if _LAYOUT_OPTIONS.search((ROOT / "alembic.ini").read_text(encoding="utf-8")):
        return None
    revisions: set[str] = set()
    parents: set[str] = set()
    # the files Alembic reads as revisions: every *.py of the directory but __init__ and editor locks
    for path in VERSIONS.glob("*.py"):
        if path.name.startswith((".#", "__init__")):
            continue
        found: dict[str, list[object]] = {"revision": [], "down_revision": []}
        for name, value in _ASSIGNMENT.findall(path.read_text(encoding="utf-8")):
            try:
                found[name].append(ast.literal_eval(value))
            except (ValueError, SyntaxError):
                return None
        if len(found["revision"]) != 1 or len(found["down_revision"]) != 1:
            return None
        rev, down = found["revision"][0], found["down_revision"][0]
        if not isinstance(rev, str) or rev in revisions:
            return None
        revisions.add(rev)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)) and all(isinstance(d, str) for d in down):
            parents.update(down)  # a merge revision
        elif down is not None:
            return None
    heads = frozenset(revisions - parents)
    return heads or None


def at_head(url: str) -> bool:
    """True when the database's alembic_version holds exactly the script directory's head(s). False
    whenever that is not sure (no such table, a SQLite file not there yet, heads not readable): then
    Alembic runs. A database that cannot be reached at all raises here as it would in Alembic."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from app.core.database import make_engine

    heads = script_heads()
    if heads is None:
        return False
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:")
        or parsed.database.startswith("file:")
        or not Path(parsed.database).is_file()
    ):
        return False  # in memory (always empty), a URI filename, or a file Alembic is to create
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(regieflow_write=False) as conn:  # SQLite: a plain BEGIN
            try:
                held = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            except SQLAlchemyError:  # no version table: an empty database, Alembic creates everything
                return False
    finally:
        engine.dispose()
    return frozenset(held) == heads
