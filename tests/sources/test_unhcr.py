"""UNHCR's refugees package data (.rda), on the real files of the mirror.

Expected figures are read here straight from the .rda files with pyreadr (independently of the
source module), plus a few hard-coded cells checked by eye against the files.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pyreadr
import pytest

from imdx.errors import SourceFileError
from imdx.model import dataflows
from imdx.model.report import Report
from imdx.sources import unhcr
from imdx.sources.base import LoadContext, finish

NEW, OLD = ({r.key: r for r in unhcr.SOURCE.releases}[k] for k in ("refugees-2025.12.1", "demographics-2025.12.0"))
FULL_DEMOGRAPHICS = unhcr.DEMOGRAPHICS_2025_12_0


def _raw(folder: Path, file: str) -> pd.DataFrame:
    return next(iter(pyreadr.read_r(str(folder / file)).values()))


@pytest.fixture(scope="module")
def folder(mirror) -> Path:
    return mirror / "unhcr"


@pytest.fixture(scope="module")
def built(folder, areas):
    """The v2025.12.1 release, harmonised and finished, with its load context."""
    ctx = LoadContext(areas=copy.deepcopy(areas), report=Report(), source="unhcr")
    tables = NEW.build({f.name: folder / f.name for f in NEW.files}, ctx)
    return {flow: finish(flow, frame) for flow, frame in tables.items()}, ctx


@pytest.fixture(scope="module")
def obs(built):
    return built[0]


@pytest.fixture(scope="module")
def report(built):
    return built[1].report


@pytest.fixture(scope="module")
def raws(folder):
    return {name: _raw(folder, f"{name}.rda") for name in
            ["population", "asylum_applications", "asylum_decisions", "demographics"]}


def _mapped(raw: pd.DataFrame) -> pd.DataFrame:
    """The rows whose areas have a mapping (all but origin TIB, Tibetan)."""
    return raw[(raw["coo_iso"] != "TIB") & (raw["coa_iso"] != "TIB")]


# -- reading: the file as published ---------------------------------------------------------------
def test_the_string_NA_is_a_code_not_a_missing_value(folder, raws):
    apps = unhcr.read_asylum_applications(folder / "asylum_applications.rda")
    assert (apps["app_type"] == "NA").sum() == 358
    assert (apps["dec_level"] == "NA").sum() == 2180
    assert apps[["app_type", "dec_level"]].notna().all().all()
    decisions = unhcr.read_asylum_decisions(folder / "asylum_decisions.rda")
    assert (decisions["dec_level"] == "NA").sum() == 2139


def test_the_reader_tells_the_code_NA_from_R_missing(folder, tmp_path, areas):
    table = _raw(folder, "asylum_applications.rda").head(3).astype(object)
    table["app_type"] = ["NA", None, "N"]
    pyreadr.write_rdata(str(tmp_path / "asylum_applications.rda"), table, df_name="asylum_applications")
    read = unhcr.read_asylum_applications(tmp_path / "asylum_applications.rda")
    assert read["app_type"].iloc[0] == "NA" and pd.isna(read["app_type"].iloc[1])
    ctx = LoadContext(areas=copy.deepcopy(areas), report=Report(), source="unhcr")
    ctx.areas.load_sidecar("unhcr")
    out = finish("asylum_applications", unhcr.harmonise_asylum_applications(read, ctx, "asylum_applications.rda"))
    assert out["application_type"].tolist() == ["NA", "_U", "N"]
    (issue,) = [i for i in ctx.report if i.type == "missing-code"]
    assert (issue.row, issue.column, issue.n_obs) == (2, "app_type", 1)


# -- areas: ISO columns only, never UNHCR's codes ------------------------------------------------
def test_unhcr_codes_are_aliases_for_reference(built):
    areas = built[1].areas
    assert areas.resolve("AUS", ("unhcr",)).code == "AUT"  # UNHCR AUS is Austria
    assert areas.resolve("AUL", ("unhcr",)).code == "AUS"  # UNHCR AUL is Australia
    assert areas.resolve("GFR", ("unhcr",)).code == "DEU"
    assert areas.resolve("UKN", ("unhcr",)).code == "_U" and areas.resolve("STA", ("unhcr",)).code == "_S"
    assert areas.resolve("AUS", ("iso3",)).code == "AUS"
    assert areas.kind("_U") == "residual" and areas.kind("_S") == "residual"


def test_austria_never_ends_up_on_australia(obs, raws):
    raw = raws["asylum_applications"]
    apps = obs["asylum_applications"]
    source = raw.iloc[apps["cell_row"].to_numpy() - 1]
    # every observation's asylum country is the ISO column of its own row, never the UNHCR code
    assert (apps["asylum"].to_numpy() == source["coa_iso"].to_numpy()).all()
    assert set(source.loc[apps["asylum"].to_numpy() == "AUS", "coa"]) == {"AUL"}
    assert set(source.loc[apps["asylum"].to_numpy() == "AUT", "coa"]) == {"AUS"}
    austria = raw[(raw["coa_iso"] == "AUT") & (raw["year"] == 2015)]
    at = apps[(apps["asylum"] == "AUT") & (apps["year"] == 2015)]
    au = apps[(apps["asylum"] == "AUS") & (apps["year"] == 2015)]
    assert len(at) == len(austria) and at["value"].sum() == austria["applied"].sum()
    assert at["value"].sum() > 80_000  # 2015: a large number of applications in Austria
    persons = austria[austria["app_pc"] == "P"]["applied"].sum()
    assert at[at["count_unit"] == "P"]["value"].sum() == persons
    big = set(austria.loc[austria["applied"] >= 1000, "applied"])
    assert big and not big & set(au["value"])  # none of Austria's large figures shows under Australia
    assert au["value"].sum() != at["value"].sum()
    # the same in the population table: Austria 1951 (UNHCR AUS) and Australia 1951 (UNHCR AUL)
    ref = obs["refugees"]
    cell = ref[(ref["origin"] == "_U") & (ref["year"] == 1951) & (ref["population_type"] == "REF")]
    assert cell.set_index("asylum").loc[["AUT", "AUS"], "value"].tolist() == [282_000, 180_000]


def test_special_origins(obs, raws):
    ref = obs["refugees"]
    raw = raws["population"]
    source = raw.iloc[ref["cell_row"].to_numpy() - 1]
    assert set(source.loc[ref["origin"].to_numpy() == "_U", "coo_iso"]) == {"UNK"}
    assert set(source.loc[ref["origin"].to_numpy() == "_S", "coo_iso"]) == {"XXA"}
    assert set(source.loc[ref["asylum"].to_numpy() == "_U", "coa_iso"]) == {"UNK"}
    stateless = raw[raw["coo_iso"] == "XXA"]
    assert ref[ref["origin"] == "_S"]["value"].sum() == stateless[list(unhcr.POPULATION_TYPES)].sum().sum()


def test_tibetan_is_an_unmapped_area_issue_with_file_row_and_name(report, raws):
    issues = {i.file: i for i in report if i.type == "unmapped-area"}
    assert set(issues) == {"population.rda", "asylum_applications.rda", "asylum_decisions.rda", "demographics.rda"}
    for name, raw in raws.items():
        issue = issues[f"{name}.rda"]
        tib = raw.index[raw["coo_iso"] == "TIB"]
        assert (issue.area, issue.column, issue.row, issue.n_obs) == ("TIB", "coo_iso", tib[0] + 1, len(tib))
        assert "Tibetan" in issue.message and issue.severity == "error"
        assert raw["coo_name"].iloc[issue.row - 1] == "Tibetan"
    without_iso = {i.area for i in report if i.type == "area-code-without-iso"}
    assert without_iso == {"CRB", "CUR", "TIB"}


def test_an_unknown_iso_code_becomes_an_issue(folder, tmp_path, areas):
    table = _raw(folder, "population.rda").head(5).astype(object)
    table.loc[3, ["coa_iso", "coa_name"]] = ["ZZZ", "Atlantis"]
    table.loc[4, "coo_iso"] = None  # a missing ISO code is reported too, never dropped silently
    pyreadr.write_rdata(str(tmp_path / "population.rda"), table, df_name="population")
    ctx = LoadContext(areas=copy.deepcopy(areas), report=Report(), source="unhcr")
    ctx.areas.load_sidecar("unhcr")
    out = finish("refugees", unhcr.harmonise_population(unhcr.read_population(tmp_path / "population.rda"),
                                                        ctx, "population.rda"))
    issues = sorted((i for i in ctx.report if i.type == "unmapped-area"), key=lambda i: i.row)
    assert [(i.file, i.row, i.column, i.area) for i in issues] == [
        ("population.rda", 4, "coa_iso", "ZZZ"), ("population.rda", 5, "coo_iso", "(no ISO code)")]
    assert "Atlantis" in issues[0].message
    assert len(out) == 3 * 9 and sorted(set(out["cell_row"])) == [1, 2, 3]


# -- population → refugees -----------------------------------------------------------------------
def test_refugees_rows_accounted_for_and_oip_missing(obs, raws):
    raw = _mapped(raws["population"])
    ref = obs["refugees"]
    assert len(raw) == 138_893 - 146
    assert len(ref) == len(raw) * 9
    assert not ref.duplicated(["origin", "asylum", "population_type", "year"]).any()
    oip = ref[ref["population_type"] == "OIP"]
    assert (oip["obs_status"] == "M").sum() == raw["oip"].isna().sum() == oip["value"].isna().sum()
    assert (ref["obs_status"] == "M").sum() == raw["oip"].isna().sum()  # the other types have no NA
    assert oip["value"].notna().sum() == 155
    for col, code in unhcr.POPULATION_TYPES.items():
        part = ref[ref["population_type"] == code]
        assert part["value"].sum() == raw[col].sum(), col
        assert set(part["cell_column"]) == {col}


def test_known_refugee_cells(obs, raws):
    raw = raws["population"]
    ref = obs["refugees"].set_index(["origin", "asylum", "population_type", "year"])["value"]
    row = raw[(raw["coo_iso"] == "SYR") & (raw["coa_iso"] == "TUR") & (raw["year"] == 2020)].iloc[0]
    assert ref[("SYR", "TUR", "REF", 2020)] == row["refugees"] > 3_000_000
    row = raw[(raw["coo_iso"] == "UKR") & (raw["coa_iso"] == "DEU") & (raw["year"] == 2023)].iloc[0]
    assert ref[("UKR", "DEU", "REF", 2023)] == row["refugees"]
    assert ref[("UKR", "DEU", "ASY", 2023)] == row["asylum_seekers"]
    idp = raw[(raw["coo_iso"] == "COL") & (raw["coa_iso"] == "COL") & (raw["year"] == 2015)].iloc[0]
    assert ref[("COL", "COL", "IDP", 2015)] == idp["idps"] > 1_000_000


# -- asylum applications and decisions ------------------------------------------------------------
def test_applications_codes_units_and_counts(obs, raws):
    raw = _mapped(raws["asylum_applications"])
    apps = obs["asylum_applications"]
    assert len(apps) == len(raw) == 120_597 - 10
    keys = ["origin", "asylum", "procedure_type", "application_type", "decision_level", "count_unit", "year"]
    assert not apps.duplicated(keys).any()
    assert apps["count_unit"].value_counts().to_dict() == raw["app_pc"].value_counts().to_dict()
    assert (apps["application_type"] == "NA").sum() == (raw["app_type"] == "NA").sum() > 300
    assert (apps["decision_level"] == "NA").sum() == (raw["dec_level"] == "NA").sum() > 2000
    source = raws["asylum_applications"].iloc[apps["cell_row"].to_numpy() - 1]
    assert (apps["value"].to_numpy() == source["applied"].to_numpy()).all()
    assert (apps["count_unit"].to_numpy() == source["app_pc"].to_numpy()).all()
    assert (apps["application_type"].to_numpy() == source["app_type"].to_numpy()).all()
    assert set(apps["cell_column"]) == {"applied"}


def test_cases_and_persons_are_kept_apart(obs, raws):
    raw = raws["asylum_applications"]
    usa = raw[(raw["coa_iso"] == "USA") & (raw["year"] == 2015)]
    apps = obs["asylum_applications"]
    got = apps[(apps["asylum"] == "USA") & (apps["year"] == 2015)]
    assert set(usa["app_pc"]) == {"C", "P"}  # the United States reports both, in separate rows
    for unit in "CP":
        assert got[got["count_unit"] == unit]["value"].sum() == usa[usa["app_pc"] == unit]["applied"].sum()


def test_decisions(obs, raws):
    raw = _mapped(raws["asylum_decisions"])
    dec = obs["asylum_decisions"]
    assert len(dec) == len(raw) * 5 == (113_929 - 9) * 5
    assert not dec.duplicated(["origin", "asylum", "procedure_type", "decision_level", "count_unit",
                               "decision", "year"]).any()
    for col, code in unhcr.DECISIONS.items():
        assert dec[dec["decision"] == code]["value"].sum() == raw[col].sum()
    assert (dec["decision_level"] == "NA").sum() == (raw["dec_level"] == "NA").sum() * 5
    row = raw[(raw["coa_iso"] == "DEU") & (raw["coo_iso"] == "SYR") & (raw["year"] == 2016)
              & (raw["dec_pc"] == "P")].sort_values("dec_recognized").iloc[-1]
    cell = dec[(dec["asylum"] == "DEU") & (dec["origin"] == "SYR") & (dec["year"] == 2016)
               & (dec["decision_level"] == row["dec_level"]) & (dec["procedure_type"] == row["procedure_type"])
               & (dec["count_unit"] == "P")].set_index("decision")["value"]
    assert cell["recognized"] == row["dec_recognized"] > 100_000 and cell["total"] == row["dec_total"]


# -- demographics -------------------------------------------------------------------------------
KEYS = ["origin", "asylum", "population_type", "location", "location_type", "accommodation_type", "year"]
RAW_KEYS = ["coo_iso", "coa_iso", "pop_type", "location", "loc_type", "acc_type", "year"]


def test_demographics_cells_of_a_row(obs, raws):
    raw = raws["demographics"]
    demo = obs["displacement_demographics"]
    i = raw.index[(raw["coo_iso"] == "AFG") & (raw["coa_iso"] == "AFG") & (raw["pop_type"] == "HST")
                  & (raw["location"] == "Badakhshan [Admin 1]")]
    assert len(i) == 1
    cells = demo[demo["cell_row"] == i[0] + 1].set_index(["sex", "age"])["value"]
    assert len(cells) == 15
    for col, key in unhcr.DEMOGRAPHIC_CELLS.items():
        assert cells[key] == raw[col].iloc[i[0]], col
    assert cells[("F", "_T")] == 8 and cells[("M", "Y12T17")] == 6 and cells[("_T", "_T")] == 14


def test_demographics_rows_accounted_for(obs, raws):
    raw = _mapped(raws["demographics"])
    demo = obs["displacement_demographics"]
    assert len(demo) == raw.groupby(RAW_KEYS).ngroups * 15 == len(raw) * 15
    assert not demo.duplicated(KEYS + ["sex", "age"]).any()
    assert set(demo["location"]) == set(raw["location"])  # free text, as published
    totals = demo[(demo["sex"] == "_T") & (demo["age"] == "_T")]
    assert totals["value"].sum() == raw["total"].sum()
    assert totals["obs_status"].eq("A").all()


def test_demographics_without_breakdown_are_missing(obs, raws):
    raw = _mapped(raws["demographics"])
    demo = obs["displacement_demographics"]
    sums = raw.groupby(RAW_KEYS)[["f_total", "m_total", "total"]].sum()
    n_rows = ((sums["f_total"] + sums["m_total"] == 0) & (sums["total"] > 0)).sum()
    missing = demo[demo["obs_status"] == "M"]
    assert len(missing) == n_rows * 14 > 0 and missing["value"].isna().all()
    assert (missing["sex"] != "_T").all() and missing["note"].str.contains("no breakdown").all()
    # where a row has a breakdown, the sexes never exceed the total (sex can be unknown for some)
    full = demo[demo["obs_status"] == "A"].pivot_table(index=KEYS, columns=["sex", "age"], values="value",
                                                         observed=True).dropna()
    assert (full[("F", "_T")] + full[("M", "_T")] <= full[("_T", "_T")]).all()
    assert (full[("F", "_T")] + full[("M", "_T")] < full[("_T", "_T")]).any()


def test_demographics_rows_split_by_location_type_stay_apart(obs, raws):
    raw = raws["demographics"]
    demo = obs["displacement_demographics"]
    part = raw[(raw["coo_iso"] == "AFG") & (raw["coa_iso"] == "AFG") & (raw["pop_type"] == "HST")
               & (raw["location"] == "Badghes [Admin 1]")]
    assert sorted(part["loc_type"]) == ["R", "U"]
    cells = demo[(demo["origin"] == "AFG") & (demo["asylum"] == "AFG") & (demo["population_type"] == "HST")
                 & (demo["location"] == "Badghes [Admin 1]") & (demo["sex"] == "_T") & (demo["age"] == "_T")]
    assert cells.set_index("location_type")["value"].to_dict() == {"R": 25_618, "U": 4_313}
    assert sorted(cells["cell_row"]) == sorted(part.index + 1)
    assert not demo.duplicated(dataflows.get("displacement_demographics").dimension_names).any()
    assert not demo["note"].str.startswith("sum of rows", na=False).any()


# -- bad input ----------------------------------------------------------------------------------
def test_a_file_that_is_not_r_data(tmp_path):
    path = tmp_path / "population.rda"
    path.write_text("year,coo_iso,coa_iso,refugees\n2020,AFG,PAK,1\n")
    with pytest.raises(SourceFileError, match="population.rda.*cannot be read as R data") as err:
        unhcr.read_population(path)
    assert err.value.file == str(path)


def test_a_truncated_file(folder, tmp_path):
    data = (folder / "demographics.rda").read_bytes()
    (tmp_path / "demographics.rda").write_bytes(data[: len(data) // 3])
    with pytest.raises(SourceFileError, match="demographics.rda.*cannot be read as R data"):
        unhcr.read_demographics(tmp_path / "demographics.rda")


def test_a_missing_column(folder, tmp_path):
    # pyreadr writes .RData files (the same R serialisation as .rda), which read_r reads back
    table = _raw(folder, "population.rda").head(50).drop(columns=["coa_iso"]).astype(
        {c: object for c in ["coo_name", "coo", "coo_iso", "coa_name", "coa"]})
    pyreadr.write_rdata(str(tmp_path / "population.rda"), table, df_name="population", compress="gzip")
    with pytest.raises(SourceFileError, match=r"population.rda, column coa_iso: the columns \['coa_iso'\] are "
                                              "missing") as err:
        unhcr.read_population(tmp_path / "population.rda")
    assert err.value.column == "coa_iso"


def test_an_unknown_count_unit_or_object(folder, tmp_path):
    table = _raw(folder, "asylum_decisions.rda").head(20).astype(object)
    table.loc[7, "dec_pc"] = "X"
    pyreadr.write_rdata(str(tmp_path / "asylum_decisions.rda"), table, df_name="asylum_decisions")
    with pytest.raises(SourceFileError, match="row 8, column dec_pc: unexpected value 'X'"):
        unhcr.read_asylum_decisions(tmp_path / "asylum_decisions.rda")
    pyreadr.write_rdata(str(tmp_path / "other.rda"), table, df_name="decisions")
    with pytest.raises(SourceFileError, match="holds the R objects \\['decisions'\\]"):
        unhcr.read_asylum_decisions(tmp_path / "other.rda")


# -- the whole pipeline: both releases through imdx.load into a DuckDB store ------------------------
@pytest.fixture(scope="module")
def loaded(mirror, tmp_path_factory):
    from imdx.config import settings
    from imdx.load import load
    from imdx.store.duckdb_store import DuckDBStore

    tmp = tmp_path_factory.mktemp("unhcr")
    config = settings(mirror=str(mirror), db=str(tmp / "imdx.duckdb"), cache=str(tmp / "cache"))
    store = DuckDBStore(config.db)
    summary = load(store, config, ["unhcr"])
    yield store, summary, config
    store.close()


def test_load_both_releases(loaded):
    store, summary, _ = loaded
    assert [(o.key, o.status) for o in summary.outcomes] == [
        ("m49", "loaded"), ("refugees-2025.12.1", "loaded"), ("demographics-2025.12.0", "loaded")]
    assert not [i for o in summary.outcomes for i in o.report if i.type == "file-changed"]
    releases = store.releases().set_index("key")
    assert releases.loc["refugees-2025.12.1", "n_obs"] == 1_248_723 + 120_587 + 569_600 + 20_767 * 15
    assert releases.loc[["demographics-2025.12.0", "refugees-2025.12.1"], "licence"].str.contains("CC BY 4.0").all()


def test_full_demographics_history(loaded, folder):
    store, summary, _ = loaded
    published = _raw(folder, FULL_DEMOGRAPHICS)
    raw = _mapped(published)
    assert len(raw) == 266_661 - 108
    groups = raw.groupby(RAW_KEYS).ngroups
    assert store.releases().set_index("key").loc["demographics-2025.12.0", "n_obs"] == groups * 15
    totals = store.select("displacement_demographics", {"sex": ["_T"], "age": ["_T"]}, edition="2025.12.0")
    totals = totals.to_pandas()
    assert len(totals) == groups and totals["value"].sum() == raw["total"].sum()
    assert (totals["year"].min(), totals["year"].max()) == (2001, 2025)
    assert set(totals["cell_file"]) == {FULL_DEMOGRAPHICS}
    tibetan = published.index[published["coo_iso"] == "TIB"]
    (old,) = [o for o in summary.outcomes if o.key == "demographics-2025.12.0"]
    assert [(i.file, i.row, i.n_obs) for i in old.report if i.type == "unmapped-area"] == [
        (FULL_DEMOGRAPHICS, tibetan[0] + 1, 108)]


def test_2025_demographics_come_from_the_later_release(loaded):
    store = loaded[0]
    where = {"origin": ["SYR"], "asylum": ["TUR"], "population_type": ["REF"]}
    latest = store.select("displacement_demographics", where | {"year": [2025]}).to_pandas()
    assert set(latest["edition"]) == {"2025.12.1"} and len(latest) > 0
    history = store.select("displacement_demographics", where | {"year": [2024]}).to_pandas()
    assert set(history["edition"]) == {"2025.12.0"} and len(history) > 0


def test_the_portal_picks_the_same_release_as_the_store(loaded):
    """Both releases are dated 2025-12-01 and v2025.12.1 is written first: the later edition still wins."""
    from imdx.portal.data import Reader

    store = loaded[0]
    where = {"origin": "SYR", "asylum": "TUR", "population_type": "REF", "year": [2024, 2025]}
    portal = Reader(store).current("displacement_demographics", where).sort_values(["year", "sex", "age"])
    latest = store.select("displacement_demographics", {k: v if isinstance(v, list) else [v] for k, v in where.items()})
    latest = latest.to_pandas().sort_values(["year", "sex", "age"])
    assert list(zip(portal["year"], portal["edition"])) == list(zip(latest["year"], latest["edition"]))
    assert set(portal["edition"]) == {"2025.12.0", "2025.12.1"}
    assert portal["value"].fillna(-1).tolist() == latest["value"].fillna(-1).tolist()


def test_the_store_answers_by_iso_code(loaded, folder):
    store = loaded[0]
    raw = _raw(folder, "asylum_applications.rda")
    apps = store.select("asylum_applications", {"asylum": ["AUT"], "year": [2015]}).to_pandas()
    austria = raw[(raw["coa_iso"] == "AUT") & (raw["year"] == 2015)]
    assert apps["value"].sum() == austria["applied"].sum() and set(apps["asylum_name"]) == {"Austria"}
    australia = store.select("asylum_applications", {"asylum": ["AUS"], "year": [2015]}).to_pandas()
    assert set(australia["asylum_name"]) == {"Australia"}
    mapped = _mapped(raw)
    assert australia["value"].sum() == mapped[(mapped["coa_iso"] == "AUS") & (mapped["year"] == 2015)]["applied"].sum()
    na = store.select("asylum_applications", {"application_type": ["NA"]}).to_pandas()
    assert len(na) == ((raw["app_type"] == "NA") & (raw["coo_iso"] != "TIB")).sum() == 358
    assert store.areas().resolve("AUS", ("unhcr",)).code == "AUT"


def test_loading_again_changes_nothing(loaded):
    from imdx.load import load

    store, _, config = loaded
    before = store.releases()["release_id"].tolist()
    again = load(store, config, ["unhcr"])
    assert {o.status for o in again.outcomes} == {"unchanged"}
    assert store.releases()["release_id"].tolist() == before


def test_releases_declare_the_published_files(folder):
    from imdx.sources.fetch import sha256_of

    assert [(r.key, r.edition) for r in unhcr.SOURCE.releases] == [
        ("refugees-2025.12.1", "2025.12.1"), ("demographics-2025.12.0", "2025.12.0")]
    for spec in unhcr.SOURCE.releases:
        for file in spec.files:
            assert sha256_of(folder / file.name) == file.sha256, file.name
            assert file.url.startswith("https://raw.githubusercontent.com/PopulationStatistics/refugees/")
    assert OLD.files[0].url.endswith(f"/{unhcr.V2025_12_0}/data/demographics.rda")


