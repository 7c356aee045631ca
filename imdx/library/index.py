"""The library's full-text index: tantivy, built from the records the store holds, kept outside the store.

The index lives beside the store file (``imdx.duckdb`` → ``imdx.library-index/``) or in memory (a store
without a file, or a read-only store whose index is out of date). It notes the store's
:meth:`~imdx.store.base.Store.library_generation` it was built from; when the store has changed since,
it is rebuilt (an import updates only the records it wrote). Being derived, it can always be deleted.

Text is analysed once for all languages: words, lower case, accents folded, English stemming (Spanish
and French titles lose little by it: "migración" and "migracion" are one word).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from pathlib import Path

import tantivy

from imdx.library import clean
from imdx.library.glossary import Glossary
from imdx.library.model import Record
from imdx.store.base import Store

ANALYZER = "imdx"
PLAIN = "imdx_plain"  # no stemming: for prefixes and near spellings
FACETS = {"year": "f_year", "country": "f_country", "theme": "f_theme", "type": "f_type", "language": "f_language",
          "commissioner": "f_commissioner", "gcm": "f_gcm", "dataflow": "f_dataflow"}
TEXT_FIELDS = {"title": 3.0, "subjects": 1.5, "people": 1.2, "body": 1.0}
_GENERATION = "imdx-generation.txt"
CHECK_EVERY = 1.0  # seconds between two comparisons of the index's generation with the store's
_LOCK = threading.Lock()
_OPEN: dict[str, LibraryIndex] = {}


def analyzer(stem: bool = True, stopwords: bool = False) -> tantivy.TextAnalyzer:
    builder = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
               .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold()))
    if stopwords:
        for language in ("english", "spanish", "french"):
            builder = builder.filter(tantivy.Filter.stopword(language))
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


def schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        b.add_text_field(name, stored=False, tokenizer_name=ANALYZER)
    b.add_text_field("plain", stored=False, tokenizer_name=PLAIN, index_option="basic")
    b.add_integer_field("f_year", stored=False, indexed=True, fast=True)
    for name in FACETS.values():
        if name != "f_year":
            b.add_text_field(name, stored=False, tokenizer_name="raw", fast=True, index_option="basic")
    b.add_text_field("f_concept", stored=False, tokenizer_name="raw", index_option="freq")
    b.add_bytes_field("display", stored=True, indexed=False, fast=False)
    return b.build()


def concept_key(term: str) -> str:
    return term.casefold()


def document(record: Record, area_names: dict[str, str], glossary: Glossary | None = None) -> tantivy.Document:
    """The indexed form of a record: its text fields, its facet values, the glossary terms it names in any of
    their names (so that a search expands to them with one term, not dozens of phrases) and what a result
    list shows."""
    names = [area_names.get(c, c) for c in record.countries]
    people = [clean.name_text(a) for a in record.authors] + record.commissioners + record.donors
    subjects = record.themes + record.keywords + record.country_names + names + record.regions
    body = "\n".join(filter(None, [record.abstract, record.text]))
    doc = tantivy.Document()
    doc.add_text("id", record.id)
    doc.add_text("title", record.title or "")
    doc.add_text("people", " ; ".join(people + [record.publisher or "", record.container_title or ""]))
    doc.add_text("subjects", " ; ".join(subjects))
    doc.add_text("body", body)
    doc.add_text("plain", " ".join(filter(None, [record.title, " ".join(subjects), " ".join(people)])))
    if glossary is not None:
        for term in glossary.terms_in(" ".join(filter(None, [record.title, " ".join(subjects), body[:20_000]]))):
            doc.add_text("f_concept", concept_key(term))
    if record.year is not None:
        doc.add_integer("f_year", int(record.year))
    for facet, values in (("f_country", record.countries), ("f_theme", record.themes), ("f_type", [record.type]),
                          ("f_language", record.languages), ("f_commissioner", record.commissioners),
                          ("f_gcm", record.gcm), ("f_dataflow", record.dataflows)):
        for value in values:
            doc.add_text(facet, value)
    display = {"id": record.id, "title": record.title, "year": record.year, "type": record.type,
               "authors": record.author_text[:300], "countries": record.countries[:30], "languages": record.languages,
               "url": record.url, "doi": record.doi, "commissioners": record.commissioners}
    doc.add_bytes("display", json.dumps(display, ensure_ascii=False).encode())
    return doc


class LibraryIndex:
    """One tantivy index of a store's library (see the module docstring)."""

    def __init__(self, path: Path | None):
        self.path = path
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        try:
            self.index = tantivy.Index(schema(), str(path) if path else None, reuse=True)
        except (OSError, ValueError):  # an index of another schema (an older imdx): it is derived, so rebuild it
            if path is None:
                raise
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            self.index = tantivy.Index(schema(), str(path), reuse=False)
        self.index.register_tokenizer(ANALYZER, analyzer())
        self.index.register_tokenizer(PLAIN, analyzer(stem=False))
        self.generation = (path / _GENERATION).read_text().strip() if path and (path / _GENERATION).exists() else None
        self.lock = threading.Lock()
        self.checked = -1e9  # when the store's generation was last compared (see for_store)

    @classmethod
    def for_store(cls, store: Store, refresh: bool = True) -> LibraryIndex:
        """The index of ``store``'s library, up to date; one per store file and process."""
        path = getattr(store, "path", None)
        key = str(Path(path).resolve()) if path is not None else f"memory:{id(store)}"
        with _LOCK:
            index = _OPEN.get(key)
            if index is None:
                writable = path is not None and not store.is_read_only()
                target = Path(path).with_suffix(".library-index") if writable else None
                if path is not None and not writable:  # read-only: use the index on disk if it is current
                    on_disk = Path(path).with_suffix(".library-index")
                    if (on_disk / _GENERATION).exists() and \
                            (on_disk / _GENERATION).read_text().strip() == index_generation(store):
                        target = on_disk
                index = _OPEN[key] = cls(target)
        if refresh and time.monotonic() - index.checked > CHECK_EVERY:
            if index.generation != index_generation(store):
                index.refresh(store)
            index.checked = time.monotonic()
        return index

    def refresh(self, store: Store, changed: list[str] | None = None, since: str | None = None) -> None:
        """Bring the index up to the store: only the ``changed`` records when the index was built from the
        generation ``since`` (the library just before the write that changed them), else everything."""
        with self.lock:
            generation = index_generation(store)
            if self.generation == generation:
                return
            areas = store.areas()
            names = {} if areas is None else areas.frame["name"].to_dict()
            glossary = Glossary.from_store(store)
            writer = self.index.writer(64 * 2**20, 1)
            try:
                if changed is not None and since is not None and self.generation == since:
                    for rid in changed:
                        writer.delete_documents_by_term("id", rid)
                    records = store.library_records(changed)
                else:
                    writer.delete_all_documents()
                    records = store.library_records()
                for stored in records:
                    writer.add_document(document(Record.from_body(stored.body), names, glossary))
                writer.commit()
                writer.wait_merging_threads()
            except BaseException:
                writer.rollback()
                raise
            self.index.reload()
            self.generation, self.checked = generation, time.monotonic()
            if self.path is not None:
                (self.path / _GENERATION).write_text(generation)

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()


def index_generation(store: Store) -> str:
    """What the index was built from: the library's generation and the glossary's terms (they tag records)."""
    terms = sorted(e.entry_id for e in store.registry_entries("glossary_term"))
    digest = hashlib.sha256("|".join(terms).encode()).hexdigest()[:12]
    return f"{store.library_generation()}/glossary:{digest}"


def forget(store: Store) -> None:
    """Drop the cached index of a store (tests, and after the store file was replaced)."""
    path = getattr(store, "path", None)
    key = str(Path(path).resolve()) if path is not None else f"memory:{id(store)}"
    with _LOCK:
        _OPEN.pop(key, None)
