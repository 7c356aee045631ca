"""Searching the library: what people expect of a search box, on the tantivy index.

A query is words, ``"quoted phrases"``, prefixes (``migra*``) and exclusions (``-covid``); never tantivy's
query language (so no input is a syntax error). Each word must be found (if that finds nothing, any word
may be), in a title, subject (themes, keywords, places), person or the text, ranked by BM25 with the
title counting most. A word also finds its near spellings (one edit for words of 5 letters or more, two
from 9: "trafiking" finds "trafficking"), and the terms of the migration glossary find each other
("irregular migration" finds "undocumented"). Facets (year, country, theme, type, language,
commissioner, gcm, dataflow) filter the results and are counted for each query; within a facet the chosen
values are alternatives, across facets all must hold.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import tantivy
from tantivy import Occur, Query

from imdx.errors import QueryError
from imdx.library.glossary import Glossary
from imdx.library.index import FACETS, TEXT_FIELDS, LibraryIndex, analyzer, concept_key
from imdx.library.model import Limits

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
_STEM, _PLAIN, _STOP = analyzer(), analyzer(stem=False), analyzer(stem=False, stopwords=True)
SORTS = ("relevance", "year", "-year")
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="imdx-facets")


@dataclass
class Hit:
    id: str
    score: float
    display: dict


@dataclass
class SearchResult:
    q: str
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    expansions: list[dict] = field(default_factory=list)  # the glossary terms that widened the query
    relaxed: bool = False  # fewer than 10 records hold every word: records holding some follow them
    took_ms: float = 0.0


@dataclass
class _Unit:
    words: list[str]  # the query's words of this unit
    kind: str  # "word", "phrase", "prefix", "concept"
    negated: bool = False
    alternatives: list[str] = field(default_factory=list)  # concept: the glossary's other names
    concept: str | None = None  # concept: the glossary term


def parse(q: str, glossary: Glossary, limits: Limits) -> list[_Unit]:
    """The units of a query: words, phrases, prefixes, and glossary concepts spanning several words."""
    if len(q) > limits.max_query_chars:
        raise QueryError(f"has {len(q):,} characters; at most {limits.max_query_chars} are searched",
                         kind="malformed-value", parameter="q", hint="Shorten the query.")
    q = re.sub(r"[^\w\s\"*'’-]", " ", q)
    units: list[_Unit] = []
    plain: list[str] = []

    def flush():
        units.extend(_concepts(plain, glossary))
        plain.clear()

    for m in _TOKEN.finditer(q):
        if m.group(2) is not None:
            flush()
            words = m.group(2).split()
            if words:
                units.append(_Unit(words, "phrase", bool(m.group(1))))
        else:
            word = m.group(4).strip("'’-")
            if not word or word == "*":
                continue
            if word.endswith("*"):
                flush()
                if len(word.rstrip("*")) >= 2:
                    units.append(_Unit([word.rstrip("*")], "prefix", bool(m.group(3))))
            elif m.group(3):
                flush()
                units.append(_Unit([word], "word", True))
            else:
                plain.append(word)
    flush()
    if sum(len(u.words) for u in units) > limits.max_query_terms:
        raise QueryError(f"has more than {limits.max_query_terms} words", kind="malformed-value", parameter="q",
                         hint="Shorten the query.")
    return units


def _concepts(words: list[str], glossary: Glossary) -> list[_Unit]:
    out, i = [], 0
    matches = {m.start: m for m in glossary.find(words)}
    while i < len(words):
        m = matches.get(i)
        if m is not None:
            matched = " ".join(words[m.start:m.stop])
            out.append(_Unit(words[m.start:m.stop], "concept", alternatives=m.alternatives(matched),
                             concept=m.concept.term))
            i = m.stop
        else:
            out.append(_Unit([words[i]], "word"))
            i += 1
    return out


def _tokens(text: str, plain: bool = False) -> list[str]:
    return (_PLAIN if plain else _STEM).analyze(text)


def _is_stopword(word: str) -> bool:
    return not _STOP.analyze(word)


def _word_query(schema, word: str, fuzzy: bool, searcher=None) -> Query | None:
    tokens = _tokens(word)
    if not tokens:
        return None
    if len(tokens) > 1:  # "covid-19": its parts as a phrase
        return _phrase_query(schema, word)
    token = tokens[0]
    clauses = [(Occur.Should, Query.boost_query(Query.term_query(schema, name, token), boost))
               for name, boost in TEXT_FIELDS.items()]
    plain = _tokens(word, plain=True)[0]
    distance = 2 if len(plain) >= 9 else 1 if len(plain) >= 5 else 0
    if fuzzy and distance and (searcher is None or _rare(searcher, token, plain)):
        # near spellings of a word the library (almost) never uses: of the word as typed, in titles, subjects
        # and people, and of its stem everywhere
        for name, term in [("plain", plain)] + [(name, token) for name in TEXT_FIELDS]:
            d = 2 if len(term) >= 9 else 1 if len(term) >= 5 else 0
            if d:
                clauses.append((Occur.Should, Query.boost_query(
                    Query.fuzzy_term_query(schema, name, term, distance=d, transposition_cost_one=True), 0.3)))
    return Query.boolean_query(clauses)


RARE = 3  # a word found in fewer records than this is probably misspelt: its near spellings are searched too


def _rare(searcher, token: str, plain: str) -> bool:
    found = searcher.doc_freq("plain", plain)
    for name in TEXT_FIELDS:
        if found >= RARE:
            return False
        found += searcher.doc_freq(name, token)
    return found < RARE


def _phrase_query(schema, text: str, boost: float = 1.0) -> Query | None:
    tokens = _tokens(text)
    if not tokens:
        return None
    clauses = []
    for name, field_boost in TEXT_FIELDS.items():
        q = Query.term_query(schema, name, tokens[0]) if len(tokens) == 1 else Query.phrase_query(schema, name, tokens)
        clauses.append((Occur.Should, Query.boost_query(q, field_boost * boost)))
    return Query.boolean_query(clauses)


def _prefix_query(schema, prefix: str) -> Query | None:
    tokens = _tokens(prefix, plain=True)
    if not tokens:
        return None
    return Query.fuzzy_term_query(schema, "plain", tokens[-1], distance=0, prefix=True)


def _unit_query(schema, unit: _Unit, fuzzy: bool, expand: bool, searcher=None) -> Query | None:
    if unit.kind == "phrase":
        return _phrase_query(schema, " ".join(unit.words))
    if unit.kind == "prefix":
        return _prefix_query(schema, unit.words[0])
    if unit.kind == "word":
        return _word_query(schema, unit.words[0], fuzzy, searcher)
    parts = [q for q in (_word_query(schema, w, fuzzy, searcher) for w in unit.words if not _is_stopword(w)) if q]
    options = [(Occur.Should, Query.boolean_query([(Occur.Must, p) for p in parts]))] if parts else []
    if expand:
        # records that name the term in any of its names (tagged when indexed, see imdx.library.index)
        options.append((Occur.Should, Query.boost_query(
            Query.term_query(schema, "f_concept", concept_key(unit.concept)), 2.0)))
    return Query.boolean_query(options) if options else None


def text_query(schema, units: list[_Unit], *, fuzzy: bool = True, expand: bool = True,
               conjunctive: bool = True, searcher=None) -> Query:
    clauses = []
    for unit in units:
        if unit.kind == "word" and not unit.negated and _is_stopword(unit.words[0]):
            continue
        q = _unit_query(schema, unit, fuzzy and not unit.negated, expand and not unit.negated, searcher)
        if q is None:
            continue
        clauses.append((Occur.MustNot if unit.negated else Occur.Must if conjunctive else Occur.Should, q))
    if not any(occur != Occur.MustNot for occur, _ in clauses):
        clauses.append((Occur.Must, Query.all_query()))
    return Query.boolean_query(clauses)


def filter_clauses(schema, filters: dict[str, list[str]], skip: str | None = None) -> list:
    clauses = []
    for facet, values in filters.items():
        if facet == skip or not values:
            continue
        name = FACETS[facet]
        if facet == "year":
            options = []
            for value in values:
                low, _, high = str(value).partition(":")
                low_y, high_y = int(low or 0), int(high or low or 9999)
                years = Query.range_query(schema, name, tantivy.FieldType.Integer, low_y, high_y)
                options.append((Occur.Should, years))
        else:
            options = [(Occur.Should, Query.term_query(schema, name, str(v))) for v in values]
        clauses.append((Occur.Must, Query.boolean_query(options)))
    return clauses


def search(index: LibraryIndex, glossary: Glossary, q: str = "", filters: dict[str, list[str]] | None = None, *,
           page: int = 1, size: int = 20, sort: str = "relevance", facet_size: int = 20,
           limits: Limits | None = None, expand: bool = True, fuzzy: bool = True) -> SearchResult:
    """Records matching ``q`` and ``filters`` (facet -> values), one page, with the facet counts."""
    start = time.perf_counter()
    limits = limits or Limits()
    filters = {k: list(v) for k, v in (filters or {}).items() if v}
    unknown = sorted(set(filters) - set(FACETS))
    if unknown:
        raise QueryError("unknown facet {value}", kind="unknown-parameter", value=unknown[0], allowed=FACETS)
    if sort not in SORTS:
        raise QueryError("is not a sort order", kind="malformed-value", parameter="sort", value=sort, allowed=SORTS)
    size = max(1, min(size, limits.max_page_size))
    if page < 1 or page * size > 10_000:
        raise QueryError("is out of range: results can be paged through their first 10,000", kind="malformed-value",
                         parameter="page", value=page)
    schema = index.index.schema
    units = parse(q, glossary, limits)
    searcher = index.searcher()
    relaxed = False
    text = text_query(schema, units, fuzzy=fuzzy, expand=expand, searcher=searcher)
    query = Query.boolean_query([(Occur.Must, text)] + filter_clauses(schema, filters))
    offset = (page - 1) * size
    # the facet counts in another thread while this one ranks (tantivy runs without the GIL): measured
    # 51 -> 35 ms for a query matching 60 % of 100,000 records
    counting = _POOL.submit(facet_counts, searcher, schema, text, filters, facet_size)
    found = searcher.search(query, limit=size, offset=offset, count=True)
    total = found.count
    if total < 10 and sum(1 for u in units if not u.negated) > 1:
        # few records hold every word: those come first, then records holding some of them
        relaxed = True
        anyword = text_query(schema, units, fuzzy=fuzzy, expand=expand, conjunctive=False, searcher=searcher)
        text = Query.boolean_query([(Occur.Should, Query.boost_query(text, 10.0)), (Occur.Should, anyword)])
        query = Query.boolean_query([(Occur.Must, text)] + filter_clauses(schema, filters))
        counting.result()
        counting = _POOL.submit(facet_counts, searcher, schema, text, filters, facet_size)
        found = searcher.search(query, limit=size, offset=offset, count=True)
        total = found.count
    if sort != "relevance" and total:
        found = searcher.search(query, limit=size, offset=offset, count=False, order_by_field="f_year",
                                order=tantivy.Order.Desc if sort == "year" else tantivy.Order.Asc)
    hits = []
    for score, address in found.hits:
        doc = searcher.doc(address)
        display = json.loads(bytes(doc.get_first("display")).decode())
        hits.append(Hit(display["id"], float(score) if isinstance(score, float) else 0.0, display))
    facets = counting.result()
    expansions = [{"matched": " ".join(u.words), "alternatives": u.alternatives[:12]}
                  for u in units if u.kind == "concept" and expand]
    return SearchResult(q, total, hits, facets, expansions, relaxed, (time.perf_counter() - start) * 1000)


def facet_counts(searcher, schema, text: Query, filters: dict[str, list[str]],
                 size: int) -> dict[str, list[tuple[str, int]]]:
    """For each facet, its values among the results when every OTHER facet's filter holds."""
    out = {}
    groups: dict[str | None, list[str]] = {None: [f for f in FACETS if f not in filters]}
    for facet in filters:
        groups[facet] = [facet]
    for skip, facets in groups.items():
        if not facets:
            continue
        query = Query.boolean_query([(Occur.Must, text)] + filter_clauses(schema, filters, skip=skip))
        spec = {f: {"terms": {"field": FACETS[f], "size": 200 if f == "year" else size}} for f in facets}
        result = searcher.aggregate(query, spec)
        for f in facets:
            buckets = result.get(f, {}).get("buckets", [])
            values = [(str(int(b["key"])) if f == "year" else str(b["key"]), int(b["doc_count"])) for b in buckets]
            if skip is not None and f != "year":  # the chosen values are always listed, with their counts
                shown = {v for v, _ in values}
                for chosen in filters[f]:
                    if chosen not in shown:
                        one = filter_clauses(schema, {f: [chosen]})
                        n = searcher.search(Query.boolean_query([(Occur.Must, query)] + one), limit=1).count
                        values.append((chosen, n))
            out[f] = sorted(values, reverse=True) if f == "year" else values
    return {f: out.get(f, []) for f in FACETS}


def baseline(index: LibraryIndex, q: str, size: int = 10) -> list[str]:
    """Plain BM25 over the same index: tantivy's own query parser, any word, every text field alike; no
    glossary, no typo tolerance, no boosts, no facets (the benchmark's baseline)."""
    cleaned = re.sub(r"[^\w\s]", " ", q)
    query, _errors = index.index.parse_query_lenient(cleaned, list(TEXT_FIELDS))
    searcher = index.searcher()
    return [json.loads(bytes(searcher.doc(a).get_first("display")).decode())["id"]
            for _, a in searcher.search(query, limit=size, count=False).hits]
