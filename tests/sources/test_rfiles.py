"""imdx's reader of R data files gives exactly what pyreadr gives, on every real file and on the edge cases."""

from __future__ import annotations

import bz2

import numpy as np
import pandas as pd
import pyreadr
import pytest

from imdx.errors import SourceFileError
from imdx.sources import rfiles
from imdx.sources.rfiles import read_r

R_FILES = ["unhcr/population.rda", "unhcr/asylum_applications.rda", "unhcr/asylum_decisions.rda",
           "unhcr/demographics.rda", "unhcr/demographics_v2025.12.0_2001-2025.rda", "unhcr/countries.rda",
           "unhcr/flows.rda", "unhcr/solutions.rda", "unhcr/idmc.rda", "unhcr/unrwa.rda",
           "undesa_ims/derived/ims2020_stock_destination_origin_sex_gdiviz.rda",
           "wdi/oda_wdi_r_package/development_aid.rds",
           "undesa_ims/derived/ims2024_stock_destination_origin_sex_gdidata.rda",
           "eurostat/derived/migmod_mig_data.rda",
           # a Date column (iom_mmp: datetime.date, as pyreadr) and tsibble months (yearmonth: plain days)
           "iom_gdidata/iom_mmp.rda", "iom_gdidata/frontex.rda", "iom_gdidata/irreg_usa.rda",
           "iom_gdidata/eu_asyapp.rda"]


@pytest.fixture
def fast_only(monkeypatch):
    """Fail where read_r would hand the file to pyreadr: the result must come from the fast path."""
    def refuse(path, expected):
        raise AssertionError(f"{path} went to pyreadr")

    monkeypatch.setattr(rfiles, "_read_with_libraries", refuse)


def _same(path, **kw):
    expected = pyreadr.read_r(str(path))
    got = read_r(path, expected="R data")
    assert list(got) == list(expected)
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], **kw)
    return got


@pytest.mark.parametrize("name", R_FILES)
def test_every_real_file_reads_as_pyreadr_reads_it(mirror, name, fast_only):
    got = _same(mirror / name)
    assert all(len(frame) for frame in got.values())


def test_na_strings_text_na_empty_and_unicode(tmp_path, fast_only):
    # "NA" the code and NA the missing value stay apart; 9-byte strings have a length word that looks
    # like a record's flags (00 00 00 09); non-ASCII names are UTF-8
    texts = ["NA", None, "", "Australia", "Côte d'Ivoire", "Türkiye", "日本", "x" * 300, "Austria"] * 50
    frame = pd.DataFrame({"name": texts, "value": np.arange(len(texts), dtype=float)})
    frame.loc[3, "value"] = np.nan
    pyreadr.write_rdata(str(tmp_path / "t.rda"), frame, df_name="t", compress="gzip")
    got = _same(tmp_path / "t.rda")["t"]
    assert got["name"].iloc[0] == "NA" and pd.isna(got["name"].iloc[1]) and got["name"].iloc[2] == ""
    assert got["name"].iloc[4] == "Côte d'Ivoire"


def test_long_strings_grow_the_scan_window(tmp_path, fast_only):
    frame = pd.DataFrame({"a": [f"{i:05d}" + "y" * 200 for i in range(2000)], "b": ["z"] * 2000})
    pyreadr.write_rdata(str(tmp_path / "long.rda"), frame, df_name="long")
    assert _same(tmp_path / "long.rda")["long"]["a"].iloc[1999].startswith("01999")


def test_strings_that_mimic_a_record_go_to_pyreadr(tmp_path):
    # " \t" followed by a record: its bytes 00 00 00 02 20 09 00 .. contain a false record start; the
    # chain check notices and pyreadr reads the file
    frame = pd.DataFrame({"s": [" \t", "a", "\t", "b"] * 10})
    pyreadr.write_rdata(str(tmp_path / "odd.rda"), frame, df_name="odd")
    _same(tmp_path / "odd.rda")


def test_columns_of_other_r_classes_go_to_pyreadr(tmp_path):
    # pyreadr writes dates as text, so a class the fast reader does not know is made by renaming one
    frame = pd.DataFrame({"sex": pd.Categorical(["F", "M", "F"]), "n": [1.0, 2.0, 3.0]})
    pyreadr.write_rdata(str(tmp_path / "f.rda"), frame, df_name="f", compress=None)
    data = (tmp_path / "f.rda").read_bytes()
    assert data.count(b"factor") == 1
    (tmp_path / "f.rda").write_bytes(data.replace(b"factor", b"Factor"))
    with pytest.raises(rfiles._Unsupported, match="Factor"):
        rfiles._Reader((tmp_path / "f.rda").read_bytes()).objects()
    _same(tmp_path / "f.rda")


def test_factors(tmp_path, fast_only):
    frame = pd.DataFrame({"sex": pd.Categorical(["F", "M", None, "F"], categories=["F", "M"]), "v": [1.0] * 4})
    pyreadr.write_rdata(str(tmp_path / "f.rda"), frame, df_name="f")
    got = _same(tmp_path / "f.rda")["f"]
    assert list(got["sex"].cat.categories) == ["F", "M"] and pd.isna(got["sex"].iloc[2])


@pytest.mark.parametrize("column", [
    np.array([1, 2, 3], dtype=np.int32), pd.array([1, None, 3], dtype="Int32"), [True, False, True],
    pd.array([True, None, False], dtype="boolean"), [1.5, np.nan, 3.0], np.array([1, 2, 3], dtype=np.int64)])
def test_integer_logical_and_double_columns(tmp_path, fast_only, column):
    pyreadr.write_rdata(str(tmp_path / "c.rda"), pd.DataFrame({"a": column}), df_name="c")
    _same(tmp_path / "c.rda")


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.99])
def test_a_truncated_file_is_refused_by_every_reader(mirror, tmp_path, cut):
    data = (mirror / "unhcr" / "population.rda").read_bytes()
    path = tmp_path / "population.rda"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(SourceFileError, match="population.rda: cannot be read as R data") as err:
        read_r(path, expected="UNHCR's population table")
    assert err.value.file == str(path) and "UNHCR's population table" in str(err.value)


def test_a_truncated_uncompressed_stream_is_refused(mirror, tmp_path):
    data = bz2.decompress((mirror / "unhcr" / "asylum_decisions.rda").read_bytes())
    path = tmp_path / "asylum_decisions.rda"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFileError, match="cannot be read as R data"):
        read_r(path, expected="R data")
