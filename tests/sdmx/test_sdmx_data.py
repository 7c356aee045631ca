"""SDMX data over HTTP in every format and layout, read back by sdmx1 (``read_sdmx``, ``to_pandas``)
and pandas, and compared with the store; and every kind of bad request."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import sdmx

SS = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
GENERIC = "application/vnd.sdmx.genericdata+xml;version=2.1"
JSON = "application/vnd.sdmx.data+json;version=1.0.0"
CSV = "application/vnd.sdmx.data+csv;version=1.0.0"
CSV2 = "application/vnd.sdmx.data+csv;version=2.0.0"


@pytest.fixture(scope="module")
def dsds(http):
    cache = {}

    def get(flow):
        if flow not in cache:
            answer = http.get(f"/sdmx/datastructure/IMDX/DSD_{flow}", params={"references": "children"})
            cache[flow] = sdmx.read_sdmx(io.BytesIO(answer.content)).structure[f"DSD_{flow}"]
        return cache[flow]

    return get


def as_series(http, dsds, flow, key, media, **params) -> pd.Series:
    """The answer in ``media``, read back with the tools statisticians use, as one Series of values
    indexed by the dimensions (TIME_PERIOD last)."""
    answer = http.get(f"/sdmx/data/{flow}/{key}", params=params, headers={"accept": media})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == media
    if media in (CSV,):
        frame = pd.read_csv(io.BytesIO(answer.content), dtype={"TIME_PERIOD": str})
        assert frame.columns[0] == "DATAFLOW" and (frame["DATAFLOW"] == f"IMDX:{flow}(1.0)").all()
        dims = [d for d in frame.columns if d not in ("DATAFLOW", "OBS_VALUE", "OBS_STATUS", "UNIT",
                                                       "DEFINITION", "NOTE", "SOURCE")]
        return frame.set_index(dims)["OBS_VALUE"].astype(float).sort_index()
    if media == CSV2:
        msg = sdmx.read_sdmx(io.BytesIO(answer.content), format="csv", structure=dsds(flow))
    elif media == JSON:
        msg = sdmx.read_sdmx(io.BytesIO(answer.content))  # SDMX-JSON carries its own structure
    else:
        msg = sdmx.read_sdmx(io.BytesIO(answer.content), structure=dsds(flow))
    # sdmx1 2.28 converts a message its own SDMX-CSV reader made only data set by data set (its
    # to_pandas(message) fails the same way on the SDMX-CSV 2.0 specification's examples)
    data = sdmx.to_pandas(msg.data if media == CSV2 else msg)
    series = pd.concat(data) if isinstance(data, list) else data
    dims = [d.id for d in dsds(flow).dimensions]
    series = series.reorder_levels([n for n in dims if n in series.index.names])
    return series.astype(float).sort_index()


def expected(store, flow, filters, years) -> pd.Series:
    table = store.select(flow.lower(), filters).to_pandas()
    table = table[table["year"].between(*years)]
    dims = store.dataflow(flow.lower()).dimension_names
    index = pd.MultiIndex.from_frame(table[dims].astype(str).set_axis([d.upper() if d != "year" else "TIME_PERIOD"
                                                                       for d in dims], axis=1))
    return pd.Series(table["value"].to_numpy(), index=index).sort_index()


@pytest.mark.parametrize("media", [SS, GENERIC, JSON, CSV, CSV2])
@pytest.mark.parametrize("at", ["TIME_PERIOD", "AREA", "AllDimensions"])
def test_every_format_and_layout_reads_back_to_the_stored_values(http, dsds, store_ro, media, at):
    got = as_series(http, dsds, "NET_MIGRATION", "DEU+FRA+001", media, startPeriod="2015", endPeriod="2023",
                    dimensionAtObservation=at)
    want = expected(store_ro, "NET_MIGRATION", {"area": ["DEU", "FRA", "001"]}, (2015, 2023))
    assert len(got) == len(want) == 27
    pd.testing.assert_series_equal(got, want, check_names=False, check_index_type=False)


def test_known_figures(http, dsds):
    csv = pd.read_csv(io.BytesIO(http.get("/sdmx/data/IMDX,NET_MIGRATION,1.0/DEU", params={
        "startPeriod": "2020-01", "endPeriod": "2020-12-31", "format": "csvdata"}).content))
    assert list(csv["TIME_PERIOD"]) == [2020] and csv["UNIT"].iloc[0] == "persons"
    assert csv["OBS_STATUS"].iloc[0] == "A"


def test_imported_sdmx_comes_back_out(http, dsds):
    """ESTAT DEMOGRAPHY, imported from the structure-specific message, served again: Greece (EL in
    the message) is GRC, missing values (OBS_STATUS M) stay missing."""
    got = as_series(http, dsds, "SDMX_ESTAT_DEMOGRAPHY", "A.BEL+GRC.F.LEXPNSIT", GENERIC)
    assert got[("A", "BEL", "F", "LEXPNSIT", "2008")] == 83.5
    assert got.index.get_level_values("COUNTRY").unique().tolist() == ["BEL", "GRC"]
    generic = http.get("/sdmx/data/SDMX_ESTAT_DEMOGRAPHY/A.BEL.F.DEATHST", params={"format": "genericdata"}).content
    ss = http.get("/sdmx/data/SDMX_ESTAT_DEMOGRAPHY/A.BEL.F.DEATHST",
                  params={"format": "structurespecificdata"}).content
    assert b'<gen:ObsValue value="NaN"/>' in generic and b'OBS_STATUS" value="M"' in generic
    missing = [line for line in ss.decode().splitlines() if 'OBS_STATUS="M"' in line]
    assert missing and all("OBS_VALUE" not in line for line in missing)


def test_structure_specific_dataset_is_namespaced(http):
    body = http.get("/sdmx/data/BIRTHS/DEU", params={"startPeriod": "2020"}, headers={"accept": SS}).content
    assert b'data:structureRef="DSD_BIRTHS"' in body and b'action="Information"' in body
    assert b"<mes:StructureSpecificData" in body and b'dimensionAtObservation="TIME_PERIOD"' in body


@pytest.mark.parametrize("accept,media", [
    (None, GENERIC), ("*/*", GENERIC), ("application/xml", GENERIC), ("application/json", JSON), ("text/csv", CSV),
    ("application/vnd.sdmx.data+csv", CSV), (CSV2, CSV2), (SS, SS),
    ("application/vnd.sdmx.structurespecificdata+xml", SS),
    ("image/png;q=1, application/vnd.sdmx.data+json;version=1.0.0;q=0.5", JSON),
    ("text/csv;q=0.2, application/vnd.sdmx.genericdata+xml;version=2.1;q=0.9", GENERIC),
])
def test_content_negotiation(http, accept, media):
    answer = http.get("/sdmx/data/BIRTHS/DEU", params={"startPeriod": "2023"},
                      headers={"accept": accept} if accept else {})
    assert answer.status_code == 200 and answer.headers["content-type"] == media


@pytest.mark.parametrize("fmt,media", [("structurespecificdata", SS), ("genericdata", GENERIC),
                                       ("jsondata", JSON), ("csvdata", CSV), ("csv", CSV), ("json", JSON)])
def test_format_parameter_wins_over_accept(http, fmt, media):
    answer = http.get("/sdmx/data/BIRTHS/DEU", params={"startPeriod": "2023", "format": fmt},
                      headers={"accept": "image/png"})
    assert answer.status_code == 200 and answer.headers["content-type"] == media


def test_provider_is_the_source(http):
    ok = http.get("/sdmx/data/BIRTHS/DEU/wpp", params={"startPeriod": "2023", "format": "csv"})
    assert ok.status_code == 200
    ok = http.get("/sdmx/data/BIRTHS/DEU/IMDX,wpp", params={"startPeriod": "2023", "format": "csv"})
    assert ok.status_code == 200


def test_edition_parameter(http):
    assert http.get("/sdmx/data/BIRTHS/DEU", params={"edition": "2024", "startPeriod": "2023"}).status_code == 200
    assert http.get("/sdmx/data/BIRTHS/DEU", params={"edition": "1999"}).status_code == 404


def error(answer, status, *words):
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert body["error"]["type"] and len(body["error"]["message"]) > 20
    for word in words:
        assert word in body["error"]["message"], body["error"]["message"]


@pytest.mark.parametrize("path,params,headers,status,words", [
    ("/sdmx/data/NO_SUCH_FLOW", {}, {}, 404, ["unknown dataflow", "NET_MIGRATION"]),
    ("/sdmx/data/ESTAT,BIRTHS,1.0", {}, {}, 404, ["agency IMDX"]),
    ("/sdmx/data/A,B", {}, {}, 400, ["AGENCY,ID,VERSION"]),
    ("/sdmx/data/BIRTHS/DEU.F", {}, {}, 400, ["2 position(s)", "AREA"]),
    ("/sdmx/data/BIRTHS/XYZ", {}, {}, 404, ["CL_AREA"]),
    ("/sdmx/data/MIGRANT_STOCK/DEU..X.", {}, {}, 404, ["SEX", "_T"]),
    ("/sdmx/data/BIRTHS/DEU++FRA", {}, {}, 400, ["empty code"]),
    ("/sdmx/data/BIRTHS/DEU'%20OR%20'1'='1", {}, {}, 400, ["characters a key cannot have"]),
    ("/sdmx/data/BIRTHS/DEU;DROP%20TABLE%20release", {}, {}, 400, ["characters"]),
    ("/sdmx/data/BIRTHS/" + "+".join(["DEU"] * 1200), {}, {}, 400, ["limit"]),
    ("/sdmx/data/BIRTHS/DEU", {"startPeriod": "20x0"}, {}, 400, ["startPeriod", "2015-Q2"]),
    ("/sdmx/data/BIRTHS/DEU", {"endPeriod": "2020-13"}, {}, 400, ["endPeriod"]),
    ("/sdmx/data/BIRTHS/DEU", {"startPeriod": "2020", "endPeriod": "2010"}, {}, 400, ["after"]),
    ("/sdmx/data/BIRTHS/DEU", {"startPeriod": "2300"}, {}, 404, ["no observations"]),
    ("/sdmx/data/BIRTHS/DEU", {"dimensionAtObservation": "SEX"}, {}, 400, ["AllDimensions"]),
    ("/sdmx/data/BIRTHS/DEU", {"detail": "serieskeysonly"}, {}, 501, ["detail=full"]),
    ("/sdmx/data/BIRTHS/DEU", {"format": "xlsx"}, {}, 406, ["jsondata"]),
    ("/sdmx/data/BIRTHS/DEU", {}, {"accept": "application/vnd.sdmx.data+json;version=2.0.0"}, 406, ["1.0.0"]),
    ("/sdmx/data/BIRTHS/DEU", {}, {"accept": "text/html"}, 406, ["format="]),
    ("/sdmx/data/BIRTHS/DEU/unhcr_nope", {}, {}, 404, ["provider", "wpp"]),
    ("/sdmx/data/POPULATION", {}, {}, 404, ["no observations"]),
])
def test_bad_requests_get_the_envelope(http, path, params, headers, status, words):
    error(http.get(path, params=params, headers=headers), status, *words)


def test_too_large_a_response_is_refused(store_ro):
    """The bound on a message's observations is the server's limit (IMDX_HTTP_MAX_SDMX_OBSERVATIONS)."""
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from imdx.api.limits import Limits
    from imdx.api.sdmx import sdmx_router

    app = FastAPI()
    app.include_router(sdmx_router(lambda: store_ro, Limits(max_sdmx_observations=100)))
    with TestClient(app) as client:
        error(client.get("/sdmx/data/BIRTHS"), 413, "Narrow the key", "100")
        assert client.get("/sdmx/data/BIRTHS/DEU", params={"startPeriod": "2000"}).status_code == 200


def test_dataonly_drops_attributes(http):
    csv = pd.read_csv(io.BytesIO(http.get("/sdmx/data/BIRTHS/DEU", params={
        "startPeriod": "2023", "format": "csv", "detail": "dataonly"}).content))
    assert csv["OBS_STATUS"].isna().all() and csv["OBS_VALUE"].notna().all()


@pytest.mark.parametrize("flow,filters", [("births", {"area": ["DEU", "FRA"]}),
                                          ("sdmx_estat_demography", {}), ("sdmx_oecd_part2", {})])
@pytest.mark.parametrize("at", ["TIME_PERIOD", "AllDimensions", "first"])
@pytest.mark.parametrize("structure_specific", [True, False])
def test_direct_writer_matches_sdmx1_objects(store_ro, flow, filters, at, structure_specific):
    """The fast SDMX-ML writer the routes use and sdmx1's own writer give the same data."""
    from imdx.sdmx import data as sdmx_data
    from imdx.sdmx.structure import Structures

    st = Structures(store_ro)
    dsd = st.dsd(flow)
    at = dsd.dimensions.components[0].id if at == "first" else at
    obs = sdmx_data.observations(st, flow, store_ro.select(flow, filters), at)
    ours = sdmx.read_sdmx(io.BytesIO(sdmx_data.to_xml(st, obs, structure_specific=structure_specific)),
                          structure=dsd)
    ref = sdmx.read_sdmx(io.BytesIO(sdmx_data.to_xml_via_sdmx1(st, obs, structure_specific=structure_specific)),
                         structure=dsd)
    a, b = (sdmx.to_pandas(m, attributes="o") for m in (ours, ref))
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index(), check_like=True)
    assert len(a) == len(obs.frame)
