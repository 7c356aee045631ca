"""Search on the real library: measured quality on the judged queries (ours at least as good as plain BM25),
phrases, prefixes, typos, the glossary, facets, and queries no one should be able to break."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imdx.errors import QueryError
from imdx.library.glossary import Glossary, unknown_synonym_terms
from imdx.library.ingest import import_file
from imdx.library.search import baseline
from imdx.library.service import Library
from imdx.store import connect
from tests.library.judgements import QUERIES, ndcg_at_10, recall_at_10, relevant


@pytest.fixture(scope="module")
def lib(library_db):
    with connect(library_db, read_only=True) as store:
        yield Library(store)


def test_at_least_40_judged_queries_each_with_relevant_records(mirror):
    rel = relevant(mirror)
    assert len(QUERIES) >= 40 and len(rel) == len(QUERIES)
    assert all(rel.values()), [q for q, r in rel.items() if not r]


def test_ranking_is_at_least_as_good_as_plain_bm25(lib, mirror):
    rel = relevant(mirror)
    ours = {q: [h.id for h in lib.search(q, size=10).hits] for q in rel}
    base = {q: baseline(lib.index, q) for q in rel}
    ndcg = mean(ndcg_at_10(ours[q], r) for q, r in rel.items()), mean(ndcg_at_10(base[q], r) for q, r in rel.items())
    recall = (mean(recall_at_10(ours[q], r) for q, r in rel.items()),
              mean(recall_at_10(base[q], r) for q, r in rel.items()))
    assert ndcg[0] >= ndcg[1] and recall[0] >= recall[1], (ndcg, recall)
    assert ndcg[0] > 0.9, ndcg  # measured 0.97 against 0.82 for the baseline
    for q in ("undocumented migrants", "trafiking", "remitances", "labor migration", "trata de personas"):
        assert ndcg_at_10(ours[q], rel[q]) > ndcg_at_10(base[q], rel[q]), q  # what the baseline cannot do


def test_the_glossary_finds_other_names_of_a_term(lib, stats_copy, mirror, tmp_path):
    assert unknown_synonym_terms(lib.glossary) == [] and len(lib.glossary.concepts) == 91
    result = lib.search("undocumented migrants")
    assert result.expansions and "irregular migration" in result.expansions[0]["alternatives"]
    judged = relevant(mirror)["undocumented migrants"]  # titles on irregular migration, in three languages
    assert {h.id for h in result.hits[:5]} <= judged
    # and the other way: a study that says "undocumented" is found by "irregular migration"
    path = tmp_path / "study.json"
    path.write_text(json.dumps([{"title": "Undocumented workers in the construction sector", "type": "report",
                                 "issued": {"date-parts": [[2020]]}}]), "utf-8")
    with connect(stats_copy) as store:
        library = Library(store)
        library.add(Path(mirror) / "research_library/iom_evaluations/glossary_migration.json")
        import_file(store, path)
        assert library.search("irregular migration").total == 1
        assert library.search("irregular migration", expand=False).total == 0


def test_phrases_prefixes_exclusions_and_typos(lib):
    phrase = lib.search('"border management"', size=100)
    assert phrase.total > 0 and "BORDER MANAGEMENT" in phrase.hits[0].display["title"].upper()
    loose = lib.search("border management")
    assert loose.total >= phrase.total
    assert lib.search("remitt*").total >= lib.search("remittances").total > 0
    with_ukraine, without = lib.search("trafficking"), lib.search("trafficking -ukraine")
    assert 0 < without.total < with_ukraine.total
    both = lib.search("trafficking ukraine")  # 4 records hold both words: they come first, then the others
    n = with_ukraine.total - without.total
    assert both.relaxed and all("UKR" in h.display["countries"] for h in both.hits[:n])
    assert lib.search("trafficing").total > 0 and lib.search("diaspra").total > 0


def test_facets_count_what_filtering_finds(lib):
    result = lib.search("trafficking", facet_size=50)
    for facet in ("country", "year", "language", "commissioner", "type"):
        value, count = result.facets[facet][0]
        assert lib.search("trafficking", {facet: [value]}).total == count, facet
    both = lib.search("trafficking", {"country": ["Bangladesh", "Cambodia"]})
    one = lib.search("trafficking", {"country": ["BGD"]}).total
    assert both.total >= one > 0
    assert lib.search("", {"year": ["2020"]}).total == 74  # PROVENANCE: 2020 has 74 records
    assert lib.search("", {"year": ["2019:2020"]}).total == 74 + 68
    assert lib.search("", {"language": ["es"]}).total == 70 + 13 + 6  # Spanish alone or with others
    chosen = lib.search("trafficking", {"country": ["BGD"]})
    assert dict(chosen.facets["country"]).get("KHM")  # other countries stay selectable


def test_sort_by_year(lib):
    years = [h.display["year"] for h in lib.search("migration", sort="year", size=50).hits]
    assert years == sorted(years, reverse=True)


@pytest.mark.parametrize("q", ["", "   ", "*", '"', '""', "-", "--x", "***", "a*", 'x" OR 1=1; --', "\\", "((((",
                               "title:foo AND", "ü" * 10, "\u202eRTL", "\x00\x01", "😀 migrants", "a -a", "-only"])
def test_odd_queries_answer(lib, q):
    result = lib.search(q)
    assert result.total >= 0


def test_long_queries_are_refused_with_their_limit(lib):
    with pytest.raises(QueryError, match="at most 500"):
        lib.search("migration " * 100)
    with pytest.raises(QueryError, match="more than 32 words"):
        lib.search(" ".join(f"w{i}" for i in range(40)))
    with pytest.raises(QueryError, match="unknown facet"):
        lib.search("x", {"colour": ["red"]})
    with pytest.raises(QueryError, match="not a known country"):
        lib.search("x", {"country": ["Atlantis"]})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=120))
def test_any_text_gives_results_or_a_query_error(lib, q):
    try:
        lib.search(q, size=5)
    except QueryError:
        pass


def test_glossary_file_round_trip(mirror):
    glossary = Glossary.from_mirror(mirror)
    matches = glossary.find(["return", "and", "reintegration", "of", "migrants", "in", "Nigeria"])
    assert matches[0].concept.term == "Assisted voluntary return and reintegration"
    assert glossary.concepts["Deportation"].variants[:2] == ["Deportation", "Expulsion"]  # "see expulsion"
