"""The migration glossary, used to expand searches: a search for one name of a term also finds the others.

A *concept* is a term of IOM's migration glossary (``research_library/iom_evaluations/glossary_migration.json``,
91 terms with definitions) with its *variants*: the term itself, its forms with and without a parenthesis
("Smuggling (of migrants)" → "smuggling of migrants", "smuggling"), the terms its definition refers to
("In the migration context, see expulsion."), and the reviewed synonyms of ``synonyms.csv`` (English,
Spanish, French). :meth:`Glossary.find` finds the variants a query contains, longest first.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from imdx.errors import SourceFileError

FILE = "research_library/iom_evaluations/glossary_migration.json"
KIND = "glossary_term"
_SEE = re.compile(r"\bsee ([a-z][a-z -]+?)[.;]", re.IGNORECASE)


def key(text: str) -> str:
    """How a variant is matched: accents and other marks dropped, lower case, punctuation as spaces, a final
    plural 's' dropped from each word."""
    return " ".join(_fold_words(text))


@dataclass
class Concept:
    term: str
    definition: str
    variants: list[str] = field(default_factory=list)


@dataclass
class Match:
    concept: Concept
    start: int  # word positions in the query
    stop: int

    def alternatives(self, matched: str) -> list[str]:
        """The concept's other names (not the one the query used)."""
        return [v for v in self.concept.variants if key(v) != key(matched)]


class Glossary:
    def __init__(self, concepts: list[Concept]):
        self.concepts = {c.term: c for c in concepts}
        self._by_key: dict[str, Concept] = {}
        for concept in concepts:
            for variant in concept.variants:
                self._by_key.setdefault(key(variant), concept)
        self._longest = max((len(k.split()) for k in self._by_key), default=1)
        self._first = {k.split()[0] for k in self._by_key if k}

    @classmethod
    def read(cls, path: Path) -> Glossary:
        return cls.from_terms(read_terms(path))

    @classmethod
    def from_terms(cls, terms: list[tuple[str, str]]) -> Glossary:
        concepts = {t: Concept(t, d, _forms(t)) for t, d in terms}
        by_lower = {t.casefold(): t for t in concepts}
        for term, definition in terms:  # "In the migration context, see expulsion."
            for ref in _SEE.findall(definition):
                other = by_lower.get(ref.strip().casefold())
                if other and other != term:
                    _add(concepts[term], concepts[other].variants[0])
        for row in _synonyms():
            if row["term"] in concepts:
                _add(concepts[row["term"]], row["variant"])
        return cls(list(concepts.values()))

    @classmethod
    def from_store(cls, store) -> Glossary:
        """The glossary stored by :func:`store_glossary` (an empty one, expanding nothing, when there is none)."""
        entries = store.registry_entries(KIND)
        return cls.from_terms([(e.body["term"], e.body.get("definition", "")) for e in entries])

    @classmethod
    def from_mirror(cls, mirror: Path | None) -> Glossary:
        """The glossary in the mirror folder; an empty glossary (no expansion) when there is none."""
        if mirror is None or not (Path(mirror) / FILE).exists():
            return cls([])
        return cls.read(Path(mirror) / FILE)

    def terms_in(self, text: str) -> set[str]:
        """The glossary terms a text names, in any of their names."""
        words = _fold_words(text)
        found = set()
        for i, word in enumerate(words):
            if word not in self._first:
                continue
            for n in range(min(self._longest, len(words) - i), 0, -1):
                concept = self._by_key.get(" ".join(words[i:i + n]))
                if concept is not None:
                    found.add(concept.term)
                    break
        return found

    def find(self, words: list[str]) -> list[Match]:
        """The concepts named in a query's words (longest variant first, no overlaps)."""
        keys = [key(w) for w in words]
        found, i = [], 0
        while i < len(keys):
            for n in range(min(self._longest, len(keys) - i), 0, -1):
                concept = self._by_key.get(" ".join(keys[i:i + n]))
                if concept is not None:
                    found.append(Match(concept, i, i + n))
                    i += n
                    break
            else:
                i += 1
        return found


def read_terms(path: Path, max_bytes: int = 10 * 2**20) -> list[tuple[str, str]]:
    """(term, definition) pairs of a glossary file: a JSON array of ``{term, definition}``."""
    try:
        if path.stat().st_size > max_bytes:
            raise SourceFileError(str(path), f"is larger than {max_bytes:,} bytes; a glossary is much smaller")
        items = json.loads(path.read_text("utf-8"))
        terms = [(str(i["term"]).strip(), str(i.get("definition") or "").strip()) for i in items]
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise SourceFileError(str(path), f"cannot be read as a glossary ({str(err)[:200]})",
                              expected="a JSON array of {term, definition}") from None
    bad = [t for t, _ in terms if not t or len(t) > 200]
    if bad or not terms:
        raise SourceFileError(str(path), "has an empty or overlong term" if terms else "holds no term",
                              expected="a JSON array of {term, definition}, each term 1-200 characters")
    return terms


def store_glossary(store, path: Path, actor: str) -> int:
    """Keep the glossary in the store (registry entries of kind ``glossary_term``), replacing the one stored;
    returns the number of terms. One transaction, audited."""
    from imdx.store.documents import AuditRow, RegistryChange

    terms = read_terms(path)
    old = {e.entry_id for e in store.registry_entries(KIND)}
    changes = [RegistryChange(KIND, term, None, {"term": term, "definition": definition}, check_version=False)
               for term, definition in terms]
    changes += [RegistryChange(KIND, term, None, None, check_version=False) for term in old - {t for t, _ in terms}]
    store.write_registry(changes, [AuditRow(actor, None, "import", KIND, path.name,
                                            detail={"terms": len(terms), "file": path.name})])
    return len(terms)


def _fold_words(text: str) -> list[str]:
    """The words of a text as :func:`key` compares them, folded at once (fast enough to tag 100,000 records)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").casefold()
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in re.findall(r"\w+", text)]


def unknown_synonym_terms(glossary: Glossary) -> list[str]:
    """Terms of synonyms.csv that are not glossary terms (a reviewed file must not have any)."""
    return sorted({r["term"] for r in _synonyms()} - set(glossary.concepts))


def _forms(term: str) -> list[str]:
    forms = [term]
    bare = re.sub(r"\s*\([^)]*\)", "", term).strip()
    inside = re.sub(r"[()]", "", term).strip()
    slash = re.match(r"(.*?)(\S+)/(\S+)(.*)", term)  # "Secondary migration/movement": both words
    pair = [slash.group(1) + slash.group(i) + slash.group(4) for i in (2, 3)] if slash else []
    for form in (inside, bare, *pair):
        if form and form not in forms and len(form) > 3:
            forms.append(form)
    return forms


def _add(concept: Concept, variant: str) -> None:
    if key(variant) not in {key(v) for v in concept.variants}:
        concept.variants.append(variant)


def _synonyms() -> list[dict]:
    text = resources.files("imdx.library").joinpath("synonyms.csv").read_text("utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
