"""The portal's reads: what the pages show, asked of the store through its interface, and the numbers
tagged with where they come from.

Every observation comes from :meth:`imdx.store.base.Store.select`, so a page shows the store's own
current values (the one rule of :mod:`imdx.store.base`: for each key and source, the value of the
highest-ranked release that holds it). Each number a page shows is a :class:`Num`, which carries the
check that reproduces it through :func:`imdx.query.query` (the dataflow, the source, the filters and,
for sums, what is summed), so that the tests can verify every figure against the store.

Results are cached per portal instance (:class:`Reader` keeps them in a bounded dict, and whole
indexes of a dataflow once); the store's :meth:`~imdx.store.base.Store.version` is looked at every
``freshness`` seconds, and what was kept is dropped when a release was committed meanwhile.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter

import pandas as pd
import pyarrow as pa

from imdx.model.dataflows import Dataflow
from imdx.store.base import Store

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
    release_id: int | None = None  # the release whose footnotes explain ``note``

    @property
    def missing(self) -> bool:
        return absent(self.value)

    def text(self) -> str:
        return fmt(self.value, self.kind)

    def check_json(self) -> str:
        return json.dumps(self.check, separators=(",", ":"), default=str)


def absent(value) -> bool:
    """Whether ``value`` is missing (None, NaN, pandas' NA): pandas' isna, without its cost for plain floats."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # NaN only
    if isinstance(value, (int, str)):
        return False
    return bool(pd.isna(value))


def fmt(value, kind: str) -> str:
    """The one formatter of numbers on every page (the tests use it too)."""
    if absent(value):
        return "–"
    if kind == "percent":
        return f"{value:,.1f}"
    if kind == "usd":  # shown in US$ million
        return f"{value / 1e6:,.1f}"
    if kind == "rate":  # per 1,000 or per 100,000 people
        return f"{value:,.1f}"
    return f"{value:,.0f}"


#: the columns of :meth:`Reader.current` besides the dimensions
CURRENT_COLUMNS = ["value", "obs_status", "note", "release_id", "source", "edition"]
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


class Reader:
    """Cached reads of one store for the pages (thread-safe: the store's reads are)."""

    def __init__(self, store: Store, max_items: int = 2048, freshness: float = 1.0):
        self.store = store
        self.freshness = freshness
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items
        self._locks: dict[str, threading.Lock] = {}
        self._index: dict[str, object] = {}
        self._version: int | None = None
        self._checked = 0.0

    # -- plumbing ------------------------------------------------------------------------------
    def _fresh(self) -> None:
        """Drop what was kept when the store's version changed (looked at every ``freshness`` seconds)."""
        now = time.monotonic()
        if now - self._checked < self.freshness:
            return
        version = self.store.version()
        self._checked = now
        if version != self._version:
            with self._lock:
                self._cache.clear()
                self._index = {}
                self._version = version

    @property
    def version(self) -> int | None:
        """The store's version that what this reader keeps was read at."""
        return self._version

    def cached(self, key, compute: Callable):
        self._fresh()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            version = self._version
        value = compute()
        with self._lock:
            if version != self._version:  # the store changed meanwhile: answer it, keep nothing
                return value
            self._cache[key] = value
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return value

    def index(self, name: str, build: Callable):
        """``build()``, computed once (per store version) and kept outside the bounded cache: the portal's
        index of a whole dataflow, from which a page takes its country's rows without a query."""
        self._fresh()
        index = self._index
        if name not in index:
            with self._build_lock(name):
                if name not in index:
                    index[name] = build()
        return index[name]

    def grouped(self, name: str, rows: Callable[[], list[dict]], by: str) -> dict[str, list[dict]]:
        """The rows ``rows()`` gives, split by the column ``by``, computed once (see :meth:`index`)."""
        def build():
            out: dict[str, list[dict]] = {}
            for row in rows():
                out.setdefault(row[by], []).append(row)
            return out
        return self.index(name, build)

    def _build_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())

    # -- dataflows -----------------------------------------------------------------------------
    def dataflow_ids(self) -> list[str]:
        return self.cached(("dataflow_ids",), self.store.dataflow_ids)

    def servable(self, flow_id: str) -> bool:
        """True when the store holds ``flow_id`` as this version of imdx defines it."""
        return flow_id in self.servable_ids()

    def servable_ids(self) -> list[str]:
        return self.cached(("servable",), self.store.servable_dataflows)

    def has(self, flow_id: str) -> bool:
        """True when the store holds observations of ``flow_id`` (a known dataflow may have none yet)."""
        return flow_id in self.cached(("held",), self._held)

    def _held(self) -> frozenset[str]:
        editions, servable = self.editions(), set(self.servable_ids())
        return frozenset(f for f in editions.loc[editions["n_obs"] > 0, "dataflow"] if f in servable)

    def flow(self, flow_id: str) -> Dataflow:
        return self.store.dataflow(flow_id)

    def select(self, flow_id: str, filters: dict[str, list], *, source: str | None = None,
               columns: list[str] | None = None, edition: str | None = None) -> pa.Table:
        """Current observations (:meth:`Store.select`), or those of ``edition``; an empty table when the store
        holds none of ``flow_id``. ``source`` defaults to the page's :data:`PREFERRED_SOURCE`; ``""`` means
        every source."""
        source = source if source is not None else PREFERRED_SOURCE.get(flow_id)
        flow = self.flow(flow_id)
        if not self.servable(flow_id):
            names = flow.dimension_names + (columns or CURRENT_COLUMNS)
            return pa.table({c: pa.array([], pa.int16() if c == "year" else pa.string()) for c in names})
        return self.store.select(flow_id, filters, source=source or None, edition=edition,
                                 columns=columns or CURRENT_COLUMNS)

    def current(self, flow_id: str, where: dict[str, object], *, source: str | None = None) -> pd.DataFrame:
        """Current observations of ``flow_id`` whose dimensions equal (or are in) ``where``, as a frame
        of the dimensions and :data:`CURRENT_COLUMNS`."""
        filters = {dim: list(v) if isinstance(v, (list, tuple)) else [v] for dim, v in where.items()}
        return self.select(flow_id, filters, source=source).to_pandas()

    # -- reference ---------------------------------------------------------------------------
    def area_table(self) -> pd.DataFrame:
        def compute():
            areas = self.store.areas()
            if areas is None:
                return pd.DataFrame(columns=["code", "name", "kind", "m49", "region", "subregion", "wb_income"])
            return areas.frame.sort_values("name", kind="stable").reset_index(drop=True)
        return self.cached(("areas",), compute)

    def area(self, code: str) -> dict | None:
        found = self.cached(("area_rows",), self._area_rows).get(code)
        return None if found is None else dict(found)

    def _area_rows(self) -> dict[str, dict]:
        """Every area's row by code (no "nan" on a page: missing values are None)."""
        return {row["code"]: {k: (None if not isinstance(v, (str, bool)) and pd.isna(v) else v) for k, v in row.items()}
                for row in self.area_table().to_dict("records")}

    def country_codes(self) -> set[str]:
        return self.cached(("countries",), lambda: set(
            self.area_table().query("kind == 'country'")["code"]))

    def names(self) -> dict[str, str]:
        return self.cached(("names",), lambda: dict(zip(self.area_table()["code"], self.area_table()["name"])))

    def releases(self) -> pd.DataFrame:
        return self.cached(("releases",), self.store.releases)

    def footnotes(self) -> dict:
        """The releases' footnotes: ``{(release_id, mark): text}``, and ``{release_id: title}`` of every release
        (to say whose mark a footnote is, and that a release kept none)."""
        def compute():
            notes = self.store.notes()
            rel = self.releases()
            titles = {int(i): t or f"{s} {k}" for i, t, s, k in zip(rel["release_id"], rel["title"], rel["source"],
                                                                     rel["key"])}
            return ({(int(r), m): t for r, m, t in zip(notes["release_id"], notes["mark"], notes["text"])}, titles,
                    {int(r) for r in notes["release_id"]})
        return self.cached(("footnotes",), compute)

    def release_files(self) -> pd.DataFrame:
        return self.cached(("release_files",), self.store.release_files)

    def editions(self) -> pd.DataFrame:
        return self.cached(("editions",), self.store.editions)

    def issues(self) -> pd.DataFrame:
        """The whole issue report, most serious first (then by type, file and row)."""
        def compute():
            issues = self.store.issues()
            rank = issues["severity"].map(SEVERITY_RANK)
            return issues.assign(_rank=rank).sort_values(["_rank", "type", "file", "row"], kind="stable",
                                                         na_position="last").drop(columns="_rank")
        return self.cached(("issues",), compute)

    def release_of(self, source: str | None, flow_id: str, edition: str | None = None) -> dict | None:
        """The latest release of ``source`` holding ``flow_id`` (of ``edition`` if given), for 'source, edition'
        lines."""
        def compute():
            rows = self.editions()
            rows = rows[rows["dataflow"] == flow_id]
            if source is not None:
                rows = rows[rows["source"] == source]
            if edition is not None:
                rows = rows[rows["edition"] == edition]
            if rows.empty:
                return None
            releases = self.releases()
            return releases[releases["release_id"] == int(rows["release_id"].iloc[-1])].iloc[0].to_dict()
        return self.cached(("release_of", source, flow_id, edition), compute)

    def editions_of(self, flow_id: str) -> list[tuple[str, str]]:
        def compute():
            editions = self.editions()
            rows = editions[editions["dataflow"] == flow_id]
            return sorted({(r.source, r.edition) for r in rows.itertuples(index=False)})
        return self.cached(("editions", flow_id), compute)

    def years(self, flow_id: str) -> list[int]:
        return self.cached(("years", flow_id), lambda: [int(y) for y in self.store.distinct(flow_id, "year")
                                                        if y is not None] if self.servable(flow_id) else [])


def keyed(frame, cols: tuple[str, ...]) -> dict[tuple, dict]:
    """Rows of ``frame`` (a DataFrame or a list of dicts) by the values of ``cols`` (keys are unique)."""
    if frame is None or len(frame) == 0:
        return {}
    records = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else frame
    if len(cols) == 1:
        col = cols[0]
        return {(r[col],): r for r in records}
    key = itemgetter(*cols)
    return {key(r): r for r in records}


def one(frame: pd.DataFrame, **eq) -> pd.Series | None:
    rows = frame
    for k, v in eq.items():
        rows = rows[rows[k] == v]
    return None if rows.empty else rows.iloc[0]


def num_one(row, kind: str, flow: str, source: str, filters: dict, edition: str | None = None) -> Num:
    """A single observation (``row``: a Series or dict with value, note, obs_status; or None); ``edition``
    when the number is read from one edition rather than the current values."""
    check = {"flow": flow, "source": source, "filters": filters, "agg": "one"}
    if edition:
        check["edition"] = edition
    if row is None:
        return Num(None, kind, check)
    note = row.get("note")
    value = row["value"]
    release = row.get("release_id")
    return Num(None if absent(value) else float(value), kind, check,
               note=note if isinstance(note, str) and note.strip() else None, status=row.get("obs_status"),
               release_id=None if absent(release) else int(release))


def total(values) -> float | None:
    """Sum of the values that are not missing; None when all are (SQL's sum)."""
    present = [v for v in values if not absent(v)]
    return float(sum(present)) if present else None


def num_sum(value, kind: str, flow: str, source: str, filters: dict, countries_only: list[str] | None = None,
            exclude: dict | None = None, edition: str | None = None) -> Num:
    """A sum; ``exclude`` names dimension values left out of it (e.g. a country's own IDPs from the
    refugees it originates); ``edition`` when it sums one edition rather than the current values."""
    check = {"flow": flow, "source": source, "filters": filters, "agg": "sum"}
    if edition:
        check["edition"] = edition
    if countries_only:
        check["countries_only"] = countries_only
    if exclude:
        check["exclude"] = exclude
    return Num(None if absent(value) else float(value), kind, check)
