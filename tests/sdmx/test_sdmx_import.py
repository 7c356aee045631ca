"""SDMX in: every file of <mirror>/sdmx, read through sdmx1 and stored as a release (or refused
clearly); figures checked against the files."""

from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest

from imdx.errors import ImdxError
from imdx.sources.fetch import sha256_of
from imdx.sources.sdmx import SdmxMessageError, load_sdmx

SDMX_STRUCTURES = {"ESTAT/demography-xs.xml": "ESTAT/demography-structure.xml",
                   "ISTAT/IT1_47_850_data_generic.xml": "ISTAT/IT1_47_850_dataflow_with_datastructure.xml"}


def sdmx_files(mirror):
    return sorted(p for p in (mirror / "sdmx").rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".csv"))

#: what each file gives: (status, dataflow, observations stored) or an error's words
EXPECTED = {
    "ECB_EXR/flat.json": ("loaded", "sdmx_ecb_exr", 4),
    "ECB_EXR/ts.json": ("loaded", "sdmx_ecb_exr", 4),
    "ECB_EXR/xs.json": ("loaded", "sdmx_ecb_exr", 4),
    "ESTAT/NAMA_10_GDP-ss.xml": ("loaded", "sdmx_estat_nama_10_gdp", 4),
    "ESTAT/demography-structure.xml": ("structure-only", None, 0),
    "ESTAT/demography-xs.xml": ("loaded", "sdmx_estat_demography", 60),
    "ESTAT/footer.xml": ("error", "holds no data", "413"),
    "ISTAT/IT1_47_850_data_generic.xml": ("loaded", "sdmx_it1_47_850", 22),
    "ISTAT/IT1_47_850_dataflow_with_datastructure.xml": ("structure-only", None, 0),
    "OECD/data-PART2-all-all.json": ("loaded", "sdmx_oecd_part2", 6),  # 7 published; OECD mean 'OME' unmapped
    "UNSD/codelist_partial.xml": ("structure-only", None, 0),
    "common/common.xml": ("structure-only", None, 0),
    "sdmx-csv-v2/example-01.csv": ("loaded", "sdmx_estat_na_main", 2),
    "sdmx-csv-v2/example-02.csv": ("loaded", "sdmx_estat_na_main", 4),  # two measures: 2 rows x 2
    "sdmx-csv-v2/example-03.csv": ("loaded", "sdmx_estat_na_main", 4),
    "sdmx-csv-v2/example-04.csv": ("loaded", "sdmx_estat_na_main", 2),  # ';', decimal ',', labels
}


@pytest.fixture()
def empty_store(tmp_path):
    from imdx.store.duckdb_store import DuckDBStore

    with DuckDBStore(tmp_path / "imdx.duckdb") as store:
        yield store


def test_every_file_is_covered(mirror):
    assert sorted(p.relative_to(mirror / "sdmx").as_posix() for p in sdmx_files(mirror)) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file(mirror, areas, empty_store, name):
    path = mirror / "sdmx" / name
    structure = mirror / "sdmx" / SDMX_STRUCTURES[name] if name in SDMX_STRUCTURES else None
    status, flow, n = EXPECTED[name]
    if status == "error":
        with pytest.raises(SdmxMessageError) as err:
            load_sdmx(empty_store, file=path, areas=areas)
        assert flow in str(err.value) and n in str(err.value) and "footer.xml" in str(err.value)
        assert empty_store.releases().empty
        return
    outcome = load_sdmx(empty_store, file=path, structure=structure, areas=areas)
    assert outcome.status == status, outcome.message
    if status == "structure-only":
        assert "structure message, no data" in outcome.message and "Nothing was stored" in outcome.message
        assert empty_store.releases().empty
        return
    assert outcome.dataflow.startswith(flow) and outcome.n_obs == n
    release = empty_store.releases().iloc[0]
    assert release.source == "sdmx" and release.n_obs == n
    files = empty_store.release_files()
    assert files.set_index("name").sha256[path.name] == sha256_of(path)
    table = empty_store.select(outcome.dataflow, {}).to_pandas()
    assert len(table) == n


def test_demography_figures_areas_and_codes(mirror, areas, empty_store):
    outcome = load_sdmx(empty_store, file=mirror / "sdmx/ESTAT/demography-xs.xml",
                        structure=mirror / "sdmx/ESTAT/demography-structure.xml", areas=areas)
    assert outcome.key == "ESTAT:DEMOGRAPHY" and outcome.edition == "2011-11-25T00:21:49-05:00"
    flow = empty_store.dataflow("sdmx_estat_demography")
    assert flow.dimension_names == ["freq", "country", "sex", "demo", "year"]
    assert flow.dimension("country").is_area and flow.dimension("sex").codelist == "SEX"
    t = empty_store.select("sdmx_estat_demography", {"country": ["GRC"], "sex": ["_T"]}).to_pandas()
    assert set(t.country_name) == {"Greece"}  # EL in Eurostat's codes
    tfr = t[(t.demo == "TFRNSI") & (t.year == 2007)]
    assert tfr.value.tolist() == [1.42]  # line 64 of the file
    be = empty_store.select("sdmx_estat_demography", {"country": ["BEL"], "sex": ["_T"], "demo": ["TFRNSI"]})
    assert be.to_pandas().set_index("year").value.to_dict()[2007] == 1.82
    missing = empty_store.select("sdmx_estat_demography", {}).to_pandas().query("obs_status == 'M'")
    # five OBS_STATUS="M" observations have no OBS_VALUE in the file; one (line 94) has 57015: kept as published
    assert missing.value.isna().sum() == 5 and missing.value.dropna().tolist() == [57015.0]
    releases = empty_store.releases()
    assert str(releases.published.iloc[0])[:10] == "2011-11-25"
    assert len(empty_store.release_files()) == 2  # the data and the structure it was read with


def test_loading_twice_changes_nothing(mirror, areas, empty_store):
    path = mirror / "sdmx/ESTAT/NAMA_10_GDP-ss.xml"
    assert load_sdmx(empty_store, file=path, areas=areas).status == "loaded"
    again = load_sdmx(empty_store, file=path, areas=areas)
    assert again.status == "unchanged" and len(empty_store.releases()) == 1


def test_nama_values_and_eurostat_lower_case_ids(mirror, areas, empty_store):
    load_sdmx(empty_store, file=mirror / "sdmx/ESTAT/NAMA_10_GDP-ss.xml", areas=areas)
    t = empty_store.select("sdmx_estat_nama_10_gdp", {}).to_pandas()
    assert t.set_index("year").value.to_dict() == {2012: 46526.2, 2013: 49094.5, 2014: 51791.3, 2015: 54142.3}
    assert set(t.geo) == {"LUX"} and set(t.unit_dim) == {"CP_MEUR"}


def test_unmapped_and_foreign_area_codes_are_reported(mirror, areas, empty_store):
    oecd = load_sdmx(empty_store, file=mirror / "sdmx/OECD/data-PART2-all-all.json", areas=areas)
    unmapped = [i for i in oecd.report if i.type == "unmapped-area"]
    assert [(i.area, i.column, i.file) for i in unmapped] == [("OME", "LOCATION", "data-PART2-all-all.json")]
    assert empty_store.issues(source="sdmx").type.tolist().count("unmapped-area") == 1
    istat = load_sdmx(empty_store, file=mirror / "sdmx/ISTAT/IT1_47_850_data_generic.xml", areas=areas)
    kept = [i for i in istat.report if i.type == "area-codes-kept"]
    assert kept and "001001" in kept[0].message
    t = empty_store.select("sdmx_it1_47_850", {"ref_area": ["001001"]}).to_pandas()
    assert len(t) == 11 and t.year.min() == 2013 and t.year.max() == 2023


def test_csv_with_labels_semicolons_and_decimal_commas(mirror, areas, empty_store):
    load_sdmx(empty_store, file=mirror / "sdmx/sdmx-csv-v2/example-04.csv", areas=areas)
    t = empty_store.select("sdmx_estat_na_main", {}).to_pandas()
    assert t.value.tolist() == [12.4, 10.8] and t.period.tolist() == ["2014-01", "2014-02"]
    assert set(t.dim_1) == {"A"} and t.year.tolist() == [2014, 2014]


def test_daily_periods_keep_the_period(mirror, areas, empty_store):
    load_sdmx(empty_store, file=mirror / "sdmx/ECB_EXR/ts.json", areas=areas)
    t = empty_store.select("sdmx_ecb_exr", {}).to_pandas()
    assert set(t.year) == {2013} and all(p.startswith("2013-01-") for p in t.period)


def test_not_sdmx_and_missing_files(mirror, areas, empty_store, tmp_path):
    with pytest.raises(SdmxMessageError, match="not SDMX-CSV"):
        load_sdmx(empty_store, file=mirror / "m49" / "unsd_m49_methodology.csv", areas=areas)
    broken = tmp_path / "broken.xml"
    broken.write_bytes((mirror / "sdmx/ESTAT/NAMA_10_GDP-ss.xml").read_bytes()[:700])
    with pytest.raises(SdmxMessageError, match="cannot be read"):
        load_sdmx(empty_store, file=broken, areas=areas)
    with pytest.raises(ImdxError, match="no SDMX file"):
        load_sdmx(empty_store, file=tmp_path / "nope.xml", areas=areas)
    with pytest.raises(ImdxError, match="either a file or a URL"):
        load_sdmx(empty_store, areas=areas)
    assert empty_store.releases().empty


def test_cli(mirror, tmp_path):
    from click.testing import CliRunner

    from imdx.cli import main

    db = tmp_path / "cli.duckdb"
    runner = CliRunner()
    ok = runner.invoke(main, ["load", "sdmx", "--file", str(mirror / "sdmx/ESTAT/demography-xs.xml"), "--structure",
                              str(mirror / "sdmx/ESTAT/demography-structure.xml"), "--db", str(db),
                              "--mirror", str(mirror)])
    assert ok.exit_code == 0, ok.output
    assert "60 observations of ESTAT:DEMOGRAPHY" in ok.output
    only = runner.invoke(main, ["load", "sdmx", "--file", str(mirror / "sdmx/common/common.xml"), "--db", str(db)])
    assert only.exit_code == 3 and "no data" in only.output
    footer = runner.invoke(main, ["load", "sdmx", "--file", str(mirror / "sdmx/ESTAT/footer.xml"), "--db", str(db)])
    assert footer.exit_code == 1 and "footer.xml" in footer.output and "error:" in footer.output


def test_load_from_url(mirror, areas, empty_store, tmp_path):
    """--url: downloaded (through the resilient fetcher) from a local HTTP server."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror / "sdmx"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ESTAT/NAMA_10_GDP-ss.xml"
        outcome = load_sdmx(empty_store, url=url, areas=areas, cache=tmp_path / "cache")
        assert outcome.status == "loaded" and outcome.n_obs == 4
        files = empty_store.release_files()
        assert files.url.iloc[0] == url and files.retrieved_from.iloc[0] == url
    finally:
        server.shutdown()
    shutil.rmtree(tmp_path / "cache")


@pytest.mark.parametrize("fmt", ["structurespecificdata", "genericdata", "jsondata", "csvdata", "csvdata2"])
def test_round_trip_through_imdx_sdmx_output(http, areas, empty_store, tmp_path, fmt):
    """What /sdmx serves, loaded back by the importer, gives the same figures."""
    answer = http.get("/sdmx/data/NET_MIGRATION/DEU+FRA+001", params={"startPeriod": "2020", "format": fmt})
    assert answer.status_code == 200
    path = tmp_path / f"net_migration.{'json' if 'json' in fmt else 'csv' if 'csv' in fmt else 'xml'}"
    path.write_bytes(answer.content)
    structure = tmp_path / "dsd.xml"
    structure.write_bytes(http.get("/sdmx/dataflow/IMDX/NET_MIGRATION", params={"references": "all"}).content)
    outcome = load_sdmx(empty_store, file=path, structure=structure if fmt != "jsondata" else None, areas=areas)
    assert outcome.status == "loaded" and outcome.dataflow == "sdmx_imdx_net_migration", outcome.message
    got = empty_store.select("sdmx_imdx_net_migration", {}).to_pandas().set_index(["area", "year"]).value
    want = pd.read_csv(io.BytesIO(http.get("/sdmx/data/NET_MIGRATION/DEU+FRA+001", params={
        "startPeriod": "2020", "format": "csv"}).content)).set_index(["AREA", "TIME_PERIOD"]).OBS_VALUE
    assert len(got) == len(want) == 12
    assert sorted(zip(got.index, got)) == sorted(zip(want.index, want.astype(float)))
    assert not [i for i in outcome.report if i.severity == "error"]
