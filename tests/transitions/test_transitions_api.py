"""Transitions over HTTP: what may fire, backward moves, suspension, abandon, the events they
write, and the schedule (plan versus actual, re-plan)."""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from tests.support.api import (
    API,
    CONDITIONS,
    FORWARD,
    actor_of,
    advance,
    assert_problem,
    create_project,
    events_of,
    fire,
    footprint,
    get_project,
    post,
    project_at,
    satisfy,
)
from tests.support.clock import TODAY

START = date(2026, 1, 5)  # before TODAY (2026-11-26)
ALWAYS = ["abandonner", "suspendre", "reprendre"]
FROM_STATE = {
    "groupe_projet": ["definir_contours", *ALWAYS],
    "contours": ["lancer_faisabilite", *ALWAYS],
    "faisabilite": ["soumettre_validation", "reprendre_contours", *ALWAYS],
    "validation": ["lancer_prefiguration", "reprendre_faisabilite", *ALWAYS],
    "prefiguration": ["demander_expertise", *ALWAYS],
    "expertise": ["labelliser", "ajourner_label", *ALWAYS],
}
DEST = {
    "definir_contours": "contours",
    "lancer_faisabilite": "faisabilite",
    "soumettre_validation": "validation",
    "lancer_prefiguration": "prefiguration",
    "demander_expertise": "expertise",
    "labelliser": "labellisee",
    "reprendre_contours": "contours",
    "reprendre_faisabilite": "faisabilite",
    "ajourner_label": "prefiguration",
    "abandonner": "abandonnee",
}
REASON = {"reprendre_contours", "reprendre_faisabilite", "ajourner_label", "abandonner", "suspendre", "reprendre"}


def _transitions(client, pid: str) -> dict:
    r = client.get(f"{API}/projects/{pid}/transitions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["etag"] == f'"{body["version"]}"'
    return body


def _by_trigger(body: dict) -> dict[str, dict]:
    return {t["trigger"]: t for t in body["triggers"]}


def test_get_transitions_lists_every_trigger_of_every_step(client) -> None:
    pid = create_project(client, started_on=START.isoformat())["id"]
    for step, forward in FORWARD:
        body = _transitions(client, pid)
        assert body["state"] == step and body["suspended"] is False
        triggers = _by_trigger(body)
        assert sorted(triggers) == sorted(FROM_STATE[step])
        for name, t in triggers.items():
            assert t["to_state"] == DEST.get(name, step)
            assert t["reason_required"] is (name in REASON)
            assert t["consultant_only"] is (name in {"labelliser", "ajourner_label"})
            assert t["label"]
        # Before the evidence: forward blocked with its guards; backward, abandon and suspend allowed.
        assert triggers[forward]["allowed"] is False and triggers[forward]["unmet"]
        for name in set(triggers) - {forward, "reprendre"}:
            assert triggers[name] | {"allowed": True, "unmet": []} == triggers[name], name
        assert triggers["reprendre"]["allowed"] is False
        assert [u["code"] for u in triggers["reprendre"]["unmet"]] == ["projet_actif"]
        if forward != "labelliser":
            advance(client, pid, DEST[forward], start=START)

    # Expertise: with reservations the label is postponed; a later favourable expertise decides.
    post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": "2026-06-01", "experts": ["Claire"], "conclusion": "reserves"},
    )
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/labelliser"), 409)
    assert [u["code"] for u in problem["unmet"]] == ["grille_expertise_complete", "avis_expertise_favorable"]
    p = fire(client, pid, "ajourner_label", reason="Réserves sur la gouvernance", effective_on="2026-06-15")
    assert p["state"] == "prefiguration" and p["state_entered_on"] == "2026-06-15"
    p = fire(client, pid, "demander_expertise", effective_on="2026-09-01")  # its evidence is still there
    assert p["state"] == "expertise"
    x = post(
        client,
        f"/projects/{pid}/expertises",
        {"conducted_on": "2026-10-01", "experts": ["Claire"], "conclusion": "favorable"},
    )
    for condition in CONDITIONS:  # grille_expertise_complete
        post(
            client,
            f"/projects/{pid}/expertise-assessments",
            {"expertise_id": x["id"], "condition": condition, "level": "atteint"},
        )
    assert _by_trigger(_transitions(client, pid))["labelliser"]["allowed"] is True
    p = fire(client, pid, "labelliser", effective_on="2026-10-20")
    assert (
        p
        | {
            "state": "labellisee",
            "labelled_on": "2026-10-20",
            "closed_on": "2026-10-20",
            "status": None,
            "within_horizon": True,
            "step_due_on": None,
        }
        == p
    )

    # A labelled project is frozen: no trigger, no transition, no evidence write.
    assert _transitions(client, pid)["triggers"] == []
    before = footprint(client, pid)
    for trigger in ("ajourner_label", "abandonner", "suspendre"):
        assert_problem(
            client.post(f"{API}/projects/{pid}/transitions/{trigger}", json={"reason": "x"}), 409, "projet_clos"
        )
    need = client.get(f"{API}/projects/{pid}/needs").json()[0]
    for method, path, body in [
        ("POST", "/needs", {"label": "Nouveau"}),
        ("PATCH", f"/needs/{need['id']}", {"status": "ecarte"}),
        ("DELETE", f"/needs/{need['id']}", None),
        ("DELETE", "/association", None),
        ("PUT", "/feasibility", {"annual_charges": 1}),
        ("POST", "/expertises", {"conducted_on": "2026-11-01", "experts": ["Jean"]}),
    ]:
        assert_problem(client.request(method, f"{API}/projects/{pid}{path}", json=body), 409, "projet_clos")
    assert footprint(client, pid) == before
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["labelled_on"] == "2026-10-20" and sch["within_horizon"] is True and sch["status"] is None
    assert all(s["actual_end"] for s in sch["steps"]) and not any(s["current"] for s in sch["steps"])


def test_guard_explanations_match_the_domain(client) -> None:
    pid = project_at(client, "validation", start=START)["id"]
    stakeholders = {s["category"]: s for s in client.get(f"{API}/projects/{pid}/stakeholders").json()}
    unmet = _by_trigger(_transitions(client, pid))["lancer_prefiguration"]["unmet"]
    assert [u["code"] for u in unmet] == ["avis_habitants", "avis_collectivite", "avis_bailleur", "avis_partenaire"]
    d = (TODAY - timedelta(days=5)).isoformat()
    for cat in ("habitant", "collectivite", "bailleur_social", "partenaire_socio_economique"):
        post(
            client,
            f"/projects/{pid}/approvals",
            {"stakeholder_id": stakeholders[cat]["id"], "verdict": "favorable", "given_on": d},
        )
    # A later unfavourable approval from the landlord stands; a still later favourable one supersedes it.
    post(
        client,
        f"/projects/{pid}/approvals",
        {
            "stakeholder_id": stakeholders["bailleur_social"]["id"],
            "verdict": "defavorable",
            "given_on": TODAY.isoformat(),
        },
    )
    unmet = _by_trigger(_transitions(client, pid))["lancer_prefiguration"]["unmet"]
    assert [u["code"] for u in unmet] == ["avis_bailleur", "aucun_avis_defavorable"]
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/lancer_prefiguration"), 409)
    assert problem["unmet"] == unmet
    post(
        client,
        f"/projects/{pid}/approvals",
        {
            "stakeholder_id": stakeholders["bailleur_social"]["id"],
            "verdict": "favorable",
            "given_on": TODAY.isoformat(),
        },
    )
    assert _by_trigger(_transitions(client, pid))["lancer_prefiguration"]["allowed"] is True
    assert fire(client, pid, "lancer_prefiguration")["state"] == "prefiguration"


def test_backward_moves_need_a_reason_and_the_project_can_go_forward_again(client) -> None:
    pid = project_at(client, "faisabilite", start=START, gap_days=20)["id"]  # contours 01-25, faisabilite 02-14
    p = fire(
        client, pid, "reprendre_contours", reason="Le territoire doit inclure le QPV voisin", effective_on="2026-03-01"
    )
    assert p | {"state": "contours", "state_entered_on": "2026-03-01", "last_transition_on": "2026-03-01"} == p
    post(client, f"/projects/{pid}/qpvs", {"code": "QP059037", "name": "Épeule"})
    p = fire(client, pid, "lancer_faisabilite", effective_on="2026-04-01")
    assert p["state"] == "faisabilite"
    p = advance(client, pid, "validation", start=START)
    p = fire(
        client,
        pid,
        "reprendre_faisabilite",
        reason="Le bailleur demande un autre local",
        effective_on=p["last_transition_on"],
    )
    assert p["state"] == "faisabilite"
    p = fire(client, pid, "soumettre_validation")  # its evidence is still there
    assert p["state"] == "validation" and p["state_entered_on"] == TODAY.isoformat()

    transitions = [e for e in events_of(client, pid) if e["type"] == "project.transitioned"]
    assert [(e["trigger"], e["from_state"], e["to_state"]) for e in transitions] == [
        ("definir_contours", "groupe_projet", "contours"),
        ("lancer_faisabilite", "contours", "faisabilite"),
        ("reprendre_contours", "faisabilite", "contours"),
        ("lancer_faisabilite", "contours", "faisabilite"),
        ("soumettre_validation", "faisabilite", "validation"),
        ("reprendre_faisabilite", "validation", "faisabilite"),
        ("soumettre_validation", "faisabilite", "validation"),
    ]
    assert transitions[2]["reason"] == "Le territoire doit inclure le QPV voisin"
    assert transitions[5]["reason"] == "Le bailleur demande un autre local"
    assert transitions[0]["reason"] is None

    # The schedule shows a step's first entry and its last exit.
    steps = {s["step"]: s for s in client.get(f"{API}/projects/{pid}/schedule").json()["steps"]}
    assert steps["contours"]["actual_start"] == "2026-01-25" and steps["contours"]["actual_end"] == "2026-04-01"
    assert steps["faisabilite"]["actual_start"] == "2026-02-14"
    assert steps["faisabilite"]["actual_end"] == TODAY.isoformat()
    assert steps["validation"]["current"] is True and steps["validation"]["actual_end"] is None


def test_every_transition_writes_one_event_with_actor_states_and_date(client) -> None:
    pid = create_project(client, started_on=START.isoformat())["id"]
    satisfy(client, pid, "groupe_projet", TODAY)
    moves = [
        ("suspendre", {"reason": "Élections municipales", "effective_on": "2026-02-01"}, "groupe_projet"),
        ("reprendre", {"reason": "Nouvelle équipe", "effective_on": "2026-04-01"}, "groupe_projet"),
        ("definir_contours", {"effective_on": "2026-04-10"}, "contours"),
        ("suspendre", {"reason": "Départ du bailleur", "effective_on": "2026-05-01"}, "contours"),
        ("abandonner", {"reason": "Aucun bailleur ne reprend", "effective_on": "2026-06-01"}, "abandonnee"),
    ]
    for trigger, body, to_state in moves:
        version, n = footprint(client, pid)
        from_state = get_project(client, pid)["state"]
        r = client.post(f"{API}/projects/{pid}/transitions/{trigger}", json=body, headers={"If-Match": f'"{version}"'})
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == f'"{version + 1}"' and r.json()["version"] == version + 1
        assert footprint(client, pid) == (version + 1, n + 1)
        event = events_of(client, pid)[-1]
        assert (
            event
            | {
                "seq": version + 1,
                "type": "project.transitioned",
                "trigger": trigger,
                "from_state": from_state,
                "to_state": to_state,
                "effective_on": body["effective_on"],
                "actor": actor_of(client),
                "reason": body.get("reason"),
            }
            == event
        )
        assert event["recorded_at"].startswith(TODAY.isoformat())
    p = get_project(client, pid)
    assert (
        p
        | {
            "state": "abandonnee",
            "closed_on": "2026-06-01",
            "closed_reason": "Aucun bailleur ne reprend",
            "suspended": False,
            "suspended_since": None,
            "status": None,
            "step_due_on": None,
            "projected_label_on": None,
            "labelled_on": None,
        }
        == p
    )
    # Abandoning while suspended ends the suspension on that day.
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["suspended_days"] == (date(2026, 4, 1) - date(2026, 2, 1)).days + 31
    assert sch["status"] is None and sch["suspended_since"] is None


def test_suspension_blocks_every_move_but_resume_and_abandon(client) -> None:
    pid = project_at(client, "contours", start=START)["id"]
    satisfy(client, pid, "contours", TODAY)
    p = fire(client, pid, "suspendre", reason="Changement de municipalité", effective_on="2026-03-01")
    assert p["suspended"] is True and p["suspended_since"] == "2026-03-01" and p["state"] == "contours"

    body = _transitions(client, pid)
    assert body["suspended"] is True
    triggers = _by_trigger(body)
    assert triggers["lancer_faisabilite"]["allowed"] is False
    assert [u["code"] for u in triggers["lancer_faisabilite"]["unmet"]] == ["projet_suspendu"]
    assert [u["code"] for u in triggers["suspendre"]["unmet"]] == ["projet_suspendu"]
    assert triggers["reprendre"]["allowed"] is True and triggers["abandonner"]["allowed"] is True

    before = footprint(client, pid)
    problem = assert_problem(
        client.post(f"{API}/projects/{pid}/transitions/lancer_faisabilite"), 409, "conditions_non_remplies"
    )
    assert "projet_suspendu" in [u["code"] for u in problem["unmet"]]
    problem = assert_problem(client.post(f"{API}/projects/{pid}/transitions/suspendre", json={"reason": "encore"}), 409)
    assert [u["code"] for u in problem["unmet"]] == ["projet_suspendu"]
    assert footprint(client, pid) == before
    # Evidence can still be recorded while suspended.
    post(client, f"/projects/{pid}/activities", {"label": "Jardinage"})

    p = fire(client, pid, "reprendre", reason="La nouvelle équipe soutient le projet", effective_on="2026-05-01")
    assert p["suspended"] is False and p["suspended_since"] is None and p["state"] == "contours"
    assert fire(client, pid, "lancer_faisabilite")["state"] == "faisabilite"


def test_schedule_shifts_every_deadline_by_the_suspended_days(client) -> None:
    pid = create_project(client, started_on=START.isoformat())["id"]
    base_horizon = START + relativedelta(months=36)
    base_due = START + relativedelta(months=3)
    fire(client, pid, "suspendre", reason="Élections", effective_on="2026-02-01")

    # While suspended, everything ahead of the pause moves one day per day of pause.
    open_days = (TODAY - date(2026, 2, 1)).days
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["suspended_since"] == "2026-02-01" and sch["suspended_days"] == open_days
    assert sch["horizon_on"] == (base_horizon + timedelta(days=open_days)).isoformat()
    assert sch["step_due_on"] == (base_due + timedelta(days=open_days)).isoformat()
    p = get_project(client, pid)
    assert (p["horizon_on"], p["step_due_on"]) == (sch["horizon_on"], sch["step_due_on"])
    assert p["status"] == sch["status"] == "dans_les_temps"

    # Resumed: the pause is over and the deadlines stay where they were (a long pause included).
    fire(client, pid, "reprendre", reason="Nouvelle équipe", effective_on="2026-10-01")
    days = (date(2026, 10, 1) - date(2026, 2, 1)).days
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["suspended_since"] is None and sch["suspended_days"] == days
    assert sch["horizon_on"] == (base_horizon + timedelta(days=days)).isoformat()
    assert sch["step_due_on"] == (base_due + timedelta(days=days)).isoformat()
    steps = sch["steps"]
    assert steps[0]["planned_end"] == sch["step_due_on"]
    assert steps[-1]["planned_end"] == sch["horizon_on"]
    p = get_project(client, pid)
    assert (p["horizon_on"], p["step_due_on"], p["projected_label_on"], p["status"]) == (
        sch["horizon_on"],
        sch["step_due_on"],
        sch["projected_label_on"],
        sch["status"],
    )

    # A second, shorter pause adds up.
    fire(client, pid, "suspendre", reason="Local perdu", effective_on="2026-10-10")
    fire(client, pid, "reprendre", reason="Local retrouvé", effective_on="2026-10-20")
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["suspended_days"] == days + 10
    assert sch["horizon_on"] == (base_horizon + timedelta(days=days + 10)).isoformat()
    assert get_project(client, pid)["horizon_on"] == sch["horizon_on"]


def test_schedule_plan_versus_actual(client, clock) -> None:
    pid = create_project(client, started_on=START.isoformat())["id"]
    satisfy(client, pid, "groupe_projet", TODAY)
    fire(client, pid, "definir_contours", effective_on="2026-03-20")
    satisfy(client, pid, "contours", TODAY)
    fire(client, pid, "lancer_faisabilite", effective_on="2026-08-01")
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["today"] == TODAY.isoformat() and sch["started_on"] == START.isoformat()
    months = [3, 4, 8, 3, 12, 6]
    ends = [START + relativedelta(months=sum(months[: i + 1])) for i in range(6)]
    assert [s["step"] for s in sch["steps"]] == [s for s, _ in FORWARD]
    assert [s["months"] for s in sch["steps"]] == months
    assert [s["planned_end"] for s in sch["steps"]] == [d.isoformat() for d in ends]
    assert [s["planned_start"] for s in sch["steps"]] == [d.isoformat() for d in [START, *ends[:-1]]]
    assert [(s["actual_start"], s["actual_end"], s["current"]) for s in sch["steps"]] == [
        ("2026-01-05", "2026-03-20", False),
        ("2026-03-20", "2026-08-01", False),
        ("2026-08-01", None, True),
        (None, None, False),
        (None, None, False),
        (None, None, False),
    ]
    # Faisabilité entered on 1 August: due 1 April 2027, then 3 + 12 + 6 months to go.
    assert sch["step_due_on"] == "2027-04-01" and sch["projected_label_on"] == "2029-01-01"
    assert sch["horizon_on"] == "2029-01-05" and sch["status"] == "dans_les_temps"
    # Late step: the projection runs from today.
    clock.set(date(2027, 5, 1))
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["status"] == "en_retard" and sch["projected_label_on"] == "2029-02-01"
    p = get_project(client, pid)
    assert p["status"] == "en_retard" and p["projected_label_on"] == "2029-02-01"


def _plan(**overrides) -> dict:
    return {
        "step_months": {
            "groupe_projet": 3,
            "contours": 4,
            "faisabilite": 8,
            "validation": 3,
            "prefiguration": 12,
            "expertise": 6,
        }
        | overrides
    }


def test_replan_changes_due_dates_and_is_audited(client) -> None:
    p = create_project(client, started_on=START.isoformat())
    pid = p["id"]
    body = _plan(groupe_projet=6, expertise=9) | {"horizon_months": 42, "reason": "Territoire rural étendu"}
    r = client.put(f"{API}/projects/{pid}/plan", json=body, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    q = r.json()
    assert r.headers["etag"] == '"2"' and q["version"] == 2
    assert q["plan"] == {"step_months": body["step_months"], "horizon_months": 42}
    assert q["step_due_on"] == (START + relativedelta(months=6)).isoformat() != p["step_due_on"]
    assert q["horizon_on"] == (START + relativedelta(months=42)).isoformat()
    event = events_of(client, pid)[-1]
    assert (
        event | {"seq": 2, "type": "plan.changed", "reason": "Territoire rural étendu", "actor": actor_of(client)}
        == event
    )
    assert event["data"] == {"before": p["plan"], "after": q["plan"]}
    sch = client.get(f"{API}/projects/{pid}/schedule").json()
    assert sch["plan"] == q["plan"]
    assert sch["steps"][0]["months"] == 6 and sch["steps"][0]["planned_end"] == q["step_due_on"]
    assert sch["steps"][-1]["planned_end"] == (START + relativedelta(months=42)).isoformat()
    # New projects keep the default plan.
    assert create_project(client)["plan"] == p["plan"]


def test_replan_refusals_are_422_and_change_nothing(client) -> None:
    p = create_project(client)
    for body in [
        _plan() | {"horizon_months": 36},  # no reason
        _plan() | {"horizon_months": 36, "reason": "  "},
        {
            "step_months": {"groupe_projet": 3, "contours": 4, "faisabilite": 8, "validation": 3, "prefiguration": 12},
            "horizon_months": 36,
            "reason": "une étape manque",
        },
        {
            "step_months": {
                "groupe_projet": 3,
                "contours": 4,
                "faisabilite": 8,
                "validation": 3,
                "prefiguration": 12,
                "labellisee": 6,
            },
            "horizon_months": 36,
            "reason": "un état final n'a pas de durée",
        },
        _plan(contours=0) | {"horizon_months": 36, "reason": "zéro mois"},
        _plan(contours=121) | {"horizon_months": 36, "reason": "dix ans"},
        _plan(etape_7=2) | {"horizon_months": 36, "reason": "étape inconnue"},
        _plan() | {"horizon_months": 0, "reason": "horizon nul"},
        _plan() | {"reason": "pas d'horizon"},
        _plan() | {"horizon_months": 36, "reason": "x", "step_due_on": "2027-01-01"},
    ]:
        assert_problem(client.put(f"{API}/projects/{p['id']}/plan", json=body), 422)
    assert get_project(client, p["id"]) == p
    assert footprint(client, p["id"]) == (1, 1)


def test_replan_of_a_closed_project_is_409(client) -> None:
    pid = create_project(client)["id"]
    fire(client, pid, "abandonner", reason="Fin")
    assert_problem(
        client.put(f"{API}/projects/{pid}/plan", json=_plan() | {"horizon_months": 40, "reason": "x"}),
        409,
        "projet_clos",
    )
