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

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from imdx.errors import QueryError
from imdx.query import _values, resolve_filters
from imdx.store.base import Store

CHANGES = ("changed", "appeared", "vanished")


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
        raise QueryError(f"is not an edition of {dataflow}; its editions are: {known}", kind="unknown-edition",
                         parameter=which, value=edition)


def diff(store: Store, dataflow: str, from_edition: str, to_edition: str, *, source: str | None = None,
         **filters) -> pd.DataFrame:
    """Observations that changed, appeared or vanished from ``from_edition`` to ``to_edition``.

    Columns: the dimensions (with ``<area>_name`` for area dimensions), ``source`` when several
    sources share the editions, ``unit``, ``value_from``, ``value_to``, ``absolute_change``,
    ``relative_change`` and ``change`` (one of :data:`CHANGES`); sorted by the dimensions.
    """
    flow = store.dataflow(dataflow)
    present = store.editions(dataflow)
    if source is not None:
        if source not in set(present["source"]):
            raise QueryError(f"has no releases of {dataflow}; sources with releases of it: "
                             f"{', '.join(dict.fromkeys(present['source'])) or 'none'}", kind="unknown-source",
                             parameter="source", value=source)
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

    old, new = old.to_pandas(), new.to_pandas()
    both = old[key + names + ["unit", "value", "release_id"]].merge(
        new[key + names + ["unit", "value", "release_id"]], on=key, how="outer", suffixes=("_from", "_to"),
        indicator=True)  # pandas matches missing keys with each other, as IS NOT DISTINCT FROM does
    a, b = both["value_from"].to_numpy(dtype=float), both["value_to"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        close = np.abs(b - a) <= 1e-12 * np.maximum(np.abs(a), np.abs(b))
        relative = (b - a) / np.where(a == 0, np.nan, np.abs(a))
    same = (both["_merge"] == "both").to_numpy() & ((a == b) | (np.isnan(a) & np.isnan(b)) | close)
    out = pd.DataFrame({c: both[c] for c in key})
    for c in names + ["unit"]:
        out[c] = both[f"{c}_to"].where(both[f"{c}_to"].notna(), both[f"{c}_from"])
    out["value_from"], out["value_to"] = a, b
    out["absolute_change"], out["relative_change"] = b - a, relative
    out["change"] = np.select([both["_merge"] == "right_only", both["_merge"] == "left_only"],
                              ["appeared", "vanished"], "changed")
    out["release_from"] = both["release_id_from"].astype("Int64")
    out["release_to"] = both["release_id_to"].astype("Int64")
    return out[~same].sort_values(key, kind="stable", ignore_index=True)


def summary(changes: pd.DataFrame) -> dict[str, int]:
    counts = changes["change"].value_counts()
    return {c: int(counts.get(c, 0)) for c in CHANGES}
