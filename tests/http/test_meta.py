"""The workflow description, the OpenAPI document, the docs page and the health check."""

from __future__ import annotations

from app.evidence.registry import KINDS
from tests.support.api import API
from tests.support.domain import GUARDS, STATES, STEPS, TRIGGERS


def test_workflow_description(client) -> None:
    r = client.get(f"{API}/workflow")
    assert r.status_code == 200, r.text
    wf = r.json()
    assert [s["id"] for s in wf["states"]] == STATES
    assert all(s["label"] for s in wf["states"])
    assert [(s["id"], s["step"], s["default_months"], s["terminal"]) for s in wf["states"]] == [
        ("groupe_projet", 1, 3, False),
        ("contours", 2, 4, False),
        ("faisabilite", 3, 8, False),
        ("validation", 4, 3, False),
        ("prefiguration", 5, 12, False),
        ("expertise", 6, 6, False),
        ("labellisee", None, None, True),
        ("abandonnee", None, None, True),
    ]
    assert wf["horizon_months"] == 36

    transitions = {t["trigger"]: t for t in wf["transitions"]}
    assert sorted(transitions) == sorted(TRIGGERS) and len(wf["transitions"]) == 12
    for trigger, codes in GUARDS.items():
        # Forward moves are also refused while suspended (projet_suspendu), then the domain's guards in order.
        got = [g["code"] for g in transitions[trigger]["guards"]]
        assert [c for c in got if c != "projet_suspendu"] == codes, trigger
        assert all(g["message"] for g in transitions[trigger]["guards"])
    every_code = {g["code"] for t in wf["transitions"] for g in t["guards"]}
    assert {c for codes in GUARDS.values() for c in codes} <= every_code
    for trigger in ("reprendre_contours", "reprendre_faisabilite", "ajourner_label", "abandonner"):
        assert [g["code"] for g in transitions[trigger]["guards"]] in ([], ["projet_suspendu"])
    assert [
        (t, transitions[t]["sources"], transitions[t]["dest"])
        for t in ("definir_contours", "labelliser", "reprendre_contours", "reprendre_faisabilite", "ajourner_label")
    ] == [
        ("definir_contours", ["groupe_projet"], "contours"),
        ("labelliser", ["expertise"], "labellisee"),
        ("reprendre_contours", ["faisabilite"], "contours"),
        ("reprendre_faisabilite", ["validation"], "faisabilite"),
        ("ajourner_label", ["expertise"], "prefiguration"),
    ]
    for trigger in ("abandonner", "suspendre", "reprendre"):
        assert sorted(transitions[trigger]["sources"]) == sorted(STEPS), trigger
    assert transitions["abandonner"]["dest"] == "abandonnee"
    assert {t for t, v in transitions.items() if v["reason_required"]} == {
        "reprendre_contours",
        "reprendre_faisabilite",
        "ajourner_label",
        "abandonner",
        "suspendre",
        "reprendre",
    }
    assert {t for t, v in transitions.items() if v["consultant_only"]} == {"labelliser", "ajourner_label"}

    mermaid = wf["mermaid"]
    assert mermaid.startswith("stateDiagram-v2")
    assert "[*] --> groupe_projet" in mermaid
    assert (
        "expertise --> labellisee: labelliser [expertise_sur_site, grille_expertise_complete, avis_expertise_favorable]"
    ) in mermaid
    for name in STATES + TRIGGERS:
        assert name in mermaid


def test_workflow_follows_the_settings(app, client) -> None:
    app.state.settings = app.state.settings.model_copy(update={"horizon_months": 48})
    assert client.get(f"{API}/workflow").json()["horizon_months"] == 48


def test_openapi_document(client) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["title"] == "regieflow"
    paths = doc["paths"]
    assert {"get", "post"} <= set(paths[f"{API}/projects"])
    assert {"get", "patch"} == set(paths[f"{API}/projects/{{project_id}}"])
    assert "post" in paths[f"{API}/projects/{{project_id}}/transitions/{{trigger}}"]
    assert "put" in paths[f"{API}/projects/{{project_id}}/plan"]
    for name, kind in KINDS.items():
        base = f"{API}/projects/{{project_id}}/{name}"
        if kind.singleton:
            assert {"get", "put", "delete"} == set(paths[base]), name
        else:
            assert {"get", "post"} == set(paths[base]), name
            assert {"get", "patch", "delete"} == set(paths[base + "/{item_id}"]), name
    # Every operation id is unique (generated routes are named per kind).
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_docs_page_and_root_redirect(client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert '<script src="/docs/init.js">' in r.text and "/openapi.json" in client.get("/docs/init.js").text
    r = client.get("/", follow_redirects=False)  # pages ignore API keys: a person must log in
    assert r.status_code == 303 and r.headers["location"] == "/connexion"


def test_health(client) -> None:
    r = client.get(f"{API}/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
