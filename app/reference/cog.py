"""The official geographic code, loaded once from the shipped data file, and its lookups.

Everything here is pure and read-only: the data is parsed on first use (`cog()`, cached for the life
of the process; ~35,000 communes, a few tens of milliseconds) and never changes while running."""

from __future__ import annotations

import functools
import gzip
import json
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

DATA_FILE = "cog.json.gz"
MAX_RESULTS = 50  # a search never returns more than this
MAX_QUERY = 100  # characters of a search or of a name


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # INSEE code of the région: "32"
    name: str  # "Hauts-de-France"


@dataclass(frozen=True, slots=True)
class Departement:
    code: str  # "59", "2A", "974"
    name: str  # "Nord"
    region: str  # code of its région


@dataclass(frozen=True, slots=True)
class Commune:
    code: str  # INSEE code (COG), five characters: "59512", "2A004"
    name: str
    departement: str  # code of its département
    population: int = 0  # ranks the communes of a name search (the largest first)


@dataclass(frozen=True, slots=True)
class FormerCode:
    """A code that is not (or no longer) a commune's: an arrondissement municipal, a commune déléguée
    or associée, a merged commune; `commune` is the code of the commune it belongs to today."""

    code: str
    name: str
    commune: str
    type: str  # arrondissement-municipal | commune-deleguee | commune-associee | ancien-code


FORMER_TYPES = {
    "arrondissement-municipal": "un arrondissement municipal",
    "commune-deleguee": "une commune déléguée",
    "commune-associee": "une commune associée",
    "ancien-code": "l'ancien code d'une commune fusionnée",
}


_SEPARATORS = re.compile(r"[^0-9a-z]+")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte"}
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})


def normalize(text: str) -> str:
    """A name as people may type it: accents, case, hyphens, apostrophes and spacing ignored,
    "St"/"Ste" read as "Saint"/"Sainte". "L'Haÿ-les-Roses" and "l hay les roses" agree."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = _SEPARATORS.sub(" ", plain).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def departement_of_code(code: str) -> str:
    """The département part of an INSEE commune code: three characters overseas (97x), else two."""
    return code[:3] if code.startswith("97") else code[:2]


def _departement_order(code: str) -> float:
    return float(code.replace("2A", "20.1").replace("2B", "20.2"))


@dataclass(frozen=True)
class Cog:
    source: dict[str, str]
    regions: tuple[Region, ...]  # in French alphabetical order
    departements: tuple[Departement, ...]  # in code order (2A, 2B between 19 and 21)
    communes: dict[str, Commune]
    former: dict[str, FormerCode]
    _regions_by_key: dict[str, Region] = field(repr=False)
    _departements: dict[str, Departement] = field(repr=False)
    # (normalized name, the same without spaces, commune), the largest communes first
    _names: tuple[tuple[str, str, Commune], ...] = field(repr=False)
    _by_departement: dict[str, tuple[Commune, ...]] = field(repr=False)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Cog:
        regions = tuple(sorted((Region(c, n) for c, n in data["regions"]), key=lambda r: normalize(r.name)))
        departements = tuple(
            sorted((Departement(c, n, r) for c, n, r in data["departements"]), key=lambda d: _departement_order(d.code))
        )
        communes = {c: Commune(c, n, d, p) for c, n, d, p in data["communes"]}
        former = {c: FormerCode(c, n, parent, t) for c, n, parent, t in data["former"]}
        keys: dict[str, Region] = {}
        for r in regions:
            keys[normalize(r.name)] = r
            keys[r.code] = r
        ranked = sorted(communes.values(), key=lambda c: (-c.population, c.code))
        by_dep: dict[str, list[Commune]] = {}
        for c in sorted(communes.values(), key=lambda c: c.code):
            by_dep.setdefault(c.departement, []).append(c)
        return cls(
            source=dict(data["source"]),
            regions=regions,
            departements=departements,
            communes=communes,
            former=former,
            _regions_by_key=keys,
            _departements={d.code: d for d in departements},
            _names=tuple((n, n.replace(" ", ""), c) for c in ranked for n in (normalize(c.name),)),
            _by_departement={k: tuple(v) for k, v in by_dep.items()},
        )

    # --- régions and départements ---------------------------------------------------------------
    def region(self, name_or_code: str) -> Region | None:
        """The région named so (accents, case, hyphens ignored) or with this INSEE code ("32")."""
        text = name_or_code.strip()
        return self._regions_by_key.get(text) or self._regions_by_key.get(normalize(text[:MAX_QUERY]))

    def region_named(self, name: str) -> Region | None:
        """The région whose official name is exactly `name` (what a project stores)."""
        r = self._regions_by_key.get(normalize(name[:MAX_QUERY]))
        return r if r is not None and r.name == name else None

    def departement(self, code: str) -> Departement | None:
        return self._departements.get(code.strip().upper())

    def departements_of(self, region: Region) -> tuple[Departement, ...]:
        return tuple(d for d in self.departements if d.region == region.code)

    def region_of(self, departement: Departement) -> Region:
        r = self._regions_by_key[departement.region]
        return r

    # --- communes -----------------------------------------------------------------------------
    def commune(self, code: str) -> Commune | None:
        return self.communes.get(code.strip().upper())

    def search(self, query: str, *, limit: int = 20, departement: str | None = None) -> list[Commune]:
        """Communes matching `query`: by name (accents, case, hyphens and apostrophes ignored) or by
        the start of an INSEE code; exact names first, then names that start with it, then names
        with a word that starts with it, then names that contain it; the largest first in each."""
        limit = max(0, min(limit, MAX_RESULTS))
        text = query.strip()[:MAX_QUERY]
        wanted = normalize(text)
        if not wanted or limit == 0:
            return []
        code = text.upper()
        if re.fullmatch(r"[0-9][0-9AB][0-9]{0,3}", code):
            found = [c for c in self.communes.values() if c.code.startswith(code)]
            if departement:
                found = [c for c in found if c.departement == departement]
            return sorted(found, key=lambda c: c.code)[:limit]
        ranks: list[list[Commune]] = [[], [], [], []]
        word, compact = " " + wanted, wanted.replace(" ", "")  # "lhay les roses" finds L'Haÿ-les-Roses
        for name, glued, c in self._names:
            if departement and c.departement != departement:
                continue
            if name == wanted or glued == compact:
                ranks[0].append(c)
            elif name.startswith(wanted) or glued.startswith(compact):
                ranks[1].append(c)
            elif word in name:
                ranks[2].append(c)
            elif compact in glued:
                ranks[3].append(c)
        return [c for rank in ranks for c in rank][:limit]

    def named(self, name: str) -> list[Commune]:
        """Every commune whose name is `name` (accents, case, hyphens ignored), the largest first."""
        wanted = normalize(name[:MAX_QUERY])
        compact = wanted.replace(" ", "")
        return [c for n, glued, c in self._names if n == wanted or glued == compact] if wanted else []

    def suggestions(self, code: str, *, name: str | None = None, limit: int = 5) -> list[Commune]:
        """Real communes someone who typed the unknown `code` (and maybe a `name`) may have meant: the
        commune an old or infra-communal code belongs to, communes of that name, then the closest
        codes of the same département (for "20…", the Corsican 2A/2B codes that replaced it)."""
        code = code.strip().upper()[:5]
        out: list[Commune] = []
        former = self.former.get(code)
        if former is not None and former.commune in self.communes:
            out.append(self.communes[former.commune])
        if name:
            out += self.search(name, limit=limit)
        candidates: list[str] = [code]
        if code.startswith("20") and len(code) == 5:
            candidates = ["2A" + code[2:], "2B" + code[2:]]
        for candidate in candidates:
            if candidate in self.communes:
                out.append(self.communes[candidate])
        for candidate in candidates:
            out += self._closest(candidate, limit)
        unique = list(dict.fromkeys(out))
        return unique[:limit]

    def _closest(self, code: str, limit: int) -> list[Commune]:
        dep = departement_of_code(code)
        rest = code[len(dep) :]
        pool = self._by_departement.get(dep, ())
        if not pool or not rest.isdigit():
            return []
        target = int(rest)
        return sorted(pool, key=lambda c: (abs(int(c.code[len(dep) :]) - target), c.code))[:limit]

    def describe_former(self, code: str) -> str | None:
        """French: what an old or infra-communal code is ("75119 est un arrondissement municipal de
        Paris (75056)"), or None when it is not one."""
        former = self.former.get(code.strip().upper())
        if former is None or former.commune not in self.communes:
            return None
        parent = self.communes[former.commune]
        what = FORMER_TYPES.get(former.type, "un ancien code")
        label = f" ({former.name})" if former.name else ""
        return f"{former.code}{label} est {what} de {parent.name} ({parent.code})"


def _read() -> dict[str, Any]:
    raw = resources.files("app.reference").joinpath("data").joinpath(DATA_FILE).read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


@functools.cache
def cog() -> Cog:
    """The official geographic code shipped with regieflow, parsed on first use."""
    return Cog.from_data(_read())
