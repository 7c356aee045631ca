"""The portal's reads: a few targeted SQL queries over the store, with the store's own rule for which
value is current, and the numbers tagged with where they come from.

Every query here applies the rule of :meth:`imdx.store.duckdb_store.DuckDBStore.select`: for each
key (the dataflow's dimensions) and source, the value of the most recently published release that
holds it. Each number a page shows is a :class:`Num`, which carries the check that reproduces it
through :func:`imdx.query.query` (the dataflow, the source, the filters and, for sums, what is
summed), so that the tests can verify every figure against the store.

The store cannot change while it is served (it is opened read-only), so results are cached per
portal instance (:class:`Reader` keeps them in a bounded dict).
"""

from __future__ import annotations

import gc
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from imdx.model.dataflows import Dataflow
from imdx.store.base import Store
from imdx.store.duckdb_store import RANKED_RELEASES, coded_table
from imdx.store.labels import code_in, decoded

#: which source a page reads for each dataflow (the store may hold several for one dataflow)
PREFERRED_SOURCE = {"migrant_stock": "undesa_ims", "migrant_stock_share": "undesa_ims", "refugees": "unhcr",
                    "asylum_decisions": "unhcr", "remittances": "wdi", "gdp": "wdi", "fdi_inflows": "wdi",
                    "oda_received": "wdi", "population": "wpp", "bilateral_migration": "knomad",
                    "bilateral_remittances": "knomad"}
ESTIMATED_FLOWS = "estimated_flows"


@dataclass
class Num:
    """A number shown on a page, and how to get it again from the store.

    ``check`` is ``{"flow", "source", "filters", "agg"}`` where ``agg`` is ``one`` (exactly one
    observation), ``sum`` (the sum of the matching observations; ``countries_only`` names area
    dimensions restricted to countries), or ``ratio`` (``{"num": check, "den": check, "scale"}``).
    """

    value: float | None
    kind: str  # persons | percent | usd | count | ratio
    check: dict = field(default_factory=dict)
    note: str | None = None
    status: str | None = None

    @property
    def missing(self) -> bool:
        return self.value is None or pd.isna(self.value)

    def text(self) -> str:
        return fmt(self.value, self.kind)

    def check_json(self) -> str:
        return json.dumps(self.check, separators=(",", ":"), default=str)


def settle() -> None:
    """Move what is alive now (the indexes just built: many small objects that live as long as the
    server) out of the garbage collector's sight, so that its full passes stay short (otherwise a
    request now and then pays a few hundred milliseconds of collection)."""
    gc.collect()
    gc.freeze()


def warm(reader: Reader) -> None:
    """Build the indexes the country profiles read (a few seconds on the full store), e.g. at start-up."""
    from imdx.portal import pages, profile
    from imdx.portal.router import ENV

    for name in ENV.list_templates(extensions=["html"]):
        ENV.get_template(name)
    profile.country_profile(reader, "DEU")
    pages.headlines(reader)
    settle()


def fmt(value, kind: str) -> str:
    """The one formatter of numbers on every page (the tests use it too)."""
    if value is None or pd.isna(value):
        return "–"
    if kind == "percent":
        return f"{value:,.1f}"
    if kind == "usd":  # shown in US$ million
        return f"{value / 1e6:,.1f}"
    return f"{value:,.0f}"


class Reader:
    """Cached helper queries over one store (thread-safe: one cursor per query)."""

    def __init__(self, store: Store, max_items: int = 2048):
        self.store = store
        self.con = store.con
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items
        self._ids = None
        self._locks: dict[str, threading.Lock] = {}
        self._index: dict[str, dict] = {}

    # -- plumbing ------------------------------------------------------------------------------
    def cached(self, key, compute):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return value

    def sql(self, text: str, params: list | None = None) -> pd.DataFrame:
        cur = self.con.cursor()
        try:
            cur.execute("SET enable_progress_bar = false")
            table = cur.sql(text, params=params or None).to_arrow_table() if params else cur.sql(text).to_arrow_table()
        finally:
            cur.close()
        return table.to_pandas()

    def dataflow_ids(self) -> list[str]:
        if self._ids is None:
            self._ids = self.store.dataflow_ids()
        return self._ids

    def servable(self, flow_id: str) -> bool:
        """True when the store has a table for ``flow_id`` as this version of imdx defines it (a store
        loaded by an older imdx may lack one, or have it with other dimensions)."""
        def compute():
            if flow_id not in self.dataflow_ids():
                return False
            cols = set(self.sql("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                                [coded_table(flow_id)])["column_name"])
            return bool(cols) and set(self.flow(flow_id).dimension_names) <= cols
        return self.cached(("servable", flow_id), compute)

    def servable_ids(self) -> list[str]:
        return [f for f in self.dataflow_ids() if self.servable(f)]

    def has(self, flow_id: str) -> bool:
        """True when the store holds observations of ``flow_id`` (a known dataflow may have none yet)."""
        return self.cached(("has", flow_id), lambda: self.servable(flow_id) and bool(self.sql(
            "SELECT count(*) AS n FROM release_dataflow WHERE dataflow = ? AND n_obs > 0", [flow_id]).iloc[0, 0]))

    def flow(self, flow_id: str) -> Dataflow:
        return self.store.dataflow(flow_id)

    def current(self, flow_id: str, where: dict[str, object], *, source: str | None = None,
                extra: str = "", extra_params: list | None = None) -> pd.DataFrame:
        """Current observations of ``flow_id`` whose dimensions equal (or are in) ``where``."""
        conds, params = [], []
        for dim, value in where.items():
            self.flow(flow_id).dimension_names.index(dim)  # a dimension name, never user text
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if dim == "year":
                conds.append(f'o.year IN ({", ".join("?" for _ in values)})')
            else:
                conds.append(code_in(f'o."{dim}"', len(values)))
            params.extend(values)
        if extra:
            conds.append(extra)
            params.extend(extra_params or [])
        return self.sql(self.current_sql(flow_id, source=source, where=" AND ".join(conds) or "TRUE"), params)

    def current_sql(self, flow_id: str, *, source: str | None = None, where: str = "TRUE") -> str:
        """SQL of the current observations of ``flow_id``: for each key and source, the row of the most
        recently published release (the rule of ``DuckDBStore.select``), as a GROUP BY with ``arg_max_null``
        (several times faster than the equivalent window). Every column comes from that one row: a value the
        latest release publishes as missing stays missing (``max_by`` skips NULLs, and took an older
        edition's value under the latest edition's name and status). ``source=""`` means every source.

        ``where`` reads the coded table ``o``: compare text columns with ``code('…')``."""
        flow = self.flow(flow_id)
        dims = ", ".join(f'o."{d}"' for d in flow.dimension_names)
        source = source if source is not None else PREFERRED_SOURCE.get(flow_id)
        src = f"r.source = '{source}'" if source else "TRUE"  # a constant of this module, never user input
        picks = ", ".join(f"arg_max_null({c}, r.rank) AS {c.split('.')[-1]}" for c in
                          ("o.value", "o.obs_status", "o.note", "o.release_id", "r.edition"))
        return decoded(f"SELECT {dims}, r.source, {picks} FROM {coded_table(flow_id)} o JOIN {RANKED_RELEASES} r "
                       f"USING (release_id) WHERE {src} AND ({where}) GROUP BY {dims}, r.source",
                       flow.dimension_names[:-1] + ["obs_status", "note"])

    def grouped(self, name: str, text: str, by: str) -> dict[str, list[dict]]:
        """The rows of ``text`` (as dicts) split by the column ``by``, computed once: the portal's index
        of a whole dataflow, from which a page takes its country's rows without a query."""
        if name in self._index:
            return self._index[name]
        with self._build_lock(name):
            if name not in self._index:
                table = self.sql_arrow(text)
                index: dict[str, list[dict]] = {}
                for row in table.to_pylist():
                    index.setdefault(row[by], []).append(row)
                self._index[name] = index
        return self._index[name]

    def sql_arrow(self, text: str, params: list | None = None) -> pa.Table:
        cur = self.con.cursor()
        try:
            cur.execute("SET enable_progress_bar = false")
            return cur.sql(text, params=params or None).to_arrow_table() if params else cur.sql(text).to_arrow_table()
        finally:
            cur.close()

    def _build_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())

    # -- reference ---------------------------------------------------------------------------
    def area_table(self) -> pd.DataFrame:
        return self.cached(("areas",), lambda: self.sql("SELECT * FROM area ORDER BY name"))

    def area(self, code: str) -> dict | None:
        table = self.area_table()
        row = table[table["code"] == code]
        return None if row.empty else row.iloc[0].to_dict()

    def country_codes(self) -> set[str]:
        return self.cached(("countries",), lambda: set(
            self.area_table().query("kind == 'country'")["code"]))

    def names(self) -> dict[str, str]:
        return self.cached(("names",), lambda: dict(zip(self.area_table()["code"], self.area_table()["name"])))

    def releases(self) -> pd.DataFrame:
        return self.cached(("releases",), self.store.releases)

    def release_files(self) -> pd.DataFrame:
        return self.cached(("release_files",), lambda: self.sql(
            "SELECT * FROM release_file ORDER BY release_id, name"))

    def release_of(self, source: str | None, flow_id: str) -> dict | None:
        """The latest release of ``source`` holding ``flow_id`` (for 'source, edition' lines)."""
        def compute():
            rows = self.sql(f"SELECT r.* EXCLUDE (rank) FROM {RANKED_RELEASES} r JOIN release_dataflow d "
                            "USING (release_id) WHERE d.dataflow = ? AND (? IS NULL OR r.source = ?) "
                            "ORDER BY r.rank DESC LIMIT 1", [flow_id, source, source])
            return None if rows.empty else rows.iloc[0].to_dict()
        return self.cached(("release_of", source, flow_id), compute)

    def editions_of(self, flow_id: str) -> list[tuple[str, str]]:
        return self.cached(("editions", flow_id), lambda: [tuple(r) for r in self.sql(
            "SELECT DISTINCT r.source, r.edition FROM release r JOIN release_dataflow d USING (release_id) "
            "WHERE d.dataflow = ? ORDER BY 1, 2", [flow_id]).itertuples(index=False)])

    def years(self, flow_id: str) -> list[int]:
        return self.cached(("years", flow_id), lambda: [int(y) for y in self.sql(
            f"SELECT DISTINCT year FROM {coded_table(flow_id)} ORDER BY 1")["year"]])


def keyed(frame, cols: tuple[str, ...]) -> dict[tuple, dict]:
    """Rows of ``frame`` (a DataFrame or a list of dicts) by the values of ``cols`` (keys are unique)."""
    if frame is None or len(frame) == 0:
        return {}
    records = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else frame
    return {tuple(r[c] for c in cols): r for r in records}


def one(frame: pd.DataFrame, **eq) -> pd.Series | None:
    rows = frame
    for k, v in eq.items():
        rows = rows[rows[k] == v]
    return None if rows.empty else rows.iloc[0]


def num_one(row, kind: str, flow: str, source: str, filters: dict) -> Num:
    """A single observation (``row``: a Series or dict with value, note, obs_status; or None)."""
    check = {"flow": flow, "source": source, "filters": filters, "agg": "one"}
    if row is None:
        return Num(None, kind, check)
    note = row.get("note")
    value = row["value"]
    return Num(None if value is None or pd.isna(value) else float(value), kind, check,
               note=note if isinstance(note, str) and note.strip() else None, status=row.get("obs_status"))


def total(values) -> float | None:
    """Sum of the values that are not missing; None when all are (SQL's sum)."""
    present = [v for v in values if v is not None and not pd.isna(v)]
    return float(sum(present)) if present else None


def num_sum(value, kind: str, flow: str, source: str, filters: dict, countries_only: list[str] | None = None,
            exclude: dict | None = None) -> Num:
    """A sum; ``exclude`` names dimension values left out of it (e.g. a country's own IDPs from the
    refugees it originates)."""
    check = {"flow": flow, "source": source, "filters": filters, "agg": "sum"}
    if countries_only:
        check["countries_only"] = countries_only
    if exclude:
        check["exclude"] = exclude
    return Num(None if value is None or pd.isna(value) else float(value), kind, check)
