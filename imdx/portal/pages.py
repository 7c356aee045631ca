"""What the home, flows, sources and search pages show."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

import pandas as pd
import pyarrow.compute as pc

from imdx.api.limits import Limits
from imdx.codes.names import normalise
from imdx.portal.data import ESTIMATED_FLOWS, SEVERITY_RANK, Num, Reader, num_one, num_sum, one
from imdx.portal.profile import source_line
from imdx.sources.fetch import public_origin


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    unit: str
    flows: tuple[str, ...]
    definition: str


INDICATORS = {
    "migrant_share": Indicator("migrant_share", "International migrants as a share of the population",
                               "% of population", ("migrant_stock_share",),
                               "International migrant stock (both sexes) as a percentage of the total population, "
                               "at mid-year (UN DESA)."),
    "refugees": Indicator("refugees", "Refugees hosted", "persons", ("refugees",),
                          "Refugees under UNHCR's mandate living in the country at the end of the year, summed "
                          "over every country of origin (UNHCR)."),
    "remittances_gdp": Indicator("remittances_gdp", "Remittances received as a share of GDP", "% of GDP",
                                 ("remittances", "gdp"),
                                 "Personal remittances received divided by GDP, both in current US$ (World Bank WDI)."),
}


def map_years(reader: Reader, indicator: str) -> list[int]:
    def compute():
        if indicator == "migrant_share":
            return reader.years("migrant_stock_share")
        if indicator == "refugees":
            return [y for y in reader.years("refugees") if y >= 1990]
        rem = set(reader.years("remittances"))
        return [y for y in reader.years("gdp") if y in rem and y >= 1990]
    return reader.cached(("map_years", indicator), compute)


def map_values(reader: Reader, indicator: str, year: int) -> list[dict]:
    """One row per country with a value: code, m49 id, name, Num."""
    def compute():
        countries = reader.area_table().query("kind == 'country'")
        out = []
        if indicator == "migrant_share":
            f = reader.current("migrant_stock_share", {"sex": "_T", "year": year})
            f = f.merge(countries, left_on="destination", right_on="code")
            for _, r in f.iterrows():
                out.append((r, num_one(r, "percent", "migrant_stock_share", "undesa_ims",
                                       {"destination": r["code"], "sex": "_T", "year": str(year)})))
        elif indicator == "refugees":
            f = _refugees(reader, year).group_by("asylum").aggregate([("value", "sum")]) \
                .rename_columns(["asylum", "value"]).to_pandas()
            f = f.merge(countries, left_on="asylum", right_on="code")
            for _, r in f.iterrows():
                out.append((r, num_sum(r["value"], "persons", "refugees", "unhcr",
                                       {"asylum": r["code"], "population_type": "REF", "year": str(year)})))
        else:
            rem = reader.current("remittances", {"flow": "received", "year": year})
            gdp = reader.current("gdp", {"year": year})
            f = rem.merge(gdp[["area", "value"]], on="area", suffixes=("", "_gdp")).merge(
                countries, left_on="area", right_on="code")
            for _, r in f.iterrows():
                if pd.isna(r["value"]) or pd.isna(r["value_gdp"]) or not r["value_gdp"]:
                    continue
                num = {"flow": "remittances", "source": "wdi", "agg": "one",
                       "filters": {"area": r["code"], "flow": "received", "year": str(year)}}
                den = {"flow": "gdp", "source": "wdi", "agg": "one", "filters": {"area": r["code"], "year": str(year)}}
                out.append((r, Num(r["value"] / r["value_gdp"] * 100, "percent",
                                   {"agg": "ratio", "num": num, "den": den, "scale": 100})))
        rows = [{"code": r["code"], "id": str(r["m49"]).zfill(3) if isinstance(r["m49"], str) and r["m49"] else None,
                 "name": r["name_y"] if "name_y" in r else r["name"], "num": n} for r, n in out if not n.missing]
        return sorted(rows, key=lambda x: -x["num"].value)
    return reader.cached(("map", indicator, year), compute)


def _refugees(reader: Reader, year: int):
    """UNHCR's current refugee numbers (population type REF) of ``year``, by origin and asylum country."""
    return reader.select("refugees", {"population_type": ["REF"], "year": [year]}, source="unhcr",
                         columns=["value"])


def headlines(reader: Reader) -> list[dict]:
    """World figures for the home page, each with its source and edition."""
    def compute():
        out = []
        ms = reader.current("migrant_stock", {"destination": "001", "origin": "_T", "sex": "_T", "age": "_T"})
        if len(ms):
            y = int(ms["year"].max())
            out.append({"label": f"International migrants in the world, {y}",
                        "line": source_line(reader, "migrant_stock"),
                        "num": num_one(one(ms, year=y), "persons", "migrant_stock", "undesa_ims",
                                       {"destination": "001", "origin": "_T", "sex": "_T", "age": "_T",
                                        "year": str(y)})})
        sh = reader.current("migrant_stock_share", {"destination": "001", "sex": "_T"})
        if len(sh):
            y = int(sh["year"].max())
            out.append({"label": f"Migrants as a share of the world's population, {y} (%)",
                        "line": source_line(reader, "migrant_stock_share"),
                        "num": num_one(one(sh, year=y), "percent", "migrant_stock_share", "undesa_ims",
                                       {"destination": "001", "sex": "_T", "year": str(y)})})
        if reader.has("refugees"):
            years = reader.years("refugees")
            if years:
                y = years[-1]
                total = pc.sum(_refugees(reader, y)["value"]).as_py()
                out.append({"label": f"Refugees under UNHCR's mandate, {y}", "line": source_line(reader, "refugees"),
                            "num": num_sum(total, "persons", "refugees", "unhcr",
                                           {"population_type": "REF", "year": str(y)})})
        rem = reader.current("remittances", {"area": "001", "flow": "received"})
        rem = rem[rem["value"].notna()]
        if len(rem):
            y = int(rem["year"].max())
            out.append({"label": f"Remittances received worldwide, {y} (US$ million)",
                        "line": source_line(reader, "remittances"),
                        "num": num_one(one(rem, year=y), "usd", "remittances", "wdi",
                                       {"area": "001", "flow": "received", "year": str(y)})})
        return out
    return reader.cached(("headlines",), compute)


# -- flows -------------------------------------------------------------------------------------------
def flows_page(reader: Reader, period: str | None, method: str | None, level: str) -> dict:
    if not reader.has(ESTIMATED_FLOWS):
        return {"loaded": False}
    flow = reader.flow(ESTIMATED_FLOWS)
    frame = reader.current(ESTIMATED_FLOWS, {}, source="")
    if frame.empty:
        return {"loaded": False}
    has_method = "method" in flow.dimension_names
    methods = sorted(frame["method"].dropna().unique()) if has_method else []
    years = sorted(int(y) for y in frame["year"].unique())
    year = int(period) if period and period.isascii() and period.isdigit() and len(period) <= 4 and \
        int(period) in years else years[-1]
    method = method if method in methods else (methods[0] if methods else None)
    part = frame[frame["year"] == year]
    if has_method and method:
        part = part[part["method"] == method]
    areas = reader.area_table().set_index("code")
    names = reader.names()
    if level == "region":
        def group(code):
            region = areas["region"].get(code)
            return region if isinstance(region, str) and region else code
        part = part.assign(o=part["origin"].map(group), d=part["destination"].map(group))
    else:
        part = part.assign(o=part["origin"], d=part["destination"])
    part = part[part["o"] != part["d"]]
    sums = part.groupby(["o", "d"])["value"].sum().reset_index()
    keys = sorted(set(sums["o"]) | set(sums["d"]), key=lambda c: -sums.loc[(sums["o"] == c) | (sums["d"] == c),
                                                                              "value"].sum())[:12]
    sums = sums[sums["o"].isin(keys) & sums["d"].isin(keys)]
    index = {k: i for i, k in enumerate(keys)}
    matrix = [[0.0] * len(keys) for _ in keys]
    for r in sums.itertuples(index=False):
        matrix[index[r.o]][index[r.d]] = float(r.value)
    rows = [{"origin": names.get(r.o, r.o), "destination": names.get(r.d, r.d), "value": r.value}
            for r in sums.sort_values("value", ascending=False).itertuples(index=False)]
    return {"loaded": True, "years": years, "year": year, "methods": methods, "method": method, "level": level,
            "names": [names.get(k, k) for k in keys], "matrix": matrix, "rows": rows}


# -- search ------------------------------------------------------------------------------------------
_CORRIDOR = re.compile(r"^\s*(?:from\s+)?(.+?)\s*(?:\bto\b|→|->|>|–|—|\s-\s|-|/)\s*(.+?)\s*$", re.IGNORECASE)


def resolve_area(reader: Reader, text: str) -> str | None:
    areas = reader.store.areas()
    if areas is None:
        return None
    match = areas.resolve(text, ("code", "iso3", "m49", "iso2", "undesa", "wb", "unhcr", "name"))
    if match.code:
        return match.code
    hits = areas.search(text, limit=50)
    countries = hits[hits["kind"] == "country"]
    if len(countries) == 1:
        return countries.index[0]
    exact = [c for c, n in zip(countries["code"], countries["name"]) if normalise(n).startswith(normalise(text))]
    return exact[0] if len(exact) == 1 else None


def search(reader: Reader, q: str) -> dict:
    q = (q or "").strip()[:200]
    if not q:
        return {"q": q, "corridors": [], "areas": [], "dataflows": []}
    names = reader.names()
    corridors = []
    m = _CORRIDOR.match(q)
    if m:
        a, b = resolve_area(reader, m.group(1)), resolve_area(reader, m.group(2))
        if a and b and a != b:
            corridors.append({"origin": a, "destination": b, "label": f"{names.get(a, a)} → {names.get(b, b)}"})
    areas = reader.store.areas()
    found = []
    if areas is not None and len(q) >= 2:
        hits = areas.search(q, limit=60)
        exact = resolve_area(reader, q)
        codes = ([exact] if exact else []) + [c for c in hits["code"] if c != exact]
        kinds = reader.area_table().set_index("code")["kind"]
        for code in codes[:40]:
            found.append({"code": code, "name": names.get(code, code), "kind": kinds.get(code)})
    needle = normalise(q)
    flows = []
    for fid in reader.servable_ids():
        flow = reader.flow(fid)
        text = normalise(f"{fid} {fid.replace('_', ' ')} {flow.name} {flow.description}")
        words = needle.split()
        if words and all(w in text for w in words):
            flows.append({"id": fid, "name": flow.name, "unit": flow.unit})
    return {"q": q, "corridors": corridors, "areas": found, "dataflows": flows}


# -- sources -----------------------------------------------------------------------------------------
def sources_page(reader: Reader) -> dict:
    def compute():
        rel = reader.releases()
        files = reader.release_files()
        releases = []
        for r in rel.itertuples(index=False):
            fs = files[files["release_id"] == r.release_id]
            releases.append({"id": int(r.release_id), "source": r.source, "key": r.key, "title": r.title,
                             "edition": r.edition, "published": str(r.published)[:10],
                             "loaded_at": str(r.loaded_at)[:19], "licence": r.licence,
                             "dataflows": r.dataflows or "", "n_obs": int(r.n_obs) if pd.notna(r.n_obs) else 0,
                             "files": fs[["name", "url", "sha256", "size", "retrieved_from"]].assign(
                                 retrieved_from=[public_origin(v) for v in fs["retrieved_from"]]).to_dict("records")})
        diffs = []
        ed = reader.editions().groupby(["dataflow", "source", "edition"], as_index=False).agg(
            published=("published", "min"), n_obs=("n_obs", "sum"))
        largest = Limits().max_unfiltered_rows  # what the API answers without a filter (IMDX_HTTP_*)
        for (flow, source), part in ed.groupby(["dataflow", "source"], sort=True):
            if not reader.servable(flow):
                continue
            part = part.sort_values(["published", "edition"])
            for (a, n_a), (b, n_b) in pairwise(zip(part["edition"], part["n_obs"])):
                years = reader.years(flow) if max(n_a, n_b) > largest else []
                last = f"&year={years[-1]}" if years else ""  # a diff too large unfiltered: its latest year
                diffs.append({"flow": flow, "source": source, "from": a, "to": b,
                              "href": f"/api/v1/diff/{flow}?from={a}&to={b}&source={source}{last}"})
        everything = reader.issues()
        counts = everything.assign(n=1).groupby(["source", "severity", "type"], as_index=False, dropna=False).agg(
            n=("n", "sum"), n_obs=("n_obs", "sum"))
        counts = counts.assign(_rank=counts["severity"].map(SEVERITY_RANK)).sort_values(
            ["source", "_rank", "type"], kind="stable").drop(columns="_rank")
        serious = everything[everything["severity"].isin(["error", "warning"])]
        shown = serious.sort_values(["source", "type", "file", "row"], kind="stable", na_position="last") \
            .sort_values("severity", key=lambda s: s.map(SEVERITY_RANK), kind="stable").head(100)
        columns = ["source", "severity", "type", "dataflow", "file", "sheet", "row", "area", "message"]
        return {"releases": releases, "diffs": diffs, "issues": counts.to_dict("records"),
                "serious": shown[columns].to_dict("records"), "n_serious": len(serious)}
    return reader.cached(("sources",), compute)
