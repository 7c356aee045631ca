"""What a country profile and a corridor page show: a handful of targeted queries per page.

Each builder returns plain data (lists of rows of :class:`~imdx.portal.data.Num` and labels) that
the templates render as tables, and from which :mod:`imdx.portal.charts` draws the charts.
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdx.checks import declared_tolerance
from imdx.checks.shown import sexes_exceed_total
from imdx.model import codelists as cl
from imdx.portal import editions, flows
from imdx.portal.census import census_section
from imdx.portal.data import (
    PREFERRED_SOURCE,
    Num,
    Reader,
    keyed,
    num_one,
    num_sum,
    total,
)

TOP = 10
ECONOMY_FROM = 1990
DECISIONS = ["recognized", "other", "rejected", "closed", "total"]
DISPLACED = ["REF", "ASY", "OIP", "IDP", "STA", "OOC", "RET", "RDP", "HST"]


def api_csv(flow: str, **filters) -> str:
    params = {k: v for k, v in filters.items() if v not in (None, "")}
    params["format"] = "csv"
    return f"/api/v1/data/{flow}?{urlencode(params)}"


def source_line(reader: Reader, flow_id: str, edition: str | None = None, source: str | None = None) -> dict:
    """What a chart or table says about where its numbers come from: the release actually read (the latest of
    the dataflow's source, or the one of ``edition``)."""
    source = source or PREFERRED_SOURCE.get(flow_id)
    return reader.cached(("source_line", flow_id, edition, source), lambda: _source_line(reader, flow_id, edition,
                                                                                        source))


def _source_line(reader: Reader, flow_id: str, edition: str | None, source: str | None) -> dict:
    rel = reader.release_of(source, flow_id, edition)
    flow = reader.flow(flow_id)
    every = []
    if rel is not None:  # every release of that edition holding the dataflow (UN DESA's edition has two)
        table = reader.editions()
        table = table[(table["dataflow"] == flow_id) & (table["source"] == rel["source"])
                      & (table["edition"] == rel["edition"])]
        titles = reader.releases().set_index("release_id")["title"]
        every = [{"release_id": int(i), "title": titles.get(i)} for i in table["release_id"]]
    return {"flow": flow_id, "name": flow.name, "definition": flow.description, "unit": flow.unit,
            "source": rel["source"] if rel else source, "edition": rel["edition"] if rel else None,
            "title": rel["title"] if rel else None, "release_id": rel["release_id"] if rel else None,
            "releases": every}


# -- immigrants and emigrants ----------------------------------------------------------------------
def _stock(reader: Reader, code: str, wanted: str | None = None) -> dict:
    """Immigrants and emigrants of ``code`` from ONE UN DESA edition (the latest that holds the country, or
    ``wanted``); the other editions' immigrant totals for the same years are given as revisions."""
    src = editions.SOURCE
    chosen, holding = editions.for_area(reader, code, wanted)
    if chosen is None:
        return {"trend": [], "origin_year": None, "top_origins": [], "emigrant_year": None, "top_destinations": [],
                "emigrant_trend": [], "emigrants_by_sex": [], "ages": [], "editions": [], "edition": None,
                "revisions": [], "downloads": {}, "has_share": False, "share_edition": None}
    ed = chosen.edition
    names = reader.names()
    mine = editions.index(reader, ed).get(code, {})

    def num(row, kind, flow, filters):
        return num_one(row, kind, flow, src, filters, edition=ed)

    totals = mine.get("totals", [])
    tk, sk = keyed(totals, ("sex", "year")), keyed(mine.get("share", []), ("year",))
    trend = []
    for y in sorted({r["year"] for r in totals}):
        row = {"year": int(y), "edition": (tk.get(("_T", y)) or {}).get("edition"),
               "editions": {sex: (tk.get((sex, y)) or {}).get("edition") for sex in ("_T", "M", "F")}}
        for sex in ("_T", "M", "F"):
            row[sex] = num(tk.get((sex, y)), "persons", "migrant_stock",
                           {"destination": code, "origin": "_T", "sex": sex, "age": "_T", "year": str(y)})
        row["share"] = num(sk.get((y,)), "percent", "migrant_stock_share",
                           {"destination": code, "sex": "_T", "year": str(y)})
        trend.append(row)
    by_origin = mine.get("origins", [])
    origin_year = max((r["year"] for r in by_origin), default=None)
    top_origins = []
    if origin_year is not None:
        latest = sorted((r for r in by_origin if r["year"] == origin_year and r["value"] is not None),
                        key=lambda r: -r["value"])[:TOP]
        for r in latest:
            top_origins.append({"code": r["origin"], "name": names.get(r["origin"], r["origin"]), "value": num(
                r, "persons", "migrant_stock",
                {"destination": code, "origin": r["origin"], "sex": "_T", "age": "_T", "year": str(origin_year)})})
    emi_all = mine.get("emigrants", [])
    emi = [r for r in emi_all if r["sex"] == "_T"]
    emi_year = max((r["year"] for r in emi), default=None)
    top_dest, emi_trend, emigrants_by_sex = [], [], []
    if emi_year is not None:
        latest = sorted((r for r in emi if r["year"] == emi_year and r["value"] is not None),
                        key=lambda r: -r["value"])[:TOP]
        for r in latest:
            top_dest.append({"code": r["destination"], "name": names.get(r["destination"], r["destination"]),
                             "value": num(r, "persons", "migrant_stock",
                                          {"destination": r["destination"], "origin": code, "sex": "_T",
                                           "age": "_T", "year": str(emi_year)})})
        by_year: dict[int, list] = {}
        for r in emi:
            by_year.setdefault(r["year"], []).append(r["value"])
        for y in sorted(by_year):
            emi_trend.append({"year": int(y), "value": num_sum(
                total(by_year[y]), "persons", "migrant_stock", src,
                {"origin": code, "sex": "_T", "age": "_T", "year": str(y)}, countries_only=["destination"],
                edition=ed)})
        for sex in ("M", "F"):
            emigrants_by_sex.append({"sex": cl.SEX[sex], "value": num_sum(
                total(r["value"] for r in emi_all if r["sex"] == sex and r["year"] == emi_year), "persons",
                "migrant_stock", src, {"origin": code, "sex": sex, "age": "_T", "year": str(emi_year)},
                countries_only=["destination"], edition=ed)})
    has_share = bool(mine.get("share"))
    # an edition that publishes no share (UN DESA 2024 as loaded: stocks only) leaves the column out and
    # points to the latest edition that gives it, rather than mixing editions in one table
    share_edition = None if has_share else next(
        (e.edition for e in holding if editions.index(reader, e.edition).get(code, {}).get("share")), None)
    downloads = {"Immigrants by origin, sex and year": api_csv("migrant_stock", destination=code, edition=ed),
                 "Emigrants by destination, sex and year": api_csv("migrant_stock", origin=code, edition=ed)}
    if has_share:
        downloads["Migrants as a share of the population"] = api_csv("migrant_stock_share", destination=code,
                                                                      edition=ed)
    return {"trend": trend, "origin_year": origin_year, "top_origins": top_origins, "ages": [],
            "has_share": has_share, "share_edition": share_edition,
            "emigrant_year": emi_year, "top_destinations": top_dest, "emigrant_trend": emi_trend,
            "emigrants_by_sex": emigrants_by_sex, "edition": chosen, "editions": holding,
            "revisions": editions.revisions(reader, code, holding, chosen), "downloads": downloads}


def _sums(table: pa.Table, by: list[str]) -> pa.Table:
    """``value`` summed by the columns ``by`` (null where every value summed is: SQL's sum)."""
    return table.group_by(by, use_threads=False).aggregate([("value", "sum")]).rename_columns(by + ["value"])


# -- refugees and asylum -----------------------------------------------------------------------
def refugee_index(reader: Reader) -> dict[str, pd.DataFrame]:
    """UNHCR populations summed over the other country: 'hosted' by the asylum country, 'originating'
    from the origin country (rows whose asylum country is the origin itself count as hosted only)."""
    def rows():
        c = reader.select("refugees", {}, columns=["value"])
        hosted = _sums(c, ["asylum", "population_type", "year"]).rename_columns(["area", "population_type", "year",
                                                                                 "value"])
        elsewhere = c.filter(pc.not_equal(c["origin"], c["asylum"]))
        originating = _sums(elsewhere, ["origin", "population_type", "year"]).rename_columns(
            ["area", "population_type", "year", "value"])
        return (hosted.append_column("side", pa.repeat(pa.scalar("hosted"), len(hosted))).to_pylist()
                + originating.append_column("side", pa.repeat(pa.scalar("originating"), len(originating))).to_pylist())
    return reader.grouped("refugees", rows, "area")


def _refugees(reader: Reader, code: str) -> dict:
    src = "unhcr"
    if not reader.has("refugees"):
        return {}
    hosted = refugee_index(reader).get(code, [])
    hk = keyed(hosted, ("side", "population_type", "year"))
    # a row with origin = asylum = code (e.g. IDPs in their own country) counts as hosted only
    years = sorted({r["year"] for r in hosted})
    latest = int(max(years)) if years else None
    by_type = []
    for pt in DISPLACED:
        h = hk.get(("hosted", pt, latest))
        o = hk.get(("originating", pt, latest))
        if h is None and o is None:
            continue
        by_type.append({"type": cl.POPULATION_TYPE[pt], "code": pt,
                        "hosted": num_sum(None if h is None else h["value"], "persons", "refugees", src,
                                          {"asylum": code, "population_type": pt, "year": str(latest)}),
                        "originating": num_sum(None if o is None else o["value"], "persons", "refugees", src,
                                               {"origin": code, "population_type": pt, "year": str(latest)},
                                               exclude={"asylum": code})})
    trend = []
    for y in [y for y in years if y >= 2000]:
        row = {"year": int(y)}
        for side, dim in (("hosted", "asylum"), ("originating", "origin")):
            for pt in ("REF", "ASY"):
                r = hk.get((side, pt, y))
                row[f"{side}_{pt}"] = num_sum(None if r is None else r["value"], "persons", "refugees", src,
                                              {dim: code, "population_type": pt, "year": str(int(y))},
                                              exclude={"asylum": code} if side == "originating" else None)
        trend.append(row)
    return {"year": latest, "by_type": by_type, "trend": trend,
            "downloads": {"Refugees and others hosted (by origin, type, year)": api_csv("refugees", asylum=code),
                          "Refugees and others originating (by asylum country, type, year)":
                              api_csv("refugees", origin=code)}}


def _asylum(reader: Reader, code: str) -> dict:
    src = "unhcr"
    if not reader.has("asylum_decisions"):
        return {}
    def rows():
        years = reader.years("asylum_decisions")
        recent = [y for y in years if y >= years[-1] - 9] if years else []
        sums = _sums(reader.select("asylum_decisions", {"year": recent}, columns=["value"]),
                     ["asylum", "year", "count_unit", "decision"])
        return sums.sort_by([("year", "ascending"), ("count_unit", "ascending")]).to_pylist()
    rows = reader.grouped("asylum", rows, "asylum").get(code)
    if rows is None:
        return {"rows": [], "download": api_csv("asylum_decisions", asylum=code)}
    out = []
    rk = keyed(rows, ("year", "count_unit", "decision"))
    for year, unit in sorted({(k[0], k[1]) for k in rk}):
        row = {"year": int(year), "unit": cl.COUNT_UNIT.get(unit, unit)}
        for d in DECISIONS:
            r = rk.get((year, unit, d))
            row[d] = num_sum(None if r is None else r["value"], "count", "asylum_decisions", src,
                             {"asylum": code, "count_unit": unit, "decision": d, "year": str(int(year))})
        out.append(row)
    return {"rows": out, "download": api_csv("asylum_decisions", asylum=code)}


# -- money -------------------------------------------------------------------------------------


def _economy(reader: Reader, code: str) -> dict:
    frames = {}
    for flow in ("remittances", "fdi_inflows", "oda_received", "gdp"):
        if reader.has(flow):
            frames[flow] = reader.grouped(flow, lambda flow=flow: reader.select(flow, {"year": [
                y for y in reader.years(flow) if y >= ECONOMY_FROM]}).to_pylist(), "area").get(code, [])
    years = sorted({r["year"] for f in frames.values() for r in f})
    keys = {flow: keyed(f, ("flow", "year") if flow == "remittances" else ("year",)) for flow, f in frames.items()}
    rows = []
    for y in years:
        ys = str(int(y))

        def get(flow_id, y=y, ys=ys, **eq):
            r = keys.get(flow_id, {}).get((*eq.values(), y))
            filters = {"area": code, **eq, "year": ys}
            return num_one(r, "usd", flow_id, "wdi", filters)
        rec, paid = get("remittances", flow="received"), get("remittances", flow="paid")
        gdp = get("gdp")
        ratio = None if rec.missing or gdp.missing or not gdp.value else rec.value / gdp.value * 100
        rows.append({"year": int(y), "received": rec, "paid": paid, "fdi": get("fdi_inflows"),
                     "oda": get("oda_received"),
                     "share": Num(ratio, "percent", {"agg": "ratio", "num": rec.check, "den": gdp.check,
                                                     "scale": 100})})
    rows = [r for r in rows if not all(r[k].missing for k in ("received", "paid", "fdi", "oda"))]
    return {"rows": rows, "downloads": {
        "Remittances (received, paid)": api_csv("remittances", area=code),
        "FDI, net inflows": api_csv("fdi_inflows", area=code),
        "ODA received": api_csv("oda_received", area=code), "GDP": api_csv("gdp", area=code)}}


# -- estimates, issues ---------------------------------------------------------------------------
def issues_for(reader: Reader, code: str, limit: int = 25, shown: list | None = None) -> dict:
    """The load's issues about the area, after those of the checks on what its page ``shown`` side by side."""
    rows = reader.grouped("issues", lambda: reader.issues().dropna(subset=["area"]).astype(object).where(
        lambda f: f.notna(), None).to_dict("records"), "area").get(code, [])
    rows = [asdict(issue) for issue in shown or []] + rows
    counts: dict[tuple, int] = {}
    for r in rows:
        counts[(r["severity"], r["type"])] = counts.get((r["severity"], r["type"]), 0) + 1
    return {"total": len(rows), "counts": [{"severity": k[0], "type": k[1], "n": n} for k, n in counts.items()],
            "rows": rows[:limit], "download": f"/api/v1/report?{urlencode({'area': code, 'format': 'csv'})}"}


def country_profile(reader: Reader, code: str, edition: str | None = None) -> dict:
    """Everything a country profile shows; the UN DESA sections from one edition (``edition``, or the latest
    that holds the country), and the checks on what it shows side by side."""
    def compute():
        stock = _stock(reader, code, edition)
        ed = stock["edition"].edition if stock["edition"] else None
        shown = sexes_exceed_total(stock["trend"], area=code, area_name=reader.names().get(code, code),
                                   tolerance=declared_tolerance("undesa_ims", "migrant_stock"), source="undesa_ims",
                                   dataflow="migrant_stock")
        return {"stock": stock, "refugees": _refugees(reader, code), "asylum": _asylum(reader, code),
                "economy": _economy(reader, code), "estimates": {**flows.for_area(reader, code), "code": code},
                "issues": issues_for(reader, code, shown=shown), "census": census_section(reader, code),
                "sources": [source_line(reader, f, ed if f.startswith("migrant_stock") else None)
                            for f in ("migrant_stock", "migrant_stock_share", "refugees", "asylum_decisions",
                                      "remittances", "fdi_inflows", "oda_received", "gdp")
                            if reader.has(f) and (f != "migrant_stock_share" or stock["has_share"])]}
    return compute()  # (not kept: the rendered page is, in the app's answer cache, bounded in bytes)


# -- corridor ----------------------------------------------------------------------------------
def corridor(reader: Reader, origin: str, destination: str, edition: str | None = None) -> dict:
    """Everything a corridor page shows; its migrant stock from one UN DESA edition."""
    def compute():
        src = editions.SOURCE
        chosen, holding = editions.for_corridor(reader, origin, destination, edition)
        ed = chosen.edition if chosen else None
        stock = [r for r in (editions.index(reader, ed).get(origin, {}).get("emigrants", []) if ed else [])
                 if r["destination"] == destination]
        sk = keyed(stock, ("year", "sex"))
        rows = []
        for y in sorted({r["year"] for r in stock}):
            row = {"year": int(y)}
            for sex in ("_T", "M", "F"):
                row[sex] = num_one(sk.get((y, sex)), "persons", "migrant_stock", src,
                                   {"destination": destination, "origin": origin, "sex": sex, "age": "_T",
                                    "year": str(int(y))}, edition=ed)
            rows.append(row)
        by = {e.edition: {r["year"]: r["value"] for r in editions.index(reader, e.edition).get(origin, {}).get(
            "emigrants", []) if r["destination"] == destination and r["sex"] == "_T"} for e in holding}
        years = sorted({y for v in by.values() for y in v})
        revised = [{"year": y, "values": {e: by[e].get(y) for e in by}} for y in years
                   if sum(by[e].get(y) is not None for e in by) > 1]
        knomad = []
        if reader.has("bilateral_migration"):
            bm = reader.current("bilateral_migration", {"origin": origin, "destination": destination}, source="")
            for _, r in bm.iterrows():
                knomad.append({"label": f"Migrants ({r['source']}, {r['edition']})", "year": int(r["year"]),
                               "value": num_one(r, "persons", "bilateral_migration", r["source"],
                                                {"origin": origin, "destination": destination,
                                                 "year": str(int(r["year"]))})})
        remit = []
        if reader.has("bilateral_remittances"):
            for sender, receiver in ((destination, origin), (origin, destination)):
                br = reader.current("bilateral_remittances", {"sender": sender, "receiver": receiver}, source="")
                for _, r in br.iterrows():
                    remit.append({"sender": sender, "receiver": receiver, "year": int(r["year"]),
                                  "source": r["source"], "edition": r["edition"],
                                  "value": num_one(r, "usd", "bilateral_remittances", r["source"],
                                                   {"sender": sender, "receiver": receiver,
                                                    "year": str(int(r["year"]))})})
        refugees = []
        if reader.has("refugees"):
            rf = reader.current("refugees", {"origin": origin, "asylum": destination})
            rf = rf[rf["year"] >= 2000]
            rk = keyed(rf, ("year", "population_type"))
            for y in sorted(set(rf["year"]), reverse=True):
                row = {"year": int(y)}
                for pt in ("REF", "ASY", "OIP"):
                    row[pt] = num_one(rk.get((y, pt)), "persons", "refugees", "unhcr",
                                      {"origin": origin, "asylum": destination, "population_type": pt,
                                       "year": str(int(y))})
                refugees.append(row)
        return {"stock": rows, "edition": chosen, "editions": holding, "revisions": revised,
                "stock_line": source_line(reader, "migrant_stock", ed) if ed else None,
                "knomad": knomad, "remittances": remit, "refugees": refugees,
                "estimates": flows.for_corridor(reader, origin, destination),
                "downloads": {"Migrant stock": api_csv("migrant_stock", origin=origin, destination=destination,
                                                       edition=ed),
                              "Refugees": api_csv("refugees", origin=origin, asylum=destination),
                              "Bilateral remittances (both directions)":
                                  api_csv("bilateral_remittances", sender=f"{origin},{destination}",
                                          receiver=f"{origin},{destination}")}}
    return compute()  # (as a profile: the rendered page is kept)
