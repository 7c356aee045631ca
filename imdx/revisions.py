"""Revisions: what changed in a dataflow between two editions (or vintages) of its releases.

:func:`diff` compares the observations of edition ``from_edition`` with those of ``to_edition``, key
by key (the dataflow's dimensions; and the source, when an edition label is shared by several
sources). A key in both with a different value is ``changed`` (with the absolute change
``value_to - value_from`` and the relative change ``(value_to - value_from) / |value_from|``); a
key only in the newer one ``appeared``; a key only in the older one ``vanished``. Unchanged keys
are left out. To see data *as it was published on a date*, query with ``as_of=`` instead
(:func:`imdx.query.query`).
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd
import pyarrow.compute as pc

from imdx.errors import QueryError
from imdx.query import _values, resolve_filters
from imdx.store.base import Store

CHANGES = ("changed", "appeared", "vanished")
_FLOW_COUNT = re.compile(r"([A-Za-z0-9_]+) \((\d+)\)")


def editions(store: Store, dataflow: str | None = None) -> pd.DataFrame:
    """One row per (release, dataflow) stored: dataflow, source, key, edition, published, release_id, n_obs."""
    rows = []
    for r in store.releases().itertuples(index=False):
        if not isinstance(r.dataflows, str):
            continue
        for flow, n in _FLOW_COUNT.findall(r.dataflows):
            if dataflow is None or flow == dataflow:
                rows.append((flow, r.source, r.key, r.edition, pd.Timestamp(r.published).date(), r.release_id,
                             int(n)))
    cols = ["dataflow", "source", "key", "edition", "published", "release_id", "n_obs"]
    return pd.DataFrame(rows, columns=cols).sort_values(["dataflow", "source", "published", "release_id"],
                                                         ignore_index=True)


def resolve(store: Store, dataflow: str, filters: dict) -> dict[str, list]:
    """:func:`imdx.query.resolve_filters`, and ``total`` (or ``_T``) accepted in area dimensions too,
    where it means the total over that dimension (e.g. all origins), stored as ``_T``."""
    flow = store.dataflow(dataflow)
    totals, rest = {}, {}
    for dim, raw in filters.items():
        if raw is None:
            continue
        if dim != "year" and flow.dimension(dim).is_area:
            values = _values(raw)
            if any(v.lower() in ("total", "_t") for v in values):
                totals[dim] = ["_T"]
                values = [v for v in values if v.lower() not in ("total", "_t")]
                if not values:
                    continue
            raw = values
        rest[dim] = raw
    resolved = resolve_filters(store, dataflow, rest)
    for dim, codes in totals.items():
        resolved[dim] = codes + resolved.get(dim, [])
    return resolved


def _check_edition(present: pd.DataFrame, dataflow: str, edition: str, which: str) -> None:
    if edition not in set(present["edition"]):
        known = ", ".join(dict.fromkeys(present["edition"])) or "none (nothing is loaded)"
        raise QueryError(f"--{which} {edition!r} is not an edition of {dataflow}; its editions are: {known}")


def diff(store: Store, dataflow: str, from_edition: str, to_edition: str, *, source: str | None = None,
         **filters) -> pd.DataFrame:
    """Observations that changed, appeared or vanished from ``from_edition`` to ``to_edition``.

    Columns: the dimensions (with ``<area>_name`` for area dimensions), ``source`` when several
    sources share the editions, ``unit``, ``value_from``, ``value_to``, ``absolute_change``,
    ``relative_change`` and ``change`` (one of :data:`CHANGES`); sorted by the dimensions.
    """
    flow = store.dataflow(dataflow)
    present = editions(store, dataflow)
    if source is not None:
        if source not in set(present["source"]):
            raise QueryError(f"--source {source!r} has no releases of {dataflow}; sources with releases of it: "
                             f"{', '.join(dict.fromkeys(present['source'])) or 'none'}")
        present = present[present["source"] == source]
    _check_edition(present, dataflow, from_edition, "from")
    _check_edition(present, dataflow, to_edition, "to")
    codes = resolve(store, dataflow, filters)
    old = store.select(dataflow, codes, edition=from_edition, source=source)
    new = store.select(dataflow, codes, edition=to_edition, source=source)
    dims = flow.dimension_names
    names = [f"{d.name}_name" for d in flow.dimensions if d.is_area]
    several = len(pc.unique(old["source"])) > 1 or len(pc.unique(new["source"])) > 1
    key = dims + (["source"] if several else [])

    def q(column: str) -> str:  # a quoted column name (the dataflow's own)
        return '"' + column.replace('"', '""') + '"'

    on = " AND ".join(f"o.{q(c)} IS NOT DISTINCT FROM n.{q(c)}" for c in key)
    sql = f"""
        SELECT {', '.join(f'coalesce(n.{q(c)}, o.{q(c)}) AS {q(c)}' for c in key + names + ['unit'])},
               o.value AS value_from, n.value AS value_to,
               n.value - o.value AS absolute_change,
               (n.value - o.value) / nullif(abs(o.value), 0) AS relative_change,
               CASE WHEN o.release_id IS NULL THEN 'appeared' WHEN n.release_id IS NULL THEN 'vanished'
                    ELSE 'changed' END AS change,
               o.release_id AS release_from, n.release_id AS release_to
        FROM old o FULL OUTER JOIN new n ON {on}
        WHERE o.release_id IS NULL OR n.release_id IS NULL
           OR (o.value IS DISTINCT FROM n.value
               AND NOT (isnan(o.value) AND isnan(n.value))
               AND NOT coalesce(abs(n.value - o.value) <= 1e-12 * greatest(abs(o.value), abs(n.value)), FALSE))
        ORDER BY {', '.join(q(c) for c in key)}"""
    con = duckdb.connect()
    try:
        con.register("old", old)
        con.register("new", new)
        return con.execute(sql).df()
    finally:
        con.close()


def summary(changes: pd.DataFrame) -> dict[str, int]:
    counts = changes["change"].value_counts()
    return {c: int(counts.get(c, 0)) for c in CHANGES}
