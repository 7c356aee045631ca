"""UN DESA International Migrant Stock, on the real published files of the mirror folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from imdx.codes.build import build_areas
from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import undesa_ims
from imdx.sources.base import LoadContext, finish
from imdx.sources.fetch import sha256_of
from imdx.sources.undesa_ims import (
    FILE_2015,
    FILE_2019,
    FILE_2019_CSV,
    FILE_2020,
    FILE_2020_RDA,
    bilateral,
    totals,
)

WORLD_1990, WORLD_2020 = 152_986_157, 280_598_105
DEU_2020 = {"_T": 15_762_457, "M": 7_891_635, "F": 7_870_822}


@pytest.fixture(scope="module")
def areas(mirror):
    return build_areas(mirror / "m49")  # this module's own table: the builds add the sidecar's aliases


def spec(key: str):
    return next(s for s in undesa_ims.SOURCE.releases if s.key == key)


def build(mirror: Path, areas, key: str, **replace: Path):
    """Run a release's build on the mirror's files (or on damaged copies given by file name)."""
    release = spec(key)
    paths = {f.name: replace.get(f.name, mirror / "undesa_ims" / f.name) for f in release.files}
    report = Report()
    tables = release.build(paths, LoadContext(areas=areas, report=report, source="undesa_ims"))
    return {flow: finish(flow, frame) for flow, frame in tables.items()}, report


@pytest.fixture(scope="module")
def ims2020(mirror, areas):
    return build(mirror, areas, "ims2020-destination")


@pytest.fixture(scope="module")
def ims2019(mirror, areas):
    return build(mirror, areas, "ims2019-total")


@pytest.fixture(scope="module")
def gdiviz(mirror, areas):
    return build(mirror, areas, "ims2020-origin-destination-gdiviz")


@pytest.fixture(scope="module")
def matrix2015(mirror, areas):
    return build(mirror, areas, "ims2015-origin-destination")


@pytest.fixture(scope="module")
def csv2019(mirror, areas):
    return build(mirror, areas, "ims2019-origin-destination-clean")


def one(frame: pd.DataFrame, **where) -> pd.Series:
    for k, v in where.items():
        frame = frame[frame[k] == v]
    assert len(frame) == 1, (where, len(frame))
    return frame.iloc[0]


# -- releases ----------------------------------------------------------------------------------------------

def test_releases_are_distinct_editions_with_the_mirror_checksums(mirror):
    keys = [(s.key, s.edition, s.published.isoformat()) for s in undesa_ims.SOURCE.releases]
    assert keys == [("ims2020-destination", "2020", "2021-01-15"),
                    ("ims2020-origin-destination-gdiviz", "2020", "2021-01-15"),
                    ("ims2019-total", "2019", "2019-09-17"),
                    ("ims2019-origin-destination-clean", "2019", "2019-09-17"),
                    ("ims2015-origin-destination", "2015", "2015-12-01"),
                    ("ims2024-origin-destination-gdidata", "2024", "2025-01-01"),
                    ("ims2015-by-age", "2015", "2015-12-01"),
                    ("ims2017-by-age-shares", "2017", "2017-12-18")]
    for release in undesa_ims.SOURCE.releases:
        for f in release.files:
            assert sha256_of(mirror / "undesa_ims" / f.name) == f.sha256, f.name
            assert f.url.startswith("https://")


# -- 2020 edition, destination workbook ---------------------------------------------------------------------

def test_2020_world_and_germany_exact(ims2020):
    stock = ims2020[0]["migrant_stock"]
    world = stock[(stock["destination"] == "001") & (stock["sex"] == "_T")].set_index("year")["value"]
    assert world[1990] == WORLD_1990 and world[2020] == WORLD_2020
    for sex, value in DEU_2020.items():
        row = one(stock, destination="DEU", sex=sex, year=2020)
        assert row["value"] == value and row["origin"] == "_T" and row["age"] == "_T"
        assert row["definition"] == "B" and row["obs_status"] == "A"
    cell = one(stock, destination="DEU", sex="_T", year=2020)
    assert (cell["cell_sheet"], cell["cell_row"], cell["cell_column"]) == ("Table 1", 201, "L")
    assert cell["cell_file"] == FILE_2020


def test_2020_countries_add_up_to_the_world_and_aggregates_are_flagged(ims2020, areas):
    stock = ims2020[0]["migrant_stock"]
    y2020 = stock[(stock["year"] == 2020) & (stock["sex"] == "_T")]
    kinds = y2020["destination"].map(areas.kind)
    assert (kinds == "country").sum() == 235
    assert y2020.loc[kinds == "country", "value"].sum() == WORLD_2020
    for code in ["001", "002", "202", "053", "057", "HIC", "LIC", "1833", "1636"]:
        assert areas.kind(code) == "aggregate", code
        assert code in set(y2020["destination"])
    assert areas.kind("FSM") == "country" and "FSM" in set(y2020["destination"])


def test_2020_every_row_accounted_for(ims2020):
    observations, report = ims2020
    # 283 data rows in each table; Australia and New Zealand (927) is listed twice, identically
    dups = [i for i in report if i.type == "duplicate-row"]
    assert [(i.sheet, i.row, i.area) for i in dups] == [(f"Table {n}", 268, "053") for n in range(1, 7)]
    counts = {flow: len(frame) for flow, frame in observations.items()}
    assert counts == {"migrant_stock": 282 * 21, "population": 282 * 7, "migrant_stock_share": 282 * 21,
                      "female_migrant_share": 282 * 7, "migrant_stock_growth": 282 * 18,
                      "refugee_stock": 282 * 7, "refugee_stock_share": 282 * 7, "refugee_stock_growth": 282 * 6}
    assert not [i for i in report if i.severity == "error"]


def test_2020_markers_kept_as_rows(ims2020):
    obs = ims2020[0]
    stock = obs["migrant_stock"]
    missing = stock[stock["obs_status"] == "M"]
    assert len(missing) == 122 and missing["value"].isna().all()  # the 122 '..' of Table 1
    refugees = pd.concat([obs["refugee_stock"], obs["refugee_stock_share"], obs["refugee_stock_growth"]])
    suppressed = refugees[refugees["obs_status"] == "L"]
    assert len(suppressed) == 1724 and suppressed["value"].isna().all()  # every "~" of Table 6
    assert (refugees["obs_status"] == "M").sum() == 7
    tonga = one(obs["refugee_stock"], destination="TON", year=2020)
    assert tonga["obs_status"] == "L" and pd.isna(tonga["value"])


def test_2020_units_periods_notes_and_definitions(ims2020):
    obs = ims2020[0]
    pop = one(obs["population"], area="001", year=1990)
    assert pop["value"] == 5_327_231_041  # 5,327,231.041 thousand
    assert one(obs["population"], area="TON", year=2020)["value"] == 105_697
    growth = obs["migrant_stock_growth"]
    assert sorted(growth["year"].unique()) == [1995, 2000, 2005, 2010, 2015, 2020]  # '2015-2020' -> 2020
    world = one(growth, destination="001", sex="_T", year=2020)
    assert world["value"] == pytest.approx(2.473229, abs=1e-6) and world["cell_column"] == "K"
    assert one(obs["refugee_stock_growth"], destination="001", year=2020)["value"] == pytest.approx(6.451803, abs=1e-6)
    assert one(obs["refugee_stock_share"], destination="001", year=1990)["value"] == pytest.approx(12.40477, abs=1e-5)
    assert one(obs["female_migrant_share"], destination="001", year=1990)["value"] == pytest.approx(49.3003, abs=1e-4)
    stock = obs["migrant_stock"]
    assert one(stock, destination="WLF", sex="_T", year=2020)["note"] == "* 41"  # name mark and Notes column
    assert one(stock, destination="USA", sex="_T", year=2020)["note"] == "* 33"
    assert one(stock, destination="SDN", sex="_T", year=2020)["note"] == "3"
    assert pd.isna(one(stock, destination="DEU", sex="_T", year=2020)["note"])
    assert one(stock, destination="TON", sex="_T", year=2020)["definition"] == "BR"
    assert one(stock, destination="TUV", sex="_T", year=2020)["definition"] == "C"
    assert set(stock["definition"].dropna()) == {"B", "BR", "C", "CR", "I", "IR", "BCR"}
    assert pd.isna(one(stock, destination="001", sex="_T", year=2020)["definition"])


def test_em_dash_rounds_to_zero(mirror, areas, tmp_path):
    path = tmp_path / FILE_2020
    book = openpyxl.load_workbook(mirror / "undesa_ims" / FILE_2020)
    book["Table 1"]["L201"] = "—"  # Germany, 2020, both sexes
    book["Table 1"]["S201"] = "unknown"
    book.save(path)
    observations, report = build(mirror, areas, "ims2020-destination", **{FILE_2020: path})
    stock = observations["migrant_stock"]
    dash = one(stock, destination="DEU", sex="_T", year=2020)
    assert dash["value"] == 0 and dash["obs_status"] == "N"
    odd = one(stock, destination="DEU", sex="M", year=2020)
    assert pd.isna(odd["value"]) and odd["obs_status"] == "M" and odd["note"] == "unknown"
    issue = next(i for i in report if i.type == "unknown-marker")
    assert (issue.file, issue.sheet, issue.row, issue.column) == (FILE_2020, "Table 1", 201, "S")


# -- 2019 edition, totals workbook --------------------------------------------------------------------------

def test_2019_totals_end_in_2019_and_skip_heading_rows(mirror, ims2019, areas):
    observations, report = ims2019
    stock = observations["migrant_stock"]
    assert sorted(stock["year"].unique()) == [1990, 1995, 2000, 2005, 2010, 2015, 2019]
    assert one(stock, destination="001", sex="_T", year=2019)["value"] == 271_642_105
    assert one(stock, destination="001", sex="_T", year=1990)["value"] == 153_011_473
    y2019 = stock[(stock["year"] == 2019) & (stock["sex"] == "_T")]
    assert y2019.loc[y2019["destination"].map(areas.kind) == "country", "value"].sum() == 271_642_105
    # 283 data rows in Table 1: 4 headings without a code (all '..'), 3 areas listed twice, 276 loaded
    raw = totals.read_workbook(mirror / "undesa_ims" / FILE_2019, totals.LAYOUT_2019)["Table 1"]
    assert len(raw.rows) == 283
    headings = raw.rows[raw.rows["code"].isna()]
    assert list(headings["name"]) == ["UN development groups", "World Bank income groups", "Geographic regions",
                                      "Sustainable Development Goal (SDG) regions"]
    assert all(str(c) == ".." for c in raw.cells[headings.index].ravel())
    dups = [i for i in report if i.type == "duplicate-row" and i.sheet == "Table 1"]
    assert sorted(i.area for i in dups) == ["009", "021", "150"]
    assert stock["destination"].nunique() == 283 - 4 - 3 == 276
    assert len(stock) == 276 * 21 and (stock["obs_status"] == "M").sum() == 132 - 4 * 21
    assert not [i for i in report if i.type in ("row-without-code", "unmapped-area")]


def test_2019_letter_footnotes_and_layout_without_type_column(ims2019):
    observations, _ = ims2019
    stock = observations["migrant_stock"]
    assert one(stock, destination="901", sex="_T", year=2019)["note"] == "b"
    assert one(stock, destination="HIC", sex="_T", year=2019)["note"] == "e"
    assert one(stock, destination="INX", sex="_T", year=1990)["value"] == 294_001
    assert one(stock, destination="MUS", sex="_T", year=2019)["note"] == "1"
    pop = observations["population"]  # Table 2 has no "Type of data" column: years start in column E
    world = one(pop, area="001", year=2019)
    assert world["value"] == 7_713_468_100 and world["cell_column"] == "K"
    assert one(observations["migrant_stock_growth"], destination="001", sex="_T", year=2019)["cell_column"] == "K"


# -- 2020 edition, destination x origin x sex long table -------------------------------------------------

def test_gdiviz_matches_the_workbook(gdiviz, ims2020):
    stock, report = gdiviz[0]["migrant_stock"], gdiviz[1]
    assert len(stock) == 255_927 and not len(report)
    germany = stock[(stock["destination"] == "DEU") & (stock["year"] == 2020)].groupby("sex")["value"].sum()
    assert germany.to_dict() == DEU_2020
    total = stock[(stock["year"] == 2020) & (stock["sex"] == "_T")]["value"].sum()
    assert total == WORLD_2020
    workbook = ims2020[0]["migrant_stock"]
    both = stock[stock["sex"] == "_T"].groupby(["destination", "year"])["value"].sum()
    published = workbook[workbook["sex"] == "_T"].set_index(["destination", "year"])["value"]
    assert (both - published.reindex(both.index)).abs().max() == 0  # every destination, every year
    assert "CHI" in set(stock["destination"]) and "CHA" not in set(stock["destination"])
    assert "_O" in set(stock["origin"]) and "XXX" not in set(stock["origin"])
    zeros = stock[stock["value"] == 0]
    assert len(zeros) == 28_200 and (zeros["note"] == "0: zero or not reported").all()
    assert set(stock["origin"]) >= {"_O"} and stock["origin"].nunique() == 233


# -- 2015 revision, Table 16 --------------------------------------------------------------------------------

def test_2015_matrix(matrix2015, areas):
    stock, report = matrix2015
    stock = stock["migrant_stock"]
    assert len(stock) == 265 * 235 and not len(report)
    assert set(stock["year"]) == {2015} and set(stock["sex"]) == {"_T"}
    assert one(stock, destination="001", origin="_T")["value"] == 243_700_236
    assert one(stock, destination="001", origin="_ON")["value"] == 2_139_539
    assert areas.kind("_ON") == areas.kind("_OS") == "residual"
    assert one(stock, destination="BDI", origin="_T")["definition"] == "BR"
    assert one(stock, destination="902", origin="_T")["note"] == "(c)"
    assert one(stock, destination="DEU", origin="SWZ")["cell_column"] == one(stock, destination="001",
                                                                             origin="SWZ")["cell_column"]
    blanks = stock[stock["obs_status"] == "M"]
    assert len(blanks) == 42_624 and blanks["value"].isna().all() and blanks["note"].str.endswith("blank").all()
    germany = stock[stock["destination"] == "DEU"]
    parts = germany[germany["origin"] != "_T"]["value"].sum()
    assert parts == one(germany, origin="_T")["value"]


# -- 2019 edition, destination x origin, derived CSV ------------------------------------------------------

def test_2019_bilateral_csv(csv2019, areas):
    stock, report = csv2019
    stock = stock["migrant_stock"]
    assert len(stock) == 1659 * 232
    missing = stock[stock["obs_status"] == "M"]
    assert len(missing) == 341 + 4 and missing["value"].isna().all()
    assert set(missing["note"].dropna()) == {"-"}
    issue = one(report.to_frame(), type="unknown-marker")
    assert (issue["file"], issue["row"], issue["column"], issue["n_obs"]) == (FILE_2019_CSV, 218, "Albania", 4)
    regions = {d for d in stock["destination"].unique() if areas.kind(d) == "aggregate"}
    assert regions == {"029", "005", "054", "057", "061"}  # Caribbean, South America, Mela-, Micro-, Polynesia
    assert stock["destination"].nunique() == 237
    cell = one(stock, destination="DEU", origin="POL", year=2019)
    assert cell["cell_column"] == "Poland" and cell["value"] > 1_000_000


# -- bad input ----------------------------------------------------------------------------------------------

def test_truncated_xlsx_is_refused(mirror, areas, tmp_path):
    path = tmp_path / FILE_2020
    data = (mirror / "undesa_ims" / FILE_2020).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFileError) as err:
        build(mirror, areas, "ims2020-destination", **{FILE_2020: path})
    assert FILE_2020 in str(err.value) and "xlsx" in str(err.value)


def test_moved_header_is_refused(mirror, areas, tmp_path):
    path = tmp_path / FILE_2020
    book = openpyxl.load_workbook(mirror / "undesa_ims" / FILE_2020)
    book["Table 3"].insert_rows(1, 2)
    book.save(path)
    with pytest.raises(SourceFileError) as err:
        build(mirror, areas, "ims2020-destination", **{FILE_2020: path})
    e = err.value
    assert (e.sheet, e.row, e.column) == ("Table 3", 11, "B") and FILE_2020 in str(e)
    assert "Region, development group, country or area" in str(e)


def test_renamed_column_is_refused(mirror, areas, tmp_path):
    path = tmp_path / FILE_2019
    book = openpyxl.load_workbook(mirror / "undesa_ims" / FILE_2019)
    book["Table 5"]["D15"] = "Location"
    book.save(path)
    with pytest.raises(SourceFileError) as err:
        build(mirror, areas, "ims2019-total", **{FILE_2019: path})
    e = err.value
    assert (e.sheet, e.row, e.column) == ("Table 5", 15, "D") and "'Code'" in str(e) and "'Location'" in str(e)


def test_unknown_origin_name_in_the_matrix_is_an_issue(mirror, areas, tmp_path):
    path = tmp_path / FILE_2015
    book = openpyxl.load_workbook(mirror / "undesa_ims" / FILE_2015)
    assert book["Table 16"]["I16"].value == "Afghanistan"
    book["Table 16"]["I16"] = "Atlantis"
    book.save(path)
    observations, report = build(mirror, areas, "ims2015-origin-destination", **{FILE_2015: path})
    issue = one(report.to_frame(), type="unmapped-area")
    assert (issue["file"], issue["sheet"], issue["row"], issue["column"], issue["area"], issue["n_obs"]) == (
        FILE_2015, "Table 16", 16, "I", "Atlantis", 265)
    assert len(observations["migrant_stock"]) == 265 * 234  # the unmapped column only


def test_unknown_destination_name_in_the_csv_is_an_issue(mirror, areas, tmp_path):
    lines = (mirror / "undesa_ims" / FILE_2019_CSV).read_text("utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("1995,Germany,"))
    lines[at] = lines[at].replace("1995,Germany,", "1995,Germania,", 1)
    path = tmp_path / "bad.csv"
    path.write_text("".join(lines), "utf-8")
    observations, report = build(mirror, areas, "ims2019-origin-destination-clean", **{FILE_2019_CSV: path})
    issue = one(report.to_frame(), type="unmapped-area")
    assert (issue["row"], issue["column"], issue["area"], issue["n_obs"]) == (at + 1, "Dest", "Germania", 232)
    assert issue["file"] == FILE_2019_CSV
    assert len(observations["migrant_stock"]) == 1658 * 232


def test_csv_missing_column_is_refused(mirror, areas, tmp_path):
    text = (mirror / "undesa_ims" / FILE_2019_CSV).read_text("utf-8")
    path = tmp_path / "bad.csv"
    path.write_text(text.replace("Year,Dest,", "Year,Destination,", 1), "utf-8")
    with pytest.raises(SourceFileError) as err:
        build(mirror, areas, "ims2019-origin-destination-clean", **{FILE_2019_CSV: path})
    assert (err.value.row, err.value.column) == (1, "Dest") and str(path) in str(err.value)


def test_rda_that_is_not_r_data_is_refused(mirror, areas, tmp_path):
    path = tmp_path / "stocks.rda"
    shutil.copy(mirror / "undesa_ims" / FILE_2019_CSV, path)
    with pytest.raises(SourceFileError) as err:
        build(mirror, areas, "ims2020-origin-destination-gdiviz", **{FILE_2020_RDA: path})
    assert "cannot be read as R data" in str(err.value) and str(path) in str(err.value)


def test_rda_without_the_expected_columns_is_refused(mirror, tmp_path):
    import pyreadr

    path = tmp_path / "stocks.rda"
    pyreadr.write_rdata(str(path), pd.DataFrame({"from": ["DEU"], "to": ["FRA"], "t": [2020], "v": [1.0]}),
                        df_name="stocks")
    with pytest.raises(SourceFileError) as err:
        bilateral.read_gdiviz_rda(path)
    assert err.value.column == "sex" and err.value.sheet == "stocks"


# -- the whole pipeline -------------------------------------------------------------------------------------

def test_load_into_a_store(mirror, tmp_path):
    from imdx.config import settings
    from imdx.load import load
    from imdx.store.duckdb_store import DuckDBStore

    db = tmp_path / "imdx.duckdb"
    with DuckDBStore(db) as store:
        summary = load(store, settings(mirror=str(mirror), db=str(db)), ["undesa_ims"])
        assert not summary.failed, [(o.key, o.error) for o in summary.failed]
        loaded = {o.key: o.n_obs for o in summary.outcomes if o.source == "undesa_ims"}
        assert loaded["ims2020-origin-destination-gdiviz"] == 255_927
        assert loaded["ims2015-origin-destination"] == 62_275
        rows = store.select("migrant_stock", {"destination": ["DEU"], "year": [2020]}, edition="2020").to_pandas()
        totals_ = rows[rows["origin"] == "_T"].set_index("sex")["value"].to_dict()
        assert totals_ == DEU_2020
        assert set(rows.loc[rows["origin"] == "_T", "edition"]) == {"2020"}
        by_origin = rows[rows["origin"] != "_T"].groupby("sex")["value"].sum().to_dict()
        assert by_origin == DEU_2020
        world = store.select("migrant_stock", {"destination": ["001"], "origin": ["_T"], "sex": ["_T"],
                                               "year": [1990, 2020]}, edition="2020").to_pandas()
        assert world.set_index("year")["value"].to_dict() == {1990: WORLD_1990, 2020: WORLD_2020}
        current = store.select("migrant_stock", {"destination": ["001"], "origin": ["_T"], "sex": ["_T"],
                                                 "age": ["_T"], "year": [2020, 2024]}).to_pandas()
        assert current.set_index("year")["value"].to_dict() == {2020: 275_284_032, 2024: 304_021_813}
        assert set(current["edition"]) == {"2024"}  # the latest edition is current; 2020 stays queryable
        older = store.select("migrant_stock", {"destination": ["001"], "origin": ["_T"], "sex": ["_T"]},
                             edition="2019").to_pandas()
        assert older.set_index("year")["value"][2019] == 271_642_105
        again = load(store, settings(mirror=str(mirror), db=str(db)), ["undesa_ims"])
        assert {o.status for o in again.outcomes if o.source == "undesa_ims"} == {"unchanged"}


def test_a_refused_file_leaves_the_store_as_it_was(mirror, tmp_path):
    from imdx.load import load_release
    from imdx.sources.fetch import fetch_release
    from imdx.store.duckdb_store import DuckDBStore

    release = spec("ims2020-destination")
    areas = build_areas(mirror / "m49")
    db = tmp_path / "imdx.duckdb"
    with DuckDBStore(db) as store:
        paths, files = fetch_release(release, mirror=mirror, cache=tmp_path)
        assert load_release(store, release, paths, files, areas).status == "loaded"
        before = store.select("migrant_stock", {"destination": ["DEU"]}).to_pandas()
        releases = store.releases()[["release_id", "key"]]
    damaged = tmp_path / "mirror" / "undesa_ims" / FILE_2020
    damaged.parent.mkdir(parents=True)
    data = (mirror / "undesa_ims" / FILE_2020).read_bytes()
    damaged.write_bytes(data[: len(data) - 1000])
    with DuckDBStore(db) as store:
        paths, files = fetch_release(release, mirror=tmp_path / "mirror", cache=tmp_path)
        with pytest.raises(SourceFileError, match=FILE_2020):
            load_release(store, release, paths, files, areas)
    with DuckDBStore(db, read_only=True) as store:  # what is on disk after the refused load
        assert store.select("migrant_stock", {"destination": ["DEU"]}).to_pandas().equals(before)
        assert store.releases()[["release_id", "key"]].equals(releases)
    assert len(before) == 21 and before["value"].notna().all()
