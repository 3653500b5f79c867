"""Build app/reference/data/cog.json.gz, the official geographic code (COG) that ships with regieflow.

Source: the npm package `@etalab/decoupage-administratif` (data.gouv.fr / Etalab), which republishes
INSEE's code officiel géographique as JSON under the Licence Ouverte. The script installs it with npm
into a temporary directory (npm and Node are needed here, never by the application), keeps what the
application uses and writes a compact, reproducible file plus SOURCE.md beside it:

    python3 scripts/build_cog.py                    # the pinned version below
    python3 scripts/build_cog.py --version 6.0.0    # another vintage (see the package's README)

What is kept:
- régions and départements of France (metropolitan and the five DROM: 18 and 101), not the
  collectivités d'outre-mer (Saint-Pierre-et-Miquelon, Polynésie…), which have no départements;
- communes of type COM (`commune-actuelle`) in those départements: code, name, département, population
  (population only ranks a name search: Saint-Denis 93 before the small Saint-Denis);
- `former`: the codes that are not communes but that people type for one: the 45 arrondissements
  municipaux of Paris, Lyon and Marseille (ARM), the communes déléguées and associées, and the codes
  of communes merged into another. Each points to the commune it belongs to, so an unknown code gets
  that commune as a suggestion. Arrondissements municipaux are not communes: the commune (Paris
  75056, Lyon 69123, Marseille 13055) is the local authority that founds, funds and sits on a régie,
  and what the other official lists (QPV, EPCI) refer to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@etalab/decoupage-administratif"
VERSION = "6.0.0"  # COG 2026
VINTAGES = {"6.0.0": "2026", "5.3.0": "2025", "4.1.0": "2024"}
ZONES = ("metro", "drom")  # France's régions and départements; "com": collectivités d'outre-mer
OUT = Path(__file__).resolve().parent.parent / "app" / "reference" / "data"


def install(version: str, into: Path) -> Path:
    """npm-install the package into `into`; returns its folder."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is needed to build the data file (the application itself never needs Node).")
    subprocess.run(
        [npm, "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", f"{PACKAGE}@{version}"],
        cwd=into,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return into / "node_modules" / PACKAGE


def load(folder: Path, name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((folder / "data" / f"{name}.json").read_text(encoding="utf-8"))
    return data


def build(folder: Path) -> dict[str, Any]:
    regions = sorted((r["code"], r["nom"]) for r in load(folder, "regions") if r["zone"] in ZONES)
    departements = sorted(
        (d["code"], d["nom"], d["region"]) for d in load(folder, "departements") if d["zone"] in ZONES
    )
    known_departements = {d[0] for d in departements}
    rows = [c for c in load(folder, "communes") if c.get("departement") in known_departements]
    current = sorted(
        (c["code"], c["nom"], c["departement"], int(c.get("population") or 0))
        for c in rows
        if c["type"] == "commune-actuelle"
    )
    codes = {c[0] for c in current}
    former: dict[str, tuple[str, str, str]] = {}
    for c in rows:
        if c["type"] == "commune-actuelle" or c["code"] in codes:
            continue
        parent = c.get("commune") or c.get("chefLieu")
        if parent in codes:
            former.setdefault(c["code"], (c["nom"], parent, c["type"]))
    for c in rows:
        if c["type"] != "commune-actuelle":
            continue
        for old in c.get("anciensCodes", []):
            if old not in codes:
                former.setdefault(old, ("", c["code"], "ancien-code"))
    return {
        "regions": [list(r) for r in regions],
        "departements": [list(d) for d in departements],
        "communes": [list(c) for c in current],
        "former": [[code, *former[code]] for code in sorted(former)],
    }


def write(data: dict[str, Any], version: str, package_json: dict[str, Any], tarball_sha: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {
        "package": PACKAGE,
        "version": version,
        "vintage": VINTAGES.get(version, ""),
        "licence": "Licence Ouverte / Open Licence 2.0 (Etalab)",
        "generated_on": dt.date.today().isoformat(),
    }
    payload = json.dumps({"source": meta, **data}, ensure_ascii=False, separators=(",", ":")).encode()
    target = OUT / "cog.json.gz"
    with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (OUT / "SOURCE.md").write_text(
        f"""# Official geographic code (COG) shipped with regieflow

- File: `cog.json.gz` (sha256 `{digest}`), made by `scripts/build_cog.py`.
- Source: npm package `{PACKAGE}` version {version} ({package_json.get("repository", "")}),
  npm integrity `{tarball_sha}`; it republishes the Code officiel géographique of INSEE
  (https://www.insee.fr/fr/information/2560452).
- Vintage: COG {meta["vintage"] or "?"} (communes as of 1 January of that year).
- Licence of the data: {meta["licence"]}, https://www.etalab.gouv.fr/licence-ouverte-open-licence
  (reuse allowed, source to be mentioned: « INSEE, Code officiel géographique, via data.gouv.fr »).
  The package's code is MIT; none of its code is shipped.
- Generated on: {meta["generated_on"]}.
- Content: {len(data["regions"])} régions, {len(data["departements"])} départements, {len(data["communes"])} communes
  (type COM), {len(data["former"])} former or infra-communal codes (arrondissements municipaux, communes
  déléguées and associées, merged communes) pointing to their commune.
""",
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default=VERSION, help=f"version of {PACKAGE} (default {VERSION})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="regieflow-cog-") as tmp:
        folder = install(args.version, Path(tmp))
        package_json = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        lock = json.loads((Path(tmp) / "node_modules" / ".package-lock.json").read_text(encoding="utf-8"))
        entry = lock.get("packages", {}).get(f"node_modules/{PACKAGE}", {})
        data = build(folder)
        write(data, args.version, package_json, entry.get("integrity", ""))
    print(
        f"{OUT / 'cog.json.gz'}: {len(data['regions'])} régions, {len(data['departements'])} départements, "
        f"{len(data['communes'])} communes, {len(data['former'])} former codes"
    )


if __name__ == "__main__":
    main()
