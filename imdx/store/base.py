"""The store interface: every backend (DuckDB by default, PostgreSQL later) implements this class,
and ``tests/store/test_conformance.py`` runs one suite against each.

A release is written with :meth:`Store.write_release` as one transaction: its observations, its
files with their checksums, its issues and the area aliases it used land together, or nothing does.
Queries return the *current* value of each observation: for each source, the value from the most
recently published release that contains it (``edition=`` pins one edition instead).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
import pyarrow as pa

from imdx.codes.areas import Areas
from imdx.errors import StoreError
from imdx.model.dataflows import Dataflow
from imdx.model.report import Report
from imdx.store.documents import AuditRow, LibraryImport, RegistryChange, StoredEntry, StoredRecord


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

    @property
    def fingerprint(self) -> str:
        import hashlib

        text = "|".join([self.source, self.key] + sorted(f"{f.name}:{f.sha256}" for f in self.files))
        return hashlib.sha256(text.encode()).hexdigest()


class Store(ABC):
    """A place where releases, their observations, the area table and the data-issue report live."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing ------------------------------------------------------------------------------
    @abstractmethod
    def has_release(self, release: ReleaseRecord) -> bool:
        """True when a release with the same source, key and file checksums is stored already."""

    @abstractmethod
    def write_release(self, release: ReleaseRecord, observations: dict[str, pd.DataFrame], report: Report,
                      areas: Areas, definitions: tuple[Dataflow, ...] = ()) -> int:
        """Store a release whole, in one transaction; returns its release id. ``definitions`` are
        dataflows the release brings that imdx does not define itself (e.g. from an SDMX message)."""

    def share_cpus(self, taken: int) -> None:
        """Hint for the writes that follow: ``taken`` CPUs of this machine are busy with other work of the
        same load (worker processes preparing releases); 0 when they are free again."""

    @abstractmethod
    def dataflow(self, dataflow_id: str) -> Dataflow:
        """The definition of a dataflow: imdx's own, or one a stored release brought."""

    @abstractmethod
    def dataflow_ids(self) -> list[str]:
        """Every dataflow this store can answer for (imdx's own and those releases brought)."""

    # -- reading ------------------------------------------------------------------------------
    @abstractmethod
    def releases(self) -> pd.DataFrame:
        """One row per stored release: id, source, key, title, edition, published, loaded_at, licence,
        dataflows and observation counts, files with their checksums."""

    @abstractmethod
    def areas(self) -> Areas | None:
        """The stored area table with every alias, or None for an empty store."""

    @abstractmethod
    def select(self, dataflow: str, filters: dict[str, list], *, edition: str | None = None,
               source: str | None = None, as_of: date | None = None) -> pa.Table:
        """Observations of ``dataflow`` whose dimension values are in ``filters`` (codes, already
        resolved), current as described in the module docstring, in a stable order."""

    @abstractmethod
    def distinct(self, dataflow: str, dimension: str) -> list:
        """The codes a dimension takes in the stored observations."""

    @abstractmethod
    def issues(self, *, source: str | None = None, area: str | None = None) -> pd.DataFrame:
        """The stored data-issue report, optionally for one source or area."""

    # -- the research library and the coordination registry (imdx.store.documents) ---------------
    # Each backend keeps them in the tables listed in imdx/store/library_tables.py (plain SQL types; the
    # DuckDB backend's implementation is there). The defaults below only say that a backend lacks them.
    def _no_documents(self):
        raise StoreError(f"the {type(self).__name__} store does not hold research-library or registry documents "
                         "yet; use the DuckDB store (the default) for `imdx library` and `imdx registry`")

    def is_read_only(self) -> bool:
        """True when this store was opened for reading only (as ``imdx serve`` opens it)."""
        return False

    def write_library(self, records: list[StoredRecord], import_: LibraryImport, report: Report) -> int:
        """Write one library import in ONE transaction: each record replaces the stored record of the same id
        (body and links), its new :class:`RecordSource` rows are appended to its provenance, the import row
        and the report's issues are added; returns the new import id. Nothing is written if anything fails."""
        self._no_documents()

    def library_records(self, record_ids: list[str] | None = None) -> list[StoredRecord]:
        """Stored records (all, or those of ``record_ids``) with their links and every source, by record id."""
        self._no_documents()

    def library_linked(self, rel: str, targets: list[str]) -> pd.DataFrame:
        """``record_id, target`` of the records linked by ``rel`` (e.g. ``"area"``) to any of ``targets``."""
        self._no_documents()

    def library_link_counts(self, rel: str) -> pd.DataFrame:
        """``target, n``: how many records each target of ``rel`` has (e.g. records per country)."""
        self._no_documents()

    def library_imports(self) -> pd.DataFrame:
        """One row per library import: id, format, file, sha256, size, imported_at, actor, counts."""
        self._no_documents()

    def library_issues(self, import_id: int | None = None) -> pd.DataFrame:
        """The issues of library imports (``import_id`` plus the fields of :class:`Issue`)."""
        self._no_documents()

    def library_generation(self) -> str:
        """A text that changes whenever the library changes (the search index is rebuilt when it differs)."""
        self._no_documents()

    def write_registry(self, changes: list[RegistryChange], audit: list[AuditRow]) -> None:
        """Apply registry changes and append their audit rows in ONE transaction. An entry's version must
        equal ``expected_version`` (None: the entry must not exist) unless ``check_version`` is False, else
        :class:`VersionConflict` is raised and nothing is written; each write increments the version."""
        self._no_documents()

    def audit_registry(self, audit: list[AuditRow]) -> None:
        """Append audit rows alone (e.g. a refused change), in one transaction."""
        self._no_documents()

    def registry_entries(self, kind: str | None = None, *, entry_ids: list[str] | None = None,
                         owner: str | None = None, rel: str | None = None,
                         target: str | None = None) -> list[StoredEntry]:
        """Registry entries filtered by kind, ids, owner, or having a link ``rel`` (to ``target``)."""
        self._no_documents()

    def registry_links(self, rel: str | None = None) -> pd.DataFrame:
        """``kind, entry_id, rel, target`` of every registry link (of one ``rel``)."""
        self._no_documents()

    def registry_audit(self, kind: str | None = None, entry_id: str | None = None,
                       limit: int = 1000) -> pd.DataFrame:
        """The registry's audit log, newest first: seq, logged_at, actor, organisation, action, kind, entry_id,
        outcome, before_body, after_body (JSON text), detail."""
        self._no_documents()
