"""Evidence forms (/projets/{id}/preuves/{kind}): generated from the API's schemas, saved through the same
services, French errors beside the fields, the same access rules as the API."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.evidence.registry import KINDS
from tests.support.accounts import REGION_A, REGION_B, browser
from tests.support.api import API
from tests.support.evidence import CREATE_BODIES, NEEDS_EXPERTISE, PATCH_BODIES, project_body, to_contours
from tests.support.html import Node, assert_no_inline_code, controls, duplicate_ids, label_of, parse, value_of

# For each kind: one invalid submission, the field it is wrong in, and (part of) the French message.
INVALID: dict[str, tuple[dict[str, str], str, str]] = {
    "stakeholders": (
        {"name": "Amina Benali", "category": "habitant", "email": "pas-une-adresse"},
        "email",
        "Adresse e-mail invalide",
    ),
    "communes": ({"insee_code": "ABC", "name": "Roubaix"}, "insee_code", "Code INSEE invalide"),
    "qpvs": ({"code": "Q1", "name": "Alma-Gare"}, "code", "Code QPV invalide"),
    "needs": ({"label": "x" * 301}, "label", "300 caractères au maximum"),
    "activities": ({"label": "   ", "description": "Halls"}, "label", "Ce champ est obligatoire."),
    "feasibility": (
        {"annual_charges": "douze mille", "premises_address": "12 rue de l'Alma"},
        "annual_charges",
        "Saisissez un nombre entier",
    ),
    "markets": (
        {
            "label": "Entretien des halls",
            "buyer_name": "Vilogia",
            "buyer_category": "bailleur_social",
            "annual_amount": "-5",
        },
        "annual_amount",
        "supérieure ou égale à 0",
    ),
    "site-visits": (
        {"regie_name": "Régie de Tourcoing", "visited_on": "2026-12-25"},
        "visited_on",
        "ne peut pas être dans le futur",
    ),  # a domain rule, checked by the service
    "approvals": ({"verdict": "favorable", "given_on": "2026-02-30"}, "given_on", "Date invalide"),
    "association": (
        {"name": "Association de préfiguration", "declared_on": "2026-11-01", "rna": "X123"},
        "rna",
        "Numéro RNA invalide",
    ),
    "board-members": (
        {"name": "É" * 201, "college": "collectivite", "office": "Trésorier"},
        "name",
        "200 caractères au maximum",
    ),
    "hires": (
        {"name": "Karim Haddad", "role": "Chargé de préfiguration", "start_on": "demain"},
        "start_on",
        "Date invalide",
    ),
    "expertises": (
        {"conducted_on": "2026-11-01", "experts": "  \n ", "conclusion": "favorable"},
        "experts",
        "Ce champ est obligatoire.",
    ),
    # the grid (app/assessments): the project's expertise id is added at run time
    "self-assessments": (
        {"condition": "ancrage_territorial", "level": "atteint", "assessed_on": "2026-12-25"},
        "assessed_on",
        "ne peut pas être dans le futur",
    ),
    "expertise-assessments": (
        {"condition": "ancrage_territorial", "level": "atteint", "comment": "x" * 5001},
        "comment",
        "5000 caractères au maximum",
    ),
    "reservations": (
        {"condition": "implication_habitants", "description": "   "},
        "description",
        "Ce champ est obligatoire.",
    ),
}
# What a change looks like in the form, for the single records (the collections use PATCH_BODIES).
SINGLETON_CHANGES = {"feasibility": {"annual_charges": 430000}, "association": {"rna": "W595012346"}}


def as_form(body: dict[str, Any]) -> dict[str, str]:
    """A JSON body as a browser would post the generated form."""
    out = {}
    for k, v in body.items():
        if isinstance(v, bool):
            if v:
                out[k] = "1"
        elif isinstance(v, list):
            out[k] = "\n".join(v)
        else:
            out[k] = str(v)
    return out


def field_id(name: str) -> str:
    return "f-" + name.replace("_", "-")


@pytest.fixture
def project(client: TestClient) -> dict[str, Any]:
    """A project in region A with one stakeholder (approvals need one)."""
    pid = client.post(f"{API}/projects", json=project_body(REGION_A)).json()["id"]
    voter = client.post(
        f"{API}/projects/{pid}/stakeholders", json={"name": "Ville de Roubaix", "category": "collectivite"}
    ).json()
    return {"id": pid, "voter": voter["id"]}


@pytest.fixture
def consultant(app: Any) -> tuple[TestClient, str]:
    """A consultant's browser, logged in, and the session's CSRF token for the forms."""
    c = browser(app, "claire@example.fr", [("consultant", None, None)])
    return c, c.csrf


def version(client: TestClient, pid: str) -> int:
    return client.get(f"{API}/projects/{pid}").json()["version"]


def the_form(doc: Node) -> Node:
    form = doc.by_id("form-preuve")
    assert form is not None, "no evidence form on the page"
    return form


def control(doc: Node, name: str) -> Node:
    node = doc.by_id(field_id(name))
    assert node is not None and node.get("name") == name, f"no control for {name}"
    return node


def assert_html(r: Any, status: int) -> Node:
    assert r.status_code == status, r.text[:2000]
    assert r.headers["content-type"].startswith("text/html")
    assert_no_inline_code(r.text)
    doc = parse(r.text)
    assert not duplicate_ids(doc), duplicate_ids(doc)
    return doc


def assert_field_error(doc: Node, name: str, fragment: str) -> None:
    ctl = control(doc, name)
    error = doc.by_id(field_id(name) + "-erreur")
    assert error is not None and fragment in error.text, (name, error.text if error else None)
    assert field_id(name) + "-erreur" in (ctl.get("aria-describedby") or "").split()
    assert ctl.get("aria-invalid") == "true"
    summary = doc.by_id("resume-erreurs")
    assert summary is not None and summary.get("role") == "alert"
    assert any(a.get("href") == f"#{field_id(name)}" for a in summary.find_all("a")), summary.text


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_add_change_remove(app, client, project, consultant, kind: str) -> None:
    c, csrf = consultant
    pid = project["id"]
    k = KINDS[kind]
    url = f"/projets/{pid}/preuves/{kind}"

    # The form: one labelled control per field of the API's schema, in fieldsets with legends.
    doc = assert_html(c.get(url), 200)
    form = the_form(doc)
    assert form.get("method") == "post" and form.get("action") == url
    assert form.find("input", type="hidden", name="csrf").get("value") == csrf
    assert form.find_all("fieldset") and all(fs.find("legend") for fs in form.find_all("fieldset"))
    for name in k.create.model_fields:
        ctl = control(doc, name)
        assert label_of(doc, ctl), f"{kind}.{name} has no label"
    assert {ctl.get("name") for ctl in controls(form)} == set(k.create.model_fields)
    assert doc.find("h1").text == k.label

    # What the grid's kinds need first: step 2 for the self-assessment, an expertise with reservations.
    extra: dict[str, Any] = {}
    if kind == "self-assessments":
        to_contours(client, pid)
    if kind in NEEDS_EXPERTISE:
        x = client.post(
            f"{API}/projects/{pid}/expertises",
            json={"conducted_on": "2026-11-01", "experts": ["Claire Martin"], "conclusion": "reserves"},
        )
        extra = {"expertise_id": x.json()["id"]}

    # Invalid: 422, the French message beside the field, the values kept, nothing recorded.
    before = version(client, pid)
    values, wrong, message = INVALID[kind]
    values = values | {k: str(v) for k, v in extra.items()}
    if kind == "approvals":
        values = values | {"stakeholder_id": str(project["voter"])}
    doc = assert_html(c.post(url, data={"csrf": csrf, **values}), 422)
    assert_field_error(doc, wrong, message)
    for name, value in values.items():
        assert value_of(control(doc, name)) == value, name
    assert doc.find("title").text.startswith("Erreur")
    assert version(client, pid) == before

    # Valid: 303 to the kind's page with a fixed confirmation; one more version; the item is listed.
    body = dict(CREATE_BODIES[kind]) | extra
    if kind == "approvals":
        body["stakeholder_id"] = project["voter"]
    r = c.post(url, data={"csrf": csrf, **as_form(body)})
    assert r.status_code == 303, r.text[:2000]
    assert r.headers["location"] in (f"{url}?ok=preuve_ajoutee", f"{url}?ok=preuve_enregistree")
    assert version(client, pid) == before + 1
    doc = assert_html(c.get(r.headers["location"]), 200)
    assert doc.by_id("confirmation") is not None and doc.by_id("confirmation").get("role") == "status"
    if k.singleton:
        stored = client.get(f"{API}/projects/{pid}/{kind}").json()
        assert all(stored[name] == value for name, value in body.items())
        assert doc.by_id("fiche") is not None
        # The form comes back filled with what is recorded; saving again replaces it.
        first = next(iter(body))
        assert value_of(control(doc, first)) == str(body[first])
        change = SINGLETON_CHANGES[kind]
        r = c.post(url, data={"csrf": csrf, **as_form(body | change)})
        assert r.status_code == 303
        assert version(client, pid) == before + 2
        stored = client.get(f"{API}/projects/{pid}/{kind}").json()
        assert all(stored[n] == v for n, v in change.items())
        delete_url = f"{url}/supprimer"
    else:
        items = client.get(f"{API}/projects/{pid}/{kind}").json()
        item = items[-1]
        assert all(item[name] == value for name, value in body.items())
        row = doc.by_id(f"element-{item['id']}")
        assert row is not None, f"item {item['id']} not listed"
        edit = doc.by_id(f"modifier-{item['id']}")
        assert edit.get("href") == f"{url}/{item['id']}"

        # Change: the form is prefilled; the change is saved through the same service (PATCH rules).
        doc = assert_html(c.get(f"{url}/{item['id']}"), 200)
        form = the_form(doc)
        assert {ctl.get("name") for ctl in controls(form)} == set(k.patch.model_fields)
        prefilled = {n: value_of(control(doc, n)) for n in k.patch.model_fields}
        for name in k.patch.model_fields:
            if name in body and not isinstance(body[name], bool):
                assert prefilled[name] == as_form({name: body[name]})[name], name
        change = PATCH_BODIES[kind]
        posted = {n: v for n, v in prefilled.items() if v} | as_form(change)
        r = c.post(f"{url}/{item['id']}", data={"csrf": csrf, **posted})
        assert r.status_code == 303, r.text[:2000]
        assert r.headers["location"] == f"{url}?ok=preuve_modifiee"
        assert version(client, pid) == before + 2
        stored = client.get(f"{API}/projects/{pid}/{kind}/{item['id']}").json()
        assert all(stored[n] == v for n, v in change.items()), stored
        delete_url = f"{url}/{item['id']}/supprimer"

    # Remove: a confirmation page, then the POST.
    doc = assert_html(c.get(delete_url), 200)
    confirm = doc.by_id("form-suppression")
    assert confirm.get("action") == delete_url and doc.by_id("btn-confirmer-suppression") is not None
    r = c.post(delete_url, data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{url}?ok=preuve_supprimee"
    assert version(client, pid) == before + 3
    if k.singleton:
        assert client.get(f"{API}/projects/{pid}/{kind}").status_code == 404
    else:
        assert client.get(f"{API}/projects/{pid}/{kind}/{item['id']}").status_code == 404


def test_widgets_follow_the_schema_types(app, client, project, consultant) -> None:
    c, _ = consultant
    base = f"/projets/{project['id']}/preuves"
    doc = parse(c.get(f"{base}/feasibility").text)
    assert control(doc, "annual_charges").get("type") == "number"
    assert control(doc, "annual_charges").get("min") == "0"
    assert control(doc, "conclusion_on").get("type") == "date"
    assert control(doc, "summary").tag == "textarea"
    conclusion = control(doc, "conclusion")
    assert conclusion.tag == "select"
    assert [(o.get("value"), o.text) for o in conclusion.find_all("option")] == [
        ("", "— Non renseigné —"),
        ("favorable", "Favorable"),
        ("defavorable", "Défavorable"),
    ]
    assert [fs.find("legend").text for fs in doc.by_id("form-preuve").find_all("fieldset")] == [
        "Modèle économique",
        "Locaux",
        "Conclusion de l'étude",
    ]
    doc = parse(c.get(f"{base}/stakeholders").text)
    assert control(doc, "is_amo_pilot").get("type") == "checkbox"
    assert control(doc, "email").get("type") == "email"
    assert "required" in control(doc, "name").attrs
    assert "(obligatoire)" in label_of(doc, control(doc, "name"))
    categories = {o.get("value"): o.text for o in control(doc, "category").find_all("option")}
    assert categories["bailleur_social"] == "Bailleur social" and categories[""] == "— Choisir —"
    doc = parse(c.get(f"{base}/needs").text)
    statuses = control(doc, "status").find_all("option")
    assert [o.text for o in statuses] == ["À étudier", "Confirmé par l'étude", "Écarté par l'étude"]
    assert value_of(control(doc, "status")) == "a_etudier"  # the schema's default
    doc = parse(c.get(f"{base}/markets").text)
    buyers = [o.text for o in control(doc, "buyer_category").find_all("option")]
    assert buyers == ["— Choisir —", "Collectivité", "Bailleur social"]
    doc = parse(c.get(f"{base}/expertises").text)
    experts = control(doc, "experts")
    assert experts.tag == "textarea" and "Un nom par ligne." in doc.by_id(field_id("experts") + "-aide").text
    assert [o.text for o in control(doc, "conclusion").find_all("option")][1:] == [
        "Favorable",
        "Avec réserves",
        "Défavorable",
    ]
    # An approval names one of the project's stakeholders.
    doc = parse(c.get(f"{base}/approvals").text)
    options = control(doc, "stakeholder_id").find_all("option")
    assert [(o.get("value"), o.text) for o in options] == [
        ("", "— Choisir —"),
        (str(project["voter"]), "Ville de Roubaix (Collectivité)"),
    ]


def test_expertise_experts_one_per_line_and_french_dates(app, client, project, consultant) -> None:
    c, csrf = consultant
    url = f"/projets/{project['id']}/preuves/expertises"
    r = c.post(
        url, data={"csrf": csrf, "conducted_on": "01/11/2026", "experts": "Claire Martin\r\n\r\n Jean Dupuis \n"}
    )
    assert r.status_code == 303, r.text[:2000]
    [item] = client.get(f"{API}/projects/{project['id']}/expertises").json()
    assert item["experts"] == ["Claire Martin", "Jean Dupuis"] and item["conducted_on"] == "2026-11-01"
    doc = parse(c.get(url).text)
    row = doc.by_id(f"element-{item['id']}")
    assert "Claire Martin, Jean Dupuis" in row.text and "01/11/2026" in row.text


def test_several_errors_and_a_conflict(app, client, project, consultant) -> None:
    c, csrf = consultant
    url = f"/projets/{project['id']}/preuves/communes"
    # A commune needs its code or its name (the official geographic code gives the other)
    doc = assert_html(c.post(url, data={"csrf": csrf, "insee_code": "", "name": ""}), 422)
    assert_field_error(doc, "insee_code", "Indiquez le code INSEE de la commune, ou son nom.")
    # every refused field is summed up, in the order of the form
    doc = assert_html(
        c.post(f"/projets/{project['id']}/preuves/stakeholders", data={"csrf": csrf, "name": "", "category": ""}),
        422,
    )
    links = [a.get("href") for a in doc.by_id("resume-erreurs").find_all("a")]
    assert links == ["#f-name", "#f-category"], links
    assert c.post(url, data={"csrf": csrf, "insee_code": "59512", "name": "Roubaix"}).status_code == 303
    before = version(client, project["id"])
    doc = assert_html(c.post(url, data={"csrf": csrf, "insee_code": "59512", "name": "Roubaix bis"}), 409)
    assert "déjà enregistré" in doc.by_id("resume-erreurs").text
    assert value_of(control(doc, "name")) == "Roubaix bis"
    assert version(client, project["id"]) == before
    # A value that is not in a list: the select cannot show it again, the error says what to do.
    doc = assert_html(
        c.post(
            f"/projets/{project['id']}/preuves/board-members", data={"csrf": csrf, "name": "Élu", "college": "inconnu"}
        ),
        422,
    )
    assert_field_error(doc, "college", "Choisissez une valeur dans la liste.")
    assert value_of(control(doc, "name")) == "Élu"
    # A change may not empty a required field: the service's own message, beside it.
    [commune] = client.get(f"{API}/projects/{project['id']}/communes").json()
    doc = assert_html(c.post(f"{url}/{commune['id']}", data={"csrf": csrf, "insee_code": ""}), 422)
    assert_field_error(doc, "insee_code", "ne peut pas être vidé")


def test_a_form_without_the_session_token_is_refused(app, client, project, consultant) -> None:
    c, csrf = consultant
    pid = project["id"]
    before = version(client, pid)
    url = f"/projets/{pid}/preuves/stakeholders"
    for data in ({"name": "Amina", "category": "habitant"}, {"csrf": "faux", "name": "Amina", "category": "habitant"}):
        doc = assert_html(c.post(url, data=data), 403)
        assert "formulaire a expiré" in doc.text
    # Also with the API's header: a page takes the token from its form only.
    r = c.post(url, data={"name": "Amina", "category": "habitant"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    r = c.post(f"{url}/{project['voter']}/supprimer", data={})
    assert r.status_code == 403
    assert version(client, pid) == before


def test_an_observer_reads_but_gets_no_form(app, client, project) -> None:
    pid = project["id"]
    c = browser(app, "olivia@example.fr", [("observateur", uuid.UUID(pid), None)])
    csrf = c.csrf
    before = version(client, pid)
    for kind in KINDS:
        doc = assert_html(c.get(f"/projets/{pid}/preuves/{kind}"), 200)
        assert doc.by_id("form-preuve") is None and doc.by_id("consultation-seule") is not None
        assert not any(a.get("id", "").startswith(("modifier-", "supprimer-")) for a in doc.find_all("a"))
    stakeholders = f"/projets/{pid}/preuves/stakeholders"
    assert "Ville de Roubaix" in parse(c.get(stakeholders).text).by_id(f"element-{project['voter']}").text
    doc = assert_html(c.get(f"{stakeholders}/{project['voter']}"), 200)
    assert doc.by_id("form-preuve") is None and "Ville de Roubaix" in doc.by_id("fiche").text
    refused = [
        c.post(stakeholders, data={"csrf": csrf, "name": "Amina", "category": "habitant"}),
        c.post(f"{stakeholders}/{project['voter']}", data={"csrf": csrf, "name": "Autre"}),
        c.get(f"{stakeholders}/{project['voter']}/supprimer"),
        c.post(f"{stakeholders}/{project['voter']}/supprimer", data={"csrf": csrf}),
        c.post(f"/projets/{pid}/preuves/feasibility", data={"csrf": csrf, "annual_charges": "1"}),
    ]
    for r in refused:
        doc = assert_html(r, 403)
        assert "consultation" in doc.text
    assert version(client, pid) == before


def test_a_porteur_records_evidence_but_not_the_expertise(app, client, project) -> None:
    pid = project["id"]
    c = browser(app, "paul@example.fr", [("porteur", uuid.UUID(pid), None)])
    csrf = c.csrf
    r = c.post(f"/projets/{pid}/preuves/hires", data={"csrf": csrf, **as_form(CREATE_BODIES["hires"])})
    assert r.status_code == 303
    before = version(client, pid)
    doc = assert_html(c.get(f"/projets/{pid}/preuves/expertises"), 200)
    assert doc.by_id("form-preuve") is None and "consultant du Mouvement" in doc.by_id("consultation-seule").text
    r = c.post(f"/projets/{pid}/preuves/expertises", data={"csrf": csrf, **as_form(CREATE_BODIES["expertises"])})
    doc = assert_html(r, 403)
    assert "Seul un consultant du Mouvement" in doc.text
    assert version(client, pid) == before


def test_another_project_is_not_found(app, client, project) -> None:
    other = client.post(f"{API}/projects", json=project_body(REGION_B)).json()["id"]
    c = browser(app, "paul@example.fr", [("porteur", uuid.UUID(project["id"]), None)])
    csrf = c.csrf
    before = version(client, other)
    for r in (
        c.get(f"/projets/{other}/preuves/stakeholders"),
        c.post(f"/projets/{other}/preuves/stakeholders", data={"csrf": csrf, "name": "A", "category": "habitant"}),
        c.get(f"/projets/{uuid.uuid4()}/preuves/stakeholders"),
        c.get("/projets/pas-un-uuid/preuves/stakeholders"),
        c.get(f"/projets/{project['id']}/preuves/inconnu"),
        c.get(f"/projets/{project['id']}/preuves/stakeholders/999999"),
        c.get(f"/projets/{project['id']}/preuves/stakeholders/abc"),
    ):
        assert_html(r, 404)
    assert version(client, other) == before
    # Unknown and other's projects look the same.
    a = parse(c.get(f"/projets/{other}/preuves/needs").text).find("main").text
    b = parse(c.get(f"/projets/{uuid.uuid4()}/preuves/needs").text).find("main").text
    assert a == b


def test_anonymous_visitors_are_sent_to_the_login_page(app, client, project) -> None:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as anon:
        url = f"/projets/{project['id']}/preuves/needs"
        r = anon.get(url)
        assert r.status_code == 303 and r.headers["location"].startswith("/connexion")
        assert anon.post(url, data={"label": "x"}).status_code == 303
    assert version(client, project["id"]) == 2  # creation + the stakeholder


def test_a_closed_project_shows_no_form(app, client, project, consultant) -> None:
    c, csrf = consultant
    pid = project["id"]
    r = client.post(f"{API}/projects/{pid}/transitions/abandonner", json={"reason": "Plus de porteur"})
    assert r.status_code == 200, r.text
    before = version(client, pid)
    doc = assert_html(c.get(f"/projets/{pid}/preuves/stakeholders"), 200)
    assert doc.by_id("form-preuve") is None and doc.by_id("projet-clos") is not None
    assert doc.by_id(f"element-{project['voter']}") is not None
    doc = assert_html(c.post(f"/projets/{pid}/preuves/needs", data={"csrf": csrf, "label": "Besoin"}), 409)
    assert "clos" in doc.text
    assert_html(c.get(f"/projets/{pid}/preuves/stakeholders/{project['voter']}/supprimer"), 409)
    assert (
        c.post(f"/projets/{pid}/preuves/stakeholders/{project['voter']}/supprimer", data={"csrf": csrf}).status_code
        == 409
    )
    assert version(client, pid) == before


def test_pages_are_navigable(app, client, project, consultant) -> None:
    """Every interactive element has a stable id; the current piece is marked; the breadcrumb leads back."""
    c, _ = consultant
    pid = project["id"]
    doc = parse(c.get(f"/projets/{pid}/preuves/qpvs").text)
    current = doc.find("main").find_all("a", aria_current="page")
    assert [a.get("id") for a in current] == ["piece-qpvs"]
    assert doc.by_id("fil-projet").get("href") == f"/projets/{pid}"
    for n in doc.find("main").iter():
        if n.tag in ("a", "button", "input", "select", "textarea") and n.get("type") != "hidden":
            assert n.get("id"), f"<{n.tag}> without id: {n.attrs}"
    assert re.search(r"<html lang=\"fr\"", c.get(f"/projets/{pid}/preuves/qpvs").text)


def test_the_evidence_pages_use_the_api_rules() -> None:
    """Reading needs `read`, any change `write` (raised to `consultant` for the expertise, as in the API)."""
    from app.authorization.rules import RULES, Ability, needs_for
    from app.evidence.pages import router

    for route in router.routes:
        method = next(iter(route.methods - {"HEAD"}))
        reads = method == "GET" and not route.name.endswith("_confirm")
        assert RULES[route.name].need == (Ability.READ if reads else Ability.WRITE), route.name
        for kind in KINDS:
            api = f"get_{kind.replace('-', '_')}" if reads else f"delete_{kind.replace('-', '_')}"
            assert needs_for(route.name, {"kind": kind}) == RULES[api].need, (route.name, kind)


def test_two_people_editing_the_same_record_cannot_overwrite_each_other(app, client, project, consultant) -> None:
    """The edit and delete forms carry the project version they were built from; a save after someone
    else's change is refused (412, French message, nothing written) instead of silently replacing it."""
    c, csrf = consultant
    pid = project["id"]
    item_url = f"/projets/{pid}/preuves/stakeholders/{project['voter']}"
    page = assert_html(c.get(item_url), 200)
    seen = the_form(page).find_all("input")
    [read_version] = [i.get("value") for i in seen if i.get("name") == "version"]
    assert int(read_version) == version(client, pid)

    # meanwhile, someone else renames the stakeholder through the API
    r = client.patch(f"{API}/projects/{pid}/stakeholders/{project['voter']}", json={"name": "Ville de Lille"})
    assert r.status_code == 200
    after_them = version(client, pid)

    form = {"csrf": csrf, "version": read_version, "name": "Mairie de Roubaix", "category": "collectivite"}
    doc = assert_html(c.post(item_url, data=form), 412)
    assert "modifié par quelqu'un d'autre" in doc.by_id("resume-erreurs").text
    assert value_of(control(doc, "name")) == "Mairie de Roubaix"  # the user's input is kept
    assert "Ville de Lille" in doc.text  # and the stored values are shown
    assert version(client, pid) == after_them
    r = c.post(f"{item_url}/supprimer", data={"csrf": csrf, "version": read_version})
    assert r.status_code == 412 and version(client, pid) == after_them

    # the page shows the new version: saving again, knowingly, goes through
    [fresh] = [i.get("value") for i in the_form(doc).find_all("input") if i.get("name") == "version"]
    assert int(fresh) == after_them
    assert c.post(item_url, data=form | {"version": fresh}).status_code == 303
    assert client.get(f"{API}/projects/{pid}/stakeholders/{project['voter']}").json()["name"] == "Mairie de Roubaix"

    # a single record (the study) is replaced by its form: the same check
    study_url = f"/projets/{pid}/preuves/feasibility"
    [study_version] = [
        i.get("value")
        for i in the_form(assert_html(c.get(study_url), 200)).find_all("input")
        if i.get("name") == "version"
    ]
    client.put(f"{API}/projects/{pid}/feasibility", json={"annual_charges": 1000})
    doc = assert_html(c.post(study_url, data={"csrf": csrf, "version": study_version, "annual_charges": "2000"}), 412)
    assert client.get(f"{API}/projects/{pid}/feasibility").json()["annual_charges"] == 1000
