"""The library's one door: read a file, clean and link its records, merge duplicates, write in ONE
transaction, then bring the search index up to date.

Duplicates are one work seen twice: the same DOI, or the same title (accents, case and punctuation
ignored) and year. They are merged, within a file and with what the store holds, into one record that
keeps every source in its provenance. An import is all or nothing: a file that cannot be read raises
before anything is written, and the write is one transaction. Importing the same bytes again changes
nothing.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from pathlib import Path

from imdx.errors import SourceFileError, StoreError
from imdx.library import documents, formats, iom
from imdx.library.links import Linker, with_library_aliases
from imdx.library.model import Limits, Record, title_key
from imdx.model.report import Issue, Report
from imdx.store.base import Store
from imdx.store.documents import LibraryImport, RecordSource, StoredRecord

FORMATS = {"csl-json": formats.read_csl_json, "bibtex": formats.read_bibtex, "ris": formats.read_ris,
           "iom-evaluations": iom.read_evaluations, "document": documents.read_document}
_BY_SUFFIX = {".json": "csl-json", ".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".pdf": "document",
              ".html": "document", ".htm": "document", ".xhtml": "document", ".docx": "document"}


@dataclass
class ImportResult:
    file: str
    format: str
    status: str  # "imported" or "unchanged"
    import_id: int | None = None
    n_read: int = 0
    n_new: int = 0
    n_merged: int = 0
    record_ids: list[str] = field(default_factory=list)
    report: Report = field(default_factory=Report)


def detect_format(path: Path) -> str:
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise SourceFileError(str(path), f"has the extension {path.suffix or '(none)'!r}, which names no format "
                              "the library reads", expected=".json (CSL-JSON or IOM's evaluation listing), .bib, .ris, "
                              ".pdf, .html or .docx", hint="Give the format with --format; nothing was imported.")
    if fmt == "csl-json":
        with path.open("rb") as f:
            head = f.read(4096).decode("utf-8", errors="ignore").lstrip()
        if head.startswith("[") and '"meta"' in head and '"docs"' in head:
            return "iom-evaluations"
        if head.startswith("[") and '"term"' in head and '"definition"' in head:
            return "glossary"
    return fmt


def import_file(store: Store, path: str | Path, fmt: str | None = None, *, limits: Limits | None = None,
                actor: str | None = None, update_index: bool = True) -> ImportResult:
    """Import one file into the library of ``store``; see the module docstring."""
    path = Path(path)
    limits = limits or Limits()
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise SourceFileError(str(path), f"format {fmt!r} is not one the library reads",
                              expected=", ".join(FORMATS), hint="Choose one of these with --format.")
    areas = store.areas()
    if areas is None:
        raise StoreError("the store has no area table yet, so records cannot be linked to countries: load it "
                         "first with `imdx load m49` (or `imdx load`)")
    report = Report()
    entries = FORMATS[fmt](path, limits, report)  # raises before anything is written
    sha = entries[0].source.sha256 if entries else None
    if sha and _imported_before(store, fmt, sha):
        return ImportResult(path.name, fmt, "unchanged", report=report, n_read=len(entries))
    linker = Linker(with_library_aliases(areas))
    for i, entry in enumerate(entries, 1):
        linker.link(entry.record, report, file=path.name, row=i, source=entry.source.source)
    merged, n_new, n_merged = merge(store, entries, report)
    stat = path.stat()
    import_ = LibraryImport(fmt, path.name, sha, stat.st_size, actor or _actor(), len(entries), n_new, n_merged)
    from imdx.library.index import index_generation

    before = index_generation(store)
    import_id = store.write_library(merged, import_, report)
    result = ImportResult(path.name, fmt, "imported", import_id, len(entries), n_new, n_merged,
                          [r.record_id for r in merged], report)
    if update_index:
        from imdx.library.index import LibraryIndex

        LibraryIndex.for_store(store, refresh=False).refresh(store, changed=result.record_ids, since=before)
    return result


def _imported_before(store: Store, fmt: str, sha: str) -> bool:
    imports = store.library_imports()
    return bool(len(imports)) and bool(((imports["format"] == fmt) & (imports["sha256"] == sha)).any())


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def merge(store: Store, entries: list[formats.Entry],
          report: Report | None = None) -> tuple[list[StoredRecord], int, int]:
    """The records to write: each entry merged with the record already stored (or seen earlier in the file)
    for the same work. Returns (records, new works, entries merged into a record of another source).

    Two entries of ONE source with different keys stay two records, even with the same title and year (the
    source says they differ; IOM lists one evaluation twice, for instance): a ``possible-duplicate`` issue
    says so."""
    report = report if report is not None else Report()
    dois = sorted({e.record.doi for e in entries if e.record.doi})
    keys = sorted({title_key(e.record.title, e.record.year) for e in entries if e.record.title})
    ids = sorted({e.record.id for e in entries})
    found = set(store.library_linked("doi", dois)["record_id"]) \
        | set(store.library_linked("title_key", keys)["record_id"])
    stored = {r.record_id: r for r in store.library_records(sorted(found | set(ids)))}
    by_key: dict[tuple[str, str], str] = {}
    sources_of: dict[str, list[RecordSource]] = {rid: list(r.sources) for rid, r in stored.items()}
    for rec in stored.values():
        for rel, target in rec.links:
            if rel in ("doi", "title_key"):
                by_key.setdefault((rel, target), rec.record_id)
    out: dict[str, tuple[Record, list[RecordSource]]] = {}
    n_new = n_merged = 0
    for i, entry in enumerate(entries, 1):
        rec, src = entry.record, entry.source
        keys_of = ([("doi", rec.doi)] if rec.doi else []) + [("title_key", title_key(rec.title, rec.year))]
        target = rec.id if rec.id in out or rec.id in stored else next(
            (by_key[k] for k in keys_of if k in by_key), None)
        known = sources_of.get(target, []) if target else []
        same_key = any((s.source, s.source_key) == (src.source, src.source_key) for s in known)
        if target is not None and target != rec.id and not same_key and any(s.source == src.source for s in known):
            report.add(Issue("possible-duplicate", f"{rec.id} ({(rec.title or '')[:80]}) has the same "
                             f"{'DOI' if rec.doi and ('doi', rec.doi) in by_key else 'title and year'} as {target}, "
                             f"but {src.source} gives them different keys ({src.source_key}); both are kept",
                             "info", source=src.source, file=src.file, row=i))
            target = None
        if target is None:
            target = rec.id
            out[target] = (rec, [src])
            n_new += 1
        else:
            if target not in out:
                out[target] = (Record.from_body(stored[target].body), [])
            base, sources = out[target]
            merged = combine(rec, base) if same_key else combine(base, rec)  # a source's new version wins
            merged.id = target
            out[target] = (merged, sources if same_key and target in stored else sources + [src])
            n_merged += 0 if same_key else 1
        sources_of.setdefault(target, []).append(src)
        for k in keys_of:
            by_key.setdefault(k, target)
    records = [StoredRecord(rid, rec.to_body(), rec.links(), sources) for rid, (rec, sources) in out.items()]
    return records, n_new, n_merged


def combine(base: Record, new: Record) -> Record:
    """One record from two descriptions of the same work: what ``base`` lacks is taken from ``new``;
    lists are united; the longer author list and abstract win; ``base`` keeps its id."""
    body, other = base.to_body(), new.to_body()
    for key, value in other.items():
        if key == "id":
            continue
        current = body.get(key)
        if current in (None, [], {}, ""):
            body[key] = value
        elif isinstance(current, list) and isinstance(value, list):
            if key == "authors":
                body[key] = value if len(value) > len(current) else current
            else:
                seen = [json.dumps(v, sort_keys=True) for v in current]
                body[key] = current + [v for v in value if json.dumps(v, sort_keys=True) not in seen]
        elif isinstance(current, dict) and isinstance(value, dict):
            body[key] = value | current
        elif key in ("abstract", "text") and isinstance(value, str) and len(value) > len(current):
            body[key] = value
    return Record.from_body(body)
