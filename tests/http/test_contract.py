"""Contract tests: schemathesis generates requests from the app's own OpenAPI document and checks that
no answer is a 5xx and that every answer is one the document gives (status code, media type, schema).

Bounded and reproducible (schemathesis.toml: a fixed seed, a few examples per operation, every check,
positive and negative data), authenticated with an unrestricted consultant key; .ci/run runs the same
configuration with the schemathesis command line against a served instance.

One test per operation; they share one database state for the module (a project a few steps in),
prepared once and committed, each operation building on what the previous ones wrote; the tables are
emptied before the first and after the module. (One transaction held over the module would keep
SQLite's write lock from the other tests of this file, each in its own rolled-back transaction.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from app.core.database import make_session_factory
from app.core.settings import Settings
from app.http.application import create_app
from tests.fixtures.application import MAX_BODY_BYTES, serving
from tests.fixtures.database import TestDatabase, truncate
from tests.support.api import make_key, project_at
from tests.support.clock import paris_clock

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "schemathesis.toml"


def _document() -> dict[str, Any]:
    """The OpenAPI document (building it reads no database)."""
    application = create_app(Settings(database_url="sqlite://"))
    try:
        return application.openapi()
    finally:
        application.state.engine.dispose()


def _config() -> SchemathesisConfig:
    """schemathesis.toml, without its coverage phase: its deterministic boundary cases of every
    parameter take minutes per database; the command-line run of .ci/run has them, and
    tests/http/test_openapi_document.py walks every undocumented method itself."""
    config = SchemathesisConfig.from_path(CONFIG)
    config.projects.default.phases.coverage.enabled = False
    return config


schema = schemathesis.openapi.from_dict(_document(), config=_config())


@pytest.fixture(scope="module")
def contract(_one_app, engine, database_url: str) -> Iterator[tuple[Any, dict[str, str], str]]:
    """The suite's application on a state committed for the module: the headers of a consultant key, and
    a project a few steps in. (Module-scoped: hypothesis refuses function-scoped fixtures here.)"""
    truncate(engine)
    committed = TestDatabase(database_url, engine, make_session_factory(engine))
    settings = Settings(database_url=database_url, max_body_bytes=MAX_BODY_BYTES)
    with serving(_one_app, committed, settings, paris_clock()):
        key, _ = make_key(_one_app, name="Contrat")
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(_one_app, raise_server_exceptions=False, headers=headers) as c:
            project = project_at(c, "faisabilite", start=date(2026, 1, 5))
        yield _one_app, headers, project["id"]
    truncate(engine)


@schema.parametrize()
def test_the_api_keeps_its_contract(case, contract) -> None:
    app, headers, project_id = contract
    # Random project ids only ever meet a 404: point the project's sub-resources (its evidence, history,
    # schedule) at the real project so that the generated bodies reach the services. Transitions keep
    # their random ids (a generated `abandonner` would close the project for every later operation).
    # (Not when the path is the schema-violating part of a negative case: it would make it valid.)
    path_is_negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
    if (
        case.path_parameters
        and "project_id" in case.path_parameters
        and "/transitions/" not in case.path
        and not path_is_negative
    ):
        case.path_parameters["project_id"] = project_id
    # Checks that send requests of their own (without credentials, with another method…) reach the app
    # through the schema's transport: bind it to the app, as schemathesis.openapi.from_asgi would.
    case.operation.schema.app = app
    # Every check of schemathesis.toml (all of them), and one of ours on the 422 it lets valid data get.
    case.call_and_validate(app=app, headers=headers, additional_checks=[only_business_refusals])


# What schemathesis.toml lets schema-valid data be refused with (422): a rule of the service that JSON
# Schema cannot say (`donnee_invalide`, raised by a service), or one of these checks of a body's field
# against more than a format: a SIRET's check digit, a commune of the official geographic code.
BUSINESS_MESSAGES = ("Numéro SIRET invalide : 14 chiffres dont la clé de contrôle", "Code INSEE inconnu : ")


def only_business_refusals(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schema-valid data refused with 422 must be refused by a business rule, never by a check of the
    request's shape that the document fails to declare (a pattern, a length, a bound, a type)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    body = response.json()
    if body.get("code") == "donnee_invalide":
        return None
    shape = [e for e in body.get("errors", []) if not str(e.get("message", "")).startswith(BUSINESS_MESSAGES)]
    assert not shape, f"schema-valid data refused for an undeclared rule: {shape}"
    return None


# --- what the contract tests found (each answered 500 before its fix) --------------------------------
def test_nul_characters_are_refused_with_422(client: TestClient, anon_client: TestClient) -> None:
    """PostgreSQL refuses a NUL in any text: bodies and the list's text filters answer 422 first."""
    r = anon_client.post("/api/v1/auth/login", json={"email": "a\u0000@example.fr", "password": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email", r.text
    r = client.post("/api/v1/projects", json={"name": "Régie\u0000", "kind": "regie_de_quartier", "region": "Bretagne"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name", r.text
    for path in ("/api/v1/projects", "/api/v1/exports/projects.csv", "/api/v1/exports/projects.xlsx"):
        for params in ({"q": "a\u0000b"}, {"region": ["Bretagne", "\u0000"]}):
            r = client.get(path, params=params)
            assert r.status_code == 422 and r.json()["code"] == "donnee_invalide", (path, params, r.text)


def test_the_login_page_takes_a_nul_as_a_wrong_login(app, anon_client: TestClient) -> None:
    """Not in the OpenAPI document (a page), same fault: the e-mail reached the throttle query."""
    import re

    page = anon_client.get("/connexion")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = anon_client.post("/connexion", data={"email": "a\u0000@example.fr", "password": "x" * 12, "csrf": token})
    assert r.status_code == 401, r.text


def test_a_required_field_cannot_be_emptied(client: TestClient) -> None:
    """PATCH {"conventionnement": null} reached the NOT NULL column (IntegrityError, 500)."""
    p = project_at(client, "groupe_projet", start=date(2026, 9, 1))
    r = client.patch(f"/api/v1/projects/{p['id']}", json={"conventionnement": None})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": "conventionnement", "message": "Ce champ ne peut pas être vidé."}
    ], r.text
    r = client.patch(f"/api/v1/projects/{p['id']}", json={"initiator": None})  # nullable: fine
    assert r.status_code == 200 and r.json()["initiator"] is None
