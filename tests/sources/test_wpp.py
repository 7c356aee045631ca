"""UN World Population Prospects 2024 (the wpp2024 package tables), on the real files of the mirror."""

from __future__ import annotations

import copy
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import wpp
from imdx.sources.base import LoadContext, finish
from imdx.sources.fetch import sha256_of

SPEC = wpp.SOURCE.releases[0]
N_LOCATIONS, N_YEARS = 297, 74  # 1950-2023
LOCATIONS_FILE = "wpp2024/UNlocations.txt"
COUNTS = ["births", "deaths", "net_migration"]
RATES = ["crude_birth_rate", "crude_death_rate", "crude_net_migration_rate"]


def _paths(folder: Path) -> dict[str, Path]:
    return {f.name: folder / f.name for f in SPEC.files}


def _build(paths: dict[str, Path], areas) -> tuple[dict[str, pd.DataFrame], Report]:
    ctx = LoadContext(areas=copy.deepcopy(areas), report=Report(), source="wpp")
    tables = wpp.build(paths, ctx)
    return {flow: finish(flow, frame) for flow, frame in tables.items()}, ctx.report


@pytest.fixture(scope="module")
def areas(mirror):
    """A fresh area table of this module's own: the build registers WPP codes into the table it gets, and
    the session's table may carry what other sources' tests registered."""
    from imdx.codes.build import build_areas

    return build_areas(mirror / "m49")


@pytest.fixture(scope="module")
def loaded(mirror, areas):
    ctx = LoadContext(areas=copy.deepcopy(areas), report=Report(), source="wpp")
    tables = wpp.build(_paths(mirror / "wpp"), ctx)
    return {flow: finish(flow, frame) for flow, frame in tables.items()}, ctx


@pytest.fixture()
def obs(loaded):
    return loaded[0]


@pytest.fixture()
def copy_folder(mirror, tmp_path) -> Path:
    """A writable copy of the wpp mirror folder, to damage."""
    target = tmp_path / "wpp"
    shutil.copytree(mirror / "wpp" / "wpp2024", target / "wpp2024")
    for path in (target / "wpp2024").iterdir():
        path.chmod(0o644)
    return target


def _value(frame: pd.DataFrame, area: str, year: int) -> float:
    hit = frame[(frame["area"] == area) & (frame["year"] == year)]
    assert len(hit) == 1
    return float(hit["value"].iloc[0])


# -- the release -----------------------------------------------------------------------------
def test_release_declares_edition_licence_and_files_with_their_checksums(mirror):
    assert len(wpp.SOURCE.releases) == 1
    assert (SPEC.edition, SPEC.published, SPEC.licence) == ("2024", date(2024, 7, 11), "CC BY 3.0 IGO")
    assert set(SPEC.dataflows) == set(COUNTS + RATES)
    for f in SPEC.files:
        assert f.url.startswith("https://raw.githubusercontent.com/PPgp/wpp2024/")
        assert sha256_of(mirror / "wpp" / f.name) == f.sha256, f.name


# -- real figures ----------------------------------------------------------------------------
def test_births_are_persons_exactly(obs):
    births = obs["births"]
    assert _value(births, "USA", 1990) == 4_172_065
    assert _value(births, "USA", 2020) == 3_641_990
    assert _value(births, "IND", 2020) == 23_485_339
    assert _value(births, "001", 2023) == 132_110_264


def test_counts_converted_from_thousands_without_float_noise(obs):
    for flow in COUNTS:
        values = obs[flow]["value"].to_numpy()
        assert np.array_equal(values, np.round(values)), flow  # 3 decimals in thousands = whole persons
    assert _value(obs["deaths"], "USA", 2020) > 3_000_000


def test_world_net_migration_is_zero_every_year(obs):
    world = obs["net_migration"][obs["net_migration"]["area"] == "001"]
    assert sorted(world["year"]) == list(range(1950, 2024))
    assert (world["value"] == 0).all()


def test_rates_are_per_thousand_and_consistent_with_counts(obs):
    # person-years lived = births * 1000 / cbr = deaths * 1000 / cdr (rates are rounded to 3 decimals)
    for area, expected in [("USA", 339.4e6), ("DEU", 83.6e6)]:
        from_births = _value(obs["births"], area, 2020) * 1000 / _value(obs["crude_birth_rate"], area, 2020)
        from_deaths = _value(obs["deaths"], area, 2020) * 1000 / _value(obs["crude_death_rate"], area, 2020)
        assert from_births == pytest.approx(from_deaths, rel=1e-3)
        assert from_births == pytest.approx(expected, rel=1e-3)
    assert 5 < _value(obs["crude_birth_rate"], "USA", 2020) < 20  # per 1,000, not per person
    cnmr = obs["crude_net_migration_rate"]
    assert (cnmr[cnmr["area"] == "001"]["value"] == 0).all()


# -- every row accounted for -----------------------------------------------------------------
@pytest.mark.parametrize("flow", COUNTS + RATES)
def test_every_cell_of_every_table_is_one_observation(obs, flow):
    frame = obs[flow]
    assert len(frame) == N_LOCATIONS * N_YEARS
    assert frame["area"].notna().all() and frame["area"].nunique() == N_LOCATIONS
    assert not frame.duplicated(["area", "year"]).any()  # no two WPP codes land on one area
    assert sorted(frame["year"].unique()) == list(range(1950, 2024))
    assert set(frame["cell_column"]) == {str(y) for y in range(1950, 2024)}
    assert (frame["obs_status"] == "A").all() and frame["value"].notna().all()
    assert sorted(frame["cell_row"].unique()) == list(range(2, N_LOCATIONS + 2))


def test_last_observed_column_is_not_a_year(mirror, obs):
    raw = wpp.read_indicator(mirror / "wpp" / "wpp2024" / "migration.txt")
    assert "last.observed" in raw.columns  # read faithfully ...
    migration = obs["net_migration"]
    assert "last.observed" not in set(migration["cell_column"])  # ... but never an observation
    assert migration["year"].max() == 2023 and len(migration) == N_LOCATIONS * N_YEARS


def test_cell_points_at_the_published_cell(mirror, obs):
    births = obs["births"]
    usa = births[(births["area"] == "USA") & (births["year"] == 1990)].iloc[0]
    assert (usa["cell_file"], usa["cell_column"]) == ("wpp2024/births.txt", "1990")
    lines = (mirror / "wpp" / "wpp2024" / "births.txt").read_text("utf-8").split("\n")
    header, line = lines[0].split("\t"), lines[int(usa["cell_row"]) - 1].split("\t")
    assert line[header.index("country_code")] == "840"
    assert line[header.index("1990")] == "4172.065"


# -- areas -----------------------------------------------------------------------------------
def test_aggregates_are_flagged_as_aggregates(loaded, mirror):
    obs, ctx = loaded
    codes = obs["births"].drop_duplicates("area")["area"]
    kinds = codes.map(ctx.areas.kind)
    assert (kinds == "aggregate").sum() == 61 and (kinds == "country").sum() == 236
    locations = wpp.read_locations(mirror / "wpp" / "wpp2024" / "UNlocations.txt")
    # every location UNlocations calls a country (type 4) is a country, every other an aggregate
    mapped = ctx.areas.map(locations["country_code"], wpp.SYSTEMS)
    want = np.where(locations["location_type"] == 4, "country", "aggregate")
    assert list(mapped.map(ctx.areas.kind)) == list(want)
    for code in ["001", "HIC", "LIC", "INX", "202", "921", "019", "053", "1830", "2087", "5503", "1859"]:
        assert ctx.areas.kind(code) == "aggregate", code
    assert ctx.areas.name("2087") == "LLDC: Africa"  # registered from UNlocations: unknown to the area table
    assert not [i for i in ctx.report if i.type == "area-kind-mismatch"]
    # the tables list no location that UNlocations lacks (it has one more: Holy See, 336)
    raw = wpp.read_indicator(mirror / "wpp" / "wpp2024" / "births.txt")
    assert set(locations["country_code"]) - set(raw["country_code"]) == {"336"}


def test_wpp_specific_codes_resolve_to_the_right_countries(mirror, loaded):
    obs, ctx = loaded
    raw = wpp.read_indicator(mirror / "wpp" / "wpp2024" / "births.txt")
    line_of = dict(zip(raw["country_code"], raw.index + 2))
    area_of_line = obs["births"].drop_duplicates("cell_row").set_index("cell_row")["area"]
    expected = {"412": "XKX", "158": "TWN", "840": "USA", "356": "IND", "900": "001", "1834": "202",
                "1518": "INX", "1836": "1836", "927": "053", "384": "CIV", "792": "TUR", "583": "FSM",
                "954": "057", "957": "061"}
    assert {code: area_of_line[line_of[code]] for code in expected} == expected
    assert ctx.areas.kind("XKX") == "country" and ctx.areas.kind("TWN") == "country"
    assert ctx.areas.name("1836") == "Australia/New Zealand" and ctx.areas.kind("1836") == "aggregate"


def test_real_data_raises_only_the_name_matches(loaded):
    _, ctx = loaded
    assert {(i.type, i.area) for i in ctx.report} == {("area-matched-by-name", "202"),
                                                      ("area-matched-by-name", "921"),
                                                      ("area-matched-by-name", "019")}
    assert all(i.severity == "info" and i.file == LOCATIONS_FILE for i in ctx.report)


def test_misc1dt_rda_agrees_with_the_tables(mirror, obs):
    import pyreadr

    misc = pyreadr.read_r(mirror / "wpp" / "wpp2024" / "misc1dt.rda")["misc1dt"]
    assert len(misc) == N_LOCATIONS * N_YEARS
    raw = wpp.read_indicator(mirror / "wpp" / "wpp2024" / "births.txt")
    area_of = dict(zip(raw["country_code"], obs["births"].drop_duplicates("cell_row")["area"]))
    misc["area"] = misc["country_code"].astype(str).map(area_of)
    assert misc["area"].notna().all()
    for flow, column, factor in [("births", "births", 1000), ("deaths", "deaths", 1000),
                                 ("crude_birth_rate", "cbr", 1), ("crude_death_rate", "cdr", 1),
                                 ("crude_net_migration_rate", "cnmr", 1)]:
        both = obs[flow].merge(misc[["area", "year", column]], on=["area", "year"], how="outer",
                               indicator=True)
        assert (both["_merge"] == "both").all(), flow
        assert np.allclose(both["value"], both[column] * factor, rtol=0, atol=1e-6), flow


# -- bad input -------------------------------------------------------------------------------
def _rewrite(path: Path, edit) -> None:
    lines = path.read_text("utf-8").split("\n")
    edit(lines)
    path.write_text("\n".join(lines), "utf-8")


def test_missing_country_code_column_is_refused(copy_folder, areas):
    births = copy_folder / "wpp2024" / "births.txt"
    _rewrite(births, lambda lines: lines.__setitem__(0, lines[0].replace("country_code", "code", 1)))
    with pytest.raises(SourceFileError) as err:
        _build(_paths(copy_folder), areas)
    assert err.value.file.endswith("births.txt") and err.value.column == "country_code" and err.value.row == 1
    assert "births.txt" in str(err.value) and "country_code" in str(err.value)


def test_non_numeric_value_is_refused_naming_line_and_column(copy_folder, areas):
    deaths = copy_folder / "wpp2024" / "deaths.txt"

    def mangle(lines):
        fields = lines[99].split("\t")
        fields[2 + 40] = "12O.5"  # 1990, with a letter O
        lines[99] = "\t".join(fields)

    _rewrite(deaths, mangle)
    with pytest.raises(SourceFileError) as err:
        _build(_paths(copy_folder), areas)
    assert (Path(err.value.file).name, err.value.row, err.value.column) == ("deaths.txt", 100, "1990")
    assert "'12O.5'" in str(err.value) and "deaths.txt" in str(err.value)


def test_truncated_file_is_refused(copy_folder, areas):
    cbr = copy_folder / "wpp2024" / "cbr.txt"
    data = cbr.read_bytes()
    cbr.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFileError) as err:
        _build(_paths(copy_folder), areas)
    assert Path(err.value.file).name == "cbr.txt" and err.value.row > 100
    assert "fields" in str(err.value)


def test_binary_file_is_refused(copy_folder, areas):
    (copy_folder / "wpp2024" / "cdr.txt").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 10)
    with pytest.raises(SourceFileError, match="cdr.txt.*not UTF-8"):
        _build(_paths(copy_folder), areas)


def test_bytes_that_are_not_utf8_are_refused_naming_the_line(copy_folder, areas):
    deaths = copy_folder / "wpp2024" / "deaths.txt"
    lines = deaths.read_bytes().split(b"\n")
    lines[99] = lines[99].replace(b"\t", b"\t\xff", 1)  # in the country name
    deaths.write_bytes(b"\n".join(lines))
    with pytest.raises(SourceFileError, match="not UTF-8") as err:
        _build(_paths(copy_folder), areas)
    assert (Path(err.value.file).name, err.value.row) == ("deaths.txt", 100)


def test_line_with_an_extra_field_is_refused(copy_folder, areas):
    cdr = copy_folder / "wpp2024" / "cdr.txt"
    _rewrite(cdr, lambda lines: lines.__setitem__(10, lines[10] + "\t1.5"))
    with pytest.raises(SourceFileError) as err:
        _build(_paths(copy_folder), areas)
    assert (Path(err.value.file).name, err.value.row) == ("cdr.txt", 11)
    assert "77 fields" in str(err.value) and "76 tab-separated fields" in str(err.value)


def test_renamed_year_column_is_refused(copy_folder, areas):
    cnmr = copy_folder / "wpp2024" / "cnmr.txt"
    _rewrite(cnmr, lambda lines: lines.__setitem__(0, lines[0].replace("\t1990\t", "\tX1990\t")))
    with pytest.raises(SourceFileError) as err:
        _build(_paths(copy_folder), areas)
    assert (Path(err.value.file).name, err.value.row, err.value.column) == ("cnmr.txt", 1, "X1990")


def test_unknown_country_code_is_an_issue_naming_file_line_and_code(copy_folder, areas):
    births = copy_folder / "wpp2024" / "births.txt"
    _rewrite(births, lambda lines: lines.__setitem__(269, lines[269].replace("840\t", "99840\t", 1)))
    obs, report = _build(_paths(copy_folder), areas)
    unmapped = [i for i in report if i.type == "unmapped-area"]
    assert len(unmapped) == 1
    issue = unmapped[0]
    assert (issue.file, issue.row, issue.column) == ("wpp2024/births.txt", 270, "country_code")
    assert issue.area == "99840" and "99840" in issue.message
    assert issue.n_obs == N_YEARS and issue.dataflow == "births"
    assert len(obs["births"]) == (N_LOCATIONS - 1) * N_YEARS  # reported, not loaded, not guessed
    assert "USA" not in set(obs["births"]["area"]) and "USA" in set(obs["deaths"]["area"])
    missing = [i for i in report if i.type == "location-missing"]
    assert {(i.file, i.area) for i in missing} >= {("wpp2024/births.txt", "840")}


def test_missing_cells_are_kept_as_missing(copy_folder, areas):
    births = copy_folder / "wpp2024" / "births.txt"

    def blank(lines):
        fields = lines[269].split("\t")
        fields[2 + 40], fields[2 + 70] = "", "NA"  # 1990, 2020
        lines[269] = "\t".join(fields)

    _rewrite(births, blank)
    obs, _ = _build(_paths(copy_folder), areas)
    usa = obs["births"][obs["births"]["area"] == "USA"].set_index("year")
    assert usa.loc[[1990, 2020], "obs_status"].tolist() == ["M", "M"]
    assert usa.loc[[1990, 2020], "value"].isna().all()
    assert usa.loc[2021, "obs_status"] == "A" and len(obs["births"]) == N_LOCATIONS * N_YEARS


def test_location_kind_contradicting_the_area_table_is_an_issue(copy_folder, areas):
    locations = copy_folder / "wpp2024" / "UNlocations.txt"

    def make_kosovo_an_aggregate(lines):
        header = lines[0].split("\t")
        for i, line in enumerate(lines[1:], start=1):
            fields = line.split("\t")
            if len(fields) > 1 and fields[header.index("country_code")] == "412":
                fields[header.index("location_type")] = "3"
                lines[i] = "\t".join(fields)

    _rewrite(locations, make_kosovo_an_aggregate)
    _, report = _build(_paths(copy_folder), areas)
    wrong = [i for i in report if i.type == "area-kind-mismatch"]
    assert [(i.area, i.file, i.column) for i in wrong] == [("XKX", LOCATIONS_FILE, "location_type")]


def test_missing_location_column_in_unlocations_is_refused(copy_folder, areas):
    locations = copy_folder / "wpp2024" / "UNlocations.txt"
    _rewrite(locations, lambda lines: lines.__setitem__(0, lines[0].replace("location_type", "loc_type")))
    with pytest.raises(SourceFileError, match="UNlocations.txt.*location_type"):
        _build(_paths(copy_folder), areas)


# -- the whole pipeline ----------------------------------------------------------------------
def test_load_into_the_store(mirror, tmp_path):
    from imdx.config import settings
    from imdx.load import load
    from imdx.store.duckdb_store import DuckDBStore

    with DuckDBStore(tmp_path / "imdx.duckdb") as store:
        summary = load(store, settings(env={}, mirror=str(mirror), db=str(tmp_path / "imdx.duckdb"),
                                       cache=str(tmp_path / "cache")), ["wpp"])
        assert [(o.source, o.status) for o in summary.outcomes] == [("m49", "loaded"), ("wpp", "loaded")]
        assert summary.outcomes[1].n_obs == 6 * N_LOCATIONS * N_YEARS
        usa = store.select("births", {"area": ["USA"], "year": [2020]}).to_pandas()
        assert usa["value"].tolist() == [3_641_990.0] and usa["edition"].tolist() == ["2024"]
        assert usa["cell_file"].tolist() == ["wpp2024/births.txt"] and usa["unit"].tolist() == ["persons"]
        world = store.select("net_migration", {"area": ["001"]}).to_pandas()
        assert len(world) == N_YEARS and (world["value"] == 0).all()
        stored = store.areas()
        assert stored.kind("2087") == "aggregate" and stored.resolve("412", ("undesa",)).code == "XKX"
        issues = store.issues(source="wpp")
        assert {"202", "921", "019"} <= set(issues[issues["type"] == "area-matched-by-name"]["area"])
        again = load(store, settings(env={}, mirror=str(mirror), db=str(tmp_path / "imdx.duckdb"),
                                     cache=str(tmp_path / "cache")), ["wpp"])
        assert [o.status for o in again.outcomes] == ["unchanged", "unchanged"]
