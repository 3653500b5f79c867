"""Form helpers for the evidence and administration page tests, on top of tests/web_support.py's HTML tree."""

from __future__ import annotations

from collections import Counter

from tests.web_support import Node, inline_code
from tests.web_support import parse as parse_html

__all__ = ["Node", "assert_no_inline_code", "controls", "duplicate_ids", "label_of", "parse_html", "value_of"]


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
    bad = inline_code(parse_html(html))
    assert not bad, bad
