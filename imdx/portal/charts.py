"""Vega-Lite specifications of the portal's charts (drawn in the browser by vega-embed, from files
served by imdx). Each chart sits beside a server-side table with the same numbers, which is its
text alternative."""

from __future__ import annotations

import json

from markupsafe import Markup

WIDTH = "container"
MAP_URL = "/static/vendor/countries-110m.json"


PALETTE = ["#1f4e79", "#c0504d", "#2e7d32", "#7b3f98", "#8a5a00", "#00695c", "#ad1457", "#455a64", "#5d4037",
           "#283593", "#558b2f", "#6a1b9a"]


def _base(title: str, description: str) -> dict:
    return {"$schema": "https://vega.github.io/schema/vega-lite/v6.json", "title": title,
            "description": description, "width": WIDTH, "height": 220, "autosize": {"type": "fit-x"},
            "config": {"font": "system-ui, sans-serif", "axis": {"labelColor": "#222", "titleColor": "#222"},
                       "legend": {"labelColor": "#222", "titleColor": "#222", "orient": "bottom", "columns": 2,
                                  "labelLimit": 150},
                       "title": {"anchor": "start", "fontSize": 13}, "view": {"stroke": None}}}


def line(title: str, rows: list[dict], series: dict[str, str], *, unit: str, description: str,
         scale: float = 1.0) -> dict | None:
    """A line chart of ``rows`` (each with ``year`` and one Num per key of ``series``: key → label)."""
    values = []
    for row in rows:
        for key, label in series.items():
            num = row.get(key)
            if num is not None and not num.missing:
                values.append({"year": row["year"], "series": label, "value": num.value / scale})
    return lines(title, values, unit=unit, description=description)


def lines(title: str, values: list[dict], *, unit: str, description: str, digits: int = 0) -> dict | None:
    """A line chart of ``values`` (``year``, ``series``, ``value``); None when it would say nothing: fewer than
    two years, or every value 0 (an axis of zeros reads "0.000000")."""
    if len({v["year"] for v in values}) < 2 or not any(v["value"] for v in values):
        return None
    fmt = f",.{digits}f"
    spec = _base(title, description)
    spec.update({"data": {"values": values}, "mark": {"type": "line", "point": True},
                 "encoding": {"x": {"field": "year", "type": "quantitative", "axis": {"format": "d"},
                                    "title": "Year", "scale": {"nice": False}},
                              "y": {"field": "value", "type": "quantitative", "title": unit,
                                    "axis": {"format": "~s" if not digits else ",~r"}},
                              "color": {"field": "series", "type": "nominal", "title": None,
                                        "scale": {"range": PALETTE}},
                              "tooltip": [{"field": "series", "title": "Series"},
                                          {"field": "year", "title": "Year"},
                                          {"field": "value", "title": unit, "format": fmt}]}})
    return spec


def bars(title: str, items: list[dict], *, unit: str, description: str, href: str | None = None) -> dict | None:
    """A horizontal bar chart of ``items`` (``name``, ``value`` Num, optional ``href``)."""
    values = [{"name": i["name"], "value": i["value"].value, **({"href": i["href"]} if i.get("href") else {})}
              for i in items if not i["value"].missing]
    if not any(v["value"] for v in values):
        return None
    spec = _base(title, description)
    spec["height"] = {"step": 18}
    encoding = {"y": {"field": "name", "type": "nominal", "sort": "-x", "title": None},
                "x": {"field": "value", "type": "quantitative", "title": unit},
                "color": {"value": "#1f4e79"},
                "tooltip": [{"field": "name", "title": "Area"}, {"field": "value", "format": ",.0f", "title": unit}]}
    if href:
        encoding["href"] = {"field": "href"}
    spec.update({"data": {"values": values}, "mark": {"type": "bar", "cursor": "pointer" if href else "default"},
                 "encoding": encoding})
    return spec


def world_map(values: list[dict], *, title: str, unit: str, description: str, scale: dict) -> dict:
    """A choropleth of ``values`` (``id`` = zero-padded M49, ``name``, ``value``, ``href``) on world-atlas, coloured
    by ``scale`` (:func:`imdx.portal.home.colour_scale`); its legend is drawn in HTML below the map."""
    spec = _base(title, description)
    if scale["type"] == "threshold":
        color_scale = {"type": "threshold", "domain": scale["breaks"], "range": scale["colors"]}
    else:
        color_scale = {"type": "linear", "domain": [scale["min"], scale["max"]],
                       "range": [scale["colors"][0], scale["colors"][-1]]}
    spec.update({
        "height": "container", "autosize": {"type": "fit", "contains": "padding"}, "projection": {"type": "equalEarth"},
        "data": {"url": MAP_URL, "format": {"type": "topojson", "feature": "countries"}},
        "transform": [{"lookup": "id", "from": {"data": {"values": values}, "key": "id",
                                                "fields": ["name", "value", "href", "text"]}}],
        "layer": [
            {"mark": {"type": "geoshape", "fill": "#e6e6e6", "stroke": "#fff", "strokeWidth": 0.5, "aria": False}},
            {"transform": [{"filter": "isValid(datum.value)"}],
             "mark": {"type": "geoshape", "stroke": "#fff", "strokeWidth": 0.5, "cursor": "pointer"},
             "encoding": {"color": {"field": "value", "type": "quantitative", "title": unit, "scale": color_scale,
                                    "legend": None},
                          "href": {"field": "href"},
                          "description": {"field": "text"},
                          "tooltip": [{"field": "name", "title": "Country"},
                                      {"field": "value", "title": unit, "format": ",.1f"}]}}]})
    spec["title"] = None  # the page's heading says it; the map keeps all its room
    return spec


def embed(spec: dict | None, chart_id: str) -> Markup:
    """The spec as a JSON data block (not executed; read by portal.js)."""
    if spec is None:
        return Markup("")
    text = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    return Markup(f'<script type="application/json" id="spec-{chart_id}">{text}</script>')
