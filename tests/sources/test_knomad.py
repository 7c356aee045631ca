"""KNOMAD/World Bank bilateral remittance and migration matrices 2021, on the real published workbooks."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from python_calamine import CalamineWorkbook

from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import knomad
from imdx.sources.base import LoadContext, finish
from imdx.sources.wdi import column_letter

REM, MIG = knomad.REMITTANCES, knomad.MIGRATION


def build(layout, folder: Path, areas, path: Path | None = None):
    spec = next(s for s in knomad.SOURCE.releases if s.files[0].name == layout.file)
    ctx = LoadContext(areas=areas, report=Report(), source="knomad")
    tables = spec.build({layout.file: path or folder / layout.file}, ctx)
    return finish(layout.dataflow, tables[layout.dataflow]), ctx.report


def sheet_rows(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def cell(rows: list[list], row_label: str, column_label: str):
    """The published cell at (row label in column A, column label in row 2), with its Excel row and column."""
    r = next(i for i, row in enumerate(rows) if i >= 2 and row[0] == row_label)
    c = rows[1].index(column_label)
    return rows[r][c], r + 1, column_letter(c)


@pytest.fixture(scope="module")
def folder(mirror) -> Path:
    return mirror / knomad.FOLDER


@pytest.fixture()
def fresh(areas):
    return copy.deepcopy(areas)


@pytest.fixture(scope="module")
def remittances(folder, areas):
    return build(REM, folder, copy.deepcopy(areas))


@pytest.fixture(scope="module")
def migration(folder, areas):
    return build(MIG, folder, copy.deepcopy(areas))


def one(frame, **where):
    for k, v in where.items():
        frame = frame[frame[k] == v]
    assert len(frame) == 1, where
    return frame.iloc[0]


# -- orientation, values and units ------------------------------------------------------------------------
def test_remittances_rows_are_senders_and_values_are_us_dollars(remittances, folder):
    frame, _ = remittances
    rows = sheet_rows(folder / REM.file, REM.sheet)
    usa_mex, r, c = cell(rows, "United States", "Mexico")
    got = one(frame, sender="USA", receiver="MEX")
    assert got["value"] == usa_mex * 1e6 and usa_mex == pytest.approx(52595.342546, rel=1e-9)
    assert (got["cell_row"], got["cell_column"], got["cell_sheet"]) == (r, c, "FINAL BRM 2021 ")
    mex_usa, *_ = cell(rows, "Mexico", "United States")
    assert one(frame, sender="MEX", receiver="USA")["value"] == mex_usa * 1e6
    assert one(frame, sender="USA", receiver="MEX")["value"] > 25 * one(frame, sender="MEX", receiver="USA")["value"]
    world, *_ = cell(rows, "WORLD", "WORLD")
    assert one(frame, sender="001", receiver="001")["value"] == world * 1e6
    assert one(frame, sender="001", receiver="MEX")["value"] == cell(rows, "WORLD", "Mexico")[0] * 1e6


def test_migration_rows_are_origins(migration, folder):
    frame, _ = migration
    rows = sheet_rows(folder / MIG.file, MIG.sheet)
    mexicans, r, c = cell(rows, "Mexico", "United States")
    assert mexicans == 10924662
    got = one(frame, origin="MEX", destination="USA")
    assert got["value"] == 10924662 and (got["cell_row"], got["cell_column"]) == (r, c)
    assert one(frame, origin="USA", destination="MEX")["value"] == cell(rows, "United States", "Mexico")[0] == 799248
    assert one(frame, origin="_ON", destination="AFG")["value"] == cell(rows, "Other North", "Afghanistan")[0]
    assert (one(frame, origin="_OS", destination="USA")["value"]
            == cell(rows, "Other South", "United States")[0] == 4026745)
    assert one(frame, origin="_OS", destination="_ON")["obs_status"] == "M"  # a blank cell
    assert one(frame, origin="001", destination="001")["value"] == cell(rows, "World", "World")[0]


# -- every cell accounted for, markers kept -------------------------------------------------------------------
@pytest.mark.parametrize("which", ["remittances", "migration"])
def test_every_cell_of_the_table_is_one_observation(which, request, folder):
    layout = REM if which == "remittances" else MIG
    frame, report = request.getfixturevalue(which)
    rows = sheet_rows(folder / layout.file, layout.sheet)
    last = next(i for i in range(2, len(rows)) if rows[i][0] == "") - 1  # the WORLD/World row, 0-based
    n = last - 1  # the table's rows (and columns): from row 3 to the World row
    assert rows[last][0].casefold() == "world" and rows[1][n].casefold() == "world"
    assert len(frame) == n * n == (215 * 215 if which == "remittances" else 220 * 220)
    assert frame["cell_row"].min() == 3 and frame["cell_row"].max() == last + 1
    assert not frame[[layout.row_dim, layout.column_dim]].duplicated().any()
    assert frame["year"].eq(2021).all()
    assert not [i for i in report if i.type in ("unmapped-area", "duplicate-area")]
    body = [rows[i][1:n + 1] for i in range(2, last + 1)]
    blank = sum(v == "" for row in body for v in row)
    assert (frame["obs_status"] == "M").sum() == blank + sum(v == "…" for row in body for v in row)
    assert frame.loc[frame["obs_status"] == "A", "value"].notna().all()


def test_the_ellipsis_cell_is_kept_missing_with_its_mark(migration, folder):
    frame, report = migration
    got = one(frame, origin="GHA", destination="LVA")
    assert got["obs_status"] == "M" and np.isnan(got["value"]) and got["note"] == "…"
    rows = sheet_rows(folder / MIG.file, MIG.sheet)
    assert rows[got["cell_row"] - 1][0] == "Ghana" and rows[got["cell_row"] - 1][109] == "…"
    assert got["cell_column"] == column_letter(109)
    assert not [i for i in report if i.type == "non-numeric-value"]


def test_notes_below_the_remittance_table_are_not_data(remittances, folder):
    frame, _ = remittances
    rows = sheet_rows(folder / REM.file, REM.sheet)
    assert rows[217][9] == " " and rows[218][0].startswith("When using the data")  # row 218: single spaces
    assert frame["cell_row"].max() == 217 and frame["note"].isna().all()


def test_world_bank_names_resolve(remittances, migration):
    rem, _ = remittances
    mig, _ = migration
    expected = {"PRK", "FSM", "COD", "COG", "VIR", "YEM", "VEN", "LAO", "XKX", "CHI", "PSE", "HKG", "CIV"}
    assert expected <= set(rem["sender"]) and expected <= set(rem["receiver"])
    assert {"GNB", "TLS", "_ON", "_OS", "001"} <= set(mig["origin"]) and set(mig["origin"]) == set(mig["destination"])


# -- bad input --------------------------------------------------------------------------------------------
def _damaged(folder: Path, tmp_path: Path, layout, change) -> Path:
    import openpyxl

    book = openpyxl.load_workbook(folder / layout.file)
    change(book[layout.sheet])
    path = tmp_path / Path(layout.file).name
    book.save(path)
    return path


def test_unknown_country_name_in_a_row_is_an_issue(folder, tmp_path, fresh):
    path = _damaged(folder, tmp_path, MIG, lambda s: setattr(s["A5"], "value", "Atlantis"))
    frame, report = build(MIG, folder, fresh, path)
    (issue,) = [i for i in report if i.type == "unmapped-area"]
    assert (issue.area, issue.file, issue.sheet, issue.row, issue.column) == ("Atlantis", MIG.file, "BRM 2021", 5, "A")
    assert len(frame) == 219 * 220 and "DZA" not in set(frame["origin"]) and "DZA" in set(frame["destination"])


def test_unknown_country_name_in_the_header_is_an_issue(folder, tmp_path, fresh):
    path = _damaged(folder, tmp_path, REM, lambda s: setattr(s["C2"], "value", "Atlantis"))
    frame, report = build(REM, folder, fresh, path)
    (issue,) = [i for i in report if i.type == "unmapped-area"]
    assert (issue.area, issue.row, issue.column, issue.sheet) == ("Atlantis", 2, "C", "FINAL BRM 2021 ")
    assert len(frame) == 215 * 214 and "ALB" not in set(frame["receiver"])


def test_header_moved_down_is_refused(folder, tmp_path, fresh):
    path = _damaged(folder, tmp_path, REM, lambda s: s.insert_rows(1))
    with pytest.raises(SourceFileError, match=r"bilateral_remittance_matrix_2021\.xlsx, sheet 'FINAL BRM 2021 ', "
                                              r"row 1, column A: the title is None"):
        build(REM, folder, fresh, path)


def test_matrix_read_the_wrong_way_round_is_refused(folder, tmp_path, fresh):
    path = _damaged(folder, tmp_path, MIG, lambda s: setattr(s["A2"], "value", "Source country (across)"))
    with pytest.raises(SourceFileError, match=r"row 2, column A: cell A2 is 'Source country \(across\)'"):
        build(MIG, folder, fresh, path)


def test_remittance_title_without_the_unit_is_refused(folder, tmp_path, fresh):
    """The values are converted from millions of US$ only when the title says that is their unit."""
    path = _damaged(folder, tmp_path, REM, lambda s: setattr(s["A1"], "value", "Bilateral Remittance Estimates "
                                                             "for 2021 (thousands of US$)"))
    with pytest.raises(SourceFileError, match=r"row 1, column A: the title is .*expected a title containing "
                                              r"'\(millions of US\$\)'"):
        build(REM, folder, fresh, path)


def test_truncated_xlsx_is_refused(folder, tmp_path, fresh):
    path = tmp_path / "bilateral_remittance_matrix_2021.xlsx"
    path.write_bytes((folder / REM.file).read_bytes()[:150_000])
    with pytest.raises(SourceFileError, match=r"bilateral_remittance_matrix_2021\.xlsx: cannot be read as an xlsx"):
        build(REM, folder, fresh, path)


def test_renamed_sheet_is_refused(folder, tmp_path, fresh):
    path = _damaged(folder, tmp_path, REM, lambda s: setattr(s, "title", "FINAL BRM 2021"))
    with pytest.raises(SourceFileError, match=r"sheet 'FINAL BRM 2021 '.*has no sheet"):
        build(REM, folder, fresh, path)


# -- the whole pipeline ----------------------------------------------------------------------------------------
def test_load_into_the_store(mirror, tmp_path, fresh):
    """The KNOMAD files live in the ``wdi`` mirror folder, as in ../shared/data."""
    from imdx.load import load_release
    from imdx.sources.fetch import fetch_release
    from imdx.store.duckdb_store import DuckDBStore

    spec = next(s for s in knomad.SOURCE.releases if s.key == "bmm2021")
    assert spec.mirror_folder == "wdi"
    paths, files = fetch_release(spec, mirror=mirror, cache=tmp_path / "cache")
    assert paths[MIG.file] == mirror / "wdi" / MIG.file
    store = DuckDBStore(tmp_path / "k.duckdb")
    outcome = load_release(store, spec, paths, files, fresh)
    assert (outcome.status, outcome.n_obs) == ("loaded", 220 * 220), outcome.error
    assert not [i for i in outcome.report if i.type in ("unmapped-area", "file-changed")]
    got = store.select("bilateral_migration", {"origin": ["MEX"], "destination": ["USA"]}).to_pandas()
    assert got["value"].tolist() == [10924662.0] and got["cell_file"].tolist() == [MIG.file]
    assert load_release(store, spec, paths, files, fresh).status == "unchanged"
    store.close()
