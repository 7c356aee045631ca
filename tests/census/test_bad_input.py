"""Bad person files: each gets a clear error naming the file, line and column, or an issue in the report
with its first line; no record is dropped or counted without saying so."""

from __future__ import annotations

import gzip
import shutil

import pytest

from imdx.census.errors import CensusError, MappingError, MicrodataError
from imdx.census.mapping import from_dict, load_mapping
from imdx.census.sources import UCI_ADULT
from imdx.census.tabulate import tabulate
from imdx.census.text import Limits
from tests.census.files import ONS, ons_fixed, with_line

UCI = "uci_adult/adult.data"


def _fields(line: str) -> list[str]:
    return line.split(", ")


def _set_field(index: int, value: str):
    def edit(line: str) -> str:
        fields = _fields(line)
        fields[index] = value
        return ", ".join(fields)
    return edit


def test_declared_birthplace_column_missing(microdata, areas, duckdb_engine):
    mapping = from_dict({**UCI_ADULT, "birthplace": {**UCI_ADULT["birthplace"], "column": "country-of-birth"}})
    with pytest.raises(MappingError) as err:
        tabulate(microdata / UCI, mapping, areas, engine=duckdb_engine)
    text = str(err.value)
    assert "adult.data" in text and "'country-of-birth'" in text and "birthplace" in text
    assert "native-country" in text  # the columns the file does have


def test_ipums_extract_without_birthplace_says_so(microdata, areas, duckdb_engine):
    """The IPUMS-CPS examples have no BPL or NATIVITY: the reader says so, it does not invent one."""
    for name in ("cps_00160.dat.gz", "cps_00158.csv.gz"):
        with pytest.raises(MappingError) as err:
            tabulate(microdata / "ipums_cps_example" / name, load_mapping("ipums_cps"), areas, engine=duckdb_engine)
        text = str(err.value)
        assert name in text and "'BPL'" in text and "birthplace" in text and "no foreign-born table" in text
        assert "MIGRATE1" in text or "INCTOT" in text  # what the extract does hold


def test_negative_weight_is_an_error_at_its_line(microdata, areas, duckdb_engine, tmp_path):
    bad = with_line(microdata / UCI, tmp_path / "adult.data", 1234, _set_field(2, "-77516"))
    with pytest.raises(MicrodataError) as err:
        tabulate(bad, load_mapping("uci_adult"), areas, engine=duckdb_engine)
    assert (err.value.file, err.value.row, err.value.column) == ("adult.data", 1234, "fnlwgt")
    assert "1 record(s) have a missing or negative weight" in str(err.value) and "line 1,234" in str(err.value)


def test_missing_weight_excluded_when_the_mapping_says_so(microdata, areas, spark_engine, tmp_path):
    bad = with_line(microdata / UCI, tmp_path / "adult.data", 77, _set_field(2, ""))
    with pytest.raises(MicrodataError) as err:
        tabulate(bad, load_mapping("uci_adult"), areas, engine=spark_engine)
    assert err.value.row == 77
    mapping = from_dict({**UCI_ADULT, "weight": {"column": "fnlwgt", "invalid": "exclude"}})
    tab = tabulate(bad, mapping, areas, engine=spark_engine)
    assert int(tab.cell()["records"]) == 32_560  # left out of every count, and said
    [issue] = [i for i in tab.report if i.type == "invalid-weight"]
    assert (issue.severity, issue.row, issue.column, issue.n_obs) == ("error", 77, "fnlwgt", 1)


def test_weight_that_is_not_a_number(microdata, areas, duckdb_engine, tmp_path):
    bad = with_line(microdata / UCI, tmp_path / "adult.data", 5, _set_field(2, "n/a"))
    with pytest.raises(MicrodataError) as err:
        tabulate(bad, load_mapping("uci_adult"), areas, engine=duckdb_engine)
    assert (err.value.row, err.value.column) == (5, "fnlwgt") and "'n/a' is not a number" in str(err.value)


def test_short_csv_line(microdata, areas, duckdb_engine, tmp_path):
    bad = with_line(microdata / UCI, tmp_path / "adult.data", 20_000, lambda line: ", ".join(_fields(line)[:9]))
    with pytest.raises(MicrodataError) as err:
        tabulate(bad, load_mapping("uci_adult"), areas, engine=duckdb_engine)
    assert (err.value.row, err.value.column) == (20_000, "sex") and "9 field(s)" in str(err.value)


def test_codes_outside_the_code_lists_are_reported_and_counted(microdata, areas, engine, tmp_path):
    bad = with_line(microdata / UCI, tmp_path / "adult.data", 300, _set_field(9, "Unknown"))
    bad = with_line(bad, tmp_path / "adult2.data", 301, _set_field(0, "230"))
    bad = with_line(bad, tmp_path / "adult3.data", 302, _set_field(13, "Atlantis"))
    tab = tabulate(bad, load_mapping("uci_adult"), areas, engine=engine)
    assert int(tab.cell()["records"]) == 32_561  # nothing dropped
    found = {i.type: i for i in tab.report if i.severity == "warning"}
    assert (found["code-not-in-mapping"].row, found["code-not-in-mapping"].column) == (300, "sex")
    assert (found["age-out-of-range"].row, found["age-out-of-range"].column) == (301, "age")
    assert (found["unmapped-birthplace"].row, found["unmapped-birthplace"].area) == (302, "Atlantis")
    assert int(tab.cell(sex="_U")["records"]) == 1 and int(tab.cell(age="_U")["records"]) == 1
    assert int(tab.cell(birthplace="_U", nativity="_U")["records"]) == 583 + 1


def test_fixed_width_file_with_its_code_book(microdata, areas, duckdb_engine, tmp_path):
    """The ONS file as fixed width + DDI gives the same tables as the CSV."""
    dat, toml = ons_fixed(microdata, tmp_path)
    fixed = tabulate(dat, load_mapping(str(toml)), areas, engine=duckdb_engine)
    csv = tabulate(microdata / ONS, load_mapping("ons_2011_teaching"), areas, engine=duckdb_engine)
    assert fixed.cells[["records", "weight_units"]].equals(csv.cells[["records", "weight_units"]])
    assert fixed.cells["nativity"].equals(csv.cells["nativity"]) and int(fixed.cell(nativity="FOR")["records"]) == 5_020


def test_truncated_fixed_width_line(microdata, areas, duckdb_engine, tmp_path):
    dat, toml = ons_fixed(microdata, tmp_path)
    with_line(dat, dat, 4_321, lambda line: line[:16])  # cut before SEX (positions 8-16 are REGION)
    with pytest.raises(MicrodataError) as err:
        tabulate(dat, load_mapping(str(toml)), areas, engine=duckdb_engine)
    assert (err.value.file, err.value.row, err.value.column) == ("ons.dat", 4_321, "SEX")
    assert "truncated" in str(err.value) and "16 characters" in str(err.value)


def test_fixed_width_code_outside_the_code_book_and_non_numeric(microdata, areas, duckdb_engine, tmp_path):
    dat, toml = ons_fixed(microdata, tmp_path)
    with_line(dat, dat, 10, lambda line: line[:-2] + " 7")  # COB 7: in neither the code book nor the mapping
    tab = tabulate(dat, load_mapping(str(toml)), areas, engine=duckdb_engine)
    issues = sorted((i.type, i.row, i.column) for i in tab.report if i.severity == "warning")
    assert issues == [("code-not-in-codebook", 10, "COB"), ("code-not-in-mapping", 10, "COB")]
    assert int(tab.cell(nativity="_U")["records"]) == 1 and int(tab.cell()["records"]) == 50_000
    with_line(dat, dat, 11, lambda line: line[:-2] + " x")
    with pytest.raises(MicrodataError) as err:
        tabulate(dat, load_mapping(str(toml)), areas, engine=duckdb_engine)
    assert (err.value.row, err.value.column) == (11, "COB (positions 19-20)") and "not a number" in str(err.value)


def test_read_limits(microdata, areas, duckdb_engine, tmp_path):
    big = tmp_path / "adult.data.gz"
    with gzip.open(big, "wb") as out:  # 4 MB of records from a 1 MB download
        out.write((microdata / UCI).read_bytes())
    with pytest.raises(CensusError, match="more than 1,000,000 bytes"):
        tabulate(big, load_mapping("uci_adult"), areas, engine=duckdb_engine, limits=Limits(max_bytes=1_000_000))
    endless = tmp_path / "endless.data"
    endless.write_bytes(b"9" * 3_000_000)
    with pytest.raises(MicrodataError, match="longer than"):
        tabulate(endless, load_mapping("uci_adult"), areas, engine=duckdb_engine)


def test_hostile_code_book_is_not_expanded(microdata, areas, duckdb_engine, tmp_path):
    dat, toml = ons_fixed(microdata, tmp_path)
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    (tmp_path / "ons.xml").write_text(f'<?xml version="1.0"?><!DOCTYPE codeBook [{laughs}]><codeBook>&l9;</codeBook>')
    with pytest.raises(MicrodataError, match="no variables|not well-formed"):
        tabulate(dat, load_mapping(str(toml)), areas, engine=duckdb_engine)


@pytest.mark.parametrize("text, message", [
    ('id = "x"\ntitle = "x"\ncountry = "USA"\nyear = 2000\n[sex]\ncolumn = "s"\ncodes = { 1 = "Male" }\n',
     "not sex codes"),
    ('id = "x"\ntitle = "x"\ncountry = "USA"\nyear = 2000\n[sex]\ncolumn = "s"\ncodes = { 1 = "M" }\n',
     "neither birthplace nor nativity"),
    ('id = "x"\ntitle = "x"\ncountry = "USA"\nyear = 2000\nbirth = "b"\n', "unknown key"),
    ('id = "x"\ntitle = "x"\ncountry = "USA"\nyear = 2000\n[birthplace]\ncolumn = "b"\nsystem = ["name"]\n',
     "unknown key"),
    ('id = "x"\ntitle = "x"\ncountry = "USA"\nyear = 2000\n[birthplace]\nsystems = ["name"]\n', "needs a column"),
    ('id = "x"\ntitle = "x"\ncountry = "USA"\nyear = 20000\n[birthplace]\ncolumn = "b"\n', "year"),
    ('id = "x"\ntitle = "x"\ncountry = "USA"\nyear = 2000\n[birthplace]\ncolumn = "b"\ncodes = { a = "_O/NATIVE" }\n',
     "the nativity it implies"),
    ("id = [", "not a valid TOML"),
])
def test_bad_mappings(tmp_path, text, message):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(MappingError, match=message):
        load_mapping(str(path))


def test_mapping_to_unknown_area_and_huge_mapping(microdata, areas, duckdb_engine, tmp_path):
    mapping = from_dict({**UCI_ADULT, "birthplace": {**UCI_ADULT["birthplace"], "codes": {"Columbia": "XXX"}}})
    with pytest.raises(MappingError, match="'XXX', which is not an imdx area code"):
        tabulate(microdata / UCI, mapping, areas, engine=duckdb_engine)
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * (5 * 2**20))
    with pytest.raises(MappingError, match="larger than 4 MiB"):
        load_mapping(str(huge))


def test_missing_and_empty_files(microdata, areas, duckdb_engine, tmp_path):
    with pytest.raises(MicrodataError, match="does not exist"):
        tabulate(tmp_path / "nope.csv", load_mapping("ons_2011_teaching"), areas, engine=duckdb_engine)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(MicrodataError, match="is empty"):
        tabulate(tmp_path / "empty.csv", load_mapping("ons_2011_teaching"), areas, engine=duckdb_engine)
    shutil.copy(microdata / ONS, tmp_path / "header-only.csv")
    (tmp_path / "header-only.csv").write_text((microdata / ONS).read_text().splitlines()[0] + "\n")
    with pytest.raises(MicrodataError, match="holds no person records"):
        tabulate(tmp_path / "header-only.csv", load_mapping("ons_2011_teaching"), areas, engine=duckdb_engine)


def test_an_identifier_declared_as_a_code_is_refused(microdata, areas, duckdb_engine):
    """fnlwgt (21,648 distinct values) declared as the region: the combinations explode, and the error says
    which column."""
    mapping = from_dict({**UCI_ADULT, "region": {"column": "fnlwgt"}})
    with pytest.raises(CensusError, match="'fnlwgt', declared as region"):
        tabulate(microdata / UCI, mapping, areas, engine=duckdb_engine, max_combinations=5_000)


def test_weight_too_large_to_sum_exactly(microdata, areas, duckdb_engine, tmp_path):
    bad = with_line(microdata / UCI, tmp_path / "adult.data", 8, _set_field(2, "9e300"))
    with pytest.raises(MicrodataError, match="too large") as err:
        tabulate(bad, load_mapping("uci_adult"), areas, engine=duckdb_engine)
    assert err.value.row == 8


def test_parquet_weights_negative_nan_or_missing(microdata, areas, engine, tmp_path):
    """A Parquet file's weights are checked in the engine (its statistics would let a clean file skip that)."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(microdata / UCI, header=None, skipinitialspace=True, usecols=[0, 2, 9, 13],
                        names=["age", "fnlwgt", "sex", "native-country"])
    mapping = from_dict({**UCI_ADULT, "format": "parquet", "read": {}})
    for bad, row in ((-5, 41), (np.nan, 42)):
        broken = frame.astype({"fnlwgt": "float64"})
        broken.loc[row - 1, "fnlwgt"] = bad
        broken.to_parquet(tmp_path / "persons.parquet")
        with pytest.raises(MicrodataError) as err:
            tabulate(tmp_path / "persons.parquet", mapping, areas, engine=engine)
        assert (err.value.file, err.value.row, err.value.column) == ("persons.parquet", row, "fnlwgt")
    frame.to_parquet(tmp_path / "persons.parquet")  # integers, none missing: summed without a check
    assert int(tabulate(tmp_path / "persons.parquet", mapping, areas, engine=engine).cell()["records"]) == 32_561
