"""HTML for the page tests: a tiny tree (stdlib html.parser), what a form shows and sends, the login
form flow, and what the strict CSP or a screen reader would object to."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Any] = field(default_factory=list)  # Node or str
    parent: Node | None = field(default=None, repr=False)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def has(self, name: str) -> bool:
        """Whether the attribute is present (boolean attributes like `disabled` have no value)."""
        return name in self.attrs

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, *, cls: str | None = None, **attrs: str | bool) -> list[Node]:
        """Descendants with this tag (any if None), class, and attributes (True: present; a str: equal)."""
        out = []
        for n in self.iter():
            if tag is not None and n.tag != tag:
                continue
            if cls is not None and cls not in n.classes:
                continue
            ok = True
            for k, v in attrs.items():
                key = k.rstrip("_").replace("_", "-")
                if v is True:
                    ok = key in n.attrs
                elif v is False:
                    ok = key not in n.attrs
                else:
                    ok = n.attrs.get(key) == v
                if not ok:
                    break
            if ok:
                out.append(n)
        return out

    def find(self, tag: str | None = None, **kw: Any) -> Node | None:
        found = self.find_all(tag, **kw)
        return found[0] if found else None

    def one(self, tag: str | None = None, **kw: Any) -> Node:
        found = self.find_all(tag, **kw)
        assert len(found) == 1, f"expected one <{tag} {kw}>, found {len(found)}"
        return found[0]

    def by_id(self, ident: str) -> Node | None:
        return next((n for n in self.iter() if n.attrs.get("id") == ident), None)

    @property
    def text(self) -> str:
        parts: list[str] = []

        def walk(node: Node) -> None:
            for c in node.children:
                if isinstance(c, str):
                    parts.append(c)
                else:
                    walk(c)

        walk(self)
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def ancestors(self) -> Iterator[Node]:
        n = self.parent
        while n is not None:
            yield n
            n = n.parent


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), parent=self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs), parent=self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def html_of(response: Any) -> Node:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    return parse(response.text)


def page_login(client: Any, email: str, password: str) -> None:
    """Log in through the login page (its CSRF cookie and hidden field), like a browser."""
    r = client.get("/connexion")
    assert r.status_code == 200, r.text
    token = html_of(r).one("input", name="csrf").get("value")
    r = client.post(
        "/connexion", data={"email": email, "password": password, "csrf": token, "next": "/"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def csrf_of(doc: Node) -> str:
    """The session's CSRF token, from any form of a page (the logout form of the header, say)."""
    value = doc.find("input", name="csrf").get("value")
    assert value
    return value


def form_data(form: Node, **overrides: str) -> dict[str, str]:
    """What a browser would send for `form` (its inputs and textareas), with `overrides`."""
    data: dict[str, str] = {}
    for n in form.find_all("input"):
        if n.get("name") and n.get("type") not in ("submit", "button", "radio", "checkbox"):
            data[n.get("name")] = n.get("value") or ""
        elif n.get("name") and n.get("type") in ("radio", "checkbox") and "checked" in n.attrs:
            data[n.get("name")] = n.get("value") or "on"
    for n in form.find_all("textarea"):
        data[n.get("name")] = n.text
    for n in form.find_all("select"):
        chosen = next((o for o in n.find_all("option") if "selected" in o.attrs), None) or n.find("option")
        data[n.get("name")] = (chosen.get("value") if chosen is not None else "") or ""
    return data | overrides


def unlabelled_controls(doc: Node) -> list[str]:
    """Form controls a screen reader could not name: no <label for>, no aria-label(ledby), not hidden."""
    labelled = {n.get("for") for n in doc.find_all("label")}
    missing = []
    for n in doc.iter():
        if n.tag not in ("input", "select", "textarea") or n.get("type") in ("hidden", "submit", "button"):
            continue
        if n.get("id") in labelled or n.get("aria-label") or n.get("aria-labelledby"):
            continue
        if any(a.tag == "label" for a in n.ancestors()):
            continue
        missing.append(f"<{n.tag} name={n.get('name')!r} id={n.get('id')!r}>")
    return missing


def inline_code(doc: Node) -> list[str]:
    """What the strict CSP would block: <script> without src, <style>, style="" attributes, on* handlers."""
    bad = []
    for n in doc.iter():
        if n.tag == "script" and not n.get("src"):
            bad.append("<script>")
        if n.tag == "style":
            bad.append("<style>")
        if "style" in n.attrs:
            bad.append(f"<{n.tag} style=…>")
        bad += [f"<{n.tag} {a}=…>" for a in n.attrs if a.startswith("on")]
    return bad


def label_of(doc: Node, control: Node) -> str | None:
    """The text of the <label for=…> of a form control (or of a label around it)."""
    ident = control.get("id")
    if ident:
        label = doc.find("label", for_=ident)
        if label is not None:
            return label.text
    return next((a.text for a in control.ancestors() if a.tag == "label"), None)


def controls(form: Node) -> list[Node]:
    """The visible controls of a form: inputs (not hidden), selects, textareas."""
    return [
        n
        for n in form.iter()
        if n.tag in ("select", "textarea")
        or (n.tag == "input" and (n.get("type") or "text") not in ("hidden", "submit"))
    ]


def duplicate_ids(doc: Node) -> list[str]:
    counts = Counter(n.attrs["id"] for n in doc.iter() if n.attrs.get("id"))
    return [k for k, v in counts.items() if v > 1]


def value_of(control: Node) -> str:
    """What a control shows: a text's value, a textarea's text, a select's chosen option, a box if checked."""
    if control.tag == "textarea":
        return "".join(c for c in control.children if isinstance(c, str)).removeprefix("\n")
    if control.tag == "select":
        chosen = [o for o in control.find_all("option") if "selected" in o.attrs]
        return (chosen[0].get("value") or "") if chosen else ""
    if control.get("type") == "checkbox":
        return (control.get("value") or "on") if "checked" in control.attrs else ""
    return control.get("value") or ""


def assert_no_inline_code(html: str) -> None:
    """Nothing the strict CSP would block: no inline script, event handler, style attribute or block."""
    bad = inline_code(parse(html))
    assert not bad, bad
