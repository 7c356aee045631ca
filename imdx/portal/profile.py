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
from imdx.portal.data import (
    ESTIMATED_FLOWS,
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


def source_line(reader: Reader, flow_id: str) -> dict:
    source = PREFERRED_SOURCE.get(flow_id)
    rel = reader.release_of(source, flow_id)
    flow = reader.flow(flow_id)
    return {"flow": flow_id, "name": flow.name, "definition": flow.description, "unit": flow.unit,
            "source": rel["source"] if rel else source, "edition": rel["edition"] if rel else None,
            "title": rel["title"] if rel else None, "release_id": rel["release_id"] if rel else None}


# -- immigrants and emigrants ----------------------------------------------------------------------
def stock_index(reader: Reader) -> dict[str, dict[str, list[dict]]]:
    """Current migrant stock (UN DESA) by country, split once into what the pages read: ``totals``
    (all origins, by sex and age), ``origins`` (both sexes, all ages, by country of origin) and
    ``emigrants`` (all ages, by sex and country of destination)."""
    def build():
        countries = reader.country_codes()
        rows = reader.select("migrant_stock", {}, columns=["value", "obs_status", "note", "edition"]).to_pylist()
        index: dict[str, dict[str, list[dict]]] = {}
        for r in rows:
            if r["origin"] == "_T":
                index.setdefault(r["destination"], {}).setdefault("totals", []).append(r)
            elif r["age"] == "_T" and r["origin"] in countries:
                if r["sex"] == "_T":
                    index.setdefault(r["destination"], {}).setdefault("origins", []).append(r)
                if r["destination"] in countries:
                    index.setdefault(r["origin"], {}).setdefault("emigrants", []).append(r)
        return index
    return reader.index("stock", build)


def _sums(table: pa.Table, by: list[str]) -> pa.Table:
    """``value`` summed by the columns ``by`` (null where every value summed is: SQL's sum)."""
    return table.group_by(by, use_threads=False).aggregate([("value", "sum")]).rename_columns(by + ["value"])


def _stock(reader: Reader, code: str) -> dict:
    src = "undesa_ims"
    names = reader.names()
    mine = stock_index(reader).get(code, {})
    emi_all = mine.get("emigrants", [])
    emi = [r for r in emi_all if r["sex"] == "_T"]
    share = reader.grouped("share", lambda: reader.select("migrant_stock_share", {"sex": ["_T"]}).to_pylist(),
                           "destination").get(code, [])
    totals = [r for r in mine.get("totals", []) if r["age"] == "_T"]
    tk, sk = keyed(totals, ("sex", "year")), keyed(share, ("year",))
    trend = []
    for y in sorted({r["year"] for r in totals}):
        row = {"year": int(y), "edition": (tk.get(("_T", y)) or {}).get("edition"),
               "editions": {sex: (tk.get((sex, y)) or {}).get("edition") for sex in ("_T", "M", "F")}}
        for sex in ("_T", "M", "F"):
            row[sex] = num_one(tk.get((sex, y)), "persons", "migrant_stock", src,
                               {"destination": code, "origin": "_T", "sex": sex, "age": "_T", "year": str(y)})
        row["share"] = num_one(sk.get((y,)), "percent", "migrant_stock_share", src,
                               {"destination": code, "sex": "_T", "year": str(y)})
        trend.append(row)
    by_origin = mine.get("origins", [])
    origin_year = max((r["year"] for r in by_origin), default=None)
    top_origins = []
    if origin_year is not None:
        latest = sorted((r for r in by_origin if r["year"] == origin_year and r["value"] is not None),
                        key=lambda r: -r["value"])[:TOP]
        for r in latest:
            top_origins.append({"code": r["origin"], "name": names.get(r["origin"], r["origin"]), "value": num_one(
                r, "persons", "migrant_stock", src,
                {"destination": code, "origin": r["origin"], "sex": "_T", "age": "_T", "year": str(origin_year)})})
    ages = [r for r in mine.get("totals", []) if r["sex"] == "_T" and r["age"] != "_T"]
    age_year = max((r["year"] for r in ages), default=None)
    emi_year = max((r["year"] for r in emi), default=None)
    top_dest, emi_trend, emigrants_by_sex = [], [], []
    if emi_year is not None:
        latest = sorted((r for r in emi if r["year"] == emi_year and r["value"] is not None),
                        key=lambda r: -r["value"])[:TOP]
        for r in latest:
            top_dest.append({"code": r["destination"], "name": names.get(r["destination"], r["destination"]),
                             "value": num_one(r, "persons", "migrant_stock", src,
                                              {"destination": r["destination"], "origin": code, "sex": "_T",
                                               "age": "_T", "year": str(emi_year)})})
        by_year: dict[int, list] = {}
        for r in emi:
            by_year.setdefault(r["year"], []).append(r["value"])
        for y in sorted(by_year):
            emi_trend.append({"year": int(y), "value": num_sum(
                total(by_year[y]), "persons", "migrant_stock", src,
                {"origin": code, "sex": "_T", "age": "_T", "year": str(y)}, countries_only=["destination"])})
        for sex in ("M", "F"):
            emigrants_by_sex.append({"sex": cl.SEX[sex], "value": num_sum(
                total(r["value"] for r in emi_all if r["sex"] == sex and r["year"] == emi_year), "persons",
                "migrant_stock", src, {"origin": code, "sex": sex, "age": "_T", "year": str(emi_year)},
                countries_only=["destination"])})
    return {"trend": trend, "origin_year": origin_year, "top_origins": top_origins,
            "ages": [{"age": cl.AGE.get(r["age"], r["age"]), "year": age_year, "value": num_one(
                r, "persons", "migrant_stock", src,
                {"destination": code, "origin": "_T", "sex": "_T", "age": r["age"], "year": str(age_year)})}
                for r in ages if r["year"] == age_year],
            "emigrant_year": emi_year, "top_destinations": top_dest, "emigrant_trend": emi_trend,
            "emigrants_by_sex": emigrants_by_sex,
            "downloads": {"Immigrants by origin, sex and year": api_csv("migrant_stock", destination=code),
                          "Emigrants by destination, sex and year": api_csv("migrant_stock", origin=code),
                          "Migrants as a share of the population": api_csv("migrant_stock_share",
                                                                           destination=code)}}


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
def estimated_flows(reader: Reader, *, origin: str | None = None, destination: str | None = None,
                    either: str | None = None) -> dict:
    """Estimated flows (issue 4) when the store holds them, else ``{"loaded": False}``: the largest
    flows of the latest period, per method (both sexes where the dataflow has a sex dimension)."""
    if not reader.has(ESTIMATED_FLOWS):
        return {"loaded": False}
    flow = reader.flow(ESTIMATED_FLOWS)
    dims = flow.dimension_names
    where = {k: v for k, v in (("origin", origin), ("destination", destination)) if v}
    if "sex" in dims:
        where["sex"] = "_T"
    if either:  # flows from or to the country: both queries, the flow from it to itself once
        frame = pd.concat([reader.current(ESTIMATED_FLOWS, {**where, side: either}, source="")
                           for side in ("origin", "destination")], ignore_index=True)
        frame = frame.drop_duplicates(subset=[*dims, "source"], ignore_index=True)
    else:
        frame = reader.current(ESTIMATED_FLOWS, where, source="")
    if frame.empty:
        return {"loaded": True, "rows": []}
    names = reader.names()
    frame = frame[frame["year"] == frame["year"].max()].sort_values("value", ascending=False).head(30)
    rows = []
    for _, r in frame.iterrows():
        filters = {d: str(int(r[d])) if d == "year" else r[d] for d in dims if d in r and pd.notna(r[d])}
        rows.append({"origin": r["origin"], "origin_name": names.get(r["origin"], r["origin"]),
                     "destination": r["destination"], "destination_name": names.get(r["destination"], r["destination"]),
                     "method": r.get("method"), "period": f"{r['period_start']}–{int(r['year'])}"
                     if "period_start" in r else str(int(r["year"])),
                     "value": num_one(r, "persons", ESTIMATED_FLOWS, r["source"], filters)})
    return {"loaded": True, "rows": rows,
            "download": api_csv(ESTIMATED_FLOWS, origin=origin or either, destination=destination)}


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


def country_profile(reader: Reader, code: str) -> dict:
    return reader.cached(("profile", code), lambda: _profile(reader, code, _stock(reader, code)))


def _profile(reader: Reader, code: str, stock: dict) -> dict:
    shown = sexes_exceed_total(stock["trend"], area=code, area_name=reader.names().get(code, code),
                               tolerance=declared_tolerance("undesa_ims", "migrant_stock"), source="undesa_ims",
                               dataflow="migrant_stock")
    return {
        "stock": stock, "refugees": _refugees(reader, code), "asylum": _asylum(reader, code),
        "economy": _economy(reader, code), "estimates": estimated_flows(reader, either=code),
        "issues": issues_for(reader, code, shown=shown),
        "sources": [source_line(reader, f) for f in ("migrant_stock", "migrant_stock_share", "refugees",
                                                     "asylum_decisions", "remittances", "fdi_inflows",
                                                     "oda_received", "gdp") if reader.has(f)]}


# -- corridor ----------------------------------------------------------------------------------
def corridor(reader: Reader, origin: str, destination: str) -> dict:
    def compute():
        src = "undesa_ims"
        stock = [r for r in stock_index(reader).get(origin, {}).get("emigrants", []) if r["destination"] == destination]
        sk = keyed(stock, ("year", "sex"))
        rows = []
        for y in sorted({r["year"] for r in stock}):
            row = {"year": int(y), "edition": (sk.get((y, "_T")) or {}).get("edition")}
            for sex in ("_T", "M", "F"):
                row[sex] = num_one(sk.get((y, sex)), "persons", "migrant_stock", src,
                                   {"destination": destination, "origin": origin, "sex": sex, "age": "_T",
                                    "year": str(int(y))})
            rows.append(row)
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
        return {"stock": rows, "knomad": knomad, "remittances": remit, "refugees": refugees,
                "estimates_there": estimated_flows(reader, origin=origin, destination=destination),
                "estimates_back": estimated_flows(reader, origin=destination, destination=origin),
                "downloads": {"Migrant stock": api_csv("migrant_stock", origin=origin, destination=destination),
                              "Refugees": api_csv("refugees", origin=origin, asylum=destination),
                              "Bilateral remittances (both directions)":
                                  api_csv("bilateral_remittances", sender=f"{origin},{destination}",
                                          receiver=f"{origin},{destination}")}}
    return reader.cached(("corridor", origin, destination), compute)
