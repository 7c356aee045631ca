"""The data explorer: a dataflow and filters from the URL, a paged table, a chart, downloads and the
equivalent API request and Python call."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd

from imdx import exports
from imdx.errors import ImdxError
from imdx.portal import charts
from imdx.portal.data import Reader
from imdx.revisions import resolve as resolve_filters

# filters are resolved as the API resolves them (imdx.revisions.resolve: `total` or `_T` in area dimensions too)
PAGE_SIZE = 50
DEFAULT = ("migrant_stock", {"destination": "DEU", "sex": "_T", "age": "_T", "year": "2020"})
CONTROL = ("edition",)


def state_from(reader: Reader, params) -> dict:
    """The explorer's state (dataflow, filters, edition, page) from query parameters."""
    flow_id = params.get("dataflow") or DEFAULT[0]
    if flow_id not in reader.servable_ids():
        return {"flow": flow_id, "filters": {}, "edition": None, "page": 1,
                "error": f"unknown dataflow {flow_id!r}: pick one of the list"}
    flow = reader.flow(flow_id)
    filters = {d: params.get(d).strip() for d in flow.dimension_names if (params.get(d) or "").strip()}
    if "dataflow" not in params and not filters:
        filters = dict(DEFAULT[1])
    page = params.get("page") or "1"
    page = int(page) if page.isascii() and page.isdigit() and 0 < len(page) <= 7 and int(page) > 0 else 1
    edition = (params.get("edition") or "").strip() or None
    return {"flow": flow_id, "filters": filters, "edition": edition, "page": page, "error": None}


def python_call(flow: str, filters: dict, edition: str | None) -> str:
    args = [repr(flow)] + [f"{k}={v!r}" for k, v in filters.items()] + ([f"edition={edition!r}"] if edition else [])
    return f'import imdx\ndb = imdx.open("imdx.duckdb")\ndf = db.query({", ".join(args)})'


def sdmx_url(reader: Reader, flow_id: str, resolved: dict) -> str:
    flow = reader.flow(flow_id)
    key = ".".join("+".join(resolved.get(d.name, [])) for d in flow.dimensions)
    params = {"format": "csv"}
    years = resolved.get("year")
    if years:
        params["startPeriod"], params["endPeriod"] = str(min(years)), str(max(years))
    return f"/sdmx/data/{flow_id}/{key or 'all'}?{urlencode(params)}"


def run(reader: Reader, state: dict) -> dict:
    """The page's table (one page), total, chart, downloads; an ``error`` that says what to change."""
    out = {"rows": [], "columns": [], "total": 0, "pages": 1, "chart": None, "downloads": {}}
    if state.get("error"):
        return out
    flow_id, filters, edition = state["flow"], state["filters"], state["edition"]
    try:
        resolved = resolve_filters(reader.store, flow_id, filters)
        table = reader.store.select(flow_id, resolved, edition=edition)
    except ImdxError as err:
        state["error"] = str(err)
        return out
    total = table.num_rows
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(state["page"], pages)
    state["page"] = page
    frame = table.slice((page - 1) * PAGE_SIZE, PAGE_SIZE).to_pandas()
    flow = reader.flow(flow_id)
    show = [c for c in frame.columns if c not in ("cell_file", "cell_sheet", "cell_row", "cell_column", "unit",
                                                   "release_id")]
    api_params = {**filters, **({"edition": edition} if edition else {})}
    out.update({
        "columns": show, "rows": frame[show].to_dict("records"), "total": total, "pages": pages, "unit": flow.unit,
        "api": f"/api/v1/data/{flow_id}?{urlencode(api_params)}",
        "python": python_call(flow_id, filters, edition),
        "downloads": {"CSV": f"/api/v1/data/{flow_id}?{urlencode({**api_params, 'format': 'csv'})}",
                      "Excel": f"/explore.xlsx?{urlencode({'dataflow': flow_id, **api_params})}",
                      "Parquet": f"/api/v1/data/{flow_id}?{urlencode({**api_params, 'format': 'parquet'})}",
                      "SDMX-CSV": sdmx_url(reader, flow_id, resolved)},
        "chart": chart(table.to_pandas() if total <= 20000 else frame, flow),
    })
    return out


def chart(frame: pd.DataFrame, flow) -> dict | None:
    if frame.empty:
        return None
    dims = [d for d in flow.dimension_names if d != "year" and frame[d].nunique() > 1]
    series = None
    for d in dims:
        part = frame[d].astype("object").astype(str)
        if f"{d}_name" in frame.columns:
            part = frame[f"{d}_name"].astype("object").where(frame[f"{d}_name"].notna(), part).astype(str)
        series = part if series is None else series + " · " + part
    frame = frame.assign(series=series if series is not None else flow.name)
    if frame["year"].nunique() > 1 and frame["series"].nunique() <= 8:
        rows = {}
        for r in frame.itertuples(index=False):
            rows.setdefault(int(r.year), {"year": int(r.year)})[r.series] = _Val(r.value)
        return charts.line(flow.name, list(rows.values()), {s: s for s in frame["series"].unique()},
                           unit=flow.unit, description=f"{flow.name} by year (the table lists the values)")
    top = frame[frame["value"].notna()].sort_values("value", ascending=False).head(20)
    return charts.bars(flow.name, [{"name": f"{s} ({int(y)})", "value": _Val(v)} for s, y, v in
                                   zip(top["series"], top["year"], top["value"])],
                       unit=flow.unit, description=f"The 20 largest values of {flow.name} (the table lists them all)")


class _Val:
    def __init__(self, value):
        self.value = None if pd.isna(value) else float(value)

    @property
    def missing(self):
        return self.value is None


def excel_bytes(reader: Reader, state: dict, max_rows: int = 200_000) -> tuple[bytes, str]:
    """The whole result of the explorer's query as an .xlsx workbook (data sheet + about sheet)."""
    resolved = resolve_filters(reader.store, state["flow"], state["filters"])
    table = reader.store.select(state["flow"], resolved, edition=state["edition"])
    releases = reader.store.releases()
    if table.num_rows > max_rows:
        raise ImdxError(f"{table.num_rows:,} rows is more than an Excel download may hold ({max_rows:,}); narrow the "
                        "filters, or download CSV or Parquet")
    frame = table.to_pandas()
    api = f"/api/v1/data/{state['flow']}?{urlencode(state['filters'])}"
    about = pd.DataFrame({"field": ["dataflow", "filters", "edition", "rows", "API"],
                          "value": [state["flow"], urlencode(state["filters"]), state["edition"] or "latest",
                                    len(frame), api]})
    licence, citation = exports.licence_and_citation(releases, frame["release_id"].unique())
    body = exports.excel_bytes({"data": frame, "about": about}, title=f"imdx: {state['flow']}", licence=licence,
                               citation=citation, source_url=api)
    return body, f"{state['flow']}.xlsx"


def value_text(value) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"
