"""What the flows page shows: estimated flows between regions (the sums stored with the estimates,
dataflow ``estimated_region_flows``) or between the largest countries, for one method, period and sex,
with the spread across the other methods and, for flows between countries, the interval the estimate
stores with each flow (``lower``/``upper`` of ``estimated_flows``). The regional sums carry no interval:
the bounds of single flows do not add up to bounds of their sum, so there the range across methods is
the uncertainty shown.

Only estimates whose inputs are complete are offered, unless the reader asks (``incomplete=1``) for
those made with births or deaths taken as 0, and the page then says which. Every read goes through
:meth:`imdx.store.base.Store.select`; a page reads a few thousand rows, never the millions of country
pairs of ``estimated_flows`` (except the one method, period and sex of the country view).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from imdx.model import codelists as cl
from imdx.portal import explain, flowdata
from imdx.portal.data import ESTIMATED_FLOWS, Num, Reader, num_one, num_sum

REGIONAL = flowdata.REGIONAL
LEVELS = {"geographic": "Regions (6)", "sdg": "SDG regions (8)", "subregion": "Subregions (22)",
          "country": "Countries (the 11 largest, and the rest)"}
MAX_ARCS = 12
OTHER = "_O"
INCOMPLETE = "births or deaths missing for some areas were taken as 0"


@dataclass(frozen=True)
class Stored:
    """One stored estimate: a method for a period and sex, and whether its inputs were complete."""

    method: str
    start: str
    year: int
    sex: str
    definition: str
    note: str
    total: float
    incomplete: str | None = None  # why not, in a few words


def _why_incomplete(definition: str, note: str) -> str | None:
    if "allow_missing_vitals=True" in definition or "taken as 0" in note:
        return INCOMPLETE
    return None


def catalogue(reader: Reader) -> list[Stored]:
    """Every stored estimate (from the geographic sums: a few thousand rows), each with its world total."""
    def compute():
        rows = pd.concat([f for (grouping, _, _), f in flowdata.regional(reader).items() if grouping == "geographic"])
        out = {}
        for (method, start, year, sex), part in rows.groupby(["method", "period_start", "year", "sex"], sort=True):
            definition, note = str(part["definition"].iloc[0] or ""), str(part["note"].iloc[0] or "")
            out[(method, start, sex)] = Stored(method, start, int(year), sex, definition, note,
                                               float(part["value"].sum()), _why_incomplete(definition, note))
        # Dennett's total is the closed account's: incomplete when that one is
        chained = "total_flow_from=world total of demographic_accounting_closed"
        for key, est in out.items():
            closed = out.get(("demographic_accounting_closed", est.start, est.sex))
            if est.method == "migration_rates_dennett" and chained in est.definition and closed is not None \
                    and closed.incomplete and not est.incomplete:
                why = f"its world total is the closed account's, where {INCOMPLETE}"
                out[key] = Stored(**{**est.__dict__, "incomplete": why})
        return list(out.values())
    return reader.cached(("flows-catalogue",), compute)


def _pick(options: list, wanted, default):
    return wanted if wanted in options else default


def _names(reader: Reader) -> tuple[dict, dict]:
    names = reader.names()
    short = explain.load("regions")["short"]
    return names, short


def flows_page(reader: Reader, *, year: str | None = None, method: str | None = None, sex: str | None = None,
               level: str | None = None, incomplete: bool = False) -> dict:
    """Everything the flows page shows, for the parameters as given (each replaced by its default when
    it is not one the store holds)."""
    if not reader.has(ESTIMATED_FLOWS):
        return {"loaded": False}
    if not reader.has(REGIONAL):
        return {"loaded": True, "no_regions": True}
    stored = catalogue(reader)
    sexes = [s for s in cl.SEX if any(e.sex == s for e in stored)]
    sex = _pick(sexes, sex, sexes[0] if sexes else "_T")
    years = sorted({e.year for e in stored if e.sex == sex})
    year_i = int(year) if year and year.isascii() and year.isdigit() and len(year) <= 4 else None
    year_i = _pick(years, year_i, years[-1])
    here = [e for e in stored if e.sex == sex and e.year == year_i]
    order = explain.method_order([e.method for e in here])
    here.sort(key=lambda e: order.index(e.method))
    usable = [e for e in here if incomplete or not e.incomplete]
    hidden = [e for e in here if e not in usable]
    recommended, why = explain.recommended_method()
    codes = [e.method for e in usable]
    default = codes[0] if codes else None  # the recommended one when it is offered
    refused = method if method and method not in codes and method in [e.method for e in hidden] else None
    method = _pick(codes, method, default)
    level = _pick(list(LEVELS), level, "geographic")
    chosen = next((e for e in usable if e.method == method), None)
    page = {"loaded": True, "sexes": {s: cl.SEX[s] for s in sexes}, "sex": sex, "years": years, "year": year_i,
            "start": chosen.start if chosen else None, "levels": LEVELS, "level": level, "incomplete": incomplete,
            "methods": [{**explain.method(e.method), "incomplete": e.incomplete, "total": e.total} for e in usable],
            "hidden": [{**explain.method(e.method), "incomplete": e.incomplete} for e in hidden],
            "refused": explain.method(refused) if refused else None,
            "method": explain.method(method) if method else None, "recommended": recommended, "why": why,
            "chosen": chosen}
    if chosen is None:
        return page | {"rows": [], "arcs": [], "names": [], "matrix": []}
    ranged = [m for m in codes if explain.method(m)["in_range"]]
    page["ranged"] = [explain.method(m)["label"] for m in ranged]
    page["unranged"] = [explain.method(m)["label"] for m in codes if m not in ranged]
    key = ("flows", level, sex, year_i, method, tuple(codes))
    return page | reader.cached(key, lambda: (_countries if level == "country" else _regions)(
        reader, chosen, level, ranged))


def _range(values, methods: list[str]) -> tuple[float, float, int] | None:
    """(lowest, highest, number of methods) of one flow's estimates by ``methods``; a method without a stored
    value estimated it as 0 (zeros are not stored). None when fewer than two methods are compared."""
    values = [float(v) for v in values] + [0.0] * (len(methods) - len(values))
    return (min(values), max(values), len(methods)) if len(methods) > 1 and values else None


def _spread(frame: pd.DataFrame, methods: list[str], by=("origin", "destination")) -> dict:
    """flow key -> :func:`_range` over ``methods`` (vectorised: a page may have hundreds of flows)."""
    if len(methods) < 2:
        return {}
    part = frame[frame["method"].isin(methods) & (frame["value"] != 0)]
    g = part.groupby(list(by))["value"].agg(["min", "max", "count"])
    short = g["count"] < len(methods)  # a method without a value estimated 0
    low, high = g["min"].where(~short, g["min"].clip(upper=0)), g["max"].where(~short, g["max"].clip(lower=0))
    return {k: (float(lo), float(hi), len(methods)) for k, lo, hi in zip(g.index, low, high)}


def _regions(reader: Reader, est: Stored, level: str, methods: list[str]) -> dict:
    frame = flowdata.regional(reader).get((level, est.sex, est.year), pd.DataFrame(columns=["period_start"]))
    frame = frame[frame["period_start"] == est.start]
    mine = frame[frame["method"] == est.method]
    spread = _spread(frame, methods)
    filters = {"grouping": level, "sex": est.sex, "method": est.method, "period_start": est.start,
               "year": str(est.year)}
    source = mine["source"].iloc[0] if len(mine) else "imdx-estimates"
    rows = []
    mine = mine.assign(within=mine["origin"] == mine["destination"]).sort_values(["within", "value"],
                                                                                 ascending=[True, False])
    for r in mine.itertuples(index=False):
        rows.append({"origin": r.origin, "destination": r.destination, "within": r.origin == r.destination,
                     "value": num_one({"value": r.value, "note": None}, "persons", REGIONAL, source,
                                      {**filters, "origin": r.origin, "destination": r.destination}),
                     "spread": spread.get((r.origin, r.destination)), "interval": None})
    between = mine[mine["origin"] != mine["destination"]]
    totals = {"world": num_sum(mine["value"].sum() if len(mine) else None, "persons", REGIONAL, source, filters),
              "between": float(between["value"].sum()), "within": float(mine["value"].sum() - between["value"].sum())}
    download = f"/api/v1/data/{REGIONAL}?{urlencode({**filters, 'format': 'csv'})}"
    return _drawn(reader, rows, totals, download, other_label="Other regions")


def _countries(reader: Reader, est: Stored, level: str, methods: list[str]) -> dict:
    c = _cube(reader, est.sex, est.year, est.start)
    od = c.od.get(est.method)
    if od is None:
        return _drawn(reader, [], {"world": Num(None, "persons"), "between": 0.0, "within": 0.0}, "", "")
    size = od.sum(axis=1) + od.sum(axis=0)
    top = [int(i) for i in np.argsort(-size, kind="stable")[: MAX_ARCS - 1]]
    filters = {"sex": est.sex, "method": est.method, "period_start": est.start, "year": str(est.year)}
    others = [c.od[m] for m in methods if m in c.od]
    rows = []
    for i in top:
        for j in top:
            if i != j and od[i, j] != 0:
                o, d = c.codes[i], c.codes[j]
                rows.append({"origin": o, "destination": d, "within": False,
                             "value": num_one({"value": float(od[i, j]), "note": None}, "persons", ESTIMATED_FLOWS,
                                              c.source, {**filters, "origin": o, "destination": d}),
                             "spread": _range([x[i, j] for x in others if x[i, j] != 0], methods),
                             "interval": c.interval(est.method, i, j)})
    rows.sort(key=lambda r: -r["value"].value)
    # the rest of the world, so that the diagram's flows add up to the world total
    inner = np.zeros(len(c.codes), bool)
    inner[top] = True
    folded = []
    for i in top:
        folded.append((c.codes[i], OTHER, float(od[i, ~inner].sum())))
        folded.append((OTHER, c.codes[i], float(od[~inner, i].sum())))
    folded.append((OTHER, OTHER, float(od[np.ix_(~inner, ~inner)].sum())))
    for o, d, value in sorted(folded, key=lambda f: -f[2]):
        if value:
            rows.append({"origin": o, "destination": d, "within": o == d, "folded": True,
                         "value": Num(value, "persons"), "spread": None, "interval": None})
    total = float(od.sum())
    totals = {"world": num_sum(total, "persons", ESTIMATED_FLOWS, c.source, filters), "between": total, "within": 0.0}
    return _drawn(reader, rows, totals, api(**filters), other_label="All other countries")


def _drawn(reader: Reader, rows: list[dict], totals: dict, download: str, other_label: str) -> dict:
    """The chord (at most ``MAX_ARCS`` arcs: the smallest areas folded into one), the legend and the table."""
    names, short = _names(reader)
    size: dict[str, float] = {}
    for r in rows:
        if r["origin"] != r["destination"]:
            for code in (r["origin"], r["destination"]):
                size[code] = size.get(code, 0.0) + r["value"].value
    keep = sorted(size, key=lambda c: (c == OTHER, -size[c]))
    if len(keep) > MAX_ARCS:
        keep = keep[: MAX_ARCS - 1]
    fold = {c: (c if c in keep else OTHER) for c in size}
    keys = [c for c in keep if c != OTHER] + ([OTHER] if OTHER in fold.values() else [])
    index = {k: i for i, k in enumerate(keys)}
    matrix = [[0.0] * len(keys) for _ in keys]
    out_, in_ = dict.fromkeys(keys, 0.0), dict.fromkeys(keys, 0.0)
    for r in rows:
        o, d = fold.get(r["origin"], OTHER), fold.get(r["destination"], OTHER)
        if r["origin"] == r["destination"] or o == d:
            continue
        matrix[index[o]][index[d]] += r["value"].value
        out_[o] += r["value"].value
        in_[d] += r["value"].value

    def label(code: str) -> str:
        return other_label if code == OTHER else names.get(code, code)

    legend = [{"code": k, "name": label(k), "short": other_label if k == OTHER else short.get(k, label(k)),
               "out": out_[k], "in": in_[k], "net": in_[k] - out_[k]} for k in keys]
    for r in rows:
        r["origin_name"], r["destination_name"] = label(r["origin"]), label(r["destination"])
    negative = sum(1 for r in rows if r["value"].value < 0)
    intervals = any(r.get("interval") for r in rows)
    return {"rows": rows, "intervals": intervals, "names": [x["short"] for x in legend],
            "full_names": [x["name"] for x in legend],
            "matrix": matrix, "legend": legend, "totals": totals, "download": download, "negative": negative}


# -- the panels of the country and corridor pages ------------------------------------------------------
def api(**filters) -> str:
    """The API request of the country flows with ``filters``, as CSV."""
    return f"/api/v1/data/{ESTIMATED_FLOWS}?{urlencode({**filters, 'format': 'csv'})}"


def _panel_method(reader: Reader, sex: str = "_T") -> tuple[str | None, list[str]]:
    """The method the panels show (the recommended one, or the best offered) and the methods whose range they
    give: estimates of ``sex`` with complete inputs, in every stored period."""
    stored = [e for e in catalogue(reader) if e.sex == sex]
    periods = {e.year for e in stored}
    complete = [m for m in explain.method_order({e.method for e in stored})
                if all(any(e.method == m and e.year == y and not e.incomplete for e in stored) for y in periods)]
    ranged = [m for m in complete if explain.method(m)["in_range"]]
    return (complete[0] if complete else None), ranged


def _cube(reader: Reader, sex: str, year: int, start: str):
    """The flows of one sex and period, by every method stored for them."""
    methods = sorted({e.method for e in catalogue(reader) if (e.sex, e.year, e.start) == (sex, year, start)})
    return flowdata.cube(reader, sex, year, start, methods)


def cubes(reader: Reader, sex: str = "_T") -> list:
    """The cubes of every stored period of ``sex``, oldest first."""
    periods = sorted({(e.year, e.start) for e in catalogue(reader) if e.sex == sex})
    return [_cube(reader, sex, year, start) for year, start in periods]


def _partners(c, method: str, ranged: list[str], i: int, arriving: bool, names: dict, top: int) -> list[dict]:
    line = c.od[method][:, i] if arriving else c.od[method][i, :]
    out = []
    for j in np.argsort(-line, kind="stable")[:top]:
        if line[j] <= 0:
            break
        others = [c.od[m][j, i] if arriving else c.od[m][i, j] for m in ranged if m in c.od]
        code = c.codes[int(j)]
        out.append({"code": code, "name": names.get(code, code), "value": float(line[j]),
                    "spread": _range([v for v in others if v != 0], ranged),
                    "interval": c.interval(method, int(j), i) if arriving else c.interval(method, i, int(j))})
    return out


def for_area(reader: Reader, code: str, top: int = 5) -> dict:
    """The estimated flows a country profile shows: arrivals, departures and net by period for one method
    (both sexes), and the largest flows of the latest period with their range across methods."""
    if not reader.has(ESTIMATED_FLOWS):
        return {"loaded": False}
    if not reader.has(REGIONAL):
        return {"loaded": True, "no_regions": True}
    method, ranged = _panel_method(reader)
    found = [c for c in cubes(reader) if c.at(code) is not None and method in c.od]
    if method is None or not found:
        return {"loaded": True, "rows": []}
    periods = []
    for c in found:
        i, od = c.at(code), c.od[method]
        arrived, left = float(od[:, i].sum()), float(od[i, :].sum())
        periods.append({"period": f"{c.year - 5}–{c.year}", "in": arrived, "out": left, "net": arrived - left})
    last, names = found[-1], reader.names()
    i = last.at(code)
    arriving = _partners(last, method, ranged, i, True, names, top)
    leaving = _partners(last, method, ranged, i, False, names, top)
    return {"loaded": True, "method": explain.method(method), "ranged": len(ranged), "periods": periods,
            "period": f"{last.year - 5}–{last.year}", "rows": periods, "arriving": arriving, "leaving": leaving,
            "intervals": any(r["interval"] for r in arriving + leaving),
            "download": api(origin=code, sex="_T", method=method)}


def for_corridor(reader: Reader, origin: str, destination: str) -> dict:
    """The estimated flows of a corridor, both directions, by period (both sexes), with the range across methods."""
    if not reader.has(ESTIMATED_FLOWS):
        return {"loaded": False}
    if not reader.has(REGIONAL):
        return {"loaded": True, "no_regions": True}
    method, ranged = _panel_method(reader)
    found = [c for c in cubes(reader) if c.at(origin) is not None and c.at(destination) is not None
             and method in c.od]
    if method is None or not found:
        return {"loaded": True, "rows": []}
    rows = []
    for c in found:
        row = {"period": f"{c.year - 5}–{c.year}"}
        for key, (o, d) in (("there", (origin, destination)), ("back", (destination, origin))):
            i, j = c.at(o), c.at(d)
            row[key] = float(c.od[method][i, j])
            row[f"{key}_spread"] = _range([c.od[m][i, j] for m in ranged if m in c.od and c.od[m][i, j] != 0], ranged)
            row[f"{key}_interval"] = c.interval(method, i, j)
        rows.append(row)
    intervals = any(r["there_interval"] or r["back_interval"] for r in rows)
    return {"loaded": True, "method": explain.method(method), "ranged": len(ranged), "rows": rows,
            "intervals": intervals,
            "download": api(origin=f"{origin},{destination}", destination=f"{origin},{destination}", sex="_T")}
