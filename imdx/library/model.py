"""A library record: CSL-JSON's bibliographic fields plus what imdx links it to, and the limits every
reader and the search observe.

The stored body of a record is :meth:`Record.to_body` (a JSON object); CSL-JSON and BibTeX exports are
made from it (:mod:`imdx.library.export`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields

from imdx.library import clean

#: the record types of CSL (a subset imdx uses) and how a person reads them
TYPES = {"report": "Report", "article-journal": "Journal article", "book": "Book", "chapter": "Book chapter",
         "thesis": "Thesis", "paper-conference": "Conference paper", "webpage": "Web page", "dataset": "Dataset",
         "document": "Document", "manuscript": "Working paper", "evaluation": "Evaluation report"}


@dataclass(frozen=True)
class Limits:
    """Bounds on what the library reads and answers; every one can be set (``IMDX_LIBRARY_<NAME>``)."""

    max_file_bytes: int = 50 * 2**20  # one imported file
    max_records: int = 100_000  # records in one imported file
    max_field_chars: int = 10_000  # one metadata field (titles, names, keywords)
    max_abstract_chars: int = 20_000
    max_text_chars: int = 500_000  # text extracted from one document
    max_pages: int = 2_000  # pages of one PDF read for text
    max_query_chars: int = 500
    max_query_terms: int = 32
    max_page_size: int = 100

    @classmethod
    def from_env(cls, environ=None) -> Limits:
        import os

        from imdx.errors import ConfigError

        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(f"IMDX_LIBRARY_{f.name.upper()}")
            if raw is not None:
                if not raw.isdigit() or int(raw) < 1:
                    raise ConfigError(f"IMDX_LIBRARY_{f.name.upper()} must be a whole number of 1 or more "
                                      f"(got {raw!r}; default {f.default})")
                values[f.name] = int(raw)
        return cls(**values)


@dataclass
class Record:
    id: str
    type: str = "document"
    title: str | None = None
    authors: list[dict] = field(default_factory=list)  # CSL names: {"family", "given"} or {"literal"}
    year: int | None = None
    issued: str | None = None  # ISO date, as precise as known
    doi: str | None = None
    url: str | None = None
    languages: list[str] = field(default_factory=list)  # ISO 639-1
    abstract: str | None = None
    text: str | None = None  # full text extracted from the document
    publisher: str | None = None
    container_title: str | None = None
    commissioners: list[str] = field(default_factory=list)
    donors: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    country_names: list[str] = field(default_factory=list)  # as the source wrote them
    countries: list[str] = field(default_factory=list)  # imdx area codes
    regions: list[str] = field(default_factory=list)
    gcm: list[str] = field(default_factory=list)  # GCM objective numbers, "1" .. "23"
    dataflows: list[str] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)  # {"url", "description", "kind"}
    extra: dict = field(default_factory=dict)  # the source's other fields, as published (cleaned)

    def to_body(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], {})}

    @classmethod
    def from_body(cls, body: dict) -> Record:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in body.items() if k in known})

    def links(self) -> list[tuple[str, str]]:
        """What the store indexes the record by."""
        out = [("area", c) for c in self.countries] + [("gcm", g) for g in self.gcm]
        out += [("dataflow", d) for d in self.dataflows] + [("theme", t) for t in self.themes]
        out += [("language", lang) for lang in self.languages]
        out += [("commissioner", c) for c in self.commissioners] + [("donor", d) for d in self.donors]
        if self.doi:
            out.append(("doi", self.doi))
        if self.title:
            out.append(("title_key", title_key(self.title, self.year)))
        return list(dict.fromkeys(out))

    @property
    def author_text(self) -> str:
        return "; ".join(clean.name_text(a) for a in self.authors)


def title_key(title: str, year: int | None) -> str:
    """Two records with the same key are one work (accents, case and punctuation ignored)."""
    return f"{clean.fold(title)[:200]}|{year or ''}"


def record_id(prefix: str, *parts) -> str:
    """A stable id from what identifies a work (a DOI, or title, year and first author)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"
