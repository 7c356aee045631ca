"""One table of countries and areas, and the resolution of every source's names and codes to it.

The key of an area (``code``) is:

* for a country or area: its ISO 3166-1 alpha-3 code (``DEU``); where ISO has none, the code the
  World Bank uses (``XKX`` Kosovo, ``CHI`` Channel Islands) or ``M<m49>`` (``M680`` Sark);
* for a UN M49 region: its three-digit M49 code (``001`` World, ``002`` Africa, ``014`` Eastern
  Africa); UN DESA's own codes for the same regions (900 WORLD, 903 AFRICA, 910 Eastern Africa)
  are aliases of these;
* for a World Bank income group: the World Bank code (``HIC``, ``UMC``, ``LMC``, ``LIC``, ``MIC``);
* for other groupings: the publisher's own code (UN DESA ``1833`` "Northern Africa and Western
  Asia", World Bank ``EUU``);
* for residual categories: SDMX-style codes (``_O`` other, ``_ON`` other North, ``_OS`` other South,
  ``_U`` unknown, ``_S`` stateless);
* ``_T`` (kind ``total``): all areas together, where a table is not broken down by that area
  dimension (the destination totals of the UN DESA workbooks have origin ``_T``).

Every alias (a name, or a code in a named system: ``iso3``, ``iso2``, ``m49``, ``undesa``, ``wb``,
``unhcr``, ...) resolves to exactly one code. A name that cannot be resolved is never guessed:
the caller records an ``unmapped-area`` issue. A name damaged before publication, a character lost as
U+FFFD (``Per\ufffd``, ``C\ufffdte d\ufffdIvoire``), resolves when exactly one area has a name or alias
that fits with one character in each gap (``Perú``: Peru); none or several: unresolved.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from imdx.codes.names import normalise

AREA_COLUMNS = ["code", "name", "kind", "m49", "iso3", "iso2", "region", "subregion",
                "intermediate_region", "sdg_region", "wb_income", "un_development", "ldc", "lldc", "sids"]
KINDS = ("country", "aggregate", "residual", "total")

#: residual categories shared by all sources
RESIDUALS = [("_O", "Other"), ("_ON", "Other North"), ("_OS", "Other South"), ("_U", "Unknown"),
             ("_S", "Stateless"), ("_M", "Several countries (a list, given in the note)")]


#: the replacement character: a character lost before publication
DAMAGED = "\ufffd"


@dataclass(frozen=True)
class Match:
    code: str | None
    via: str | None  # which system matched: "code", "iso3", "name", ...


@dataclass(frozen=True)
class AreaChanges:
    """What a build added to its areas: replayed, with :meth:`Areas.apply`, in the loading process
    when the build ran in another one."""

    areas: pd.DataFrame
    aliases: list[tuple[str, str, str]]
    wb_income: pd.Series  # code -> income group, every area that has one


class Areas:
    """The area table (``frame``) and its aliases (``aliases``: code, system, alias).

    Build it with :func:`imdx.codes.build.build_areas`; sources add their own names and codes with
    :meth:`add_alias` and :meth:`add_area`.
    """

    def __init__(self, frame: pd.DataFrame, aliases: pd.DataFrame | None = None):
        self.frame = frame.reindex(columns=AREA_COLUMNS).astype(object).set_index("code", drop=False)
        self._by: dict[str, dict[str, str]] = {}
        self._rows: list[tuple[str, str, str]] = []
        self._written: set[tuple[str, str, str]] = set()
        for code in self.frame.index:
            self._put("code", code, code)
        if aliases is not None:
            for row in aliases.itertuples(index=False):
                self.add_alias(row.code, row.system, row.alias)

    # -- building -----------------------------------------------------------------------------
    def _put(self, system: str, key: str, code: str) -> bool | None:
        """True when ``key`` is new, None when it already means ``code``, False when it means another area."""
        table = self._by.setdefault(system, {})
        if key in table:
            return None if table[key] == code else False
        table[key] = code
        return True

    def add_alias(self, code: str, system: str, alias: object) -> bool:
        """Make ``alias`` (a name when ``system == "name"``, else a code) resolve to ``code``.

        Returns False, and changes nothing, when the alias already means another area (the first
        registration wins: official sources are registered before package and sidecar names).
        """
        if code not in self.frame.index:
            raise KeyError(f"unknown area code {code!r}")
        if alias is None or (isinstance(alias, float) and pd.isna(alias)) or str(alias).strip() == "":
            return False
        key = normalise(alias) if system == "name" else str(alias).strip()
        added = self._put(system, key, code)
        row = (code, system, str(alias).strip())
        if added is not False and row not in self._written:  # every spelling once
            self._written.add(row)
            self._rows.append(row)
        return added is not False

    def add_area(self, code: str, name: str, kind: str, **attrs) -> None:
        self.add_areas(pd.DataFrame([{"code": code, "name": name, "kind": kind} | attrs]))

    def add_areas(self, rows: pd.DataFrame) -> None:
        """Add many areas at once (columns: code, name, kind, and any of the area attributes);
        codes already known are left as they are."""
        new = rows[~rows["code"].isin(self.frame.index)].drop_duplicates("code").reindex(columns=AREA_COLUMNS)
        if new.empty:
            return
        if not new["kind"].isin(KINDS).all():
            raise ValueError(f"kind must be one of {KINDS}")
        new = new.astype(object).set_index("code", drop=False)
        self.frame = pd.concat([self.frame, new])
        for code, name in zip(new["code"], new["name"]):
            self._put("code", code, code)
            self.add_alias(code, "name", name)

    def load_sidecar(self, name: str) -> None:
        """Register the aliases of ``imdx/codes/aliases/<name>.csv`` (columns code, system, alias)."""
        text = resources.files("imdx.codes").joinpath("aliases", f"{name}.csv").read_text("utf-8")
        from io import StringIO

        table = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, comment="#")
        for row in table.itertuples(index=False):
            self.add_alias(row.code, row.system, row.alias)

    # -- resolving ----------------------------------------------------------------------------
    def resolve(self, value: object, systems: tuple[str, ...] = ("code", "iso3", "m49", "name")) -> Match:
        """Find the area a code or name denotes, trying ``systems`` in order."""
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return Match(None, None)
        text = str(value).strip()
        for system in systems:
            table = self._by.get(system, {})
            key = normalise(text) if system == "name" else text
            if system in ("m49", "undesa"):
                key = key.lstrip("0") or key
            if system in ("code", "iso3", "iso2", "wb"):
                key = key.upper() if key.upper() in table else key
            if key in table:
                return Match(table[key], system)
        if "name" in systems and DAMAGED in text:
            return self._resolve_damaged(text)
        return Match(None, None)

    def _resolve_damaged(self, text: str) -> Match:
        """The one area whose name or alias fits ``text`` with any one character for each U+FFFD."""
        parts = normalise(text).split(DAMAGED)
        if sum(len(p.strip()) for p in parts) < 3:  # "\ufffd\ufffd": nothing left to recognise
            return Match(None, None)
        pattern = re.compile(".".join(re.escape(p) for p in parts))
        codes = {code for key, code in self._by.get("name", {}).items() if pattern.fullmatch(key)}
        return Match(codes.pop(), "name") if len(codes) == 1 else Match(None, None)

    def map(self, values: pd.Series, systems: tuple[str, ...]) -> pd.Series:
        """Vectorised :meth:`resolve`: one code (or ``<NA>``) per value."""
        index, uniques = pd.factorize(values.astype("string").fillna(""))
        mapped = pd.array([self.resolve(u, systems).code if u else None for u in uniques], dtype="string")
        return pd.Series(mapped.take(index, allow_fill=True), index=values.index, dtype="string")

    def search(self, text: str, limit: int = 20) -> pd.DataFrame:
        """Areas whose code or any alias contains ``text`` (case and accents ignored), best first: an
        exact code, name or abbreviation ("UK", "USA", "UAE", "DRC"), then names that start with the
        text, then names with a word that does, then the rest; countries before groups, then by name."""
        needle = normalise(text)
        if not needle:
            return self.frame.iloc[:0]
        best: dict[str, int] = {}
        for system, table in self._by.items():
            for key, code in table.items():
                key = key if system == "name" else key.casefold()
                if needle not in key:
                    continue
                rank = 0 if key == needle else 2 if key.startswith(needle) else \
                    3 if f" {needle}" in f" {key}".replace("(", " ").replace(",", " ") else 4
                best[code] = min(rank, best.get(code, 9))
        for code, rank in best.items():  # the area's own name first among names that start with the text
            if rank == 2 and normalise(self.frame.at[code, "name"]).startswith(needle):
                best[code] = 1
        kinds = {"country": 0, "aggregate": 1, "total": 2, "residual": 3}
        order = sorted(best, key=lambda c: (best[c], kinds.get(self.frame.at[c, "kind"], 4),
                                            normalise(self.frame.at[c, "name"])))
        return self.frame.loc[order].head(limit)

    # -- reading ------------------------------------------------------------------------------
    def name(self, code: str) -> str | None:
        return self.frame["name"].get(code)

    def kind(self, code: str) -> str | None:
        return self.frame["kind"].get(code)

    def countries(self) -> list[str]:
        return list(self.frame.index[self.frame["kind"] == "country"])

    @property
    def aliases(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=["code", "system", "alias"]).drop_duplicates()

    @property
    def revision(self) -> tuple[int, int, int]:
        """Changes whenever areas, aliases or income groups are added (what a store must write again)."""
        return len(self.frame), len(self._rows), int(self.frame["wb_income"].notna().sum())

    def copy(self) -> Areas:
        return pickle.loads(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))  # 4x faster than deepcopy

    def changes_since(self, revision: tuple[int, int, int]) -> AreaChanges:
        """What was added after :attr:`revision` was read (areas and aliases are only ever appended)."""
        n_areas, n_aliases, _ = revision
        return AreaChanges(self.frame.iloc[n_areas:].reset_index(drop=True), self._rows[n_aliases:],
                           self.frame["wb_income"].dropna())

    def apply(self, changes: AreaChanges) -> None:
        """Add what :meth:`changes_since` found in another copy of these areas (known areas and aliases
        stay as they are: the first registration wins, as always)."""
        self.add_areas(changes.areas)
        for code, system, alias in changes.aliases:
            self.add_alias(code, system, alias)
        income = changes.wb_income[changes.wb_income.index.isin(self.frame.index)]
        empty = self.frame.loc[income.index, "wb_income"].isna().to_numpy()
        self.frame.loc[income.index[empty], "wb_income"] = income[empty].to_numpy()

    def table(self) -> pd.DataFrame:
        return self.frame.reset_index(drop=True)


def read_m49(path: Path) -> pd.DataFrame:
    from imdx.sources.csvfile import read_csv

    return read_csv(path, expected="UNSD's M49 table (unsd_m49_methodology.csv)", dtype=str, keep_default_na=False,
                    encoding="utf-8-sig")
