"""constraints.txt pins every package regieflow and its test extras install, at the version installed
here (the one CI tested): the README's two commands and .ci/run install with it, so a fresh machine gets
what CI ran. Regenerate it with `.venv/bin/pip freeze --exclude-editable > constraints.txt`."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            found[canonicalize_name(name)] = version
    return found


def needed(root: str, extras: frozenset[str]) -> dict[str, str]:
    """Every distribution `root` (with `extras`) needs, transitively, with its installed version."""
    seen: dict[str, str] = {}
    stack = [(root, extras)]
    while stack:
        name, wanted = stack.pop()
        dist = metadata.distribution(name)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                continue
            key = canonicalize_name(req.name)
            if key in seen:
                continue
            seen[key] = metadata.version(req.name)
            stack.append((req.name, frozenset(req.extras)))
    return seen


def test_every_installed_requirement_is_pinned_at_its_installed_version() -> None:
    pinned = pins()
    wanted = needed("regieflow", frozenset({"test"}))
    missing = sorted(set(wanted) - set(pinned))
    assert not missing, f"not in constraints.txt: {missing}"
    differ = {k: (pinned[k], v) for k, v in wanted.items() if pinned[k] != v}
    assert not differ, f"constraints.txt pins another version than the one installed: {differ}"
    assert "regieflow" not in pinned  # the project itself is installed from the checkout
