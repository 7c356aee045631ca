"""IOM's real evaluation listing into the library: every record, the NaN trap, countries mapped (or reported),
provenance, re-import idempotent, duplicates merged across sources, exports that read back as the same records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imdx.library.ingest import import_file
from imdx.library.model import Record
from imdx.store import connect
from tests.library.fixtures import EVALUATIONS

FIRST = "iom-eval-9992310969aa2f428bc8aba29f865cf3"


def raw(mirror):
    return json.loads((Path(mirror) / EVALUATIONS).read_text("utf-8"))


def test_all_734_evaluations_are_stored_with_the_nan_tokens_read_as_missing(library_store, mirror):
    text = (Path(mirror) / EVALUATIONS).read_text("utf-8")
    assert text.count("NaN") == 2322  # the trap is in the file
    records = {r.record_id: r for r in library_store.library_records() if r.record_id.startswith("iom-eval-")}
    assert len(records) == 734 == len(raw(mirror))
    for item in raw(mirror):
        body = records[f"iom-eval-{item['id']}"].body
        assert "NaN" not in json.dumps(body) and "nan" not in (body.get("donors") or [])
        if isinstance(item["meta"]["Donor"], float):  # NaN as published
            assert "donors" not in body


def test_the_first_record_matches_the_oracle(library_store):
    rec = Record.from_body(library_store.library_records([FIRST])[0].body)
    assert rec.title == "EVALUATION OF IOM\u2019S MIGRATION DATA STRATEGY"
    assert rec.year == 2025 and rec.issued == "2025-08-11"
    assert rec.authors == [{"literal": "Data Conscious Ltd"}]
    assert rec.countries == ["001"] and rec.country_names == ["Worldwide"]
    assert rec.commissioners == ["IOM"] and rec.languages == ["en"]
    assert rec.extra["period_from"] == "2025-08-20" and rec.extra["period_to"] == "2025-05-31"  # as published


def test_every_named_country_is_mapped_and_what_is_not_is_reported(library_store, mirror):
    areas = library_store.areas()
    records = {r.record_id: Record.from_body(r.body) for r in library_store.library_records()}
    names = 0
    for item in raw(mirror):
        rec = records[f"iom-eval-{item['id']}"]
        given = [c for c in item["meta"]["Countries Covered"] if c != "nan"]
        names += len(given)
        assert len(rec.countries) == len(set(rec.countries)) <= len(given)
        assert all(areas.kind(c) is not None for c in rec.countries)
    assert names == 1521 - 8
    spellings = {rec.id: rec for rec in records.values() if "Dominca" in rec.country_names}
    assert spellings and all("DMA" in r.countries for r in spellings.values())  # reviewed alias of a typo
    kosovo = [r for r in records.values() if "UNSC Resolution -administered Kosovo" in r.country_names]
    assert len(kosovo) == 13 and all("XKX" in r.countries for r in kosovo)
    issues = library_store.library_issues()
    assert (issues["type"] == "no-area").sum() == 8  # the 'nan' countries
    assert (issues["type"] == "unmapped-area").sum() == 0


def test_unmappable_areas_are_reported_with_file_row_and_name(stats_copy, tmp_path):
    path = tmp_path / "refs.json"
    path.write_text(json.dumps([{"id": "a", "type": "report", "title": "Migration in Atlantis and Kenya",
                                 "issued": {"date-parts": [[2021]]}, "country": "Atlantis; Republic of Kenya"}]))
    with connect(stats_copy) as store:
        result = import_file(store, path)
        rec = Record.from_body(store.library_records(result.record_ids)[0].body)
    unmapped = [i for i in result.report if i.type == "unmapped-area"]
    assert [(i.area, i.file, i.row) for i in unmapped] == [("Atlantis", "refs.json", 1)]
    assert rec.countries == ["KEN"]


def test_periods_that_end_before_they_start_are_reported_not_changed(library_store, mirror):
    reversed_ = [i for i in raw(mirror) if "-" in str(i["meta"]["Evaluation Period To Date"])
                 and i["meta"]["Evaluation Period From Date"] > i["meta"]["Evaluation Period To Date"]]
    issues = library_store.library_issues()
    assert (issues["type"] == "period-reversed").sum() == len(reversed_) > 0


def test_provenance_names_the_file_its_checksum_and_the_item(library_store):
    rec = library_store.library_records([FIRST])[0]
    [source] = rec.sources
    assert (source.source, source.source_key, source.file, source.location) == (
        "iom_evaluations", "9992310969aa2f428bc8aba29f865cf3", "evaluations.json", "item 1")
    assert source.sha256 == "9de8f081622eaad9397f15516daa21d465747db141c1c74c254c3ad2a0f9be64"


def test_one_source_listing_a_report_twice_keeps_both_and_says_so(library_store):
    issues = library_store.library_issues()
    dupes = issues[issues["type"] == "possible-duplicate"]
    assert len(dupes) == 2 and dupes["message"].str.contains("both are kept").all()


def test_importing_the_same_file_again_changes_nothing(library_copy, mirror):
    with connect(library_copy) as store:
        before = (store.library_generation(), len(store.library_imports()))
        result = import_file(store, Path(mirror) / EVALUATIONS)
        assert result.status == "unchanged"
        assert (store.library_generation(), len(store.library_imports())) == before


def test_exports_read_back_as_the_same_records_merged_across_sources(library_copy, tmp_path):
    from imdx.library import export

    with connect(library_copy) as store:
        records = [Record.from_body(r.body) for r in store.library_records()[:60]]
        n_before = len(store.library_records())
        (tmp_path / "x.bib").write_text(export.bibtex(records), "utf-8")
        (tmp_path / "x.json").write_text(export.csl_json(records), "utf-8")
        bib = import_file(store, tmp_path / "x.bib")
        csl = import_file(store, tmp_path / "x.json")
        assert (bib.n_new, bib.n_merged) == (0, 60)
        assert (csl.n_new, csl.n_merged) == (0, 60)
        assert len(store.library_records()) == n_before
        merged = store.library_records([records[0].id])[0]
        assert [s.source for s in merged.sources] == ["iom_evaluations", "bibtex", "csl-json"]


def test_a_record_seen_in_two_formats_is_one_record_by_doi(stats_copy, tmp_path):
    (tmp_path / "a.bib").write_text("""@article{abel2014,
  author = {Abel, Guy J. and Sander, Nikola},
  title = {Quantifying Global International Migration Flows},
  journal = {Science}, year = {2014}, doi = {10.1126/science.1248676}, keywords = {migration, flows}
}""", "utf-8")
    (tmp_path / "b.ris").write_text("TY  - JOUR\nAU  - Abel, Guy J.\nAU  - Sander, Nikola\n"
                                    "TI  - Quantifying global international migration flows\nJO  - Science\n"
                                    "PY  - 2014\nDO  - https://doi.org/10.1126/SCIENCE.1248676\n"
                                    "AB  - Widely available data on the number of people living outside of their "
                                    "country of birth do not adequately capture contemporary migration flows.\n"
                                    "ER  - \n", "utf-8")
    with connect(stats_copy) as store:
        first, second = import_file(store, tmp_path / "a.bib"), import_file(store, tmp_path / "b.ris")
        assert (first.n_new, second.n_new, second.n_merged) == (1, 0, 1)
        [stored] = store.library_records()
    rec = Record.from_body(stored.body)
    assert rec.doi == "10.1126/science.1248676" and rec.abstract.startswith("Widely available")
    assert rec.authors[0] == {"family": "Abel", "given": "Guy J."}
    assert [s.source for s in stored.sources] == ["bibtex", "ris"]


def test_an_empty_store_without_areas_is_refused_with_what_to_do(tmp_path, mirror):
    from imdx.errors import StoreError

    with connect(tmp_path / "empty.duckdb") as store, pytest.raises(StoreError, match="imdx load m49"):
        import_file(store, Path(mirror) / EVALUATIONS)
