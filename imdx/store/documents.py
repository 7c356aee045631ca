"""What the store keeps for the research library and the coordination registry, as plain data.

Both are documents (a JSON object each) with *links*: ``(rel, target)`` pairs that say what a document
is about (``("area", "KEN")``, ``("gcm", "10")``, ``("dataflow", "migrant_stock")``,
``("organisation", "iom")``) and that the store can answer by (the research on a country; the
activities of an objective). Every backend keeps them in tables of plain SQL types (text, integers,
timestamps); the document itself is JSON text, so PostgreSQL can hold it as ``text`` or ``jsonb``.

* A library **record** also carries its **provenance**: one :class:`RecordSource` per file entry it
  came from (a record seen in two sources and merged has two). Every import is one transaction
  (:meth:`imdx.store.base.Store.write_library`) with its :class:`LibraryImport` row and its issues.
* A registry **entry** has a ``kind`` (organisation, data_product, activity, event, gcm_objective, ...),
  an ``owner`` (the organisation that may edit it) and a ``version`` that each change increments;
  every change is written with its :class:`AuditRow` in the same transaction
  (:meth:`imdx.store.base.Store.write_registry`), and a change made against a stale version is
  refused (:class:`VersionConflict`), never silently lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from imdx.errors import StoreError


class VersionConflict(StoreError):
    """A registry entry changed since the version the change was made against (nothing was written)."""

    def __init__(self, kind: str, entry_id: str, expected: int | None, found: int | None):
        self.kind, self.entry_id, self.expected, self.found = kind, entry_id, expected, found
        now = "does not exist" if found is None else f"is at version {found}"
        then = "not to exist yet" if expected is None else f"to be at version {expected}"
        super().__init__(f"the {kind} {entry_id!r} {now}, but the change expected it {then}: read it again "
                         "and repeat the change on the current version")


@dataclass
class RecordSource:
    """Where one library record came from: the source (format and file), the entry's key in it."""

    source: str  # e.g. "iom_evaluations", "bibtex", "ris", "csl-json", "pdf"
    source_key: str  # the record's id in that source (evaluation id, BibTeX key, RIS ID, file name)
    file: str | None = None
    sha256: str | None = None
    location: str | None = None  # e.g. "line 12", "record 7"
    import_id: int | None = None  # set by the store


@dataclass
class StoredRecord:
    record_id: str
    body: dict  # the record as CSL-JSON plus imdx's fields (see imdx.library.model)
    links: list[tuple[str, str]] = field(default_factory=list)
    sources: list[RecordSource] = field(default_factory=list)  # new sources only, when writing
    updated_at: datetime | None = None


@dataclass
class LibraryImport:
    format: str
    file: str | None
    sha256: str | None
    size: int | None
    actor: str
    n_read: int = 0
    n_new: int = 0
    n_merged: int = 0


@dataclass
class RegistryChange:
    """Create (``expected_version=None``), update (``expected_version`` = the version read) or delete
    (``body=None``) one entry."""

    kind: str
    entry_id: str
    owner: str | None
    body: dict | None
    links: list[tuple[str, str]] = field(default_factory=list)
    expected_version: int | None = None
    check_version: bool = True  # False: write whatever is stored (bulk seeding that replaces its own entries)


@dataclass
class StoredEntry:
    kind: str
    entry_id: str
    owner: str | None
    body: dict
    links: list[tuple[str, str]]
    version: int
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass
class AuditRow:
    actor: str
    organisation: str | None
    action: str  # "create", "update", "delete", "import", "denied"
    kind: str
    entry_id: str
    outcome: str = "ok"
    before: dict | None = None
    after: dict | None = None
    detail: dict | None = None
