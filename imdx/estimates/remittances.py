"""Remittances from the store: the seed meeting's claim checked against the data, and the Ratha & Shaw
(2007) bilateral allocation compared cell by cell with the KNOMAD 2021 bilateral remittance matrix.

**Volatility** (:func:`volatility_panel`, :func:`volatility_report`): for every low- and middle-income
country (``areas.wb_income`` in LIC, LMC, UMC), personal remittances received, FDI net inflows and net
ODA received (WDI, current US$; each from the latest stored release of its indicator), compared over
the years where all compared series are positive (:func:`imdx.methods.remittances.volatility_table`):
coefficient of variation of annual growth and standard deviation of the detrended log series, per
country and per income group. FDI years with net *dis*investment (negative) cannot enter growth or
logs and are dropped -- that makes FDI look steadier than it is, so it works against the claim.
ODA (the WDI R package pull, to 2018) is compared in a second table over its own common years.

**Ratha & Shaw** (:func:`ratha_shaw_comparison`): each country's 2021 remittances received spread over
the host countries of its emigrants (:func:`imdx.methods.remittances.ratha_shaw_allocation`), from
bilateral stocks (KNOMAD 2021 bilateral migration matrix, or UN DESA 2020) and host incomes (GDP per
capita 2021, WDI GDP / population), compared with the KNOMAD 2021 matrix cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from imdx.estimates.markdown import table as md
from imdx.methods.remittances import ratha_shaw_allocation, share_of_gdp, volatility_table
from imdx.store.base import Store

LMIC = ("LIC", "LMC", "UMC")
FIRST_YEAR = 1975
MIN_CELL = 1e6  # US$: cells compared for "within 2x" when either side is at least this


def _latest(store: Store, dataflow: str, filters: dict, prefix: str | None) -> tuple[pd.DataFrame, str]:
    """Rows of the latest stored WDI release whose key starts with ``prefix`` (one vintage)."""
    rel = store.editions(dataflow)
    rel = rel[rel.source == "wdi"]
    if prefix:
        rel = rel[rel.key.str.startswith(prefix)]
    if rel.empty:
        raise LookupError(f"no WDI release with {dataflow} is stored; run `imdx load wdi`")
    row = rel.sort_values(["published", "release_id"]).iloc[-1]
    own = store.select(dataflow, filters, source="wdi", edition=row.edition).to_pandas()
    own = own[own.release_id == row.release_id]
    return own, f"wdi/{row.key} (edition {row.edition}, release {row.release_id})"


def volatility_panel(store: Store) -> tuple[pd.DataFrame, list[str]]:
    """Long panel ``country, year, group, remittances, fdi, oda`` for the low- and middle-income countries."""
    areas = store.areas()
    groups = areas.frame["wb_income"]
    lmic = sorted(c for c in areas.countries() if groups.get(c) in LMIC)
    rem, r1 = _latest(store, "remittances", {"flow": ["received"], "area": lmic}, "BX.TRF.PWKR")
    fdi, r2 = _latest(store, "fdi_inflows", {"area": lmic}, "BX.KLT.DINV")
    oda, r3 = _latest(store, "oda_received", {"area": lmic}, "DT.ODA")
    series = [s[["area", "year", "value"]].rename(columns={"value": n}).set_index(["area", "year"])
              for s, n in ((rem, "remittances"), (fdi, "fdi"), (oda, "oda"))]
    panel = pd.concat(series, axis=1).reset_index().rename(columns={"area": "country"})
    panel = panel[panel["year"] >= FIRST_YEAR]
    panel["group"] = panel["country"].map(groups)
    return panel.sort_values(["country", "year"]).reset_index(drop=True), [r1, r2, r3]


@dataclass(frozen=True)
class VolatilityAnswer:
    by_country: pd.DataFrame  # remittances vs FDI
    by_group: pd.DataFrame
    by_country_oda: pd.DataFrame  # remittances vs FDI vs ODA (ODA years)
    by_group_oda: pd.DataFrame
    totals: pd.DataFrame  # LMIC remittances and FDI by year (countries reporting both)
    shares: pd.DataFrame  # remittances as % of GDP, latest year
    releases: list[str]

    @property
    def share_less_volatile(self) -> float:
        """Share of LMICs whose remittances are less volatile than FDI (detrended log sd)."""
        return float(self.by_country["remittances_less_volatile"].mean())

    @property
    def share_less_volatile_cv(self) -> float:
        bc = self.by_country
        return float((bc["remittances_growth_cv"] < bc["fdi_growth_cv"]).mean())


def volatility(store: Store, min_years: int = 10) -> VolatilityAnswer:
    panel, releases = volatility_panel(store)
    by_country, by_group = volatility_table(panel.drop(columns="oda"), min_years=min_years)
    with_oda = panel[panel["year"] <= panel.loc[panel["oda"].notna(), "year"].max()]
    by_country_oda, by_group_oda = volatility_table(with_oda, min_years=min_years)
    by_group = _add_all(by_country, by_group)
    by_group_oda = _add_all(by_country_oda, by_group_oda)
    both = panel.dropna(subset=["remittances", "fdi"])
    totals = both.groupby("year")[["remittances", "fdi"]].sum() / 1e9
    gdp, r4 = _latest(store, "gdp", {"area": sorted(panel["country"].unique())}, "NY.GDP")
    merged = panel.merge(gdp[["area", "year", "value"]].rename(columns={"area": "country", "value": "gdp"}),
                         on=["country", "year"])
    merged["share"] = share_of_gdp(merged["remittances"], merged["gdp"])
    merged = merged.dropna(subset=["share"])
    latest = merged[merged["year"] == merged["year"].max()]
    return VolatilityAnswer(by_country, by_group, by_country_oda, by_group_oda, totals,
                            latest[["country", "group", "year", "remittances", "gdp", "share"]]
                            .sort_values("share", ascending=False).reset_index(drop=True), releases + [r4])


def _add_all(by_country: pd.DataFrame, by_group: pd.DataFrame) -> pd.DataFrame:
    measures = [c for c in by_country.columns if c.endswith(("_growth_cv", "_detrended_sd"))]
    row = by_country[measures].median()
    row["countries"] = len(by_country)
    row["share_remittances_less_volatile"] = by_country["remittances_less_volatile"].mean()
    out = pd.concat([by_group, row.to_frame("all LMIC").T])
    out["countries"] = out["countries"].astype(int)
    return out


def volatility_report(answer: VolatilityAnswer) -> str:
    bg, bgo = (g.round(3).rename_axis("group") for g in (answer.by_group, answer.by_group_oda))
    allrow = answer.by_group.loc["all LMIC"]
    t = answer.totals
    declines = [int(y) for y, d in t["remittances"].diff().items() if d < 0]
    five = t[t.index % 5 == 0].round(1)
    yes = (allrow["share_remittances_less_volatile"] > 0.5
           and allrow["remittances_detrended_sd"] < allrow["fdi_detrended_sd"])
    lines = [
        "# Are remittances less volatile than FDI? (low- and middle-income countries)", "",
        (f"**Answer from the data: {'yes' if yes else 'no'}.** For {int(allrow['countries'])} low- and middle-income "
        f"countries with at least 10 common years since {FIRST_YEAR}, the median standard deviation of the detrended "
        f"log series is {allrow['remittances_detrended_sd']:.3f} for remittances against "
        f"{allrow['fdi_detrended_sd']:.3f} for FDI, and remittances are the less volatile of the two in "
        f"{answer.share_less_volatile:.0%} of countries. By the coefficient of variation of annual growth the two "
        f"are close (remittances less volatile in {answer.share_less_volatile_cv:.0%} of countries; median CV "
        f"{allrow['remittances_growth_cv']:.2f} against {allrow['fdi_growth_cv']:.2f}): annual growth rates of "
        "both are noisy around low means, so their CV separates the series poorly; the detrended measure does "
        "not depend on the mean growth."), "",
        "Sources: " + "; ".join(answer.releases) + ". Years where a series is missing or not positive are dropped "
        "from both series of that country (FDI disinvestment years therefore drop out, which makes FDI look "
        "steadier).", "",
        "## Per income group (medians; remittances against FDI)", "", md(bg, index=True), "",
        "## With ODA (years to the last ODA year; all three series positive)", "", md(bgo, index=True), "",
        "## \"Increased steadily since 1975\"?", "",
        ("Remittances received by the same low- and middle-income countries (those reporting remittances and "
        "FDI in a year), US$ billion, every fifth year:"), "", md(five, index=True), "",
        (f"Total remittances fell from one year to the next in {len(declines)} of {len(t) - 1} years "
        f"({', '.join(map(str, declines))}); the sum is over the countries reporting that year, so part of its "
        "growth is coverage."), "",
        "## Remittances as a share of GDP (latest year, top 15)", "",
        md(answer.shares.head(15).assign(remittances=lambda d: (d.remittances / 1e9).round(2),
                                         gdp=lambda d: (d.gdp / 1e9).round(1), share=lambda d: d.share.round(1))
           .rename(columns={"remittances": "remittances (US$ bn)", "gdp": "GDP (US$ bn)", "share": "% of GDP"})),
        "", "Median share of GDP by income group: " + ", ".join(
            f"{g} {v:.1f}%" for g, v in answer.shares.groupby("group")["share"].median().items()) + ".", ""]
    return "\n".join(lines)


# -- Ratha & Shaw against KNOMAD ------------------------------------------------------------------

@dataclass(frozen=True)
class RathaShawComparison:
    table: pd.DataFrame  # one row per variant: correlation, within 2x, totals
    largest: pd.DataFrame  # the cells that differ most (best variant)
    countries: int
    releases: list[str]


def _matrix(frame: pd.DataFrame, rows: str, cols: str, codes: list[str]) -> np.ndarray:
    return (frame.pivot_table(index=rows, columns=cols, values="value", aggfunc="sum")
            .reindex(index=codes, columns=codes).to_numpy(float, copy=True))


def _cells(knomad: np.ndarray, ours: np.ndarray) -> dict:
    mask = ~np.eye(len(knomad), dtype=bool)
    k, o = np.nan_to_num(knomad[mask]), np.nan_to_num(ours[mask])
    any_ = (k > 0) | (o > 0)
    big = (k >= MIN_CELL) | (o >= MIN_CELL)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = o[big] / k[big]
    return {"cells_nonzero": int(any_.sum()),
            "corr_log": float(np.corrcoef(np.log10(1 + k[any_]), np.log10(1 + o[any_]))[0, 1]),
            "corr": float(np.corrcoef(k[any_], o[any_])[0, 1]),
            "cells_over_1m": int(big.sum()),
            "within_2x": float(np.mean((ratio >= 0.5) & (ratio <= 2))),
            "total_knomad_bn": float(k.sum() / 1e9), "total_ours_bn": float(o.sum() / 1e9)}


@dataclass(frozen=True)
class RathaShawInputs:
    codes: list[str]
    knomad: np.ndarray  # [receiver, sender], US$
    stocks: dict[str, np.ndarray]  # [origin, destination], persons
    income: np.ndarray  # GDP per capita, US$
    totals: dict[str, np.ndarray]  # remittances received, US$
    releases: list[str]


STOCK_SOURCES = {"knomad": "KNOMAD 2021 migration matrix", "undesa": "UN DESA 2020 stocks (2020)"}
TOTAL_SOURCES = {"wdi": "WDI received 2021", "knomad": "KNOMAD receiver totals"}


def ratha_shaw_inputs(store: Store, year: int = 2021) -> RathaShawInputs:
    areas = store.areas()
    brm = store.select("bilateral_remittances", {"year": [year]}, source="knomad").to_pandas()
    bmm = store.select("bilateral_migration", {"year": [year]}, source="knomad").to_pandas()
    countries = set(areas.countries())
    codes = sorted((set(brm["sender"]) | set(brm["receiver"])) & countries)
    knomad = _matrix(brm, "receiver", "sender", codes)  # [receiver, sender]
    releases = [f"knomad/brm{year} (release {int(brm.release_id.iloc[0])})",
                f"knomad/bmm{year} (release {int(bmm.release_id.iloc[0])})"]
    stocks = {STOCK_SOURCES["knomad"]: _matrix(bmm, "origin", "destination", codes)}
    un = store.select("migrant_stock", {"sex": ["_T"], "age": ["_T"], "year": [2020]}, source="undesa_ims",
                      edition="2020").to_pandas()
    un = un[(un["origin"] != "_T")]
    stocks[STOCK_SOURCES["undesa"]] = _matrix(un, "origin", "destination", codes)
    releases.append(f"undesa_ims 2020 bilateral (release {int(un.release_id.iloc[0])})")
    gdp = store.select("gdp", {"year": [year], "area": codes}, source="wdi").to_pandas().set_index("area")
    pop = store.select("population", {"year": [year], "area": codes}, source="wdi").to_pandas().set_index("area")
    rem = store.select("remittances", {"flow": ["received"], "year": [year], "area": codes},
                       source="wdi").to_pandas().set_index("area")
    releases.append(f"wdi {year}: gdp, population, remittances received (current value of each; releases "
                    + ", ".join(str(r) for r in sorted(set(gdp.release_id) | set(pop.release_id)
                                                       | set(rem.release_id))) + ")")
    income = (gdp["value"].reindex(codes) / pop["value"].reindex(codes)).to_numpy(float)
    totals = {TOTAL_SOURCES["wdi"]: np.nan_to_num(rem["value"].reindex(codes).to_numpy(float)),
              TOTAL_SOURCES["knomad"]: np.nansum(np.where(np.eye(len(codes), dtype=bool), 0, knomad), axis=1)}
    return RathaShawInputs(codes, knomad, stocks, np.nan_to_num(income), totals, releases)


def ratha_shaw_comparison(store: Store, year: int = 2021, top: int = 12) -> RathaShawComparison:
    """Our Ratha-Shaw allocations against the KNOMAD 2021 matrix (``flows[i, j]`` received by i from j
    against KNOMAD ``sender j -> receiver i``), over the countries in both."""
    inp = ratha_shaw_inputs(store, year)
    codes, knomad, stocks, totals, income, releases = (inp.codes, inp.knomad, inp.stocks, inp.totals, inp.income,
                                                       inp.releases)
    rows, best = [], None
    for sname, m in stocks.items():
        m = np.nan_to_num(m)
        for tname, received in totals.items():
            for rule in ("stock", "host_income", "income_gap"):
                alloc = ratha_shaw_allocation(received, m, income, rule)
                row = {"stocks": sname, "received": tname, "rule": rule}
                row.update(_cells(knomad, alloc.flows))
                rows.append(row)
                if best is None or row["corr_log"] > best[0]["corr_log"]:
                    best = (row, alloc.flows)
    table = pd.DataFrame(rows)
    row, flows = best
    mask = ~np.eye(len(codes), dtype=bool)
    i, j = np.nonzero(mask)
    diff = pd.DataFrame({"receiver": np.asarray(codes)[i], "sender": np.asarray(codes)[j],
                         "knomad": np.nan_to_num(knomad[i, j]), "ours": flows[i, j]})
    diff["difference"] = diff["ours"] - diff["knomad"]
    largest = diff.reindex(diff["difference"].abs().sort_values(ascending=False).index[:top]).reset_index(drop=True)
    largest.attrs["variant"] = f"{row['stocks']}, {row['received']}, {row['rule']}"
    zero = diff[(diff["knomad"] == 0) & (diff["ours"] >= MIN_CELL)]
    largest.attrs["knomad_zero"] = (len(zero), float(zero["ours"].sum()))
    return RathaShawComparison(table, largest, len(codes), releases)


def ratha_shaw_report(cmp: RathaShawComparison) -> str:
    t = cmp.table.copy()
    for col in ("corr_log", "corr", "within_2x"):
        t[col] = t[col].round(3)
    for col in ("total_knomad_bn", "total_ours_bn"):
        t[col] = t[col].round(1)
    big = cmp.largest.copy()
    for col in ("knomad", "ours", "difference"):
        big[col] = (big[col] / 1e6).round(0)
    return "\n".join([
        "# Ratha & Shaw (2007) allocation against the KNOMAD 2021 bilateral remittance matrix", "",
        (f"{cmp.countries} countries. Each row allocates remittances received (WDI 2021, or the matrix's own "
        "receiver totals) over the host countries of each country's emigrants, with weights = migrants "
        "(`stock`), migrants x host GDP per capita (`host_income`) or migrants x the income gap "
        f"(`income_gap`). `corr_log`: correlation of log10(1 + US$) over cells either side puts above 0; "
        f"`within_2x`: share of cells of at least US$ 1 million on either side whose ratio is within 2x."), "",
        "Inputs: " + "; ".join(cmp.releases) + ".", "", md(t), "",
        f"## Cells that differ most ({cmp.largest.attrs.get('variant', '')}; US$ million)", "", md(big), "",
        "## Why it differs", "",
        (f"* KNOMAD has no remittances in {cmp.largest.attrs.get('knomad_zero', (0, 0))[0]} corridors where the "
        f"allocation puts at least US$ 1 million (US$ {cmp.largest.attrs.get('knomad_zero', (0, 0))[1] / 1e9:.1f} "
        "billion in all; India-Pakistan both ways is the largest): the matrix sets some corridors to zero;"),
        ("* KNOMAD's matrix comes closest with its own inputs (its bilateral migration matrix and its receiver "
         "totals) and the plain `stock` rule: weighting by host income, as Ratha & Shaw (2007) proposed, moves "
         "away from it, so the 2021 matrix behaves as a stock-proportional allocation apart from the zero "
         "corridors;"),
        "* WDI received totals differ from the matrix's receiver totals (vintage, countries missing in WDI);",
        ("* UN DESA 2020 stocks (2020) differ from KNOMAD's bilateral migration estimates in coverage and in "
        "how unknown origins are treated;"),
        ("* countries without GDP or population in WDI 2021 get no income weight (host income 0), and countries "
        "without emigrants keep their remittances unallocated."), ""])


def store_ratha_shaw(store: Store, *, stocks: str = "knomad", received: str = "wdi", rule: str = "stock",
                     year: int = 2021) -> int | None:
    """Store one Ratha-Shaw allocation as a release of ``imdx-estimates`` in ``bilateral_remittances``
    (sender x receiver, US$), beside KNOMAD's own matrix (query with ``--source imdx-estimates``).
    Returns the release id, or None when the same allocation is stored already."""
    import hashlib
    from datetime import date

    from imdx.estimates import SOURCE
    from imdx.ingest import ingest
    from imdx.store.base import ReleaseRecord

    inp = ratha_shaw_inputs(store, year)
    alloc = ratha_shaw_allocation(inp.totals[TOTAL_SOURCES[received]], np.nan_to_num(inp.stocks[STOCK_SOURCES[stocks]]),
                                  inp.income, rule)
    codes = np.asarray(inp.codes, dtype=object)
    i, j = np.nonzero(alloc.flows)
    definition = f"ratha_shaw_2007: rule={rule}, stocks={STOCK_SOURCES[stocks]}, received={TOTAL_SOURCES[received]}"
    frame = pd.DataFrame({"sender": codes[j], "receiver": codes[i], "year": year, "value": alloc.flows[i, j],
                          "obs_status": "E", "definition": definition, "note": "inputs: " + "; ".join(inp.releases),
                          "cell_file": None, "cell_sheet": None, "cell_row": pd.array([pd.NA] * len(i), "Int32"),
                          "cell_column": None})
    key = "ratha-shaw-" + hashlib.sha256((definition + "|".join(inp.releases)).encode()).hexdigest()[:12]
    today = date.today()
    record = ReleaseRecord(source=SOURCE, key=key, title=f"Bilateral remittances {year} allocated by Ratha & Shaw "
                           f"(2007) rules: {definition}", edition=today.isoformat(), published=today,
                           licence="Estimates by imdx from WDI (CC BY 4.0), KNOMAD and UN DESA inputs")
    if store.has_release(record):
        return None
    return ingest(store, record, {"bilateral_remittances": frame})
