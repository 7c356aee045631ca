"""Inputs of the flows-from-stocks methods, read from the store.

For a period ``start -> end`` (five years) and a sex (``_T``, ``M``, ``F``):

* **Stock tables** ``S[k, j]`` (birthplace k x residence j): UN DESA International Migrant Stock, 2020
  edition, the destination x origin x sex table (release ``ims2020-origin-destination-gdiviz``),
  countries only (all 232 destinations; every origin that is a country is also a destination).
  A blank UN cell reached the store as 0 ("zero or not reported"): used as 0.
* **Regions**: the countries of the table, less those with no resident inside the account (all their
  residents are of other origin ``_O``: Bonaire, Sint Eustatius and Saba, and the Holy See), which
  are reported as a ``region-outside-account`` issue: 230 regions.
* **Other origin** ``_O`` (UN DESA's "Other", migrants whose country of birth is unknown or not
  listed): not a region of the account. It is counted as foreign-born when the native-born are
  derived, so it is left *outside* the tables: each residence's column sum is its population minus
  its ``_O`` stock (kept in :attr:`FlowInputs.other_origin_start` / ``_end``). 12.7 million people
  in 2020, both sexes.
* **Native-born diagonal** ``S[j, j]`` = population of j (same edition, same sex) - all foreign-born
  in j (including ``_O``). The population is Table 2 of the 2020 destination workbook (release
  ``ims2020-destination``, dataflow ``population``). The store's ``population`` dataflow has no sex
  dimension, so for ``M`` and ``F`` the population is derived from the same release as
  ``migrant_stock[_T origin, sex] / migrant_stock_share[sex] * 100`` (exact to rounding: both are
  Table 1 and Table 3 of the same workbook); where UN DESA publishes no share by sex (about 35 small
  areas and Taiwan Province of China) the native-born by sex are taken as half the native-born of
  both sexes, and an issue ``population-by-sex-imputed`` says so. A negative native-born count (more
  foreign-born than population) is kept as it is, for the method to handle, and reported as a
  ``negative-native-born`` issue.
* **Births and deaths**: UN World Population Prospects 2024 (release ``wpp2024``), calendar years
  ``start .. end - 1`` summed. The stocks are at mid-year (1 July), so the exact period runs from mid
  ``start`` to mid ``end``; the calendar years ``start .. end - 1`` are the same length, shifted by
  half a year (the difference is small against the stocks; documented in ``docs/estimates.md``).
  The Channel Islands (``CHI``, one area in UN DESA) are Guernsey + Jersey in WPP: summed. An area
  without births or deaths in any of those years gets NaN.
* **Births and deaths by sex** are derived from what WPP gives (both sexes), never taken as zero: births
  split by the sex ratio at birth, :data:`SEX_RATIO_AT_BIRTH` = 105 boys per 100 girls (assumed: WPP's
  own ratios by country are not in the mirror); deaths split like the population by sex at the start of
  the period (assumed: equal crude death rates for men and women). Male + female = both sexes exactly.
  The assumptions are in :attr:`FlowInputs.notes`, hence in every estimate's note.
* **Precision** (:attr:`FlowInputs.stock_cv`, for the intervals): the coefficient of variation of each
  residence's foreign-born stocks, by UN DESA's type of data for that destination in the start year
  (Table 1 of the 2020 workbook): :data:`STOCK_CV` 5 % for counts from censuses or registers (B, C),
  25 % where UN DESA imputed them (I); births and deaths :data:`VITAL_CV` 2 %. These are stated
  assumptions, not published figures.

Every input release is recorded in :attr:`FlowInputs.releases` (source, key, edition, release id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from imdx.errors import ImdxError
from imdx.model.report import Issue
from imdx.store.base import Store

STOCKS = ("undesa_ims", "ims2020-origin-destination-gdiviz", "2020")
TOTALS = ("undesa_ims", "ims2020-destination", "2020")
VITALS = ("wpp", "wpp2024", "2024")
OTHER = "_O"
SEXES = ("_T", "M", "F")
#: areas whose births and deaths WPP publishes only for their parts (UN DESA 2020 has the whole)
VITAL_PARTS = {"CHI": ("GGY", "JEY")}
PERIODS = tuple((y, y + 5) for y in range(1990, 2020, 5))
SEX_RATIO_AT_BIRTH = 1.05  # boys per girl, when WPP's own ratio is not available
#: coefficient of variation of a foreign-born stock, by UN DESA's type of data (I: imputed); births/deaths
STOCK_CV = {"measured": 0.05, "imputed": 0.25}
VITAL_CV = 0.02
STOCK_YEARS = tuple(range(1990, 2021, 5))


class InputsError(ImdxError):
    """The store lacks an input of the estimates (a release not loaded, a year not published)."""


@dataclass(frozen=True)
class InputRelease:
    source: str
    key: str
    edition: str
    release_id: int
    fingerprint: str
    dataflows: tuple[str, ...]

    def label(self) -> str:
        return f"{self.source}/{self.key} (edition {self.edition}, release {self.release_id})"


@dataclass(frozen=True)
class FlowInputs:
    """The stock tables (birthplace x residence, ``regions`` order), births and deaths of one period."""

    start: int
    end: int
    sex: str
    regions: tuple[str, ...]
    stock_start: np.ndarray
    stock_end: np.ndarray
    births: np.ndarray  # NaN where missing
    deaths: np.ndarray
    population_start: np.ndarray
    population_end: np.ndarray
    other_origin_start: np.ndarray
    other_origin_end: np.ndarray
    releases: tuple[InputRelease, ...]
    issues: tuple[Issue, ...] = ()
    notes: tuple[str, ...] = ()
    stock_cv: np.ndarray | None = None  # per residence region: precision of its foreign-born stocks

    @property
    def period(self) -> str:
        return f"{self.start}-{self.end}"

    @property
    def missing_vitals(self) -> tuple[str, ...]:
        bad = ~np.isfinite(self.births) | ~np.isfinite(self.deaths)
        return tuple(r for r, b in zip(self.regions, bad) if b)

    @property
    def negative_natives(self) -> tuple[tuple[int, str, float], ...]:
        out = []
        for year, table in ((self.start, self.stock_start), (self.end, self.stock_end)):
            d = np.diag(table)
            out += [(year, self.regions[i], float(d[i])) for i in np.flatnonzero(d < 0)]
        return tuple(out)

    @property
    def provenance(self) -> tuple[str, ...]:
        return tuple(r.label() for r in self.releases)


@dataclass
class StoreInputs:
    """Reads the inputs of every period and sex from a store once, then builds :class:`FlowInputs`."""

    store: Store
    _cache: dict = field(default_factory=dict, repr=False)

    @cached_property
    def release_table(self) -> pd.DataFrame:
        return self.store.releases()

    def release(self, source: str, key: str, edition: str) -> InputRelease:
        rel = self.release_table
        hit = rel[(rel.source == source) & (rel.key == key) & (rel.edition == edition)]
        if hit.empty:
            raise InputsError(f"the store has no {source} release {key!r} (edition {edition}); load it first "
                              f"with `imdx load {source}` (with IMDX_MIRROR pointing at the published files).")
        row = hit.sort_values(["published", "release_id"]).iloc[-1]
        editions = self.store.editions()
        flows = tuple(sorted(editions.loc[editions["release_id"] == row.release_id, "dataflow"]))
        return InputRelease(source, key, edition, int(row.release_id), row.fingerprint, flows)

    def _select(self, dataflow: str, spec: tuple[str, str, str], filters: dict) -> pd.DataFrame:
        rel = self.release(*spec)
        frame = self.store.select(dataflow, filters, source=spec[0], edition=spec[2]).to_pandas()
        return frame[frame["release_id"] == rel.release_id]

    @cached_property
    def countries(self) -> tuple[str, ...]:
        """The countries of the bilateral table (every destination; all are also origins)."""
        areas = self.store.areas()
        present = set(self._stocks("_T")["destination"])
        countries = set(areas.countries()) if areas is not None else set()
        return tuple(sorted(d for d in present if d in countries))

    def regions(self, sex: str = "_T") -> tuple[str, ...]:
        """The regions of the account: :attr:`countries` minus those with no resident inside the account
        in some stock year (all their residents are foreign-born of other origin ``_O``: Bonaire, Sint
        Eustatius and Saba and the Holy See in UN DESA 2020). Their births and deaths would have no
        one to belong to; people born there and living elsewhere count as other origin."""
        key = ("regions", sex)
        if key not in self._cache:
            base = self.countries
            out = set()
            for year in STOCK_YEARS:
                table = self._table(sex, year, base)[0]
                out |= {base[i] for i in np.flatnonzero(table.sum(axis=0) <= 0)}
            self._cache[key] = tuple(r for r in base if r not in out)
            self._cache[("outside", sex)] = tuple(sorted(out))
        return self._cache[key]

    def left_out(self, sex: str = "_T") -> tuple[str, ...]:
        self.regions(sex)
        return self._cache[("outside", sex)]

    def _stocks(self, sex: str) -> pd.DataFrame:
        key = ("stocks", sex)
        if key not in self._cache:
            f = self._select("migrant_stock", STOCKS, {"sex": [sex], "age": ["_T"], "year": list(STOCK_YEARS)})
            if f.empty:
                raise InputsError(f"the bilateral migrant stock table (UN DESA 2020) has no rows for sex {sex!r}.")
            self._cache[key] = f[["destination", "origin", "year", "value"]]
        return self._cache[key]

    def _population(self, sex: str) -> pd.DataFrame:
        """Population by area and year (columns area, year, value, imputed)."""
        key = ("pop", sex)
        if key in self._cache:
            return self._cache[key]
        pop = self._select("population", TOTALS, {"year": list(STOCK_YEARS)})[["area", "year", "value"]]
        pop = pop.assign(imputed=False)
        if sex != "_T":
            stock = self._select("migrant_stock", TOTALS, {"origin": ["_T"], "sex": [sex], "age": ["_T"],
                                                           "year": list(STOCK_YEARS)})
            share = self._select("migrant_stock_share", TOTALS, {"sex": [sex], "year": list(STOCK_YEARS)})
            m = stock.merge(share, on=["destination", "year"], suffixes=("_stock", "_share"))
            m = m[(m["value_share"] > 0) & m["value_stock"].notna()]
            derived = m.assign(area=m["destination"], value=(m["value_stock"] / m["value_share"] * 100).round())
            pop = pop.merge(derived[["area", "year", "value"]], on=["area", "year"], how="left",
                            suffixes=("_total", ""))
            pop["imputed"] = pop["value"].isna()
            pop = pop.rename(columns={"value_total": "total"})
        self._cache[key] = pop
        return pop

    def _vital(self, dataflow: str) -> pd.DataFrame:
        key = ("vital", dataflow)
        if key not in self._cache:
            f = self._select(dataflow, VITALS, {"year": list(range(1990, 2020))})
            self._cache[key] = f[["area", "year", "value"]]
        return self._cache[key]

    def _table(self, sex: str, year: int, regions: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                               list[Issue]]:
        """Birthplace x residence table, population and ``_O`` stock by residence for one year."""
        st = self._stocks(sex)
        st = st[st["year"] == year]
        if st.empty:
            raise InputsError(f"UN DESA 2020 publishes bilateral stocks for {', '.join(map(str, STOCK_YEARS))}, "
                              f"not {year}: choose periods between those years.")
        idx = pd.Index(regions)
        known = st[st["origin"].isin(idx) & st["destination"].isin(idx)]
        table = (known.pivot_table(index="origin", columns="destination", values="value", aggfunc="sum")
                 .reindex(index=idx, columns=idx).fillna(0.0).to_numpy(float, copy=True))
        np.fill_diagonal(table, 0.0)
        fb_all = st[st["destination"].isin(idx)].groupby("destination")["value"].sum().reindex(idx).fillna(0.0)
        other = (st[st["destination"].isin(idx) & ~st["origin"].isin(idx)].groupby("destination")["value"].sum()
                 .reindex(idx).fillna(0.0).to_numpy(float))
        pop = self._population(sex)
        pop = pop[pop["year"] == year].set_index("area").reindex(idx)
        issues: list[Issue] = []
        if sex == "_T":
            if pop["value"].isna().any():
                missing = list(pop.index[pop["value"].isna()])
                raise InputsError(f"UN DESA 2020 Table 2 has no population for {missing} in {year}.")
            population = pop["value"].to_numpy(float)
            natives = population - fb_all.to_numpy(float)
        else:
            population = pop["value"].to_numpy(float)
            natives = population - fb_all.to_numpy(float)
            imputed = pop["imputed"].to_numpy(bool)
            if imputed.any():
                tot = self._table("_T", year, regions)
                half = 0.5 * np.diag(tot[0])
                natives = np.where(imputed, half, natives)
                population = np.where(imputed, half + fb_all.to_numpy(float), population)
                codes = [r for r, b in zip(regions, imputed) if b]
                issues.append(Issue("population-by-sex-imputed",
                                    f"UN DESA 2020 publishes no migrant share by sex for {len(codes)} areas in {year} "
                                    f"({', '.join(codes)}), so their population by sex is unknown: their native-born "
                                    f"({sex}) were taken as half the native-born of both sexes.", severity="info",
                                    source="undesa_ims", dataflow="population", n_obs=len(codes)))
        for i in np.flatnonzero(natives < 0):
            issues.append(Issue("negative-native-born",
                                f"{regions[i]} {year} ({sex}): population {population[i]:,.0f} is smaller than its "
                                f"foreign-born {fb_all.iloc[i]:,.0f}, so the native-born would be {natives[i]:,.0f}; "
                                "kept negative for the method's negative-native-born step.",
                                severity="warning", source="undesa_ims", dataflow="migrant_stock", area=regions[i]))
        np.fill_diagonal(table, natives)
        return table, population, other, issues

    def _period_vitals(self, dataflow: str, start: int, end: int, regions: tuple[str, ...], sex: str) -> np.ndarray:
        """Births or deaths of the period by region; by sex, derived from both sexes (module docstring)."""
        both = self._period_vitals_both(dataflow, start, end, regions)
        if sex == "_T":
            return both
        if dataflow == "births":
            share = SEX_RATIO_AT_BIRTH / (1 + SEX_RATIO_AT_BIRTH)
            return both * (share if sex == "M" else 1 - share)
        pops = {s: self._population(s) for s in ("M", "F")}
        at = {s: p[p["year"] == start].set_index("area")["value"].reindex(pd.Index(regions)).to_numpy(float)
              for s, p in pops.items()}
        total = at["M"] + at["F"]
        share = np.where(np.isfinite(total) & (total > 0), at[sex] / np.where(total > 0, total, 1), 0.5)
        return both * share

    def _period_vitals_both(self, dataflow: str, start: int, end: int, regions: tuple[str, ...]) -> np.ndarray:
        v = self._vital(dataflow)
        v = v[(v["year"] >= start) & (v["year"] < end)]
        years = end - start
        for whole, parts in VITAL_PARTS.items():
            if whole in set(v["area"]):
                continue
            sub = v[v["area"].isin(parts)].groupby("year")["value"].agg(["sum", "count"])
            sub = sub[sub["count"] == len(parts)]
            v = pd.concat([v, pd.DataFrame({"area": whole, "year": sub.index, "value": sub["sum"].to_numpy()})],
                          ignore_index=True)
        g = v.groupby("area")["value"].agg(["sum", "count"])
        g = g[g["count"] == years].reindex(pd.Index(regions))
        return g["sum"].to_numpy(float)

    def stock_cv(self, year: int, regions: tuple[str, ...]) -> np.ndarray:
        """Coefficient of variation of each residence's foreign-born stocks, by UN DESA's type of data."""
        key = ("cv", year)
        if key not in self._cache:
            rows = self._select("migrant_stock", TOTALS, {"origin": ["_T"], "sex": ["_T"], "age": ["_T"],
                                                          "year": [year]})
            self._cache[key] = rows.set_index("destination")["definition"]
        definition = self._cache[key].reindex(pd.Index(regions)).astype("string").fillna("")
        imputed = definition.str.contains("I", regex=False).to_numpy(bool)
        return np.where(imputed, STOCK_CV["imputed"], STOCK_CV["measured"])

    def flow_inputs(self, start: int, end: int, sex: str = "_T") -> FlowInputs:
        if sex not in SEXES:
            raise InputsError(f"sex must be one of {SEXES}, not {sex!r}.")
        if start not in STOCK_YEARS or end not in STOCK_YEARS or end <= start:
            raise InputsError(f"periods run between the UN DESA 2020 stock years {STOCK_YEARS}; got {start}-{end}.")
        key = ("inputs", start, end, sex)
        if key in self._cache:
            return self._cache[key]
        regions = self.regions(sex)
        s0, p0, o0, i0 = self._table(sex, start, regions)
        s1, p1, o1, i1 = self._table(sex, end, regions)
        births = self._period_vitals("births", start, end, regions, sex)
        deaths = self._period_vitals("deaths", start, end, regions, sex)
        releases = (self.release(*STOCKS), self.release(*TOTALS), self.release(*VITALS))
        left = self.left_out(sex)
        extra: list[Issue] = []
        if left:
            extra.append(Issue("region-outside-account",
                               f"{', '.join(left)} left out of the account ({sex}): all their residents are "
                               "foreign-born of other origin (_O) in UN DESA 2020, so no one inside the account "
                               "lives there; people born there and living elsewhere count as other origin.",
                               severity="info", source="undesa_ims", dataflow="migrant_stock", n_obs=len(left)))
        notes = [f"stocks: UN DESA IMS 2020, {start} and {end} (mid-year), sex {sex}, {len(regions)} countries"
                 + (f" ({', '.join(left)} left out: no resident inside the account)" if left else ""),
                 "native-born = population (UN DESA 2020 Table 2) - foreign-born (including other origin _O)",
                 f"other origin _O left outside the account: {o0.sum():,.0f} at {start}, {o1.sum():,.0f} at {end}",
                 f"births and deaths: WPP 2024, calendar years {start}-{end - 1} summed"]
        if sex != "_T":
            notes.append("population by sex derived as migrant stock / migrant share (UN DESA 2020 Tables 1, 3)")
            notes.append(f"births by sex: WPP 2024 births split by an assumed sex ratio at birth of "
                         f"{SEX_RATIO_AT_BIRTH * 100:.0f} boys per 100 girls (WPP's ratios are not loaded); deaths by "
                         f"sex: WPP 2024 deaths split like the population by sex in {start} (assumes equal crude "
                         "death rates for men and women)")
        cv = self.stock_cv(start, regions)
        notes.append(f"precision assumed: foreign-born stocks CV {STOCK_CV['measured']:.0%} (census/register, "
                     f"type B or C) or {STOCK_CV['imputed']:.0%} (imputed, type I: "
                     f"{int((cv > STOCK_CV['measured']).sum())} residences), births and deaths CV {VITAL_CV:.0%}")
        out = FlowInputs(start, end, sex, regions, s0, s1, births, deaths, p0, p1, o0, o1, releases,
                         tuple(extra + i0 + i1), tuple(notes), cv)
        self._cache[key] = out
        return out


def flow_inputs(store: Store, start: int, end: int, sex: str = "_T") -> FlowInputs:
    """The inputs of one period and sex (see the module docstring)."""
    return StoreInputs(store).flow_inputs(start, end, sex)
