"""An export written before a schema change imports after it (issue 12 §7: data that was valid before
stays readable): `regieflow import` loads it at its own schema revision into an empty database, then
migrates it to the latest one, so that the data migrations run on it as on any database (the keyed
event chain, encrypted webhook secrets, official commune names) and `verify` is clean."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.core.migrate import revisions
from tests.fixtures.cli import error_line, invoke_cli
from tests.fixtures.database import sibling_database

OLD_EXPORT = Path(__file__).resolve().parent / "data" / "export_schema_0003.json.gz"


@pytest.fixture
def empty_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new, migrated, empty database of the suite's kind (SQLite file or PostgreSQL sibling)."""
    return sibling_database(database_url, "older_export", tmp_path_factory)


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {"REGIEFLOW_DATABASE_URL": url, "REGIEFLOW_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}


def test_an_export_of_schema_0003_imports_migrates_and_verifies(empty_url: str, tmp_path: Path) -> None:
    raw = gzip.decompress(OLD_EXPORT.read_bytes())
    doc = json.loads(raw)
    assert doc["schema_revision"] == "0003" != revisions()[-1]
    file = tmp_path / "old.json"
    file.write_bytes(raw)
    env = _env(empty_url, tmp_path)

    imported = invoke_cli(["import", str(file)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "15 projects, 396 events" in imported.stdout
    assert f"migrated to {revisions()[-1]}" in imported.stderr

    verified = invoke_cli(["verify"], env=env)
    assert verified.exit_code == 0, verified.output
    assert "15 project(s) checked, 0 with discrepancies." in verified.stdout

    again = invoke_cli(["export", "--output", str(tmp_path / "again.json")], env=env)
    assert again.exit_code == 0, again.output
    now = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert now["schema_revision"] == revisions()[-1]
    projects = {t["name"]: t for t in now["tables"]}["projects"]
    assert len(projects["rows"]) == 15


def test_an_older_export_into_a_database_that_holds_data_is_refused_untouched(empty_url: str, tmp_path: Path) -> None:
    file = tmp_path / "old.json"
    file.write_bytes(gzip.decompress(OLD_EXPORT.read_bytes()))
    env = _env(empty_url, tmp_path)
    assert invoke_cli(["import", str(file)], env=env).exit_code == 0
    line = error_line(invoke_cli(["import", str(file)], env=env))
    assert "La base n'est pas vide" in line
    assert invoke_cli(["verify"], env=env).exit_code == 0  # still at the latest schema, still clean


def test_an_export_of_an_unknown_schema_is_refused_in_one_line(empty_url: str, tmp_path: Path) -> None:
    doc = json.loads(gzip.decompress(OLD_EXPORT.read_bytes()))
    doc["schema_revision"] = "9999"
    file = tmp_path / "future.json"
    file.write_text(json.dumps(doc), encoding="utf-8")
    line = error_line(invoke_cli(["import", str(file)], env=_env(empty_url, tmp_path)))
    assert "'9999'" in line and "ne connaît pas" in line
