"""The access matrix: every role × every API route × own project / someone else's project.

The expected outcome is computed here from app.authz.RULES (what each route needs) and an
independent table of what each principal may do (PRINCIPALS below, written from the issue, not
from the code). Routes come from app.main.api_routes(), so a new route is exercised — or fails
the test for want of a rule or a request body — as soon as it exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.authorization.rules import RULES
from app.evidence.registry import KINDS
from app.http.application import API_PREFIX, api_routes, page_routes, root_routes
from tests.support.accounts import PASSWORD, REGION_A, REGION_B, add_user, login
from tests.support.api import is_problem, make_key
from tests.support.evidence import PAST, PATCH_BODIES, PLAN, evidence_body, project_body, seed_project

R, W, P, C = "read", "write", "replan", "consultant"
ALL = frozenset({R, W, P, C})
NONE: frozenset[str] = frozenset()
OWN, OTHER = "own", "other"
REGION_OF = {OWN: REGION_A, OTHER: REGION_B}
LABEL_TRIGGERS = {"labelliser", "ajourner_label"}  # the issue: only consultants fire these


@dataclass(frozen=True)
class Who:
    """What the issue says a principal may do: abilities on each project, admin, where it may create."""

    own: frozenset[str] = NONE
    other: frozenset[str] = NONE
    admin: bool = False
    create_in: frozenset[str] = NONE  # regions where it may create a project
    authenticated: bool = True


PRINCIPALS: dict[str, Who] = {
    # admin: users, keys, settings; reads and writes every project, re-plans, but is not the Mouvement
    "admin": Who(frozenset({R, W, P}), frozenset({R, W, P}), admin=True, create_in=frozenset({REGION_A, REGION_B})),
    "consultant": Who(ALL, ALL, create_in=frozenset({REGION_A, REGION_B})),
    "consultant_region_a": Who(ALL, NONE, create_in=frozenset({REGION_A})),
    "porteur": Who(frozenset({R, W}), NONE, create_in=frozenset({REGION_A, REGION_B})),
    "observateur": Who(frozenset({R}), NONE),
    "key_read": Who(frozenset({R}), frozenset({R})),
    "key_write": Who(frozenset({R, W}), frozenset({R, W}), create_in=frozenset({REGION_A, REGION_B})),
    "key_consultant": Who(ALL, ALL, create_in=frozenset({REGION_A, REGION_B})),
    "key_other_project": Who(NONE, frozenset({R, W})),
    "anonymous": Who(authenticated=False),
}


ANALYTICS_ROUTES = {"get_analytics", "page_analytics"}


def expected(route_name: str, who: Who, target: str | None, trigger: str | None) -> int | str:
    """'allowed', or the status the request must be refused with."""
    need = RULES[route_name].need
    if need == "public":
        return "allowed"
    if not who.authenticated:
        return 401
    if need == "authenticated":
        if route_name in ANALYTICS_ROUTES:  # issue 16: consultants and admins (the service refuses others)
            return "allowed" if who.admin or C in who.own | who.other else 403
        return "allowed"
    if need == "admin":
        return "allowed" if who.admin else 403
    if need == "create":
        return "allowed" if REGION_OF[target] in who.create_in else 403
    abilities = who.own if target == OWN else who.other
    if R not in abilities:
        return 404
    if route_name == "fire_transition" and trigger in LABEL_TRIGGERS:
        need = C
    if route_name in NOTE_ROUTES and need in abilities and C not in abilities and not who.admin:
        return 403  # consultant notes: the Mouvement's and the admins' only (the service refuses)
    return "allowed" if need in abilities else 403


# --- requests --------------------------------------------------------------------------------
@dataclass
class Ctx:
    projects: dict[str, str]
    target_user: int
    target_grant: int
    target_key: int
    login_email: str
    webhook_id: int = 1  # the principal's own subscription, and one of its deliveries
    delivery_id: int = 1
    calendar_id: int = 1  # the principal's own calendar token


@dataclass
class Call:
    route: str
    method: str
    url: str
    body: Any
    target: str | None
    trigger: str | None = None
    allowed_status: tuple[int, ...] = ()
    probe: bool = False  # allowed means 422: authorised, then refused by validation (see PROBE_BODY)

    @property
    def phase(self) -> int:
        """Reads first, then writes, deletes, transitions, and the session routes last."""
        if self.route == "login":
            return 6
        if self.route == "logout":
            return 5
        if self.route == "fire_transition":
            return 4
        return {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 3}[self.method]


ADMIN_BODIES: dict[str, Any] = {
    "create_user": {
        "email": "nouvelle@example.fr",
        "name": "Nouvelle",
        "password": "un autre mot de passe 7",
        "grants": [{"role": "observateur", "region": "Occitanie"}],
    },
    "update_user": {"name": "Nom changé"},
    "add_grant": {"role": "observateur", "region": "Normandie"},
    "create_api_key": {"name": "Partenaire", "scopes": ["read"]},
    # webhooks: each principal works on a subscription of its own (see _own_webhook)
    "create_webhook": {"url": "https://93.184.215.14/regieflow", "event_types": ["project.created"]},
    "update_webhook": {"description": "Suivi des projets"},
    "rotate_webhook_secret": None,
    "redeliver_webhook": None,
    "create_calendar": {},  # a token for the caller's whole portfolio
    # a user's notifications (app/notifications): their own; notification 1 is nobody's here
    "mark_all_notifications_read": None,
    "mark_notification_read": None,
}
ALLOWED_STATUS: dict[str, tuple[int, ...]] = {  # when the request is allowed, what it answers
    "GET": (200,),
    "POST": (201,),
    "PUT": (200, 201),
    "PATCH": (200,),
    "DELETE": (204,),
}
SPECIAL_STATUS: dict[str, tuple[int, ...]] = {
    "fire_transition": (200,),
    "login": (200,),
    "logout": (204,),
    "revoke_api_key": (200,),
    "rotate_webhook_secret": (200,),
    "redeliver_webhook": (202,),
    "import_projects": (200,),  # a report, whatever became of each project
    "search_reference_communes": (422,),  # allowed, then `q` is missing (app/reference)
    "mark_all_notifications_read": (200,),
    "mark_notification_read": (404,),  # allowed, and notification 1 is not the caller's
}
# Evidence items and writes are probed rather than performed (each real one reloads the whole file of
# evidence, and the matrix sends some two thousand requests): item 0 fails path validation and an unknown
# field fails body validation, and FastAPI validates only after `authorize` has let the request through.
# So a 422 proves "allowed" and a 401/403/404 "refused". Real writes by each role are in the other tests
# (test_real_writes_of_a_porteur below, test_access_people, test_api_flow).
PROBE_BODY = {"champ_inconnu": True}


def _evidence_kind(path: str) -> str | None:
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[1] == "projects" and parts[3] in KINDS else None


# Documents of a project (app/documents, issue 14): (body, allowed status). Uploads are multipart, so the
# matrix's JSON body is answered 415 once access is granted; document 1 does not exist (404).
DOCUMENT_CALLS: dict[str, tuple[Any, tuple[int, ...] | None]] = {
    "upload_document": (None, (415,)),
    "list_documents": (None, None),
    "get_document": (None, (404,)),
    "update_document": ({"title": "Statuts"}, (404,)),
    "delete_document": (None, (404,)),
    "upload_document_version": (None, (415,)),
    "list_document_versions": (None, (404,)),
    "download_document": (None, (404,)),
    "download_document_version": (None, (404,)),
    "download_dossier": (None, None),
}


# Collaboration (app/opinions, app/messages, issue 15): (body, allowed status). Request 1 does not exist
# (404); a body with an unknown field is refused by validation once access is granted (422); a note is
# written for real (a consultant's or an admin's: anyone else reading the project gets 403, see expected()).
COLLABORATION_CALLS: dict[str, tuple[Any, tuple[int, ...] | None]] = {
    "list_opinion_requests": (None, None),
    "create_opinion_request": (PROBE_BODY, (422,)),
    "get_opinion_request": (None, (404,)),
    "revoke_opinion_request": (None, (404,)),
    "resend_opinion_request": (None, (404,)),
    "answer_opinion_request": (PROBE_BODY, (422,)),
    "list_opinion_answers": (None, None),
    "list_messages": (None, None),
    "post_message": (PROBE_BODY, (422,)),
    "list_notes": (None, None),
    "create_note": ({"body": "Note du consultant"}, None),
}
NOTE_ROUTES = frozenset({"list_notes", "create_note"})


def calls_for(route: Any, ctx: Ctx) -> list[Call]:
    """The requests that exercise one route, for each target that makes sense."""
    name, path = route.name, route.path
    method = next(iter(route.methods - {"HEAD"}))
    status = SPECIAL_STATUS.get(name, ALLOWED_STATUS[method])
    url = API_PREFIX + path
    if "{project_id}" not in path:
        if name == "create_project":
            return [Call(name, method, url, project_body(REGION_OF[t]), t, allowed_status=status) for t in (OWN, OTHER)]
        if name == "import_projects":  # creates, like create_project, in the region of each project
            return [
                Call(
                    name,
                    method,
                    url,
                    {"projects": [{"project": project_body(REGION_OF[t], started_on=PAST)}]},
                    t,
                    allowed_status=status,
                )
                for t in (OWN, OTHER)
            ]
        params = {
            "user_id": ctx.target_user,
            "grant_id": ctx.target_grant,
            "key_id": ctx.target_key,
            "webhook_id": ctx.webhook_id,
            "delivery_id": ctx.delivery_id,
            "calendar_id": ctx.calendar_id,
            "insee_code": "59512",  # the reference data (app/reference)
            "notification_id": 1,
        }
        body: Any = None
        if name == "login":
            body = {"email": ctx.login_email, "password": PASSWORD}
        elif method in ("POST", "PUT", "PATCH") and name != "logout":
            assert name in ADMIN_BODIES, f"the access matrix has no request body for route {name!r}: add one"
            body = ADMIN_BODIES[name]
        return [Call(name, method, url.format(**params), body, None, allowed_status=status)]
    out = []
    kind = _evidence_kind(path)
    for t in (OWN, OTHER):
        params = {"project_id": ctx.projects[t], "item_id": 0}
        if kind is not None:
            probe = "{item_id}" in path or method in ("POST", "PUT", "PATCH")
            body = PROBE_BODY if method in ("POST", "PUT") else PATCH_BODIES.get(kind)
            if not probe:
                body = None
            out.append(Call(name, method, url.format(**params), body, t, None, (422,) if probe else status, probe))
            continue
        if name in DOCUMENT_CALLS or name in COLLABORATION_CALLS:  # see DOCUMENT_CALLS, COLLABORATION_CALLS
            body, st = (DOCUMENT_CALLS | COLLABORATION_CALLS)[name]
            ids = {"document_id": 1, "number": 1, "request_id": 1}
            out.append(Call(name, method, url.format(**params, **ids), body, t, None, st or status))
            continue
        if name == "fire_transition":
            for trigger, body, st in (
                ("labelliser", None, (409,)),  # allowed, but far from the expertise
                ("suspendre", {"reason": "Pause estivale"}, status),
            ):
                out.append(Call(name, method, url.format(**params, trigger=trigger), body, t, trigger, st))
            continue
        body = None
        if name == "update_project":
            body = {"description": "Projet mis à jour"}
        elif name == "replan":
            body = {"step_months": PLAN, "horizon_months": 40, "reason": "Retard de la collectivité"}
        elif method in ("POST", "PUT", "PATCH"):
            raise AssertionError(f"the access matrix has no request body for route {name!r}: add one")
        out.append(Call(name, method, url.format(**params), body, t, None, status))
    return out


# --- the test ----------------------------------------------------------------------------------
def _project_with_singletons(client: TestClient, region: str) -> str:
    """A project whose singleton evidence exists (so reading and removing it can succeed)."""
    r = client.post(f"{API_PREFIX}/projects", json=project_body(region))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for kind in KINDS.values():
        if kind.singleton:
            r = client.put(f"{API_PREFIX}/projects/{pid}/{kind.name}", json=evidence_body(kind.name))
            assert r.status_code == 201, r.text
    return pid


def _principal_client(app: Any, who_name: str, ctx: Ctx) -> TestClient:
    own, other = uuid.UUID(ctx.projects[OWN]), uuid.UUID(ctx.projects[OTHER])
    c = TestClient(app, raise_server_exceptions=False)
    users = {
        "admin": [("admin", None, None)],
        "consultant": [("consultant", None, None)],
        "consultant_region_a": [("consultant", None, REGION_A)],
        "porteur": [("porteur", own, None)],
        "observateur": [("observateur", own, None)],
    }
    keys = {
        "key_read": {"scopes": ("read",), "consultant": False},
        "key_write": {"scopes": ("read", "write"), "consultant": False},
        "key_consultant": {"scopes": ("read", "write"), "consultant": True},
        "key_other_project": {"scopes": ("read", "write"), "consultant": False, "project_ids": [other]},
    }
    if who_name in users:
        email = f"{who_name}@example.fr"
        add_user(app, email, users[who_name])
        login(c, email)
        ctx.login_email = email
    elif who_name in keys:
        key, _ = make_key(app, name=who_name, **keys[who_name])
        c.headers["Authorization"] = f"Bearer {key}"
    return c


def _own_webhook(app: Any, c: TestClient) -> tuple[int, int]:
    """A subscription of the principal behind `c`, with one delivery (a webhook route acts on the caller's own)."""
    from sqlalchemy import select

    from app.projects.models import Event
    from app.webhooks.models import WebhookDelivery

    r = c.post(f"{API_PREFIX}/webhooks", json=ADMIN_BODIES["create_webhook"])
    assert r.status_code == 201, r.text
    with app.state.session_factory() as session:
        event_id = session.scalars(select(Event.id).order_by(Event.id)).first()
        d = WebhookDelivery(
            subscription_id=r.json()["id"],
            event_id=event_id,
            message_id=f"msg_matrix_{event_id}",
            status="failed",
            attempts=1,
            created_at=app.state.clock.now(),
        )
        session.add(d)
        session.commit()
        return r.json()["id"], d.id


@pytest.mark.parametrize("who_name", list(PRINCIPALS))
def test_access_matrix(app, client, who_name: str) -> None:
    routes = api_routes()
    missing = sorted({r.name for r in routes if r.name not in RULES})
    assert not missing, f"API routes without an access rule in app.authz.RULES: {missing}"

    who = PRINCIPALS[who_name]
    projects = {t: _project_with_singletons(client, REGION_OF[t]) for t in (OWN, OTHER)}
    target_user, grants = add_user(app, "cible@example.fr", [("observateur", None, "Occitanie")])
    _, target_key = make_key(app, name="Clé cible", scopes=("read",), consultant=False)
    ctx = Ctx(projects, target_user, grants[0], target_key.id, "cible@example.fr")
    c = _principal_client(app, who_name, ctx)
    if who.authenticated:
        ctx.webhook_id, ctx.delivery_id = _own_webhook(app, c)
        r = c.post(f"{API_PREFIX}/calendars", json={})  # a calendar route acts on the caller's own tokens
        assert r.status_code == 201, r.text
        ctx.calendar_id = r.json()["id"]

    # What an unknown project answers: a project the principal may not see must look exactly the same.
    unknown = c.get(f"{API_PREFIX}/projects/{uuid.uuid4()}").json()
    calls = sorted((call for r in routes for call in calls_for(r, ctx)), key=lambda x: x.phase)
    seen_routes = {call.route for call in calls}
    assert seen_routes == {r.name for r in routes}

    with c:  # one event loop for all the requests
        failures = [f for call in calls if (f := _check(c, call, who, ctx, unknown))]
    assert not failures, f"{len(failures)} unexpected outcome(s) for {who_name}:\n" + "\n".join(failures)


PROBLEM_CODES = {401: "authentification_requise", 403: "acces_refuse", 404: "introuvable"}


def _check(c: TestClient, call: Call, who: Who, ctx: Ctx, unknown: dict[str, Any]) -> str | None:
    """Send one request; a description of what is wrong with the answer, or None."""
    want = expected(call.route, who, call.target, call.trigger)
    r = c.request(call.method, call.url, json=call.body)
    where = f"{call.method} {call.url} ({call.route}, {call.target}{', ' + call.trigger if call.trigger else ''})"
    if want == "allowed":
        if r.status_code not in call.allowed_status:
            return f"{where}: allowed, expected {call.allowed_status}, got {r.status_code} {r.text[:300]}"
        if call.probe and r.json().get("code") != "requete_invalide":
            return f"{where}: the probe should fail validation, got {r.text[:300]}"
        if call.route == "list_projects":
            visible = {p["id"] for p in r.json()["items"]}
            want_visible = {pid for t, pid in ctx.projects.items() if R in (who.own if t == OWN else who.other)}
            if visible != want_visible:
                return f"{where}: lists {visible}, expected {want_visible}"
        return None
    if r.status_code != want or not is_problem(r):
        return f"{where}: expected a {want} problem, got {r.status_code} {r.text[:300]}"
    body = r.json()
    if body.get("code") != PROBLEM_CODES[want]:
        return f"{where}: code {body.get('code')!r}, expected {PROBLEM_CODES[want]!r}"
    if want == 401 and "WWW-Authenticate" not in r.headers:
        return f"{where}: 401 without WWW-Authenticate"
    if want == 404 and {k: v for k, v in body.items() if k != "instance"} != {
        k: v for k, v in unknown.items() if k != "instance"
    }:
        return f"{where}: this 404 differs from an unknown project's: {body} vs {unknown}"
    return None


def issue_need(route: Any) -> str:
    """What the issue says a route needs, from its path and method alone (independently of RULES)."""
    method = next(iter(route.methods - {"HEAD"}))
    if "{project_id}" in route.path:  # object level: every project route needs an ability on that project
        if method == "GET":
            return R
        if route.name == "answer_opinion_request":
            return R  # whoever the request is addressed to, even with a read-only grant (the service checks)
        if route.path.startswith("/projects/{project_id}/expertises"):
            return C  # only consultants record the expertise
        if route.path.startswith(
            ("/projects/{project_id}/expertise-assessments", "/projects/{project_id}/reservations")
        ):
            # the expertise's ratings and reservations are the consultant's; the group reports on one
            return W if route.path.endswith("/response") else C
        if route.path == "/projects/{project_id}/plan":
            return P  # only consultants and admins re-plan
        return W  # (and labelliser / ajourner_label need a consultant: see expected())
    if route.path.startswith("/admin/"):
        return "admin"
    # the feed's token is its credential; the probes are for the platform (app.observability)
    if route.name in ("health", "health_live", "health_ready", "metrics", "login", "calendar_feed"):
        return "public"
    if route.name in ("create_project", "import_projects"):
        return "create"
    return "authenticated"


def test_the_rules_say_what_the_issue_says() -> None:
    """RULES drives the matrix; this pins RULES itself, so a route cannot be given a laxer rule unnoticed."""
    names = {r.name for r in (*api_routes(), *root_routes(), *page_routes())}  # pages: see tests/test_web_*
    assert set(RULES) <= names, f"rules for routes that do not exist: {sorted(set(RULES) - names)}"
    wrong = {
        r.name: (RULES[r.name].need, issue_need(r))
        for r in (*api_routes(), *root_routes())
        if r.name in RULES and RULES[r.name].need != issue_need(r)
    }
    assert not wrong, f"route: (rule, what the issue asks): {wrong}"
    wrong = {
        r.name: (RULES[r.name].need, issue_page_need(r))
        for r in page_routes()
        if RULES[r.name].need != issue_page_need(r)
    }
    assert not wrong, f"page: (rule, what the issue asks): {wrong}"
    assert {rule.need for rule in RULES.values()} <= {"public", "authenticated", "create", "admin", R, W, P, C}


def issue_page_need(route: Any) -> str:
    """The same, for the pages: they follow the API's rules (independently of RULES)."""
    method = next(iter(route.methods - {"HEAD"}))
    if route.name in ("login_page", "login_submit", "logout_page"):
        return "public"
    if route.path.startswith(("/avis/", "/desabonnement/", "/mot-de-passe-oublie", "/mot-de-passe/nouveau/")):
        return "public"  # a token in the URL is the credential; the forgotten-password form asks for none
    if "{project_id}" in route.path:
        if route.path == "/projets/{project_id}/plan":
            return P
        return R if method == "GET" and not route.path.endswith("/supprimer") else W
    if route.path.startswith("/admin"):
        return "admin"
    if route.path == "/projets/nouveau":
        return "create"
    return "authenticated"


def test_real_writes_of_a_porteur(app, client) -> None:
    """What the matrix probes, done for real through a session cookie: a porteur records, changes and
    removes every kind of evidence but the expertise. (A regional consultant records the expertise for
    real in test_access_people; the consultant key in test_api_flow.)"""
    pid, items = seed_project(client, REGION_A)
    add_user(app, "porteur@example.fr", [("porteur", uuid.UUID(pid), None)])
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, "porteur@example.fr")
        base = f"{API_PREFIX}/projects/{pid}"
        refused = set()
        for kind in KINDS.values():
            url = f"{base}/{kind.name}"
            if kind.singleton:
                outcomes = [
                    c.get(url).status_code,
                    c.put(url, json=evidence_body(kind.name)).status_code,
                    c.delete(url).status_code,
                ]
                assert outcomes == [200, 200, 204], (kind.name, outcomes)
                continue
            item = f"{url}/{items[kind.name]}"
            consultant_only = expected(f"create_{kind.name.replace('-', '_')}", PRINCIPALS["porteur"], OWN, None) == 403
            writes = [
                c.post(url, json=evidence_body(kind.name, stakeholder_id=items["_voter"], extra=True)),
                c.patch(item, json=PATCH_BODIES[kind.name]),
                c.delete(item),
            ]
            want = [403, 403, 403] if consultant_only else [201, 200, 204]
            assert [r.status_code for r in writes] == want, (kind.name, [r.text for r in writes])
            if consultant_only:
                assert writes[0].json()["detail"].startswith("Seul un consultant du Mouvement des Régies")
                refused.add(kind.name)
        assert refused == {"expertises", "expertise-assessments", "reservations"}  # the grid's are a consultant's too
