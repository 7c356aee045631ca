"""``/api/v1/census``: the census tabulations in the store (``foreign_born_population``), as tables.

* ``/api/v1/census``: every tabulated sample: its country and year, release and microdata file, the
  persons and records it holds and how many of them are foreign-born;
* ``/api/v1/census/{area}``: that country's tables (countries of birth by sex, age groups by sex,
  regions by place of birth, ...), each cell with its weighted count, unweighted base and whether it
  was suppressed; ``format=csv`` gives the same cells as rows.

The cells themselves are observations like any other: ``/api/v1/data/foreign_born_population``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from fastapi import FastAPI, Request
from starlette.responses import Response

from imdx.api import params
from imdx.api.encode import csv_bytes, json_bytes
from imdx.api.errors import ApiError
from imdx.api.openapi import format_param
from imdx.api.responses import Body, respond
from imdx.api.state import ApiState
from imdx.census.present import FLOW, tables_for

_TOTALS = {d: ["_T"] for d in ("region", "birthplace", "citizenship", "sex", "age", "year_of_arrival")}


def _has_flow(state: ApiState) -> bool:
    return FLOW in state.dataflow_ids and bool((state.editions["dataflow"] == FLOW).any())


def samples(state: ApiState, request: Request) -> Body:
    params.check_known(request, [], "/api/v1/census")
    if not _has_flow(state):
        return Body(json_bytes({"dataflow": FLOW, "samples": []}), params.MEDIA_TYPES["json"])
    store = state.store
    totals = store.select(FLOW, {**_TOTALS, "nativity": ["_T", "FOR"]}).to_pandas()
    releases = store.releases().set_index("release_id")
    out = []
    for (sample, area), part in totals.groupby(["sample", "area"], sort=True):
        value = {(r.nativity, r.measure): r.value for r in part.itertuples()}
        release_id = int(part["release_id"].iloc[0])
        rel = releases.loc[release_id]
        out.append({"sample": sample, "area": area, "area_name": part["area_name"].iloc[0],
                    "year": int(part["year"].iloc[0]), "release_id": release_id, "title": rel["title"],
                    "file": part["cell_file"].iloc[0], "persons": _num(value.get(("_T", "PERSONS"))),
                    "records": _count(value.get(("_T", "RECORDS"))),
                    "foreign_born_persons": _num(value.get(("FOR", "PERSONS"))),
                    "foreign_born_records": _count(value.get(("FOR", "RECORDS"))),
                    "tables": f"/api/v1/census/{area}"})
    return Body(json_bytes({"dataflow": FLOW, "samples": out}), params.MEDIA_TYPES["json"])


def _num(value):
    return None if value is None or pd.isna(value) else float(value)


def _count(value):
    return None if value is None or pd.isna(value) else int(value)


def _public(samples: list[dict]) -> list[dict]:
    """The tables without what only the portal needs (each cell's full key and whether it is stored)."""
    for s in samples:
        for t in s["tables"]:
            for r in t["rows"]:
                r["cells"] = [{k: v for k, v in c.items() if k not in ("key", "stored")} for c in r["cells"]]
    return samples


def area_tables(state: ApiState, request: Request, area: str) -> Body:
    params.check_known(request, ["format", "sample"], f"/api/v1/census/{area}")
    fmt = params.output_format(request, ("json", "csv"))
    store = state.store
    areas = store.areas()
    code = areas.resolve(area).code if areas is not None and len(area) <= 100 else None
    if areas is None or code is None:
        raise ApiError(404, "unknown-area", f"{area[:100]!r} is not a country or area imdx knows (use an ISO3 or "
                       "M49 code or a name; see /api/v1/areas?q=)", "area")
    frame = store.select(FLOW, {"area": [code]}).to_pandas() if _has_flow(state) else pd.DataFrame()
    sample = params.single(request, "sample")
    if sample is not None and len(frame):
        frame = frame[frame["sample"] == sample]
    found = _public(tables_for(frame)) if len(frame) else []
    if fmt == "csv":
        rows = [{"sample": s["sample"], "year": s["year"], "table": t["id"], "row": r["code"], "row_label": r["label"],
                 "column": c["column"], "persons": c["persons"], "records": c["records"], "suppressed": c["suppressed"]}
                for s in found for t in s["tables"] for r in t["rows"] for c in r["cells"]]
        table = pa.Table.from_pylist(rows) if rows else pa.table({"sample": pa.array([], pa.string())})
        return Body(csv_bytes(table), params.MEDIA_TYPES["csv"],
                    {"Content-Disposition": f'attachment; filename="census-{code}.csv"'})
    return Body(json_bytes({"area": code, "area_name": areas.name(code), "dataflow": FLOW, "samples": found}),
                params.MEDIA_TYPES["json"])


def register(app: FastAPI, state: ApiState) -> None:
    async def list_endpoint(request: Request) -> Response:
        return await respond(request, lambda: samples(state, request))

    async def area_endpoint(request: Request, area: str) -> Response:
        return await respond(request, lambda: area_tables(state, request, area))

    app.add_api_route("/api/v1/census", list_endpoint, methods=["GET"], tags=["census"], name="census_samples",
                      summary="Census and survey tabulations of the foreign-born: every tabulated sample",
                      response_class=Response)
    app.add_api_route("/api/v1/census/{area}", area_endpoint, methods=["GET"], tags=["census"],
                      name="census_tables", response_class=Response,
                      summary="A country's census tables: countries of birth, age, sex, regions (weighted, with "
                              "unweighted bases; suppressed cells marked)",
                      openapi_extra={"parameters": [format_param(("json", "csv"))]})
