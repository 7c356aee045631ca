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
from imdx.model.dataflows import Dataflow
from imdx.model.report import Report


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
    def notes(self) -> pd.DataFrame:
        """The footnotes of every release: ``release_id``, ``mark`` (without brackets), ``text``."""

    @abstractmethod
    def issues(self, *, source: str | None = None, area: str | None = None) -> pd.DataFrame:
        """The stored data-issue report, optionally for one source or area."""
