"""Who may do what: the one place every route goes through (see the table in README, "Roles and keys").

Object level: a principal reaches only the projects its grants cover; any other project answers 404,
exactly like a project that does not exist. Function level: each route names the ability it needs on
the project (`read`, `write`, `replan`, `consultant`) or a global one (`create`, `admin`,
`authenticated`, `public`). Property level is the schemas' job: bodies forbid unknown fields, so
`state`, `version`, ids and timestamps can never be set.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from app.accounts.models import User
from app.core.errors import Forbidden, NotFound
from workflow.vocabulary import CONSULTANT_ONLY


class Role(StrEnum):
    ADMIN = "admin"
    CONSULTANT = "consultant"
    OBSERVATEUR = "observateur"
    PORTEUR = "porteur"


class Ability(StrEnum):
    READ = "read"
    WRITE = "write"
    REPLAN = "replan"
    CONSULTANT = "consultant"


ROLE_ABILITIES: dict[Role, frozenset[Ability]] = {
    Role.ADMIN: frozenset({Ability.READ, Ability.WRITE, Ability.REPLAN}),
    Role.CONSULTANT: frozenset({Ability.READ, Ability.WRITE, Ability.REPLAN, Ability.CONSULTANT}),
    Role.PORTEUR: frozenset({Ability.READ, Ability.WRITE}),
    Role.OBSERVATEUR: frozenset({Ability.READ}),
}


@dataclass(frozen=True)
class Scope:
    """Where a set of abilities applies: everywhere, one region, or one project."""

    abilities: frozenset[Ability]
    region: str | None = None
    project_id: uuid.UUID | None = None

    def covers(self, project_id: uuid.UUID, region: str) -> bool:
        if self.project_id is not None:
            return self.project_id == project_id
        if self.region is not None:
            return self.region == region
        return True


@dataclass(frozen=True, slots=True)
class Reach:
    everything: bool
    regions: tuple[str, ...] = ()
    project_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "key" | "anonymous"
    id: int | None
    label: str  # recorded as the actor of events: "user:<email>" or "key:<prefix>"
    name: str
    scopes: tuple[Scope, ...] = ()
    is_admin: bool = False
    can_create: bool = False
    create_regions: frozenset[str] | None = None  # None: any region
    via_cookie: bool = False
    csrf_token: str | None = None
    session_id: int | None = None
    roles: tuple[str, ...] = field(default=())

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    def abilities(self, project_id: uuid.UUID, region: str) -> frozenset[Ability]:
        out: set[Ability] = set()
        for scope in self.scopes:
            if scope.covers(project_id, region):
                out |= scope.abilities
        return frozenset(out)

    def reaches_region(self, region: str) -> bool:
        """Whether a new project in `region` would already be readable without a project grant."""
        return any(
            Ability.READ in s.abilities and s.project_id is None and s.region in (None, region) for s in self.scopes
        )

    def reach(self) -> Reach:
        """The projects this principal may read: all of them, or those of some regions and some ids.
        ProjectRepository.visible_to turns it into the condition every list query applies."""
        readable = [s for s in self.scopes if Ability.READ in s.abilities]
        if any(s.project_id is None and s.region is None for s in readable):
            return Reach(everything=True)
        return Reach(
            everything=False,
            regions=tuple(sorted({s.region for s in readable if s.region is not None})),
            project_ids=tuple(sorted({s.project_id for s in readable if s.project_id is not None}, key=str)),
        )


ANONYMOUS = Principal("anonymous", None, "anonymous", "Anonyme")


def user_principal(
    user: User, *, via_cookie: bool = False, csrf_token: str | None = None, session_id: int | None = None
) -> Principal:
    scopes: list[Scope] = []
    roles = []
    for g in user.grants:
        role = Role(g.role)
        roles.append(role.value)
        scopes.append(Scope(ROLE_ABILITIES[role], g.region, g.project_id))
    is_admin = Role.ADMIN.value in roles
    # Anyone but a pure observer may start a project (a new lead has no project yet); they become its
    # porteur unless their grants already cover its region.
    can_create = not roles or any(r != Role.OBSERVATEUR.value for r in roles)
    regional = [g.region for g in user.grants if g.role == Role.CONSULTANT.value and g.region is not None]
    global_ = any(
        g.role in (Role.ADMIN.value, Role.PORTEUR.value) or (g.role == Role.CONSULTANT.value and g.region is None)
        for g in user.grants
    )
    create_regions = frozenset(regional) if regional and not global_ else None
    return Principal(
        "user",
        user.id,
        f"user:{user.email}",
        user.name,
        tuple(scopes),
        is_admin,
        can_create,
        create_regions,
        via_cookie,
        csrf_token,
        session_id,
        tuple(sorted(set(roles))),
    )


class KeyFields(Protocol):
    """What a principal is made of in an API key (an ApiKey, or the row authentication reads)."""

    @property
    def id(self) -> int: ...
    @property
    def prefix(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def consultant(self) -> bool: ...
    @property
    def regions(self) -> list[str] | None: ...
    @property
    def project_ids(self) -> list[str] | None: ...


def key_principal(key: KeyFields) -> Principal:
    abilities: set[Ability] = set()
    if "read" in key.scopes or "write" in key.scopes:
        abilities.add(Ability.READ)
    if "write" in key.scopes:
        abilities.add(Ability.WRITE)
        if key.consultant:
            abilities |= {Ability.CONSULTANT, Ability.REPLAN}
    ab = frozenset(abilities)
    scopes: list[Scope] = []
    if key.project_ids:
        scopes += [Scope(ab, None, uuid.UUID(pid)) for pid in key.project_ids]
    if key.regions:
        scopes += [Scope(ab, region, None) for region in key.regions]
    if not key.project_ids and not key.regions:
        scopes.append(Scope(ab))
    can_create = "write" in key.scopes and not key.project_ids
    return Principal(
        "key",
        key.id,
        f"key:{key.prefix}",
        key.name,
        tuple(scopes),
        False,
        can_create,
        frozenset(key.regions) if key.regions else None,
    )


# --- the rules table: route name → what it needs ------------------------------------------------
PUBLIC = "public"


AUTHENTICATED = "authenticated"


CREATE = "create"


ADMIN = "admin"


@dataclass(frozen=True)
class Rule:
    need: str  # PUBLIC | AUTHENTICATED | CREATE | ADMIN | an Ability on the path's project
    note: str = ""


def _evidence_rules() -> dict[str, Rule]:
    from app.evidence.registry import CONSULTANT_ONLY_KINDS, KINDS

    rules: dict[str, Rule] = {}
    for kind in KINDS.values():
        slug = kind.name.replace("-", "_")
        write = Rule(
            Ability.CONSULTANT if kind.name in CONSULTANT_ONLY_KINDS else Ability.WRITE,
            "only a Mouvement consultant records the expertise" if kind.name in CONSULTANT_ONLY_KINDS else "",
        )
        rules[f"get_{slug}"] = Rule(Ability.READ)
        if kind.singleton:
            rules[f"put_{slug}"] = write
        else:
            rules[f"list_{slug}"] = Rule(Ability.READ)
            rules[f"create_{slug}"] = write
            rules[f"update_{slug}"] = write
        rules[f"delete_{slug}"] = write
    return rules


RULES: dict[str, Rule] = {
    # projects
    "create_project": Rule(
        CREATE,
        "any user but a pure observer (a regional consultant: in their regions); "
        "keys with the write scope not tied to projects (and to their regions)",
    ),
    "list_projects": Rule(AUTHENTICATED, "filtered to the projects the caller may read"),
    "get_project": Rule(Ability.READ),
    "update_project": Rule(Ability.WRITE),
    "replan": Rule(Ability.REPLAN, "consultants and admins"),
    "list_transitions": Rule(Ability.READ),
    "fire_transition": Rule(Ability.WRITE, "labelliser and ajourner_label need a consultant"),
    "list_events": Rule(Ability.READ),
    "get_schedule": Rule(Ability.READ),
    **_evidence_rules(),
    # the success-conditions grid (app/assessments): its rows are evidence kinds above
    "get_grid": Rule(Ability.READ),
    "report_reservation": Rule(Ability.WRITE, "the project group reports; lifting a reservation needs a consultant"),
    # service
    "get_workflow": Rule(AUTHENTICATED),
    "health": Rule(PUBLIC),
    "health_live": Rule(PUBLIC),
    "health_ready": Rule(PUBLIC),
    "metrics": Rule(PUBLIC, "REGIEFLOW_METRICS_TOKEN, when set, is checked by the endpoint"),
    # authentication
    "login": Rule(PUBLIC),
    "logout": Rule(AUTHENTICATED),
    "me": Rule(AUTHENTICATED),
    # administration
    "list_users": Rule(ADMIN),
    "create_user": Rule(ADMIN),
    "update_user": Rule(ADMIN),
    "add_grant": Rule(ADMIN),
    "remove_grant": Rule(ADMIN),
    "list_api_keys": Rule(ADMIN),
    "create_api_key": Rule(ADMIN),
    "revoke_api_key": Rule(ADMIN),
    # pages (app/web): the same rules, checked by the same function (app.api.deps.check_access)
    "login_page": Rule(PUBLIC),
    "login_submit": Rule(PUBLIC),
    "logout_page": Rule(PUBLIC, "an anonymous visitor is simply sent to the login page"),
    "page_home": Rule(AUTHENTICATED),
    "page_portfolio": Rule(AUTHENTICATED, "filtered to the projects the caller may read"),
    "page_workflow": Rule(AUTHENTICATED),
    "page_workflow_old": Rule(AUTHENTICATED, "the former address of « Le parcours »: a redirect"),
    "page_deadlines": Rule(AUTHENTICATED, "the due dates of the projects the caller may read"),
    "page_help": Rule(AUTHENTICATED),
    "page_fire_confirm": Rule(Ability.READ, "what a move will do; its form only to whoever may fire it"),
    "page_export_csv": Rule(AUTHENTICATED, "filtered to the projects the caller may read"),
    "page_export_xlsx": Rule(AUTHENTICATED, "filtered to the projects the caller may read"),
    "page_project_edit": Rule(Ability.READ, "the form shows only to whoever may write; its POST needs WRITE"),
    "page_project_update": Rule(Ability.WRITE, "the project's descriptive fields, with the version check"),
    "page_account_password": Rule(AUTHENTICATED, "a signed-in person changes their own password"),
    "page_account_password_change": Rule(AUTHENTICATED, "the current password is required"),
    "page_calendar_create": Rule(AUTHENTICATED, "a calendar feed of the projects the caller may read"),
    "page_new_project": Rule(CREATE),
    "page_create_project": Rule(CREATE),
    "page_project": Rule(Ability.READ),
    "page_fire": Rule(Ability.WRITE, "labelliser and ajourner_label need a consultant"),
    "page_replan": Rule(Ability.REPLAN, "consultants and admins"),
    # evidence forms (app/web/evidence.py), /projets/{project_id}/preuves/{kind}: writes on the expertise
    # are raised to `consultant` by needs_for, exactly like the API's expertise routes
    "page_evidence": Rule(Ability.READ),
    "page_evidence_item": Rule(Ability.READ),
    "page_evidence_create": Rule(Ability.WRITE, "the expertise needs a consultant"),
    "page_evidence_update": Rule(Ability.WRITE, "the expertise needs a consultant"),
    "page_evidence_delete_confirm": Rule(Ability.WRITE, "the expertise needs a consultant"),
    "page_evidence_delete": Rule(Ability.WRITE, "the expertise needs a consultant"),
    "page_reservation_response": Rule(Ability.WRITE, "the project group reports what it did (app/assessments)"),
    # administration pages (app/web/admin.py)
    "page_admin": Rule(ADMIN),
    "page_admin_users": Rule(ADMIN),
    "page_admin_user_create": Rule(ADMIN),
    "page_admin_user": Rule(ADMIN),
    "page_admin_grant_add": Rule(ADMIN),
    "page_admin_grant_remove": Rule(ADMIN),
    "page_admin_user_active": Rule(ADMIN),
    "page_admin_user_password": Rule(ADMIN),
    "page_admin_keys": Rule(ADMIN),
    "page_admin_key_create": Rule(ADMIN),
    "page_admin_key_revoke_confirm": Rule(ADMIN),
    "page_admin_key_revoke": Rule(ADMIN),
    # partner systems, part A: webhooks (a subscription is its creator's: anyone else but an admin gets 404),
    # and the change feed
    "create_webhook": Rule(AUTHENTICATED, "callers who may read at least one project (else 403)"),
    "list_webhooks": Rule(AUTHENTICATED, "the caller's own subscriptions (an admin sees all)"),
    "get_webhook": Rule(AUTHENTICATED, "owner or admin; anyone else's answers 404"),
    "update_webhook": Rule(AUTHENTICATED, "owner or admin; anyone else's answers 404"),
    "delete_webhook": Rule(AUTHENTICATED, "owner or admin; anyone else's answers 404"),
    "rotate_webhook_secret": Rule(AUTHENTICATED, "owner or admin; anyone else's answers 404"),
    "list_webhook_deliveries": Rule(AUTHENTICATED, "owner or admin; anyone else's answers 404"),
    "list_webhook_attempts": Rule(AUTHENTICATED, "owner or admin; anyone else's answers 404"),
    "redeliver_webhook": Rule(AUTHENTICATED, "owner or admin; anyone else's answers 404"),
    "read_feed": Rule(AUTHENTICATED, "events of the projects the caller may read"),
    # partner systems, part B: exports, calendars, full export, bulk import
    "export_projects_csv": Rule(AUTHENTICATED, "filtered to the projects the caller may read"),
    "export_projects_xlsx": Rule(AUTHENTICATED, "filtered to the projects the caller may read"),
    "create_calendar": Rule(AUTHENTICATED, "for a project the caller may read (else 404), or their portfolio"),
    "list_calendars": Rule(AUTHENTICATED, "the caller's own tokens"),
    "revoke_calendar": Rule(AUTHENTICATED, "the caller's own tokens; anyone else's answers 404"),
    "calendar_feed": Rule(
        PUBLIC, "the token in the URL is the credential; the feed shows what its owner may read at fetch time"
    ),
    "admin_export": Rule(ADMIN, "the whole database (password and key hashes included)"),
    "import_projects": Rule(
        CREATE,
        "like create_project, for each project of the file (its region); expertise and label steps need a consultant",
    ),
    # reference data (app/reference): the official geographic code, the same for everyone
    "list_reference_regions": Rule(AUTHENTICATED),
    "list_reference_departements": Rule(AUTHENTICATED),
    "search_reference_communes": Rule(AUTHENTICATED),
    "get_reference_commune": Rule(AUTHENTICATED),
    "page_update_territory": Rule(Ability.WRITE, "région and département of a project, from the official lists"),
}


# --- documents of a project (app/documents, issue 14): visible to whoever reads the project; uploading,
# renaming and deleting need write access; an expertise report (its kind) needs a consultant, which the
# service checks since the kind is in the body.
RULES |= {
    "upload_document": Rule(Ability.WRITE, "an expertise report only by a consultant"),
    "list_documents": Rule(Ability.READ),
    "get_document": Rule(Ability.READ),
    "update_document": Rule(Ability.WRITE, "an expertise report only by a consultant"),
    "delete_document": Rule(Ability.WRITE, "an expertise report only by a consultant"),
    "upload_document_version": Rule(Ability.WRITE, "an expertise report only by a consultant"),
    "list_document_versions": Rule(Ability.READ),
    "download_document": Rule(Ability.READ),
    "download_document_version": Rule(Ability.READ),
    "download_dossier": Rule(Ability.READ, "the expertise dossier (ZIP)"),
    "page_document_upload": Rule(Ability.WRITE, "an expertise report only by a consultant"),
    "page_document_version_upload": Rule(Ability.WRITE, "an expertise report only by a consultant"),
    "page_document_delete": Rule(Ability.WRITE, "an expertise report only by a consultant"),
    "page_document_download": Rule(Ability.READ),
    "page_document_version_download": Rule(Ability.READ),
    "page_dossier_download": Rule(Ability.READ),
}


# --- collaboration (app/opinions, app/messages, app/notifications, app/mail; issue 15) -------------------
# The personal opinion link's token is the credential (no account); notes: the service answers 403 to
# anyone but a Mouvement consultant of the project or an admin; a user's notifications are their own.
RULES |= {
    "list_opinion_requests": Rule(Ability.READ),
    "create_opinion_request": Rule(Ability.WRITE),
    "get_opinion_request": Rule(Ability.READ),
    "revoke_opinion_request": Rule(Ability.WRITE),
    "resend_opinion_request": Rule(Ability.WRITE),
    "answer_opinion_request": Rule(Ability.READ, "only the person the request is addressed to (same e-mail)"),
    "list_opinion_answers": Rule(Ability.READ),
    "list_messages": Rule(Ability.READ),
    "post_message": Rule(Ability.WRITE),
    "list_notes": Rule(Ability.READ, "consultants of the project and admins only (403 otherwise)"),
    "create_note": Rule(Ability.WRITE, "consultants of the project and admins only (403 otherwise)"),
    "list_notifications": Rule(AUTHENTICATED, "the caller's own"),
    "mark_all_notifications_read": Rule(AUTHENTICATED, "the caller's own"),
    "mark_notification_read": Rule(AUTHENTICATED, "the caller's own; anyone else's answers 404"),
    "opinion_link_page": Rule(PUBLIC, "the token in the URL is the credential"),
    "opinion_link_document": Rule(PUBLIC, "the token in the URL is the credential"),
    "opinion_link_answer": Rule(PUBLIC, "the token in the URL is the credential"),
    "page_opinion_request": Rule(Ability.WRITE),
    "page_opinion_revoke": Rule(Ability.WRITE),
    "page_opinion_resend": Rule(Ability.WRITE),
    "page_post_message": Rule(Ability.WRITE),
    "page_post_note": Rule(Ability.WRITE, "consultants of the project and admins only (403 otherwise)"),
    "page_notifications": Rule(AUTHENTICATED, "the caller's own"),
    "page_notifications_read_all": Rule(AUTHENTICATED, "the caller's own"),
    "page_notification_read": Rule(AUTHENTICATED, "the caller's own; anyone else's answers 404"),
    "page_mail_preferences": Rule(AUTHENTICATED),
    "page_mail_preferences_save": Rule(AUTHENTICATED),
    "unsubscribe_page": Rule(PUBLIC, "the signed token in the URL names the user"),
    "unsubscribe_one_click": Rule(PUBLIC, "RFC 8058 one-click: the signed token in the URL names the user"),
    "page_forgot_password": Rule(PUBLIC),
    "page_forgot_password_submit": Rule(PUBLIC, "the same answer whether the address is known or not"),
    "page_reset_password": Rule(PUBLIC, "the single-use token in the URL is the credential"),
    "page_reset_password_submit": Rule(PUBLIC, "the single-use token in the URL is the credential"),
}


# --- forecasts and analytics (app/forecasts, app/analytics, issue 16): a project's forecast to whoever reads
# it; the analytics to consultants and admins (checked by the service: figures only over what they may read)
RULES |= {
    "get_forecast": Rule(Ability.READ),
    "get_analytics": Rule(AUTHENTICATED, "consultants and admins (else 403); figures over the regions they read"),
    "page_analytics": Rule(AUTHENTICATED, "consultants and admins (else 403); figures over the regions they read"),
}


def needs_for(route_name: str, path_params: dict[str, Any]) -> str:
    """What a given request needs: the route's rule, raised to `consultant` for the label triggers
    (API and page routes with a `{trigger}`) and for the expertise (page routes with a `{kind}`)."""
    from app.evidence.registry import CONSULTANT_ONLY_KINDS

    rule = RULES[route_name]
    if rule.need == Ability.WRITE and (
        path_params.get("trigger") in {t.value for t in CONSULTANT_ONLY}
        or path_params.get("kind") in CONSULTANT_ONLY_KINDS
    ):
        return Ability.CONSULTANT
    return rule.need


NOT_FOUND = "Projet introuvable."


def check_project(principal: Principal, project_id: uuid.UUID, region: str | None, need: str) -> None:
    """The rule on one project, wherever its region was read: a project the caller may not read (or no
    such project: `region` None) raises NotFound, exactly like a missing one; a refused ability
    (`need`, from needs_for) raises Forbidden."""
    abilities = principal.abilities(project_id, region) if region is not None else frozenset()
    if Ability.READ not in abilities:
        raise NotFound(NOT_FOUND)
    if Ability(need) not in abilities:
        raise Forbidden(REFUSALS[Ability(need)])


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    """The rule on the path's project, left by the access check (app.http.dependencies.check_access) to a
    route that reads the project's row anyway, locked (a transition, app/transitions/store.py): it
    applies `check_project` to the region that read returns, before anything is written, instead of the
    check reading the region in a statement of its own. `project_id` None: nothing is allowed."""

    principal: Principal
    project_id: uuid.UUID | None
    need: str

    def check(self, project_id: uuid.UUID, region: str | None) -> None:
        if self.project_id is None or project_id != self.project_id:
            raise NotFound(NOT_FOUND)
        check_project(self.principal, project_id, region, self.need)


def may(principal: Principal, project_id: uuid.UUID, region: str, need: str) -> bool:
    """Whether `principal` has ability `need` on this project (what pages use to show or hide a button)."""
    return Ability(need) in principal.abilities(project_id, region)


REFUSALS = {
    Ability.WRITE: "Votre rôle ne permet que la consultation de ce projet.",
    Ability.REPLAN: "Seuls un consultant du Mouvement ou un administrateur peuvent replanifier un projet.",
    Ability.CONSULTANT: "Seul un consultant du Mouvement des Régies peut enregistrer l'expertise, attribuer "
    "ou ajourner le label.",
    Ability.READ: "Accès refusé.",
}
