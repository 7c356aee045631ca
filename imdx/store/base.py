"""The store interface: the only way imdx reads or writes stored data.

Every backend implements :class:`Store`: :class:`imdx.store.duckdb_store.DuckDBStore` (one embedded
DuckDB file, the default) and, on a shared server, PostgreSQL. ``tests/store/`` runs one conformance
suite against each. Outside ``imdx/store/`` nothing imports a backend or writes SQL against the
store's tables (``tests/test_boundaries.py`` checks it): code asks a :class:`Store`, opened with
:func:`imdx.store.connect`.

What a store holds
    *Releases* (:class:`ReleaseRecord`: a source's edition or vintage, with its files and their
    checksums), their *observations* (one table per dataflow, in the tidy model of
    :mod:`imdx.model.dataflows`), the *area table* with every alias, the *data-issue report*, and the
    definitions of dataflows that releases brought (e.g. from an SDMX message). Beside the statistics,
    the *research library* (records with their provenance, imports and their issues) and the
    *coordination registry* (versioned entries and their audit log), as documents with links
    (:mod:`imdx.store.documents`).

Writing
    Data enters through :func:`imdx.ingest.ingest` only (harmonised tables → checks → one
    transaction), which calls :meth:`Store.write_release`. A release lands whole or not at all: its
    observations, files, issues, the areas and aliases it registered and the dataflows it defined are
    committed together, or nothing is. A store has one writer at a time.

    Statistics releases are the only data that door takes. The library and the registry are
    documents, not observations (no dataflow, no checks of :mod:`imdx.checks`): each has its own
    door, which checks what it writes and then makes one transaction through a method of this
    interface: :func:`imdx.library.ingest.import_file` calls :meth:`Store.write_library`, the registry
    (:mod:`imdx.registry`) calls :meth:`Store.write_registry`.

The current value (one rule, implemented by each backend in its SQL and nowhere else)
    Releases are ranked by :data:`RANK_ORDER`: publication date, then edition, then load order
    (release id). For each observation key (the dataflow's dimensions) and *source*, the current value
    is the one of the highest-ranked release that holds the key. :meth:`Store.select` returns current
    values; ``edition=`` pins one edition, ``as_of=`` gives the values as published on that date
    (the rule applied to the releases published by then). :meth:`Store.editions` lists the releases
    of each dataflow in rank order, so that "the latest release of X" is its last row.

Reading from many threads and while loads run
    Every read method may be called from many threads at once (the API and the portal answer
    requests in a thread pool): each backend gives each thread its own connection or cursor. One call
    reads one consistent state of the store: a release committed meanwhile is seen whole or not at
    all. :meth:`Store.version` changes whenever a release, a library import or a registry change is
    committed, so that readers that keep answers (the API's response cache, the portal's indexes, the
    library's search) know when to drop them.

Text and codes
    Results come back as text codes (``DEU``, ``_T``), whatever the backend stores (DuckDB stores
    label ids, :mod:`imdx.store.labels`).

Measures
    A dataflow may declare *measures* (:attr:`imdx.model.dataflows.Dataflow.measures`, e.g. ``("lower",
    "upper")``, the bounds of an estimate's interval: SDMX's LOWER_BOUND and UPPER_BOUND): numeric columns
    stored beside ``value`` in every observation of the dataflow (a float64, NaN/null where a release does
    not give them). A backend stores them as columns of the dataflow's observations, writes them in
    :meth:`Store.write_release` (the tables :func:`imdx.sources.base.finish` made hold them), and returns
    them from :meth:`Store.select` right after ``value`` (:func:`result_columns`). A dataflow a release
    brings (``definitions=``) may declare measures too; their names are lower-case identifiers that are
    not a dimension's or an attribute's. A stored table of the dataflow without its measures (written by
    an older imdx) is not servable (:meth:`Store.servable_dataflows`) until the store is opened for writing,
    which adds them.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Self

import pandas as pd
import pyarrow as pa

from imdx.codes.areas import Areas
from imdx.errors import StoreError
from imdx.model.dataflows import ATTRIBUTES, Dataflow
from imdx.model.report import Report
from imdx.store.documents import AuditRow, LibraryImport, RegistryChange, StoredEntry, StoredRecord

#: the order of releases that decides which value is current: the latest publication date, then the
#: later edition (compared as text), then the later load (release id)
RANK_ORDER = ("published", "edition", "release_id")

#: the columns :meth:`Store.select` returns for every dataflow besides its dimensions, the ``<area>_name`` of
#: each area dimension and its measures (:attr:`~imdx.model.dataflows.Dataflow.measures`, which come right
#: after ``value``), in the order it returns them
RESULT_COLUMNS = ["value", "unit", "obs_status", "definition", "note", "source", "edition", "release_id",
                  "cell_file", "cell_sheet", "cell_row", "cell_column"]

#: the columns of :meth:`Store.editions`
EDITION_COLUMNS = ["dataflow", "source", "key", "edition", "published", "release_id", "n_obs"]


@dataclass
class FileRecord:
    name: str
    url: str
    sha256: str
    size: int
    retrieved_from: str
    retrieved_at: datetime


@dataclass
class ReleaseRecord:
    source: str
    key: str
    title: str
    edition: str
    published: date
    licence: str
    files: list[FileRecord] = field(default_factory=list)
    #: the release's footnotes as published (mark without brackets -> text): what a value's ``note`` marks mean
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """What makes a release the same: its source, key and the checksums of its files."""
        text = "|".join([self.source, self.key] + sorted(f"{f.name}:{f.sha256}" for f in self.files))
        return hashlib.sha256(text.encode()).hexdigest()


_SAFE_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")


def check_definition(flow: Dataflow) -> None:
    """Refuse (:class:`~imdx.errors.StoreError`) a dataflow a release brings that no backend may store: one of
    imdx's own ids, an id or a measure that is not a lower-case identifier, a measure named like a column the
    store keeps."""
    from imdx.model import dataflows

    if flow.id in dataflows.DATAFLOWS:
        raise StoreError(f"a release cannot redefine imdx's own dataflow {flow.id!r}")
    if not _SAFE_ID.fullmatch(flow.id):
        raise StoreError(f"dataflow id {flow.id!r} must be lower-case letters, digits and '_'")
    taken = {*flow.dimension_names, "release_id", "value", "current", *ATTRIBUTES}
    bad = [m for m in flow.measures if not _SAFE_ID.fullmatch(m) or m in taken]
    if bad:
        raise StoreError(f"dataflow {flow.id!r}: measure(s) {bad} must be lower-case letters, digits and '_', and "
                         "not the name of a dimension or attribute")


def result_columns(flow: Dataflow, columns: list[str] | None = None) -> list[str]:
    """The columns :meth:`Store.select` returns for ``flow``: all, or those of ``columns`` (checked) in
    the store's order. The dimensions always come back: they are the key of an observation."""
    names = [f"{d.name}_name" for d in flow.dimensions if d.is_area]
    everything = flow.dimension_names + names + ["value", *flow.measures] + RESULT_COLUMNS[1:]
    if columns is None:
        return everything
    unknown = [c for c in columns if c not in everything]
    if unknown:
        raise ValueError(f"select() has no column(s) {unknown}; its columns are {everything}")
    return [c for c in everything if c in flow.dimension_names or c in columns]


#: the column types of :meth:`Store.releases`, :meth:`Store.release_files` and :meth:`Store.issues`, the same
#: from every backend (``row`` of an issue is a float: NaN where the issue has no row)
FRAME_TYPES = {"releases": {"release_id": "int64", "n_obs": "int64", "published": "datetime64[us]",
                            "loaded_at": "datetime64[us]"},
               "release_files": {"release_id": "int64", "size": "int64", "retrieved_at": "datetime64[us]"},
               "issues": {"release_id": "int64", "row": "float64", "n_obs": "int64"}}


def typed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``frame`` with the column types of :data:`FRAME_TYPES` for ``kind``."""
    return frame.astype({c: t for c, t in FRAME_TYPES[kind].items() if c in frame.columns})


def notes_frame(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """:meth:`Store.notes` as every backend returns it (empty when ``frame`` is None)."""
    if frame is None:
        return pd.DataFrame({"release_id": pd.Series(dtype="int64"), "mark": pd.Series(dtype="object"),
                             "text": pd.Series(dtype="object")})
    return frame.reindex(columns=["release_id", "mark", "text"]).astype({"release_id": "int64"})


def editions_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:meth:`Store.editions` as every backend returns it: ``published`` as :class:`datetime.date`,
    ``release_id`` and ``n_obs`` as integers."""
    frame = frame.reindex(columns=EDITION_COLUMNS)
    frame["published"] = [pd.Timestamp(d).date() for d in frame["published"]]
    return frame.astype({"release_id": "int64", "n_obs": "int64"})


class Store(ABC):
    """A place where releases, their observations, the area table and the data-issue report live.

    Use it as a context manager, or call :meth:`close`. See the module docstring for the rules every
    backend keeps (one writer, whole releases, the current value, reads from many threads)."""

    # -- lifecycle ----------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None:
        """Release the connections; the store cannot be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def describe(self) -> str:
        """Where the store is, for messages (``the DuckDB file imdx.duckdb``); never a password."""

    @abstractmethod
    def version(self) -> int:
        """A number that changes whenever a release, a library import or a registry change is committed
        (by this process or another; not for an audit row alone): readers that keep answers drop them when
        it does. Cheap to call."""

    # -- writing (through imdx.ingest) --------------------------------------------------------
    @abstractmethod
    def has_release(self, release: ReleaseRecord) -> bool:
        """True when a release with the same source, key and file checksums is stored already."""

    @abstractmethod
    def write_release(self, release: ReleaseRecord, observations: dict[str, pd.DataFrame], report: Report,
                      areas: Areas, definitions: tuple[Dataflow, ...] = ()) -> int:
        """Store a release whole, in one transaction; returns its release id.

        ``observations`` are harmonised tables by dataflow id (:func:`imdx.sources.base.finish` made
        them: the dimensions, ``value``, the dataflow's measures and the attributes), ``report`` the
        issues found in them, ``areas`` the area table with what the release taught it (names and codes:
        what is new is stored), ``definitions`` the dataflows the release brings that imdx does not define
        itself. Only :func:`imdx.ingest.ingest` calls this."""

    def share_cpus(self, taken: int) -> None:  # noqa: B027 -- optional: a hint backends may ignore
        """Hint for the writes that follow: ``taken`` CPUs of this machine are busy with other work of the
        same load (worker processes preparing releases); 0 when they are free again."""

    # -- dataflows ----------------------------------------------------------------------------
    @abstractmethod
    def dataflow(self, dataflow_id: str) -> Dataflow:
        """The definition of a dataflow: imdx's own, or one a stored release brought. An unknown id is
        a :class:`~imdx.errors.QueryError` of kind ``unknown-dataflow`` that lists the known ones."""

    @abstractmethod
    def dataflow_ids(self) -> list[str]:
        """Every dataflow this store can answer for (imdx's own, then those releases brought)."""

    @abstractmethod
    def servable_dataflows(self) -> list[str]:
        """The dataflows of :meth:`dataflow_ids` whose observations the store holds as this imdx defines
        them (a store written by an older imdx may lack a table, or have one with other dimensions)."""

    # -- provenance ---------------------------------------------------------------------------
    @abstractmethod
    def releases(self) -> pd.DataFrame:
        """One row per stored release, by source and publication: ``release_id``, ``source``, ``key``,
        ``title``, ``edition``, ``published``, ``loaded_at``, ``licence``, ``fingerprint``, ``n_obs``,
        and two texts for people: ``dataflows`` (``births (17290), deaths (17290)``) and ``files``
        (``name sha256:…; …``). Programs read :meth:`editions` and :meth:`release_files` instead."""

    @abstractmethod
    def release_files(self) -> pd.DataFrame:
        """One row per file of every release: ``release_id``, ``name``, ``url``, ``sha256``, ``size``,
        ``retrieved_from``, ``retrieved_at``; by release and name."""

    @abstractmethod
    def editions(self, dataflow: str | None = None) -> pd.DataFrame:
        """One row per (dataflow, release) stored (:data:`EDITION_COLUMNS`; ``published`` a
        :class:`datetime.date`), for one dataflow or all; within a dataflow the releases are in rank order
        (:data:`RANK_ORDER`), so the last row of a source is its latest release."""

    def latest_release(self, dataflow: str, source: str | None = None) -> pd.Series | None:
        """The row of :meth:`releases` of the highest-ranked release holding ``dataflow`` (of ``source``
        when given), or None."""
        rows = self.editions(dataflow)
        if source is not None:
            rows = rows[rows["source"] == source]
        if rows.empty:
            return None
        release_id = int(rows["release_id"].iloc[-1])
        releases = self.releases()
        return releases[releases["release_id"] == release_id].iloc[0]

    # -- areas and issues ---------------------------------------------------------------------
    @abstractmethod
    def areas(self) -> Areas | None:
        """The stored area table with every alias, or None for an empty store. Callers must not change
        it (it is shared); :meth:`Areas.copy` gives one to change."""

    @abstractmethod
    def notes(self) -> pd.DataFrame:
        """The footnotes of every release (:attr:`ReleaseRecord.notes`): ``release_id``, ``mark`` (without
        brackets), ``text``, by release and mark. (A store written before footnotes were kept answers an empty
        table, :func:`notes_frame`: pages then say a mark's text is not available.)"""

    @abstractmethod
    def issues(self, *, source: str | None = None, area: str | None = None) -> pd.DataFrame:
        """The stored data-issue report, optionally for one source or area: ``release_id`` and the fields
        of :class:`~imdx.model.report.Issue`, by release, severity, type, file and row (then the other
        fields, so that the order is the same from every backend)."""

    # -- observations -------------------------------------------------------------------------
    @abstractmethod
    def select(self, dataflow: str, filters: dict[str, list], *, edition: str | None = None,
               source: str | None = None, as_of: date | None = None,
               columns: list[str] | None = None) -> pa.Table:
        """Observations of ``dataflow`` whose dimension values are in ``filters`` (codes, already resolved
        by :func:`imdx.query.resolve_filters`; an empty list matches nothing), current by the rule of
        the module docstring, in a stable order (the dimensions as text, then the source).

        The columns (:func:`result_columns`): the dimensions, ``<area>_name`` for each area dimension,
        ``value``, the dataflow's measures (``lower``, ``upper``: see the module docstring), ``unit``, the
        attributes, ``source``, ``edition``, ``release_id`` and the source cell;
        ``columns`` keeps the dimensions and only those named (cheaper for large results).
        A dataflow without stored observations (not in :meth:`servable_dataflows`) is a
        :class:`~imdx.errors.QueryError` of kind ``not-loaded``."""

    def keep_current(self, max_bytes: int, *, now: bool = False) -> None:  # noqa: B027 -- optional: a hint
        """Keep up to ``max_bytes`` of the current values in memory, read from the store on first need (``now``:
        at once, the smallest dataflows first, as many as fit) and read again when :meth:`version` moves, so
        that :meth:`select` of current values (no ``edition``, no ``as_of``) answers without a query; the same
        rows as the query would give. 0 (the default): none."""

    def current(self, dataflow: str, filters: dict[str, list], *, source: str | None = None, read: bool = True):
        """The rows :meth:`select` of current values with these filters gives, chosen from memory
        (:meth:`keep_current`) and not decoded yet: an :class:`imdx.store.reads.CurrentRows` (``total``; any slice
        of them as a table, or as JSON objects); None when the store keeps no copy of them (then: :meth:`select`).
        ``read=False``: None also when the copy is not in memory yet (instead of reading it now)."""
        return None

    @abstractmethod
    def distinct(self, dataflow: str, dimension: str) -> list:
        """The codes (years, for ``year``) a dimension takes in the stored observations, sorted."""

    # -- the research library and the coordination registry (imdx.store.documents) --------------
    # Documents (JSON text) with links, in the tables listed in imdx/store/library_tables.py (plain SQL
    # types, so every backend can hold them; both backends share the implementation there). The rules of
    # the module docstring hold for them too: reads from many threads, each call one consistent state;
    # each write one transaction, all or nothing; a committed write changes :meth:`version`.
    @abstractmethod
    def is_read_only(self) -> bool:
        """True when this store was opened for reading only (as ``imdx serve`` opens it without
        ``--registry-edits``): its write methods would fail."""

    @abstractmethod
    def write_library(self, records: list[StoredRecord], import_: LibraryImport, report: Report) -> int:
        """Write one library import in ONE transaction; returns its import id (one more than the last).

        Each record replaces the stored record of the same id (body and links); its ``sources`` (the new
        :class:`~imdx.store.documents.RecordSource` rows) are added to its provenance with this import's
        id; the :class:`~imdx.store.documents.LibraryImport` row and the report's issues are added. All of
        it is committed, or nothing is (a record id given twice is a ValueError: nothing is written).
        :func:`imdx.library.ingest.import_file` calls this (the library's
        door: read → clean → link → merge with what is stored → this write)."""

    @abstractmethod
    def library_records(self, record_ids: list[str] | None = None) -> list[StoredRecord]:
        """Stored records (all, or those of ``record_ids``; an empty list gives none) with their links and
        every source, by record id."""

    @abstractmethod
    def library_linked(self, rel: str, targets: list[str]) -> pd.DataFrame:
        """``record_id, target`` of the records linked by ``rel`` (e.g. ``"area"``) to any of ``targets``,
        by record id and target."""

    @abstractmethod
    def library_link_counts(self, rel: str) -> pd.DataFrame:
        """``target, n``: how many records each target of ``rel`` has (e.g. records per country), by target."""

    @abstractmethod
    def library_imports(self) -> pd.DataFrame:
        """One row per library import, by id: ``import_id``, ``format``, ``file``, ``sha256``, ``size``,
        ``imported_at``, ``actor``, ``n_read``, ``n_new``, ``n_merged``."""

    @abstractmethod
    def library_issues(self, import_id: int | None = None) -> pd.DataFrame:
        """The issues of library imports (all, or of one): ``import_id`` and the fields of
        :class:`~imdx.model.report.Issue`."""

    @abstractmethod
    def library_generation(self) -> str:
        """A text that changes whenever the library changes (the search index is rebuilt when it differs)."""

    @abstractmethod
    def write_registry(self, changes: list[RegistryChange], audit: list[AuditRow]) -> None:
        """Apply registry changes and append their audit rows in ONE transaction (at least one audit row:
        every change is audited). An entry's version must equal ``expected_version`` (None: the entry must
        not exist yet) unless ``check_version`` is False, else
        :class:`~imdx.store.documents.VersionConflict` is raised and nothing is written; each write
        increments the entry's version, ``body=None`` deletes it. Writes are serialised: two at once
        cannot both pass the version check."""

    @abstractmethod
    def audit_registry(self, audit: list[AuditRow]) -> None:
        """Append audit rows alone (a refused change), in one transaction. This does not change
        :meth:`version` (nothing that is answered changed), so a flood of refusals empties no cache."""

    @abstractmethod
    def registry_entries(self, kind: str | None = None, *, entry_ids: list[str] | None = None,
                         owner: str | None = None, rel: str | None = None,
                         target: str | None = None) -> list[StoredEntry]:
        """Registry entries filtered by kind, ids (an empty list gives none), owner, or having a link
        ``rel`` (to ``target``), by kind and id, each with all of its links."""

    @abstractmethod
    def registry_links(self, rel: str | None = None) -> pd.DataFrame:
        """``kind, entry_id, rel, target`` of every registry link (of one ``rel``)."""

    @abstractmethod
    def registry_audit(self, kind: str | None = None, entry_id: str | None = None,
                       limit: int = 1000) -> pd.DataFrame:
        """The registry's audit log, newest first (at most ``limit`` rows): ``seq``, ``logged_at``, ``actor``,
        ``organisation``, ``action``, ``kind``, ``entry_id``, ``outcome``, ``before_body``, ``after_body``
        and ``detail`` (JSON text)."""
