"""Readers of the bibliographic formats research comes in: CSL-JSON, BibTeX (bibtexparser) and RIS (rispy).

Each reader turns one file into :class:`Entry` items (a :class:`~imdx.library.model.Record` whose areas
are not yet resolved, and where it was found). A file that cannot be read as its format, or that
breaks a limit, raises :class:`~imdx.errors.SourceFileError` naming the file and line: an import is
all or nothing, so nothing of it is kept. A single entry without a title is left out with an issue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imdx.errors import SourceFileError
from imdx.library import clean
from imdx.library.model import Limits, Record, record_id
from imdx.model.report import Issue, Report
from imdx.store.documents import RecordSource

HINT = "Fix the file (or export it again from your reference manager) and import it again; nothing was imported."


@dataclass
class Entry:
    record: Record
    source: RecordSource


def read_bytes(path: Path, limits: Limits) -> bytes:
    """The file's bytes, refused past ``limits.max_file_bytes`` before anything is read."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise SourceFileError(str(path), f"cannot be read ({err.strerror})",
                              hint="Check the path; nothing was imported.") from None
    if size > limits.max_file_bytes:
        raise SourceFileError(str(path), f"is {size:,} bytes, more than the {limits.max_file_bytes:,} a library import "
                              "may have", hint="Split the file, or raise IMDX_LIBRARY_MAX_FILE_BYTES; nothing was "
                              "imported.")
    return path.read_bytes()


def decode(data: bytes, name: str, report: Report) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.add(Issue("not-utf8", "the file is not UTF-8; it was read as Windows-1252 (check accented names)",
                         "info", source="library", file=name))
        return data.decode("cp1252", errors="replace")


def finish(record: Record, limits: Limits, prefix: str) -> Record:
    """Clean the fields every reader fills, and give the record its stable id."""
    lim = limits.max_field_chars
    record.title = clean.title(record.title, lim)
    record.abstract = clean.body_text(record.abstract, limits.max_abstract_chars)
    record.publisher = clean.text(record.publisher, lim)
    record.container_title = clean.text(record.container_title, lim)
    record.keywords = [k for k in (clean.text(k, 200) for k in record.keywords) if k][:200]
    record.authors = record.authors[:500]
    if record.year is None and record.issued:
        record.year = clean.year(record.issued)
    if not record.languages and (record.abstract or record.title):
        detected = clean.detect_language(" ".join(filter(None, [record.title, record.abstract])))
        record.languages = [detected] if detected and record.abstract else []
    if record.doi:
        record.id = record_id("doi", record.doi)
    else:
        first = record.authors[0] if record.authors else {}
        record.id = record_id(prefix, clean.fold(record.title or ""), record.year,
                              clean.fold(first.get("family") or first.get("literal") or ""))
    return record


def _too_many(path: str, n: int, limits: Limits) -> None:
    if n > limits.max_records:
        raise SourceFileError(path, f"holds {n:,} records, more than the {limits.max_records:,} one import may have",
                              hint="Split the file, or raise IMDX_LIBRARY_MAX_RECORDS; nothing was imported.")


def _untitled(report: Report, name: str, where: str, row: int | None) -> None:
    report.add(Issue("record-without-title", f"{where} has no title and was left out", "warning", source="library",
                     file=name, row=row))


# -- CSL-JSON ----------------------------------------------------------------------------------
def _csl_date(value) -> str | None:
    if isinstance(value, dict):
        parts = value.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            try:
                return clean.date("-".join(str(int(p)) for p in parts[0][:3]))
            except (TypeError, ValueError):
                return None
        return clean.date(value.get("raw") or value.get("literal"))
    return clean.date(value)


def read_csl_json(path: Path, limits: Limits, report: Report) -> list[Entry]:
    data, name = read_bytes(path, limits), path.name
    try:
        items = json.loads(decode(data, name, report))
    except (ValueError, RecursionError) as err:
        raise SourceFileError(str(path), f"is not JSON ({str(err)[:200]})", expected="a CSL-JSON array of items",
                              hint=HINT) from None
    if isinstance(items, dict):
        items = items.get("items", [items])
    if not isinstance(items, list):
        raise SourceFileError(str(path), "holds no list of items", expected="a CSL-JSON array of items", hint=HINT)
    _too_many(str(path), len(items), limits)
    sha = _sha(data)
    out = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise SourceFileError(str(path), f"item {i} is a {type(item).__name__}, not an object",
                                  expected="a CSL-JSON array of objects", hint=HINT)
        keywords = item.get("keyword")
        countries = item.get("country") or item.get("countries") or item.get("jurisdiction")
        rec = Record(
            id="", type=_type(item.get("type")), title=item.get("title"),
            authors=clean.people(item.get("author") or []) if isinstance(item.get("author"), list)
            else clean.people(item.get("author")),
            issued=_csl_date(item.get("issued")), doi=clean.doi(item.get("DOI")), url=clean.url(item.get("URL")),
            languages=clean.language(item.get("language")), abstract=item.get("abstract"),
            publisher=item.get("publisher"), container_title=item.get("container-title"),
            keywords=clean.split_list(keywords) if isinstance(keywords, str) else list(keywords or []),
            country_names=[c for c in clean.split_list(countries)] if countries else [])
        if not clean.title(rec.title):
            _untitled(report, name, f"item {i}", i)
            continue
        rec = finish(rec, limits, "csl")
        out.append(Entry(rec, RecordSource("csl-json", str(item.get("id") or i), name, sha, f"item {i}")))
    return out


_CSL_TYPES = {"article": "article-journal", "article-journal": "article-journal", "book": "book",
              "chapter": "chapter", "report": "report", "thesis": "thesis", "paper-conference": "paper-conference",
              "webpage": "webpage", "dataset": "dataset", "manuscript": "manuscript"}


def _type(value) -> str:
    return _CSL_TYPES.get(str(value or "").strip().lower(), "document")


# -- BibTeX ------------------------------------------------------------------------------------
_BIBTEX_TYPES = {"article": "article-journal", "book": "book", "inbook": "chapter", "incollection": "chapter",
                 "techreport": "report", "report": "report", "phdthesis": "thesis", "mastersthesis": "thesis",
                 "thesis": "thesis", "inproceedings": "paper-conference", "conference": "paper-conference",
                 "online": "webpage", "electronic": "webpage", "dataset": "dataset", "unpublished": "manuscript",
                 "misc": "document"}


def read_bibtex(path: Path, limits: Limits, report: Report) -> list[Entry]:
    import bibtexparser
    from bibtexparser import middlewares as mw

    data, name = read_bytes(path, limits), path.name
    source_text = decode(data, name, report)
    try:
        library = bibtexparser.parse_string(source_text, append_middleware=[
            mw.LatexDecodingMiddleware(), mw.SeparateCoAuthors(), mw.SplitNameParts()])
    except Exception as err:  # noqa: BLE001 - the parser's own errors, on input it cannot split into blocks
        raise SourceFileError(str(path), f"is not BibTeX ({str(err)[:200]})", hint=HINT) from None
    failed = library.failed_blocks
    if failed:
        where = "; ".join(f"line {b.start_line + 1}: {str(getattr(b, 'error', '') or 'cannot be parsed')[:160]}"
                          for b in failed[:5])
        raise SourceFileError(str(path), f"{len(failed)} BibTeX entr{'y' if len(failed) == 1 else 'ies'} cannot be "
                              f"parsed ({where})", row=failed[0].start_line + 1, hint=HINT)
    if not library.entries and source_text.strip():
        raise SourceFileError(str(path), "holds no BibTeX entry", expected="entries such as @article{key, ...}",
                              hint=HINT)
    _too_many(str(path), len(library.entries), limits)
    sha = _sha(data)
    out = []
    for entry in library.entries:
        f = {k.lower(): v.value for k, v in entry.fields_dict.items()}
        line = entry.start_line + 1
        authors = []
        for part in f.get("author") or f.get("editor") or []:
            if hasattr(part, "last"):
                family = " ".join(part.von + part.last + part.jr).strip("{} ")
                given = " ".join(part.first).strip("{} ")
                authors.append({"family": family, "given": given} if given else {"literal": family})
            else:
                authors.extend(clean.people(str(part)))
        title = str(f.get("title", "")).replace("{", "").replace("}", "")
        if not clean.title(title):
            _untitled(report, name, f"entry {entry.key!r}", line)
            continue
        rec = Record(
            id="", type=_BIBTEX_TYPES.get(entry.entry_type.lower(), "document"), title=title, authors=authors,
            year=clean.year(f.get("year")), issued=clean.date(f.get("date")) or clean.date(f.get("year")),
            doi=clean.doi(f.get("doi")),
            url=clean.url(f.get("url")), languages=clean.language(f.get("language") or f.get("langid")),
            abstract=f.get("abstract"), publisher=f.get("publisher") or f.get("institution") or f.get("school"),
            container_title=f.get("journal") or f.get("booktitle") or f.get("journaltitle"),
            keywords=clean.split_list(f.get("keywords")),
            country_names=clean.split_list(f.get("country") or f.get("countries")))
        rec = finish(rec, limits, "bib")
        out.append(Entry(rec, RecordSource("bibtex", entry.key, name, sha, f"line {line}")))
    return out


# -- RIS ---------------------------------------------------------------------------------------
_RIS_TYPES = {"JOUR": "article-journal", "BOOK": "book", "CHAP": "chapter", "RPRT": "report", "THES": "thesis",
              "CONF": "paper-conference", "CPAPER": "paper-conference", "ELEC": "webpage", "WEB": "webpage",
              "DATA": "dataset", "UNPB": "manuscript", "GEN": "document", "GOVDOC": "report"}


def read_ris(path: Path, limits: Limits, report: Report) -> list[Entry]:
    import rispy

    data, name = read_bytes(path, limits), path.name
    source_text = decode(data, name, report)
    if not any(line.startswith("TY  -") for line in source_text.splitlines()[:50]):
        raise SourceFileError(str(path), "does not start an RIS record with 'TY  - '", row=1,
                              expected="RIS records (TY  - JOUR ... ER  - )", hint=HINT)
    try:
        entries = rispy.loads(source_text, skip_unknown_tags=True, enforce_list_tags=False)
    except Exception as err:  # noqa: BLE001 - rispy raises IOError/ValueError with the offending line
        raise SourceFileError(str(path), f"is not valid RIS ({str(err)[:200]})", hint=HINT) from None
    starts = sum(1 for line in source_text.splitlines() if line.startswith("TY  -"))
    ends = sum(1 for line in source_text.splitlines() if line.startswith("ER  -"))
    if starts != ends:
        raise SourceFileError(str(path), f"has {starts} record starts (TY) but {ends} ends (ER): a record is cut off",
                              hint=HINT)
    _too_many(str(path), len(entries), limits)
    sha = _sha(data)
    out = []
    for i, e in enumerate(entries, 1):
        title = e.get("title") or e.get("primary_title") or e.get("translated_title")
        if not clean.title(title):
            _untitled(report, name, f"record {i}", i)
            continue
        names = list(e.get("authors") or []) + list(e.get("first_authors") or [])
        rec = Record(
            id="", type=_RIS_TYPES.get(str(e.get("type_of_reference", "")).upper(), "document"), title=title,
            authors=[p for p in (clean.person(n) for n in names) if p],  # RIS: one person per AU, "Last, First"
            issued=clean.date(e.get("date")) or clean.date(e.get("year") or e.get("publication_year")),
            doi=clean.doi(e.get("doi")), url=clean.url((e.get("urls") or [None])[0]),
            languages=clean.language(e.get("language")), abstract=e.get("abstract") or e.get("notes_abstract"),
            publisher=e.get("publisher"),
            container_title=e.get("journal_name") or e.get("secondary_title") or e.get("alternate_title3"),
            keywords=[k for kw in (e.get("keywords") or []) for k in clean.split_list(kw)],
            country_names=clean.split_list(e.get("custom1")) if str(e.get("custom1", "")).strip() else [])
        rec = finish(rec, limits, "ris")
        out.append(Entry(rec, RecordSource("ris", str(e.get("id") or i), name, sha, f"record {i}")))
    return out


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
