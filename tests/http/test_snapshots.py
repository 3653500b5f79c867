"""The layout may move code, never behaviour: the OpenAPI document, the routes (API and pages) and the
command line are compared with snapshots taken before the move (tests/snapshots/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from app.cli import cli
from app.core.settings import Settings
from app.http.application import api_routes, create_app, page_routes, root_routes

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def _openapi() -> dict[str, Any]:
    application = create_app(Settings(database_url="sqlite://"))
    try:
        return application.openapi()
    finally:
        application.state.engine.dispose()


def routes_table() -> str:
    rows = [
        f"{' '.join(sorted(r.methods))} {prefix}{r.path} {r.name}"
        for prefix, routes in (("/api/v1", api_routes()), ("", root_routes()), ("", page_routes()))
        for r in routes
    ]
    return "\n".join(sorted(rows)) + "\n"


def command_tree() -> str:
    def walk(command: Any, path: str) -> list[str]:
        params = " ".join(sorted(f"{p.name}:{','.join(sorted(p.opts))}:{p.required}" for p in command.params))
        lines = [f"{path} {params}".rstrip()]
        if hasattr(command, "commands"):  # a group (typer ships its own click)
            for name in sorted(command.commands):
                lines += walk(command.commands[name], f"{path} {name}")
        return lines

    return "\n".join(walk(typer.main.get_command(cli), "regieflow")) + "\n"


def test_the_openapi_document_is_the_one_before_the_move() -> None:
    expected = json.loads((SNAPSHOTS / "openapi.json").read_text(encoding="utf-8"))
    assert _openapi() == expected


def test_every_route_keeps_its_method_path_and_name() -> None:
    assert routes_table() == (SNAPSHOTS / "routes.txt").read_text(encoding="utf-8")


def test_the_command_line_keeps_its_commands_and_options() -> None:
    assert command_tree() == (SNAPSHOTS / "cli.txt").read_text(encoding="utf-8")
