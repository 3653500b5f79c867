"""The regieflow app, plus one bench-only route: the baseline for the throughput benchmark.

    cd /work/wt6 && PYTHONPATH=. .venv/bin/python -m bench.server --database-url sqlite:///bench.db --port 8100

`POST /bench/baseline/{project_id}` performs the database writes of a transition without the
workflow: the same authentication (API key lookup), then in one transaction (BEGIN IMMEDIATE on
SQLite, like the app) `UPDATE projects SET version = version + 1, updated_at = now … RETURNING version`
and `INSERT INTO events (…)` with `seq` = the new version. No guards, no evidence loading, no
hash chain, no outbox, no change-feed position, no deadline index. It lives here, not in app/, so
that production never serves it.

The server is uvicorn with one process, like `regieflow serve` (which runs `uvicorn.run(app)`),
except that the access log is off unless --access-log is given (the log costs the same on both
routes, so it does not change the ratio, but it lowers both figures).
"""

from __future__ import annotations

import argparse
import datetime as dt
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import insert, update

from app import models as m
from app.auth import authenticate
from app.main import create_app
from app.settings import Settings

BASELINE_PATH = "/bench/baseline/{project_id}"


def add_baseline(app: FastAPI) -> None:
    engine = app.state.engine
    projects, events = m.Project.__table__, m.Event.__table__

    @app.post(BASELINE_PATH, include_in_schema=False)
    def baseline(project_id: uuid.UUID, request: Request) -> JSONResponse:  # sync, like the app's routes
        principal = authenticate(request)
        if not principal.authenticated:
            return JSONResponse({"status": 401}, status_code=401)
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            version = conn.execute(
                update(projects).where(projects.c.id == project_id)
                .values(version=projects.c.version + 1, updated_at=now).returning(projects.c.version)
            ).scalar_one_or_none()
            if version is None:
                return JSONResponse({"status": 404}, status_code=404)
            conn.execute(insert(events).values(project_id=project_id, seq=version, type="bench.baseline",
                                               recorded_at=now, actor=principal.label, data={}))
        return JSONResponse({"id": str(project_id), "version": version}, headers={"ETag": f'"{version}"'})


# --- experiment: what loading only the evidence a trigger's guards read would save ---------------
GUARD_RELATIONS = {  # guard code -> Project relations its check reads (from workflow/guards.py)
    "pilote_mouvement": ("stakeholders",), "groupe_habitants": ("stakeholders",),
    "groupe_collectivite": ("stakeholders",), "groupe_bailleur": ("stakeholders",),
    "territoire_defini": ("communes", "qpvs"), "besoins_identifies": ("needs",),
    "activites_prioritaires": ("activities",), "besoins_valides": ("needs",),
    "modele_economique": ("feasibility",), "locaux_identifies": ("feasibility",),
    "marches_mobilisables": ("markets",), "visite_terrain": ("site_visits",),
    "conclusion_favorable": ("feasibility",), "avis_habitants": ("approvals", "stakeholders"),
    "avis_collectivite": ("approvals", "stakeholders"), "avis_bailleur": ("approvals", "stakeholders"),
    "avis_partenaire": ("approvals", "stakeholders"), "aucun_avis_defavorable": ("approvals", "stakeholders"),
    "association_declaree": ("association",), "gouvernance_triptyque": ("board_members",),
    "recrutement": ("hires",), "expertise_sur_site": ("expertises",), "avis_expertise_favorable": ("expertises",),
    "projet_suspendu": (), "projet_actif": (),
}


def install_lean_fire() -> None:
    """Monkeypatch (bench only, never in app/): fire_transition loads the project with only the
    relations the trigger's guards read (plus suspensions), and marks the others as loaded-empty so
    that the evidence snapshot does not lazy-load them. The outcome is unchanged because the guards
    of that trigger never read the relations left empty."""
    import contextvars

    from sqlalchemy.orm.attributes import set_committed_value

    from app import services
    from app.evidence import EVIDENCE_RELATIONS
    from workflow import machine as wf
    from workflow.vocabulary import Trigger

    current: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_trigger", default=None)
    orig_fire, orig_load = services.fire_transition, services._load_for_write
    needed: dict[str, tuple[str, ...]] = {}
    for t in Trigger:
        rels = {r for tr in wf.MACHINE.events[t.value].transitions.values() for x in tr for c in x.conditions
                for r in GUARD_RELATIONS[c.func.code]}
        needed[t.value] = tuple(sorted(rels)) + ("suspensions",)

    def fire(uow, project_id, trigger, body, **kw):
        token = current.set(trigger)
        try:
            return orig_fire(uow, project_id, trigger, body, **kw)
        finally:
            current.reset(token)

    def load(uow, project_id, if_match, *, allow_closed=False, relations=True):
        trig = current.get()
        if relations is not True or trig not in needed:
            return orig_load(uow, project_id, if_match, allow_closed=allow_closed, relations=relations)
        p = orig_load(uow, project_id, if_match, allow_closed=allow_closed, relations=needed[trig])
        for rel in EVIDENCE_RELATIONS:
            if rel not in needed[trig]:
                set_committed_value(p, rel, None if rel in ("feasibility", "association") else [])
        return p

    services.fire_transition, services._load_for_write = fire, load


def build_app(database_url: str, variant: str = "app") -> FastAPI:
    if variant == "lean-fire":
        install_lean_fire()
    app = create_app(Settings(database_url=database_url))
    add_baseline(app)
    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--access-log", action="store_true")
    ap.add_argument("--variant", choices=("app", "lean-fire"), default="app",
                    help="lean-fire: experiment, see install_lean_fire (bench only)")
    args = ap.parse_args()
    app = build_app(args.database_url, args.variant)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=args.access_log)


if __name__ == "__main__":
    main()
