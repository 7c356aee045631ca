"""What the home, flows, sources and search pages show."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

import pandas as pd

from imdx.codes.names import normalise
from imdx.portal.data import Num, Reader, num_one, num_sum, one
from imdx.portal.profile import source_line
from imdx.store.duckdb_store import RANKED_RELEASES
from imdx.store.labels import decoded


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
            f = reader.sql(decoded(f"WITH c AS ({_current_refugees('o.asylum, o.value')}) "
                                   "SELECT asylum, sum(value) AS value FROM c GROUP BY 1", ["asylum"]), [year])
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


def _current_refugees(columns: str) -> str:
    """SQL: ``columns`` of UNHCR's current refugee numbers (population type REF) of the year given as parameter."""
    return (f"SELECT {columns} FROM coded_refugees o JOIN {RANKED_RELEASES} r USING (release_id) "
            "WHERE o.population_type = code('REF') AND o.year = ? AND r.source = 'unhcr' QUALIFY row_number() OVER "
            "(PARTITION BY r.source, o.origin, o.asylum, o.population_type, o.year ORDER BY r.rank DESC) = 1")


def headlines(reader: Reader) -> list[dict]:
    """World figures for the home page, each with its source and edition."""
    def compute():
        out = []
        ms = reader.current("migrant_stock", {"destination": "001", "origin": "_T", "sex": "_T", "age": "_T"})
        if len(ms):
            y = int(ms["year"].max())
            out.append({"label": f"International migrants in the world, {y}", "line": source_line(reader, "migrant_stock"),
                        "num": num_one(one(ms, year=y), "persons", "migrant_stock", "undesa_ims",
                                       {"destination": "001", "origin": "_T", "sex": "_T", "age": "_T", "year": str(y)})})
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
                total = reader.sql(f"WITH c AS ({_current_refugees('o.value')}) SELECT sum(value) FROM c",
                                   [y]).iloc[0, 0]
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


# -- search ------------------------------------------------------------------------------------------
_CORRIDOR = re.compile(r"^\s*(?:from\s+)?(.+?)\s*(?:\bto\b|→|->|>|–|—|\s-\s|-|/)\s*(.+?)\s*$", re.IGNORECASE)


#: what a person may type for one area: a code of these systems, or a name (UNHCR's own codes last: they
#: collide with ISO's, UNHCR's AUS is Austria)
EXACT = ("code", "iso3", "m49", "iso2", "undesa", "wb", "name", "unhcr")


def exact_area(reader: Reader, text: str) -> str | None:
    """The area ``text`` names exactly (a code, a name in any source's spelling, a known abbreviation), if any."""
    areas = reader.store.areas()
    text = (text or "").strip()
    return areas.resolve(text, EXACT).code if areas is not None and text else None


def resolve_area(reader: Reader, text: str) -> str | None:
    """The area ``text`` names exactly, or the one country whose name it begins."""
    areas = reader.store.areas()
    if areas is None:
        return None
    code = exact_area(reader, text)
    if code:
        return code
    hits = areas.search(text, limit=50)
    countries = hits[hits["kind"] == "country"]
    if len(countries) == 1:
        return countries.index[0]
    exact = [c for c, n in zip(countries["code"], countries["name"]) if normalise(n).startswith(normalise(text))]
    return exact[0] if len(exact) == 1 else None


def search(reader: Reader, q: str) -> dict:
    q = (q or "").strip()[:200]
    if not q:
        return {"q": q, "corridors": [], "areas": [], "dataflows": [], "exact": None}
    names = reader.names()
    kinds = reader.area_table().set_index("code")["kind"]
    corridors = []
    exact = exact_area(reader, q)
    if exact and kinds.get(exact) not in ("country", "aggregate"):
        exact = None  # "Unknown", "Total": listed, not a page to go to
    m = None if exact else _CORRIDOR.match(q)  # "Guinea-Bissau" is a country, not a corridor
    if m:
        a, b = resolve_area(reader, m.group(1)), resolve_area(reader, m.group(2))
        if a and b and a != b:
            corridors.append({"origin": a, "destination": b, "label": f"{names.get(a, a)} → {names.get(b, b)}"})
    areas = reader.store.areas()
    found = []
    if areas is not None and len(q) >= 2:
        hits = areas.search(q, limit=60)  # ranked: exact names and abbreviations first
        codes = ([exact] if exact else []) + [c for c in hits["code"] if c != exact]
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
    return {"q": q, "corridors": corridors, "areas": found, "dataflows": flows, "exact": exact}


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
                             "files": fs[["name", "url", "sha256", "size", "retrieved_from"]].to_dict("records")})
        diffs = []
        ed = reader.sql("SELECT d.dataflow, r.source, r.edition, min(r.published) AS p FROM release r "
                        "JOIN release_dataflow d USING (release_id) GROUP BY ALL ORDER BY 1, 2, 4, 3")
        for (flow, source), part in ed.groupby(["dataflow", "source"], sort=True):
            if not reader.servable(flow):
                continue
            eds = list(part["edition"])
            for a, b in pairwise(eds):
                diffs.append({"flow": flow, "source": source, "from": a, "to": b,
                              "href": f"/api/v1/diff/{flow}?from={a}&to={b}&source={source}"})
        issues = reader.sql("SELECT source, severity, type, count(*) AS n, sum(n_obs) AS n_obs FROM issue "
                            "GROUP BY source, severity, type ORDER BY source, CASE severity WHEN 'error' THEN 0 WHEN 'warning' "
                            "THEN 1 ELSE 2 END, type").to_dict("records")
        serious = reader.sql("SELECT source, severity, type, dataflow, file, sheet, \"row\", area, message FROM issue "
                             "WHERE severity IN ('error', 'warning') ORDER BY CASE severity WHEN 'error' THEN 0 "
                             "ELSE 1 END, source, type, file, \"row\" LIMIT 100").to_dict("records")
        return {"releases": releases, "diffs": diffs, "issues": issues, "serious": serious,
                "n_serious": int(reader.sql("SELECT count(*) FROM issue WHERE severity IN ('error','warning')")
                                 .iloc[0, 0])}
    return reader.cached(("sources",), compute)
