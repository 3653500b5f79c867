"""The other rules of issue 12 over HTTP: RNA numbers, plans that fit their horizon (re-plan and
settings), and a stakeholder who has given an opinion keeps its category."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.settings import Settings
from tests.support.api import API, assert_problem, create_project, post
from tests.support.clock import TODAY
from tests.support.evidence import PLAN

D = (TODAY - timedelta(days=3)).isoformat()


@pytest.mark.parametrize("number", ["W2A1000123", "W2B0012345", "W595012345"])
def test_rna_numbers_with_digits_or_capitals(client: TestClient, number: str) -> None:
    pid = create_project(client)["id"]
    r = client.put(f"{API}/projects/{pid}/association", json={"name": "Asso", "declared_on": D, "rna": number})
    assert r.status_code == 201, r.text
    assert r.json()["rna"] == number


@pytest.mark.parametrize("number", ["W59501234", "W5950123456", "X595012345", "W2A100012é"])
def test_other_rna_numbers_are_refused_in_french(client: TestClient, number: str) -> None:
    pid = create_project(client)["id"]
    r = client.put(f"{API}/projects/{pid}/association", json={"name": "Asso", "declared_on": D, "rna": number})
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["field"].endswith("rna")
    assert "W suivie de 9 chiffres ou lettres majuscules" in problem["errors"][0]["message"]


def test_a_plan_longer_than_its_horizon_is_refused(client: TestClient) -> None:
    p = create_project(client)
    body = {"step_months": PLAN | {"prefiguration": 16}, "horizon_months": 36, "reason": "Recrutement reporté"}
    problem = assert_problem(client.put(f"{API}/projects/{p['id']}/plan", json=body), 422)
    assert "totalisent 40 mois, au-delà de l'horizon de 36 mois" in problem["detail"]
    after = client.get(f"{API}/projects/{p['id']}").json()
    assert after["version"] == p["version"] and after["horizon_on"] == p["horizon_on"]
    # the same months within a longer horizon: accepted
    r = client.put(f"{API}/projects/{p['id']}/plan", json=body | {"horizon_months": 40})
    assert r.status_code == 200, r.text


def test_settings_refuse_a_default_plan_longer_than_the_horizon() -> None:
    with pytest.raises(ValidationError, match="more than horizon_months"):
        Settings(step_months=PLAN | {"expertise": 12}, horizon_months=36)
    assert Settings(step_months=PLAN | {"expertise": 12}, horizon_months=42).horizon_months == 42


def test_a_stakeholder_who_gave_an_opinion_keeps_its_category(client: TestClient) -> None:
    pid = create_project(client)["id"]
    sh = post(client, f"/projects/{pid}/stakeholders", {"name": "Vilogia", "category": "bailleur_social"})
    item = f"{API}/projects/{pid}/stakeholders/{sh['id']}"
    assert client.patch(item, json={"category": "collectivite"}).status_code == 200  # no opinion yet
    post(client, f"/projects/{pid}/approvals", {"stakeholder_id": sh["id"], "verdict": "favorable", "given_on": D})
    problem = assert_problem(client.patch(item, json={"category": "habitant"}), 409, "conflit")
    assert "sa catégorie ne peut plus changer" in problem["detail"]
    assert client.get(item).json()["category"] == "collectivite"
    # its other fields still change
    assert client.patch(item, json={"organisation": "Agence de Roubaix"}).status_code == 200
