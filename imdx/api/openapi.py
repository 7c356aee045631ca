"""Parameter and response descriptions for the OpenAPI document.

The routes read their query parameters themselves (to give every error the envelope and a message
that says what to change), so the parameters are declared here, one list per route, with the bounds the
routes enforce (:class:`~imdx.api.limits.Limits`): ``tests/api/test_openapi.py`` checks that each documented
parameter is accepted, and the fuzz suite (``tests/api/test_fuzz.py``, schemathesis) generates requests from
these schemas, valid and invalid, and checks that none answers 5xx.
"""

from __future__ import annotations

from typing import Any

from imdx.api.limits import Limits
from imdx.api.params import DEFAULT_PAGE_SIZE
from imdx.model.dataflows import Dataflow

#: the text of a search or a name: at most this many characters
TEXT_CHARS = 200
YEAR_PATTERN = r"^[0-9]{1,4}(:[0-9]{1,4})?$"

ENVELOPE: dict[str, Any] = {
    "type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["status", "type", "message", "parameter"],
        "properties": {"status": {"type": "integer"}, "type": {"type": "string"}, "message": {"type": "string"},
                       "parameter": {"type": ["string", "null"]}}}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route may give, each the one envelope (400 and 503 always: a bad parameter, and a
    server too busy to take the request now)."""
    words = {400: "A bad parameter", 401: "Not signed in", 403: "Not allowed", 404: "Nothing there",
             406: "Not available in that format", 409: "A version conflict", 413: "Too large an answer or body",
             414: "Too long a URL", 422: "Not accepted", 501: "Not implemented",
             503: "Busy: retry after the Retry-After seconds"}
    return {status: {"description": f"{words.get(status, 'An error')} (the error envelope)",
                     "content": {"application/json": {"schema": ENVELOPE}}}
            for status in sorted({400, 414, 503, *statuses})}


def linked(description: str, **links: tuple[str, dict[str, str]]) -> dict[int | str, dict[str, Any]]:
    """A 200 answer whose values lead to other operations (OpenAPI links: name -> (operationId, parameters as
    runtime expressions, e.g. ``{"dataflow": "$response.body#/dataflows/0/id"}``)); clients and the stateful
    fuzz tests follow them."""
    return {200: {"description": description, "links": {
        name: {"operationId": operation, "parameters": parameters} for name, (operation, parameters) in links.items()}}}


def query_param(name: str, description: str, schema: dict | None = None, required: bool = False,
                example=None) -> dict:
    out = {"name": name, "in": "query", "required": required, "description": description,
           "schema": schema or {"type": "string", "maxLength": TEXT_CHARS}}
    if example is not None:
        out["example"] = example
    return out


def text(max_length: int = TEXT_CHARS, **more) -> dict:
    return {"type": "string", "maxLength": max_length, **more}


def integer(low: int, high: int, default: int | None = None) -> dict:
    out: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        out["default"] = default
    return out


def _list(description: str, limits: Limits, items: dict | None = None) -> dict:
    return {"type": "array", "items": items or text(), "maxItems": limits.max_codes, "description": description}


def dimension_parameters(flow: Dataflow, limits: Limits) -> list[dict]:
    out = []
    for dim in flow.dimensions:
        items: dict[str, Any] = text()
        if dim.is_area:
            description = (f"{dim.description}: ISO3 code, M49 code or name (any source's spelling; search with "
                           "/api/v1/areas?q=), or `total`. Several: repeat the parameter or separate with commas; "
                           f"at most {limits.max_codes}.")
        else:
            codes = dim.codes()
            shown = ", ".join(f"{c} ({label})" for c, label in codes.items()) if codes else "codes as published"
            description = (f"{dim.description}: {shown}; `total` means _T. Several: repeat or separate with commas; "
                           f"at most {limits.max_codes}.")
            if codes:
                items = {"type": "string", "enum": [*codes, "total"]}
        out.append({"name": dim.name, "in": "query", "required": False, "description": description,
                    "schema": _list(description, limits, items), "style": "form", "explode": True})
    year = f"Year: 2020, a period 2010:2020 (first year first), or a list 2015,2020; at most {limits.max_codes}."
    out.append({"name": "year", "in": "query", "required": False, "description": year,
                "schema": _list(year, limits, {"type": "string", "pattern": YEAR_PATTERN}), "style": "form",
                "explode": True})
    return out


def filters_object() -> dict:
    return {"name": "filters", "in": "query", "required": False, "style": "form", "explode": True,
            "description": "The dataflow's dimensions as parameters (e.g. destination=DEU&year=2020); see the "
                           "dataflow's own route above, or /api/v1/dataflows/{id}, for its dimensions.",
            "schema": {"type": "object", "additionalProperties": text(), "maxProperties": 8}}


def format_param(formats: tuple[str, ...] = ("json", "csv", "parquet")) -> dict:
    return query_param("format", f"Response format: {', '.join(formats)}.",
                       {"type": "string", "enum": list(formats), "default": formats[0]})


def paging_parameters(limits: Limits, formats: tuple[str, ...] = ("json", "csv", "parquet")) -> list[dict]:
    largest = max(limits.page_size_max(f) for f in formats)
    sizes = "; ".join(f"{f}: default {min(DEFAULT_PAGE_SIZE[f], limits.page_size_max(f)):,}, at most "
                      f"{limits.page_size_max(f):,}" for f in formats)
    return [query_param("page", f"Page number, from 1 (at most {limits.max_page:,}). A page past the last is a 404 "
                        "`page-out-of-range` error.", integer(1, limits.max_page, 1)),
            query_param("page_size", f"Rows per page ({sizes}); more is a 400 `page-size-too-large`.",
                        integer(1, largest))]


def common_parameters(limits: Limits, editions: list[str] | None = None,
                      sources: list[str] | None = None) -> list[dict]:
    """``edition``, ``as_of``, ``source``, ``format`` and paging; ``editions`` and ``sources``: the values the
    store holds (listed as the parameters' enum), when the route serves one dataflow."""
    return [query_param("edition", "An edition (or vintage) label, as listed by /api/v1/dataflows/{id}; "
                        "default: for each observation, the latest published value.",
                        {"type": "string", "enum": editions} if editions else None),
            query_param("as_of", "The data as published on this date (YYYY-MM-DD): only releases published "
                        "on or before it count.", {"type": "string", "format": "date"}),
            query_param("source", "Only observations from this source (e.g. undesa_ims, wdi).",
                        {"type": "string", "enum": sources} if sources else None),
            format_param()] + paging_parameters(limits)
