"""Queries: from what a person types (``--destination Germany --year 2015:2020``) to a tidy table.

Area filters accept a code, an ISO3 or M49 code, or a name in any source's spelling; other
dimensions accept their codes (or ``total`` for ``_T``); ``year`` accepts ``2020``,
``2010:2020`` or a comma-separated list. Anything unknown is a :class:`QueryError` that says
what is allowed.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from imdx.errors import QueryError
from imdx.store.base import Store

AREA_SYSTEMS = ("code", "iso3", "m49", "undesa", "iso2", "name")
FORMATS = ("pandas", "arrow", "polars")


def _values(raw) -> list[str]:
    items = raw if isinstance(raw, (list, tuple, set)) else [raw]
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in str(item).split(",") if p.strip())
    return out


def _years(raw) -> list[int]:
    years: list[int] = []
    for part in _values(raw):
        try:
            if ":" in part:
                lo, hi = part.split(":", 1)
                years.extend(range(int(lo), int(hi) + 1))
            else:
                years.append(int(part))
        except ValueError:
            raise QueryError("is not a year: use 2020, 2010:2020 or 2015,2020", kind="malformed-value",
                             parameter="year", value=part) from None
    return years


def resolve_filters(store: Store, dataflow: str, filters: dict) -> dict[str, list]:
    flow = store.dataflow(dataflow)
    areas = store.areas()
    resolved: dict[str, list] = {}
    for dim, raw in filters.items():
        if raw is None:
            continue
        if dim == "year":
            resolved["year"] = _years(raw)
            continue
        dimension = flow.dimension(dim)
        codes = []
        for value in _values(raw):
            if dimension.is_area:
                match = areas.resolve(value, AREA_SYSTEMS) if areas is not None else None
                if match is None or match.code is None:
                    hint = None
                    if areas is not None:
                        near = areas.search(value[:4], limit=5)
                        if len(near):
                            hint = "Did you mean " + ", ".join(f"{c} ({n})" for c, n in
                                                               zip(near["code"], near["name"])) + "?"
                    raise QueryError("is not a known country, area or region: give an ISO3 code, an M49 code or "
                                     "a name", kind="unknown-code", parameter=dim, value=value, search=value,
                                     hint=hint)
                codes.append(match.code)
            else:
                allowed = dimension.codes()
                if allowed is None:
                    allowed = {c: c for c in store.distinct(dataflow, dim)}
                code = "_T" if value.lower() in ("total", "_t") and value not in allowed else value
                if code not in allowed:
                    raise QueryError(f"is not a code of {dim} in {dataflow}", kind="unknown-code", parameter=dim,
                                     value=value, allowed=list(allowed))
                codes.append(code)
        resolved[dim] = codes
    return resolved


def query(store: Store, dataflow: str, *, edition: str | None = None, source: str | None = None,
          as_of: date | str | None = None, output: str = "pandas", **filters):
    """Observations of ``dataflow`` as a tidy table: one row per observation, codes and names of each
    area, ``value`` and ``unit``, attributes and provenance (source, edition, release, source cell)."""
    if output not in FORMATS:
        raise QueryError("is not an output format", kind="unsupported", parameter="output", value=output,
                         allowed=FORMATS)
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of)
        except ValueError:
            raise QueryError("is not a date: use YYYY-MM-DD", kind="malformed-value", parameter="as_of",
                             value=as_of) from None
    table: pa.Table = store.select(dataflow, resolve_filters(store, dataflow, filters), edition=edition,
                                   source=source, as_of=as_of)
    if output == "arrow":
        return table
    if output == "polars":
        try:
            import polars as pl
        except ImportError:
            raise QueryError("needs polars, which is not installed: pip install 'imdx[polars]'", kind="unsupported",
                             parameter="output", value=output) from None
        return pl.from_arrow(table)
    return table.to_pandas()



