"""Exports of library records: CSL-JSON (what Zotero, Pandoc and citeproc read) and BibTeX (bibtexparser).

Both are made from the stored body of each record; a record exported and imported again is the same
record (the same id, from its DOI or its title, year and first author).
"""

from __future__ import annotations

import json
import re

from imdx.library.model import Record

_CSL_TYPE = {"evaluation": "report"}
_BIBTEX_TYPE = {"article-journal": "article", "book": "book", "chapter": "incollection", "report": "techreport",
                "evaluation": "techreport", "thesis": "phdthesis", "paper-conference": "inproceedings",
                "webpage": "online", "dataset": "misc", "manuscript": "unpublished", "document": "misc"}


def issued(record: Record) -> str | None:
    """The date of a record as exported: its full date when it agrees with its year, else the year alone."""
    if record.issued and (record.year is None or record.issued.startswith(str(record.year))):
        return record.issued
    return str(record.year) if record.year else None


def to_csl(record: Record) -> dict:
    item = {"id": record.id, "type": _CSL_TYPE.get(record.type, record.type), "title": record.title}
    if record.authors:
        item["author"] = record.authors
    if issued(record):
        parts = [int(p) for p in issued(record).split("-")]
        item["issued"] = {"date-parts": [parts]}
    for key, value in (("DOI", record.doi), ("URL", record.url), ("abstract", record.abstract),
                       ("publisher", record.publisher), ("container-title", record.container_title),
                       ("language", ", ".join(record.languages) or None),
                       ("keyword", ", ".join(record.themes + record.keywords) or None),
                       ("genre", record.extra.get("genre")),
                       ("country", ", ".join(record.countries) or None)):
        if value:
            item[key] = value
    return item


def csl_json(records: list[Record]) -> str:
    return json.dumps([to_csl(r) for r in records], ensure_ascii=False, indent=2)


def _braces(value: str) -> str:
    """BibTeX values are braced: a brace in the text would end the value early, so none is kept."""
    return value.replace("{", "(").replace("}", ")").replace("\\", "/")


def _bibtex_name(name: dict) -> str:
    if "literal" in name:
        return "{" + _braces(name["literal"]) + "}"
    return _braces(", ".join(p for p in (name.get("family"), name.get("given")) if p))


def bibtex_key(record: Record) -> str:
    first = record.authors[0] if record.authors else {}
    who = first.get("family") or first.get("literal") or "anon"
    word = re.sub(r"\W+", "", who.split()[0] if who.split() else "anon").lower()[:20] or "anon"
    return f"{word}{record.year or ''}_{record.id.rsplit('-', 1)[-1][:8]}"


def bibtex(records: list[Record]) -> str:
    import bibtexparser
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    for record in records:
        fields = [("title", record.title), ("author", " and ".join(_bibtex_name(a) for a in record.authors) or None),
                  ("year", str(record.year) if record.year else None), ("date", issued(record)),
                  ("doi", record.doi), ("url", record.url), ("publisher", record.publisher),
                  ("journal" if record.type == "article-journal" else "booktitle", record.container_title),
                  ("institution", record.publisher if record.type in ("report", "evaluation") else None),
                  ("language", ", ".join(record.languages) or None), ("abstract", record.abstract),
                  ("keywords", ", ".join(record.themes + record.keywords) or None),
                  ("country", ", ".join(record.countries) or None),
                  ("type", record.extra.get("genre")), ("note", f"imdx:{record.id}")]
        library.add(Entry(_BIBTEX_TYPE.get(record.type, "misc"), bibtex_key(record),
                          [Field(k, v if k == "author" else _braces(str(v))) for k, v in fields if v]))
    return bibtexparser.write_string(library)  # UTF-8, as biber and modern BibTeX read it
