"""The library over one store, as the CLI, the API and the portal use it: search, records, exports,
the research on an area, and imports (which also keep the glossary).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from imdx.errors import QueryError
from imdx.library import export
from imdx.library.glossary import Glossary, store_glossary
from imdx.library.index import FACETS, LibraryIndex
from imdx.library.ingest import ImportResult, detect_format, import_file
from imdx.library.model import TYPES, Limits, Record
from imdx.library.search import SearchResult, search
from imdx.store.base import Store

MIRROR_FILES = ("research_library/iom_evaluations/evaluations.json",
                "research_library/iom_evaluations/glossary_migration.json")


@dataclass
class FullRecord:
    record: Record
    sources: list  # RecordSource, oldest first
    updated_at: object = None


class Library:
    def __init__(self, store: Store, limits: Limits | None = None, glossary: Glossary | None = None):
        self.store, self.limits = store, limits or Limits()
        self._glossary = glossary  # read once: only `add` changes it
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def index(self) -> LibraryIndex:
        return LibraryIndex.for_store(self.store)

    @property
    def glossary(self) -> Glossary:
        with self._lock:
            if self._glossary is None:
                self._glossary = Glossary.from_store(self.store)
            return self._glossary

    def search(self, q: str = "", filters: dict[str, list[str]] | None = None, **options) -> SearchResult:
        return search(self.index, self.glossary, q, self.resolve_filters(filters or {}), limits=self.limits,
                      **options)

    def resolve_filters(self, filters: dict[str, list[str]]) -> dict[str, list[str]]:
        """Facet values as people write them: countries by any name or code, years as ``2015`` or
        ``2010:2020``, types by their label; anything else as stored."""
        out = {}
        for facet, values in filters.items():
            if facet not in FACETS:
                raise QueryError("unknown facet {value}", kind="unknown-parameter", value=facet, allowed=FACETS)
            values = [str(v).strip() for v in values if str(v).strip()]
            if len(values) > 50 or any(len(v) > 200 for v in values):
                raise QueryError("takes at most 50 values of at most 200 characters each", kind="malformed-value",
                                 parameter=facet)
            if facet == "country":
                values = [self._area(v) for v in values]
            elif facet == "year":
                for v in values:
                    low, _, high = v.partition(":")
                    years = [p for p in (low, high or low) if p]
                    if not years or not all(p.isascii() and p.isdigit() and len(p) == 4 for p in years):
                        raise QueryError("is not a year or a range of years", kind="malformed-value",
                                         parameter="year", value=v, hint="Write a year (2015) or a range (2010:2020).")
            elif facet == "type":
                labels = {label.casefold(): key for key, label in TYPES.items()}
                values = [labels.get(v.casefold(), v) for v in values]
            out[facet] = values
        return out

    def _area(self, value: str) -> str:
        areas = self.store.areas()
        code = areas.resolve(value).code if areas is not None else None
        if code is None:
            raise QueryError("is not a known country or area (a name in any spelling, ISO3 or M49 code)",
                             kind="unknown-code", parameter="country", value=value, search=value)
        return code

    def record(self, record_id: str) -> FullRecord | None:
        if not isinstance(record_id, str) or len(record_id) > 200:
            return None
        found = self.store.library_records([record_id])
        if not found:
            return None
        return FullRecord(Record.from_body(found[0].body), found[0].sources, found[0].updated_at)

    def records(self, record_ids: list[str]) -> list[Record]:
        by_id = {r.record_id: Record.from_body(r.body) for r in self.store.library_records(record_ids)}
        return [by_id[i] for i in record_ids if i in by_id]

    def about_area(self, code: str, limit: int = 50) -> tuple[int, list[Record]]:
        """(how many, the most recent ``limit``) records linked to an area."""
        ids = list(self.store.library_linked("area", [code])["record_id"])
        records = sorted(self.records(ids), key=lambda r: (-(r.year or 0), r.title or ""))
        return len(ids), records[:limit]

    def export(self, records: list[Record], fmt: str) -> tuple[str, str]:
        """(text, media type) of records in ``csl-json`` or ``bibtex``."""
        if fmt == "csl-json":
            return export.csl_json(records), "application/vnd.citationstyles.csl+json"
        if fmt == "bibtex":
            return export.bibtex(records), "application/x-bibtex; charset=utf-8"
        raise QueryError("is not an export format", kind="malformed-value", parameter="format", value=fmt,
                         allowed=["csl-json", "bibtex"])

    # -- writing ---------------------------------------------------------------------------------
    def add(self, path: str | Path, fmt: str | None = None, actor: str | None = None) -> ImportResult:
        path = Path(path)
        fmt = fmt or detect_format(path)
        if fmt == "glossary":
            from imdx.library.ingest import _actor
            from imdx.model.report import Report

            n = store_glossary(self.store, path, actor or _actor())
            self._glossary = None
            LibraryIndex.for_store(self.store, refresh=False).refresh(self.store)  # the glossary tags records
            return ImportResult(path.name, "glossary", "imported", None, n, n, 0, [], Report())
        return import_file(self.store, path, fmt, limits=self.limits, actor=actor)

    def add_from_mirror(self, mirror: Path, actor: str | None = None) -> list[ImportResult]:
        """The IOM evaluations and the migration glossary of the mirror folder."""
        return [self.add(Path(mirror) / name, actor=actor) for name in MIRROR_FILES]


class ServedLibrary:
    """The library of a served store, with what its requests share: the limits (read once) and the glossary,
    read again when the store's :meth:`~imdx.store.base.Store.version` moves (a glossary import changes what
    a search expands). Thread-safe: each request gets the :class:`Library` of the current version."""

    def __init__(self, store: Store, limits: Limits | None = None):
        self.store, self.limits = store, limits or Limits.from_env()
        self._kept: tuple[int, Library] | None = None

    def get(self) -> Library:
        version = self.store.version()
        kept = self._kept
        if kept is None or kept[0] != version:
            kept = self._kept = (version, Library(self.store, self.limits))
        return kept[1]

