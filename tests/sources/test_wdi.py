"""World Bank WDI on the real published files: API CSVs, the WDI R package's ODA pull, the DataBank extract."""

from __future__ import annotations

import copy
import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import wdi
from imdx.sources.base import LoadContext, finish

RECEIVED_2025 = "API_BX.TRF.PWKR.CD.DT_DS2_en_csv_v2_38454.csv"
INCOME_GROUPS = ["HIC", "UMC", "LMC", "LIC", "MIC"]


def spec_of(key: str):
    return next(s for s in wdi.SOURCE.releases if s.key == key)


def spec_with(file: str):
    return next(s for s in wdi.SOURCE.releases if s.files[0].name == file)


def build(spec, folder: Path, areas, **replace):
    """Run a release's build on the files of ``folder`` (or the replacement paths given)."""
    ctx = LoadContext(areas=areas, report=Report(), source="wdi")
    paths = {f.name: folder / f.name for f in spec.files} | replace
    tables = spec.build(paths, ctx)
    return {flow: finish(flow, frame) for flow, frame in tables.items()}, ctx.report


def published_cells(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data lines (line number, fields) of an API CSV, read with the csv module."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    return lines[4], [(i + 1, fields) for i, fields in enumerate(lines) if i >= 5 and fields]


@pytest.fixture(scope="module")
def folder(mirror) -> Path:
    return mirror / "wdi"


@pytest.fixture()
def fresh(areas):
    """A copy of the session's area table, so that registering World Bank aggregates here leaves it alone."""
    return copy.deepcopy(areas)


@pytest.fixture(scope="module")
def built(mirror, folder):
    """Every WDI release built once, on one area table (as a load does)."""
    from imdx.codes.build import build_areas

    areas = build_areas(mirror / "m49")
    out = {spec.key: build(spec, folder, areas) for spec in wdi.SOURCE.releases}
    return out, areas


# -- what must hold -------------------------------------------------------------------------------------
def test_india_and_mexico_remittances_received_2023_equal_the_file(built, folder):
    header, rows = published_cells(folder / RECEIVED_2025)
    col = header.index("2023")
    published = {fields[1]: fields[col] for _, fields in rows}
    assert published["IND"] == "119526055008.102" and published["MEX"] == "66237847600"
    frame = built[0]["BX.TRF.PWKR.CD.DT-2025-07-01"][0]["remittances"]
    got = frame[(frame["year"] == 2023) & frame["area"].isin(["IND", "MEX"])].set_index("area")
    assert set(got["flow"]) == {"received"}
    assert got.loc["IND", "value"] == float(published["IND"]) == 119526055008.102
    assert got.loc["MEX", "value"] == float(published["MEX"]) == 66237847600.0
    assert got.loc["IND", "cell_row"] == next(n for n, f in rows if f[1] == "IND")
    assert got.loc["IND", "cell_column"] == "2023" and got.loc["IND", "definition"] == "BX.TRF.PWKR.CD.DT"


def test_world_and_income_groups_are_aggregates_not_countries(built):
    _, areas = built
    assert areas.resolve("WLD", ("wb",)).code == "001"
    for code in INCOME_GROUPS + ["INX"]:
        assert areas.resolve(code, wdi.SYSTEMS).code == code
        assert areas.kind(code) == "aggregate"
    frame = built[0]["BX.TRF.PWKR.CD.DT-2025-07-01"][0]["remittances"]
    kinds = frame["area"].map(areas.frame["kind"])
    assert set(frame.loc[kinds == "aggregate", "area"]) >= {"001", *INCOME_GROUPS, "EUU", "ARB", "SSF"}
    # the 48 aggregates of the 2025 metadata, and INX "Not classified", which the metadata lacks; 65 years
    assert (kinds == "aggregate").sum() == 49 * 65 and "INX" in set(frame["area"])
    assert (kinds == "country").sum() == 217 * 65 and (kinds == "residual").sum() == 0
    assert "001" not in areas.countries() and not set(INCOME_GROUPS) & set(areas.countries())


def test_world_bank_aggregates_are_registered_under_their_own_codes(built):
    _, areas = built
    assert areas.name("EUU") == "European Union" and areas.kind("EUU") == "aggregate"
    assert areas.resolve("EUU", ("wb",)).code == "EUU"
    # World Bank's Sub-Saharan Africa is its own aggregate, not the M49 region 202 of the same name
    assert areas.resolve("SSF", ("wb",)).code == "SSF" and areas.name("SSF") == "Sub-Saharan Africa"
    assert areas.resolve("Sub-Saharan Africa", ("name",)).code == "202"
    assert areas.kind("XKX") == "country" and areas.kind("CHI") == "country"


def test_income_groups_only_fill_empty_cells(fresh, folder):
    assert pd.isna(fresh.frame.loc["XKX", "wb_income"])
    assert fresh.frame.loc["MUS", "wb_income"] == "HIC"  # UN DESA 2020; the World Bank says UMC in 2025
    build(spec_of("BX.TRF.PWKR.CD.DT-2025-07-01"), folder, fresh)
    assert fresh.frame.loc["XKX", "wb_income"] == "UMC"
    assert fresh.frame.loc["MUS", "wb_income"] == "HIC"
    assert pd.isna(fresh.frame.loc["001", "wb_income"])


@pytest.mark.parametrize("release", [r.file for r in wdi.API_RELEASES])
def test_every_cell_of_each_api_csv_is_one_observation(built, folder, release):
    spec = spec_with(release)
    tables, report = built[0][spec.key]
    (frame,) = tables.values()
    header, rows = published_cells(folder / release)
    years = [c for c in header if c.isdigit()]
    assert not [i for i in report if i.type in ("unmapped-area", "non-numeric-value")]
    assert len(frame) == len(rows) * len(years)
    assert frame["cell_file"].eq(release).all() and frame["cell_sheet"].isna().all()
    # each observation's cell: the same value (or an empty cell for status M) at its line and column
    text = {(n, c): fields[header.index(c)] for n, fields in rows for c in years}
    published = frame.apply(lambda r: text[(int(r["cell_row"]), r["cell_column"])], axis=1)
    assert (published == "").sum() == (frame["obs_status"] == "M").sum() == frame["value"].isna().sum()
    valued = frame[frame["obs_status"] == "A"]
    assert (valued["value"].to_numpy() == published[valued.index].map(float).to_numpy()).all()
    assert (frame["year"].astype(str) == frame["cell_column"]).all()


def test_missing_cells_are_kept_as_status_m(built):
    frame = built[0]["BX.TRF.PWKR.CD.DT-2025-07-01"][0]["remittances"]
    y1960 = frame[frame["year"] == 1960]
    assert len(y1960) == 266 and (y1960["obs_status"] == "M").all() and y1960["value"].isna().all()
    pop = built[0]["SP.POP.TOTL-2018-05-21"][0]["population"]
    assert (pop.loc[pop["year"] == 2017, "obs_status"] == "M").all()  # the empty 2017 column of the 2018 file


def test_the_two_fdi_vintages_differ_as_published(built):
    new = built[0]["BX.KLT.DINV.CD.WD-2023-10-26"][0]["fdi_inflows"].set_index(["area", "year"])["value"]
    old = built[0]["BX.KLT.DINV.CD.WD-2018-06-28"][0]["fdi_inflows"].set_index(["area", "year"])["value"]
    assert new[("IRL", 2015)] == pytest.approx(2.370602e11, rel=1e-6)
    assert old[("IRL", 2015)] == pytest.approx(2.353560e11, rel=1e-6)
    assert old[("001", 2015)] == pytest.approx(2.408672e12, rel=1e-6)
    assert (new < 0).any()  # net disinvestment is published as negative inflows


def test_remittances_paid_use_the_2025_metadata_and_say_paid(built):
    frame = built[0]["BM.TRF.PWKR.CD.DT-2021-09-15"][0]["remittances"]
    assert set(frame["flow"]) == {"paid"} and frame["year"].max() == 2020
    assert len(frame) == 266 * 61


# -- ODA from the WDI R package ----------------------------------------------------------------------------
def test_oda_codes_namibia_aggregates_and_missing_2019(built, folder):
    import pyreadr

    raw = pyreadr.read_r(str(folder / wdi.ODA_FILE))[None]
    frame = built[0]["DT.ODA.ODAT.CD-2020-02-01"][0]["oda_received"]
    _, areas = built
    assert len(frame) == len(raw) == 15840
    assert not [i for i in built[0]["DT.ODA.ODAT.CD-2020-02-01"][1] if i.type == "unmapped-area"]
    nam = frame[frame["area"] == "NAM"]
    assert len(nam) == 60 and set(raw.loc[nam["cell_row"] - 1, "iso2c"]) == {"NA"}
    assert frame.loc[frame["year"] == 2019, "obs_status"].eq("M").all() and (frame["year"] == 2019).sum() == 264
    assert (frame["obs_status"] == "M").sum() == 5034
    assert (frame["value"] < 0).sum() == 150 and frame["value"].min() == raw["development_aid"].min()
    eth = frame[(frame["area"] == "ETH") & (frame["year"] == 2018)].iloc[0]
    assert eth["value"] == raw.loc[eth["cell_row"] - 1, "development_aid"] == pytest.approx(4.93005e9, rel=1e-5)
    assert eth["cell_column"] == "development_aid"
    by_code = dict(zip(raw["iso2c"], raw.index))
    pairs = {"1W": "001", "XD": "HIC", "XT": "UMC", "EU": "EUU", "4E": "EAP", "XK": "XKX", "JG": "CHI"}
    for wb2, code in pairs.items():
        assert frame.loc[frame["cell_row"] == by_code[wb2] + 1, "area"].iloc[0] == code
        assert areas.kind(code) == ("country" if code in ("XKX", "CHI") else "aggregate")


# -- the DataBank extract --------------------------------------------------------------------------------
def test_databank_2021_values_markers_and_world(built, folder):
    tables, report = built[0]["databank-2021-2024-03-28"]
    assert not [i for i in report if i.type in ("unmapped-area", "non-numeric-value", "edition-mismatch")]
    assert {f: len(t) for f, t in tables.items()} == {"remittances": 436, "fdi_inflows": 218, "oda_received": 218,
                                                     "gdp": 218, "population": 218}
    rows = CalamineWorkbook.from_path(str(folder / wdi.DATABANK_FILE)).get_sheet_by_name("Data").to_python()
    header = rows[0]
    col = next(i for i, h in enumerate(header) if str(h).endswith("[BX.TRF.PWKR.CD.DT]"))
    india = next(i for i, r in enumerate(rows) if r[3] == "IND")
    rem = tables["remittances"]
    got = rem[(rem["area"] == "IND") & (rem["flow"] == "received")].iloc[0]
    assert got["value"] == rows[india][col] and got["year"] == 2021
    assert got["cell_row"] == india + 1 and got["cell_column"] == wdi.column_letter(col) and got["cell_sheet"] == "Data"
    # ".." is kept as missing: 23 economies without received remittances, 41 without paid, 80 without ODA
    assert (rem.loc[rem["flow"] == "received", "obs_status"] == "M").sum() == 23
    assert (rem.loc[rem["flow"] == "paid", "obs_status"] == "M").sum() == 41
    assert (tables["oda_received"]["obs_status"] == "M").sum() == 80
    world = tables["population"][tables["population"]["area"] == "001"]
    assert len(world) == 1 and world["cell_row"].iloc[0] == 219  # World is the last row, above the footer


# -- bad input --------------------------------------------------------------------------------------------------
def _copy(folder: Path, tmp_path: Path, spec) -> Path:
    for f in spec.files:
        (tmp_path / f.name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / f.name, tmp_path / f.name)
    return tmp_path


def test_csv_without_the_country_code_column_is_refused(folder, tmp_path, fresh):
    spec = spec_of("BX.TRF.PWKR.CD.DT-2025-07-01")
    _copy(folder, tmp_path, spec)
    text = (tmp_path / RECEIVED_2025).read_text("utf-8-sig")
    (tmp_path / RECEIVED_2025).write_text(text.replace('"Country Code",', '"Code",', 1), "utf-8-sig")
    with pytest.raises(SourceFileError) as err:
        build(spec, tmp_path, fresh)
    message = str(err.value)
    assert RECEIVED_2025 in message and "row 5" in message and "'Country Code'" in message


def test_csv_whose_header_moved_is_refused(folder, tmp_path, fresh):
    spec = spec_of("NY.GDP.MKTP.CD-2024-10-24")
    _copy(folder, tmp_path, spec)
    path = tmp_path / spec.files[0].name
    lines = path.read_text("utf-8-sig").split("\n")
    path.write_text("\n".join(lines[:4] + [""] + lines[4:]), "utf-8-sig")
    with pytest.raises(SourceFileError, match=r"API_NY\.GDP.*row 5.*header is not on line 5"):
        build(spec, tmp_path, fresh)


def test_unknown_country_code_is_an_issue_and_its_rows_are_not_loaded(folder, tmp_path, fresh):
    spec = spec_of("BX.TRF.PWKR.CD.DT-2025-07-01")
    _copy(folder, tmp_path, spec)
    path = tmp_path / RECEIVED_2025
    path.write_text(path.read_text("utf-8-sig").replace('"India","IND"', '"Atlantis","QQQ"'), "utf-8-sig")
    tables, report = build(spec, tmp_path, fresh)
    (issue,) = [i for i in report if i.type == "unmapped-area"]
    _, rows = published_cells(path)
    assert issue.area == "QQQ" and issue.file == RECEIVED_2025 and issue.column == "Country Code"
    assert issue.row == next(n for n, f in rows if f[1] == "QQQ")
    assert len(tables["remittances"]) == 265 * 65 and "IND" not in set(tables["remittances"]["area"])


def test_row_without_a_country_code_is_an_issue(folder, tmp_path, fresh):
    spec = spec_of("BX.TRF.PWKR.CD.DT-2025-07-01")
    _copy(folder, tmp_path, spec)
    path = tmp_path / RECEIVED_2025
    path.write_text(path.read_text("utf-8-sig").replace('"India","IND"', '"India",""'), "utf-8-sig")
    tables, report = build(spec, tmp_path, fresh)
    (issue,) = [i for i in report if i.type == "unmapped-area"]
    assert issue.column == "Country Code" and issue.n_obs == 1 and issue.file == RECEIVED_2025
    assert len(tables["remittances"]) == 265 * 65


def test_non_numeric_cell_is_kept_missing_with_its_text(folder, tmp_path, fresh):
    spec = spec_of("BX.TRF.PWKR.CD.DT-2025-07-01")
    _copy(folder, tmp_path, spec)
    path = tmp_path / RECEIVED_2025
    path.write_text(path.read_text("utf-8-sig").replace("119526055008.102", "n/a"), "utf-8-sig")
    tables, report = build(spec, tmp_path, fresh)
    (issue,) = [i for i in report if i.type == "non-numeric-value"]
    assert issue.column == "2023" and "'n/a'" in issue.message
    cell = tables["remittances"].query("area == 'IND' and year == 2023").iloc[0]
    assert cell["obs_status"] == "M" and np.isnan(cell["value"]) and cell["note"] == "n/a"


def test_truncated_databank_xlsx_is_refused(folder, tmp_path, fresh):
    spec = spec_of("databank-2021-2024-03-28")
    path = tmp_path / wdi.DATABANK_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes((folder / wdi.DATABANK_FILE).read_bytes()[:500_000])
    with pytest.raises(SourceFileError, match=r"World_development_indicatorts_part_1\.xlsx.*xlsx workbook"):
        build(spec, tmp_path, fresh)


def _edit_xlsx(source: Path, target: Path, member: str, edit) -> None:
    """Copy an xlsx, passing one of its XML parts through ``edit`` (openpyxl takes 20 s on this workbook)."""
    import zipfile

    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item)
            out.writestr(item, edit(data) if item.filename == member else data)


def test_databank_with_a_renamed_series_column_is_refused(folder, tmp_path, fresh):
    """The real workbook with one header cell renamed (its shared string edited)."""
    spec = spec_of("databank-2021-2024-03-28")
    path = tmp_path / wdi.DATABANK_FILE
    _edit_xlsx(folder / wdi.DATABANK_FILE, path, "xl/sharedStrings.xml",
               lambda xml: xml.replace(b" [BM.TRF.PWKR.CD.DT]", b"", 1))
    with pytest.raises(SourceFileError, match=r"World_development_indicatorts_part_1\.xlsx, sheet 'Data', row 1: "
                                              r"no column for the series BM\.TRF\.PWKR\.CD\.DT"):
        build(spec, tmp_path, fresh)


def test_databank_whose_header_moved_down_is_refused(folder, tmp_path, fresh):
    """The real workbook with every row moved one down (an empty row 1 inserted)."""
    import re

    def shift(xml: bytes) -> bytes:
        xml = re.sub(rb'<row r="(\d+)"', lambda m: b'<row r="%d"' % (int(m.group(1)) + 1), xml)
        xml = re.sub(rb'<c r="([A-Z]+)(\d+)"', lambda m: b'<c r="%s%d"' % (m.group(1), int(m.group(2)) + 1), xml)
        return xml.replace(b'<dimension ref="A1:ADD224"/>', b'<dimension ref="A1:ADD225"/>')

    spec = spec_of("databank-2021-2024-03-28")
    _edit_xlsx(folder / wdi.DATABANK_FILE, tmp_path / wdi.DATABANK_FILE, "xl/worksheets/sheet1.xml", shift)
    with pytest.raises(SourceFileError, match=r"sheet 'Data', row 1: row 1 starts \[None, None, None, None\]; "
                                              r"expected the header Time, Time Code, Country Name, Country Code"):
        build(spec, tmp_path, fresh)


def test_rds_that_is_not_r_data_is_refused(folder, tmp_path, fresh):
    spec = spec_of("DT.ODA.ODAT.CD-2020-02-01")
    _copy(folder, tmp_path, spec)
    (tmp_path / wdi.ODA_FILE).write_text("iso2c,country,development_aid,year\nNA,Namibia,1,2018\n")
    with pytest.raises(SourceFileError, match=r"development_aid\.rds: cannot be read as R data"):
        build(spec, tmp_path, fresh)


# -- the whole pipeline ---------------------------------------------------------------------------------------
def test_load_into_the_store_and_again_unchanged(mirror, tmp_path, fresh):
    from imdx.load import load_release
    from imdx.sources.fetch import fetch_release
    from imdx.store.duckdb_store import DuckDBStore

    store = DuckDBStore(tmp_path / "wdi.duckdb")
    spec = spec_of("BX.TRF.PWKR.CD.DT-2025-07-01")
    paths, files = fetch_release(spec, mirror=mirror, cache=tmp_path / "cache")
    outcome = load_release(store, spec, paths, files, fresh)
    assert outcome.status == "loaded" and outcome.n_obs == 266 * 65
    assert not [i for i in outcome.report if i.type in ("unmapped-area", "file-changed", "negative-value")]
    table = store.select("remittances", {"area": ["IND"], "year": [2023]}, edition="2025-07-01").to_pandas()
    assert table["value"].tolist() == [119526055008.102] and table["flow"].tolist() == ["received"]
    assert store.select("remittances", {"area": ["001"]}).num_rows == 65
    assert load_release(store, spec, paths, files, fresh).status == "unchanged"
    store.close()
