"""Parameter descriptions for the OpenAPI document.

The routes read their query parameters themselves (to give every error the envelope and a message
that says what to change), so the parameters are declared here, one list per route, and
``tests/api/test_openapi.py`` checks that each documented parameter is accepted.
"""

from __future__ import annotations

from imdx.api.params import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from imdx.model.dataflows import Dataflow


def query_param(name: str, description: str, schema: dict | None = None, required: bool = False,
                example=None) -> dict:
    out = {"name": name, "in": "query", "required": required, "description": description,
           "schema": schema or {"type": "string"}}
    if example is not None:
        out["example"] = example
    return out


def _list(description: str) -> dict:
    return {"type": "array", "items": {"type": "string"}, "description": description}


def dimension_parameters(flow: Dataflow) -> list[dict]:
    out = []
    for dim in flow.dimensions:
        if dim.is_area:
            text = (f"{dim.description}: ISO3 code, M49 code or name (any source's spelling; search with "
                    "/api/v1/areas?q=). Several: repeat the parameter or separate with commas.")
        else:
            codes = dim.codes()
            shown = ", ".join(f"{c} ({label})" for c, label in codes.items()) if codes else "codes as published"
            text = f"{dim.description}: {shown}; `total` means _T. Several: repeat or separate with commas."
        out.append({"name": dim.name, "in": "query", "required": False, "description": text,
                    "schema": _list(text), "style": "form", "explode": True})
    year = "Year: 2020, a period 2010:2020, or a list 2015,2020."
    out.append({"name": "year", "in": "query", "required": False, "description": year,
                "schema": _list(year), "style": "form", "explode": True})
    return out


def filters_object() -> dict:
    return {"name": "filters", "in": "query", "required": False, "style": "form", "explode": True,
            "description": "The dataflow's dimensions as parameters (e.g. destination=DEU&year=2020); see the "
                           "dataflow's own route above, or /api/v1/dataflows/{id}, for its dimensions.",
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}}


def format_param(formats: tuple[str, ...] = ("json", "csv", "parquet")) -> dict:
    return query_param("format", f"Response format: {', '.join(formats)}.",
                       {"type": "string", "enum": list(formats), "default": "json"})


def paging_parameters() -> list[dict]:
    return [query_param("page", "Page number, from 1. A page past the last is a 404 `page-out-of-range` error.",
                        {"type": "integer", "minimum": 1, "default": 1}),
            query_param("page_size", f"Rows per page: default {DEFAULT_PAGE_SIZE['json']:,} for JSON and "
                        f"{DEFAULT_PAGE_SIZE['csv']:,} for CSV/Parquet; at most {MAX_PAGE_SIZE['json']:,} (JSON) "
                        f"or {MAX_PAGE_SIZE['csv']:,} (CSV, Parquet).",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE["csv"]})]


def common_parameters() -> list[dict]:
    return [query_param("edition", "An edition (or vintage) label, as listed by /api/v1/dataflows/{id}; "
                        "default: for each observation, the latest published value."),
            query_param("as_of", "The data as published on this date (YYYY-MM-DD): only releases published "
                        "on or before it count.", {"type": "string", "format": "date"}),
            query_param("source", "Only observations from this source (e.g. undesa_ims, wdi)."),
            format_param()] + paging_parameters()
