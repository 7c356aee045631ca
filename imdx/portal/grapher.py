"""The chart page (``/chart``): any indicator for several countries over a time range, as a line chart, a
table, a map or its sources, with its state in the URL, and the same chart as an image (PNG, SVG), its
data (CSV) and metadata (JSON), and an embed snippet.

Each country's line is one series from one edition (:mod:`imdx.portal.indicators`); the sources tab and the
metadata name every release drawn.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import urlencode

from imdx.errors import ImdxError
from imdx.portal import charts, explain, home
from imdx.portal import indicators as ind_
from imdx.portal.data import Reader, fmt

MAX_AREAS = 12
DEFAULT_AREAS = ("DEU", "TUR", "USA")
DEFAULT_INDICATOR = "migrant_share"
TABS = {"chart": "Chart", "table": "Table", "map": "Map", "sources": "Sources"}
VENDOR_MAP = Path(__file__).parent / "static" / "vendor" / "countries-110m.json"


class ChartError(ImdxError):
    """A chart cannot be drawn as asked (an unknown indicator or area, too many areas, a bad year)."""


def state_from(reader: Reader, params) -> dict:
    """The chart's state from the URL: indicator, areas, first and last year, tab, map year. Problems are
    collected in ``problems`` (shown on the page; the rest of the state still works)."""
    from imdx.portal.pages import resolve_area

    have = ind_.available(reader)
    problems = []
    key = (params.get("indicator") or DEFAULT_INDICATOR).strip()
    if key not in have:
        problems.append(f"unknown indicator {key[:60]!r}: pick one of the list")
        key = DEFAULT_INDICATOR if DEFAULT_INDICATOR in have else next(iter(have), None)
    if key is None:
        raise ChartError("the store holds none of the charted dataflows yet: load some sources first (`imdx load`)")
    ind = have[key]
    asked = [a.strip() for a in (params.get("countries") or ",".join(DEFAULT_AREAS)).split(",") if a.strip()]
    if len(asked) > MAX_AREAS:
        problems.append(f"{len(asked)} countries asked for; a chart shows at most {MAX_AREAS}: the first "
                        f"{MAX_AREAS} are drawn")
        asked = asked[:MAX_AREAS]
    areas = []
    for text in asked:
        code = resolve_area(reader, text[:100])
        if code is None:
            problems.append(f"no country or area is called {text[:60]!r}")
        elif code not in areas:
            areas.append(code)
    years = ind.years(reader)
    first, last = (years[0], years[-1]) if years else (None, None)

    def year(name: str, default):
        text = (params.get(name) or "").strip()
        if not text:
            return default
        if not (text.isascii() and text.isdigit()) or len(text) != 4:
            problems.append(f"{name}={text[:20]!r} is not a year (four digits, e.g. 1990)")
            return default
        return min(max(int(text), first), last) if years else default
    start, end = year("from", first), year("to", last)
    if years and start > end:
        problems.append(f"from={start} is after to={end}: swapped")
        start, end = end, start
    tab = params.get("tab") if params.get("tab") in TABS else "chart"
    cover = ind_.coverage(reader, ind) if years else {}
    complete = [y for y in years if not cover[y]["incomplete"] and (end is None or y <= end)] or years
    map_year = year("year", complete[-1] if complete else None)
    return {"indicator": ind, "indicators": have, "areas": areas, "from": start, "to": end, "tab": tab,
            "year": map_year, "years": years, "problems": problems}


def query(st: dict, **changes) -> str:
    """The URL query of a state (with ``changes``): every view of the chart page is a link."""
    q = {"indicator": st["indicator"].id, "countries": ",".join(st["areas"]), "from": st["from"], "to": st["to"],
         "tab": st["tab"]}
    if st["tab"] == "map" or "year" in changes:
        q["year"] = st["year"]
    q.update(changes)
    return urlencode({k: v for k, v in q.items() if v not in (None, "")})


def series(reader: Reader, st: dict) -> list[dict]:
    """One series per area: code, name, edition, rows (year, Num) within the time range."""
    ind, names, out = st["indicator"], reader.names(), []
    cover = ind_.coverage(reader, ind)
    for code in st["areas"]:
        frame = ind.expr.series(reader, code)
        frame = frame[(frame["year"] >= st["from"]) & (frame["year"] <= st["to"])] if len(frame) else frame
        rows = [{"year": int(r["year"]), "num": ind.num(r),
                 "incomplete": cover.get(int(r["year"]), {}).get("incomplete", False)}
                for r in frame.to_dict("records")]
        out.append({"code": code, "name": names.get(code, code), "rows": rows,
                    "edition": frame["edition"].iloc[0] if len(frame) else None,
                    "drawn": ind_.releases_drawn(reader, frame) if len(frame) else []})
    return out


def line_spec(st: dict, lines: list[dict]) -> dict | None:
    ind = st["indicator"]
    scale = 1e6 if ind.kind == "usd" else 1.0
    values = [{"year": r["year"], "series": s["name"], "value": r["num"].value / scale}
              for s in lines for r in s["rows"]]
    spec = charts.lines(f"{ind.label}, {st['from']}–{st['to']}", values, unit=ind.unit,
                        description=f"{ind.label} of {', '.join(s['name'] for s in lines)} by year "
                                    "(the table tab lists the values)",
                        digits=0 if ind.kind == "persons" else 1)
    if spec:
        spec.pop("title")  # the page's heading says it (an image gets it back, with its source)
    return spec


def table(st: dict, lines: list[dict]) -> dict:
    """Years down, areas across."""
    years = sorted({r["year"] for s in lines for r in s["rows"]})
    by = {(s["code"], r["year"]): r for s in lines for r in s["rows"]}
    return {"years": years, "rows": [{"year": y, "cells": [by.get((s["code"], y)) for s in lines],
                                      "incomplete": any((by.get((s["code"], y)) or {}).get("incomplete")
                                                        for s in lines)} for y in years]}


def drawn(reader: Reader, lines: list[dict]) -> list[dict]:
    out: dict[int, dict] = {}
    for s in lines:
        for d in s["drawn"]:
            out.setdefault(d["release_id"], {**d, "n": 0})["n"] += d["n"]
    return list(out.values())


def page(reader: Reader, st: dict) -> dict:
    lines = series(reader, st)
    out = {"lines": lines, "spec": line_spec(st, lines), "table": table(st, lines), "drawn": drawn(reader, lines),
           "about": explain.indicator(st["indicator"].id), "map": None}
    if st["tab"] == "map" and st["year"] is not None:
        m = home.map_page(reader, st["indicator"].id, str(st["year"]), every_indicator=True)
        out["map"] = m
        out["map_spec"] = home.map_spec(m) if m["rows"] else None
    return out


def csv_text(reader: Reader, st: dict) -> str:
    """The chart's numbers, one row per area and year, with unit, edition and releases (what the chart shows)."""
    ind, lines = st["indicator"], series(reader, st)
    sink = io.StringIO()
    w = csv.writer(sink, lineterminator="\n")
    w.writerow(["indicator", "area", "area_name", "year", "value", "unit", "edition", "release_ids", "incomplete_year"])
    for s in lines:
        for r in s["rows"]:
            releases = sorted({rid for d in s["drawn"] for rid in [d["release_id"]]})
            w.writerow([ind.id, s["code"], s["name"], r["year"], repr(r["num"].value), ind.unit, s["edition"],
                        " ".join(map(str, releases)), "yes" if r["incomplete"] else ""])
    return sink.getvalue()


def metadata(reader: Reader, st: dict, base_url: str) -> dict:
    """What the chart shows and where every number comes from (releases with licence and publication date)."""
    ind, lines = st["indicator"], series(reader, st)
    table_ = reader.releases().set_index("release_id")
    releases = [{"release_id": d["release_id"], "source": d["source"], "title": d["title"], "edition": d["edition"],
                 "published": str(table_.at[d["release_id"], "published"])[:10],
                 "licence": table_.at[d["release_id"], "licence"], "values": d["n"]} for d in drawn(reader, lines)]
    about = explain.indicator(ind.id)
    return {"indicator": {"id": ind.id, "label": ind.label, "unit": ind.unit, "dataflows": list(ind.expr.flows()),
                          **about},
            "areas": [{"code": s["code"], "name": s["name"], "edition": s["edition"], "years": len(s["rows"])}
                      for s in lines],
            "from": st["from"], "to": st["to"], "releases": releases,
            "chart": f"{base_url}chart?{query(st)}", "data": f"{base_url}chart.csv?{query(st)}",
            "cite": f"imdx, {ind.label}, from " + "; ".join(f"{r['title'] or r['source']} ({r['edition']})"
                                                          for r in releases)}


def image(reader: Reader, st: dict, kind: str) -> bytes:
    """The chart tab's line chart (or the map tab's map) as SVG or PNG, drawn on the server by vl-convert
    (the same Vega-Lite specification the page draws)."""
    try:
        import vl_convert
    except ImportError as err:  # pragma: no cover - a dependency of imdx
        raise ChartError("chart images need the vl-convert-python package: pip install vl-convert-python") from err
    p = page(reader, st)
    spec = p.get("map_spec") if st["tab"] == "map" else p["spec"]
    if spec is None:
        raise ChartError("nothing to draw: no values for these countries and years")
    spec = json.loads(json.dumps(spec))
    spec["width"], spec["autosize"] = 900, {"type": "pad"}
    drawn_ = p["map"]["drawn"] if st["tab"] == "map" else p["drawn"]
    if st["tab"] == "map":
        spec["height"] = 460
        spec["data"] = {"values": json.loads(VENDOR_MAP.read_text("utf-8")),
                        "format": {"type": "topojson", "feature": "countries"}}
        spec["layer"][1]["encoding"]["color"]["legend"] = {"orient": "bottom", "direction": "horizontal",
                                                           "title": st["indicator"].unit}
    else:
        spec["height"] = 360
    sources = [f"{d['title'] or d['source']}, edition {d['edition']}" for d in drawn_]
    what = f"{st['from']}–{st['to']}" if st["tab"] != "map" else str(st["year"])
    spec["title"] = {"text": f"{st['indicator'].label}, {what}", "anchor": "start", "subtitleFontSize": 10,
                     "limit": 880,
                     "subtitle": [f"Source: {x}" for x in sources] + ["Made with imdx"]}
    if kind == "svg":
        return vl_convert.vegalite_to_svg(spec, allowed_base_urls=[]).encode("utf-8")
    return vl_convert.vegalite_to_png(spec, scale=2, allowed_base_urls=[])


def value_text(num) -> str:
    return "–" if num is None or num.missing else fmt(num.value, num.kind)
