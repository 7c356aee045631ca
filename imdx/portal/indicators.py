"""Indicators a reader can map and chart: each a dataflow read with filters (a :class:`Term`), or a ratio of
two (:class:`Ratio`: remittances as a share of GDP, refugees per 100,000 people).

A term is read once per edition of its source (:meth:`Store.select` with ``edition=``), so that:

* a *series* (one area, every year: a line on a chart) comes whole from ONE edition, the latest that holds
  the area -- never a 2019-edition point inside a 2020-edition line;
* a *cross-section* (every area, one year: a map) takes each area's value from the latest edition that holds
  that area and year, and says which releases it drew (the map's source line names them);
* every value carries the check that reproduces it from the store (the tests verify each number shown).

A year in which fewer countries report than in the years before is marked incomplete (:func:`coverage`),
so that a world figure or a map of it is never read as complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from imdx.portal.data import Num, Reader

#: a year is incomplete when fewer countries have a value than this share of the most in the 5 years before
COMPLETE_SHARE = 0.9


@dataclass(frozen=True)
class Term:
    """The values of one dataflow: ``filters`` fixed, one value per ``area`` and year (``agg="sum"``: summed
    over the dimensions not fixed, e.g. refugees over every country of origin)."""

    flow: str
    source: str
    filters: dict = field(hash=False)
    area: str
    agg: str = "one"

    @property
    def key(self) -> tuple:
        return (self.flow, self.source, tuple(sorted(self.filters.items())), self.area, self.agg)

    def flows(self) -> tuple[str, ...]:
        return (self.flow,)

    def panel(self, reader: Reader) -> pd.DataFrame:
        """Every edition's values: area, year, value, edition, rank (later editions rank higher), release_id."""
        def compute():
            frames = []
            for rank, (edition, _releases) in enumerate(editions(reader, self.flow, self.source)):
                t = reader.select(self.flow, {k: [v] for k, v in self.filters.items()}, edition=edition,
                                  source=self.source).to_pandas()
                if t.empty:
                    continue
                t = t.rename(columns={self.area: "area"})
                if self.agg == "sum":
                    t = t.groupby(["area", "year"], as_index=False).agg(
                        value=("value", lambda v: v.sum(min_count=1)), release_id=("release_id", "first"))
                    t["note"] = None
                frames.append(t[["area", "year", "value", "release_id", "note"]].assign(edition=edition, rank=rank))
            if not frames:
                return pd.DataFrame(columns=["area", "year", "value", "release_id", "note", "edition", "rank"])
            out = pd.concat(frames, ignore_index=True)
            out["year"] = out["year"].astype(int)
            return out
        return reader.cached(("panel", self.key), compute)

    def _checked(self, frame: pd.DataFrame) -> pd.DataFrame:
        checks = [{"flow": self.flow, "source": self.source, "agg": self.agg, "edition": ed,
                   "filters": {**self.filters, self.area: a, "year": str(y)}}
                  for a, y, ed in zip(frame["area"], frame["year"], frame["edition"])]
        return frame.assign(check=checks, releases=[(int(r),) for r in frame["release_id"]])

    def cross(self, reader: Reader, year: int) -> pd.DataFrame:
        """Each area's value in ``year`` from the latest edition that holds it."""
        p = self.panel(reader)
        p = p[(p["year"] == year) & p["value"].notna()]
        p = p.sort_values("rank").drop_duplicates("area", keep="last")
        return self._checked(p)

    def series(self, reader: Reader, area: str) -> pd.DataFrame:
        """``area``'s values, every year, from the one latest edition that holds the area."""
        p = self.panel(reader)
        p = p[(p["area"] == area) & p["value"].notna()]
        if p.empty:
            return self._checked(p)
        return self._checked(p[p["rank"] == p["rank"].max()].sort_values("year"))

    def years(self, reader: Reader) -> list[int]:
        p = self.panel(reader)
        return sorted(int(y) for y in p.loc[p["value"].notna(), "year"].unique())


@dataclass(frozen=True)
class Ratio:
    """``num / den * scale`` per area and year (den 0 or missing: no value)."""

    num: Term | Ratio
    den: Term | Ratio
    scale: float = 1.0

    def flows(self) -> tuple[str, ...]:
        return self.num.flows() + self.den.flows()

    def _join(self, a: pd.DataFrame, b: pd.DataFrame, on: str) -> pd.DataFrame:
        j = a.merge(b, on=on, suffixes=("", "_d"))
        j = j[j["value_d"].notna() & (j["value_d"] != 0)]
        return pd.DataFrame({
            on: j[on], "value": j["value"] / j["value_d"] * self.scale, "note": None,
            "edition": j["edition"] + " / " + j["edition_d"],
            "check": [{"agg": "ratio", "num": n, "den": d, "scale": self.scale}
                      for n, d in zip(j["check"], j["check_d"])],
            "releases": [x + y for x, y in zip(j["releases"], j["releases_d"])]})

    def cross(self, reader: Reader, year: int) -> pd.DataFrame:
        return self._join(self.num.cross(reader, year), self.den.cross(reader, year), "area").assign(year=year)

    def series(self, reader: Reader, area: str) -> pd.DataFrame:
        return self._join(self.num.series(reader, area), self.den.series(reader, area), "year").assign(area=area)

    def years(self, reader: Reader) -> list[int]:
        return sorted(set(self.num.years(reader)) & set(self.den.years(reader)))


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    unit: str
    kind: str  # how its numbers are formatted (imdx.portal.data.fmt)
    expr: Term | Ratio
    on_map: bool = False
    first_year: int = 1990

    def years(self, reader: Reader) -> list[int]:
        return reader.cached(("ind-years", self.id),
                             lambda: [y for y in self.expr.years(reader) if y >= self.first_year])

    def num(self, row) -> Num:
        note = row.get("note") if isinstance(row.get("note"), str) and row.get("note").strip() else None
        releases = row.get("releases") or ()
        return Num(float(row["value"]), self.kind, row["check"], note=note,
                   release_id=int(releases[0]) if len(releases) == 1 else None)


def editions(reader: Reader, flow: str, source: str) -> list[tuple[str, tuple[int, ...]]]:
    """The editions of ``source`` that hold ``flow``, oldest first (the store's order: publication date,
    edition, load), each with its release ids."""
    def compute():
        rel = reader.editions()  # in the store's rank order
        rel = rel[(rel["dataflow"] == flow) & (rel["source"] == source)]
        groups: dict[str, list[int]] = {}
        last: dict[str, int] = {}
        for pos, (ed, rid) in enumerate(zip(rel["edition"], rel["release_id"])):
            groups.setdefault(str(ed), []).append(int(rid))
            last[str(ed)] = pos
        return [(ed, tuple(groups[ed])) for ed in sorted(groups, key=last.get)]
    return reader.cached(("editions", flow, source), compute)


_REF = Term("refugees", "unhcr", {"population_type": "REF"}, "asylum", "sum")
_POPULATION = Ratio(Term("births", "wpp", {}, "area"), Term("crude_birth_rate", "wpp", {}, "area"), 1000.0)
_REMITTANCES = Term("remittances", "wdi", {"flow": "received"}, "area")

INDICATORS = {i.id: i for i in [
    Indicator("migrant_share", "International migrants as a share of the population", "% of population", "percent",
              Term("migrant_stock_share", "undesa_ims", {"sex": "_T"}, "destination"), on_map=True),
    Indicator("immigrants", "International migrants (immigrant stock)", "persons", "persons",
              Term("migrant_stock", "undesa_ims", {"origin": "_T", "sex": "_T", "age": "_T"}, "destination")),
    Indicator("refugees", "Refugees hosted", "persons", "persons", _REF, on_map=True),
    Indicator("refugees_per_100k", "Refugees hosted per 100,000 people", "per 100,000 people", "rate",
              Ratio(_REF, _POPULATION, 1e5), on_map=True),
    Indicator("refugees_originating", "Refugees originating from the country", "persons", "persons",
              Term("refugees", "unhcr", {"population_type": "REF"}, "origin", "sum")),
    Indicator("remittances_received", "Remittances received", "US$ million", "usd", _REMITTANCES),
    Indicator("remittances_gdp", "Remittances received as a share of GDP", "% of GDP", "percent",
              Ratio(_REMITTANCES, Term("gdp", "wdi", {}, "area"), 100.0), on_map=True),
    Indicator("net_migration", "Net migration", "persons", "persons", Term("net_migration", "wpp", {}, "area"),
              first_year=1950),
    Indicator("net_migration_rate", "Net migration rate", "per 1,000 people", "rate",
              Term("crude_net_migration_rate", "wpp", {}, "area"), first_year=1950),
]}


def available(reader: Reader) -> dict[str, Indicator]:
    """The indicators whose dataflows the store holds."""
    return {k: i for k, i in INDICATORS.items() if all(reader.has(f) for f in i.expr.flows())}


def cross_section(reader: Reader, ind: Indicator, year: int) -> pd.DataFrame:
    """Every country's value in ``year``: code, m49, name, value, check, releases (largest first)."""
    def compute():
        frame = ind.expr.cross(reader, year)
        countries = reader.area_table().query("kind == 'country'")[["code", "m49", "name"]]
        frame = frame.merge(countries, left_on="area", right_on="code")
        return frame.sort_values("value", ascending=False).reset_index(drop=True)
    return reader.cached(("cross", ind.id, year), compute)


def coverage(reader: Reader, ind: Indicator) -> dict[int, dict]:
    """For each year: how many countries have a value, and whether that is fewer than the years before
    (``incomplete``: below ``COMPLETE_SHARE`` of the most in the five years before)."""
    def compute():
        counts = {y: len(cross_section(reader, ind, y)) for y in ind.years(reader)}
        out = {}
        for y, n in counts.items():
            before = [counts[p] for p in counts if y - 5 <= p < y]
            most = max(before, default=n)
            out[y] = {"n": n, "most": most, "incomplete": bool(before) and n < COMPLETE_SHARE * most}
        return out
    return reader.cached(("coverage", ind.id), compute)


def releases_drawn(reader: Reader, frame: pd.DataFrame) -> list[dict]:
    """The releases ``frame``'s values were read from, with how many values each gave (most first; of as many,
    by source and key: release ids follow the order of loading, which differs from one load to another)."""
    counts: dict[int, int] = {}
    for rel in frame["releases"]:
        for rid in set(rel):
            counts[rid] = counts.get(rid, 0) + 1
    table = reader.releases().set_index("release_id")
    found = [rid for rid in counts if rid in table.index]
    found.sort(key=lambda rid: (-counts[rid], table.at[rid, "source"], table.at[rid, "key"]))
    return [{"release_id": rid, "source": table.at[rid, "source"], "title": table.at[rid, "title"],
             "edition": table.at[rid, "edition"], "n": counts[rid]} for rid in found]
