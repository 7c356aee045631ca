"""SDMX structures over HTTP, read back with sdmx1 as a statistician's client would."""

from __future__ import annotations

import io

import pytest
import sdmx

STRUCTURE = "application/vnd.sdmx.structure+xml;version=2.1"


def read(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == STRUCTURE
    return sdmx.read_sdmx(io.BytesIO(response.content))


def error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "type", "message", "parameter"}
    assert body["error"]["status"] == status and len(body["error"]["message"]) > 20
    return body["error"]["message"]


def test_every_dataflow_is_listed(http, store_ro):
    msg = read(http.get("/sdmx/dataflow"))
    assert set(msg.dataflow) == {f.upper() for f in store_ro.dataflow_ids()}
    assert msg.dataflow["MIGRANT_STOCK"].structure.id == "DSD_MIGRANT_STOCK"
    assert str(msg.dataflow["NET_MIGRATION"].name) == "Net migration"


@pytest.mark.parametrize("flow", ["net_migration", "migrant_stock", "asylum_applications",
                                  "sdmx_estat_demography", "sdmx_ecb_exr"])
def test_dataflow_with_descendants_is_a_complete_structure(http, store_ro, flow):
    msg = read(http.get(f"/sdmx/dataflow/IMDX/{flow.upper()}/latest", params={"references": "descendants"}))
    dsd = msg.structure[f"DSD_{flow.upper()}"]
    imdx_flow = store_ro.dataflow(flow)
    assert [d.id for d in dsd.dimensions] == [d.name.upper() for d in imdx_flow.dimensions] + ["TIME_PERIOD"]
    assert type(dsd.dimensions.get("TIME_PERIOD")).__name__ == "TimeDimension"
    assert [m.id for m in dsd.measures] == ["OBS_VALUE"]
    assert {a.id for a in dsd.attributes} == {"OBS_STATUS", "UNIT", "DEFINITION", "NOTE", "SOURCE"}
    assert "CL_OBS_STATUS" in msg.codelist and "CS_IMDX" in msg.concept_scheme
    for d in imdx_flow.dimensions:
        if d.is_area:
            assert "CL_AREA" in msg.codelist
            assert dsd.dimensions.get(d.name.upper()).local_representation.enumerated.id == "CL_AREA"


def test_area_codelist_is_the_store_area_table(http, store_ro):
    msg = read(http.get("/sdmx/codelist/IMDX/CL_AREA/1.0"))
    codes = msg.codelist["CL_AREA"]
    assert str(codes["DEU"].name) == "Germany"
    assert str(codes["001"].name) == "World"
    assert len(codes) == len(store_ro.areas().table())


def test_code_lists_of_the_model(http):
    msg = read(http.get("/sdmx/codelist/IMDX/CL_SEX"))
    assert {c.id for c in msg.codelist["CL_SEX"]} == {"_T", "M", "F", "_O", "_U"}
    msg = read(http.get("/sdmx/codelist/all/CL_AGE/latest"))
    assert "Y_GE60" in msg.codelist["CL_AGE"]
    msg = read(http.get("/sdmx/codelist"))
    assert {"CL_AREA", "CL_SEX", "CL_AGE", "CL_POPULATION_TYPE", "CL_DEFINITION"} <= set(msg.codelist)


def test_concept_scheme(http):
    msg = read(http.get("/sdmx/conceptscheme/IMDX/CS_IMDX"))
    concepts = msg.concept_scheme["CS_IMDX"]
    assert {"DESTINATION", "ORIGIN", "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS"} <= {c.id for c in concepts}


def test_datastructure_with_parents_and_children(http):
    msg = read(http.get("/sdmx/datastructure/IMDX/DSD_NET_MIGRATION", params={"references": "parents"}))
    assert set(msg.dataflow) == {"NET_MIGRATION"} and set(msg.structure) == {"DSD_NET_MIGRATION"}
    msg = read(http.get("/sdmx/datastructure/IMDX/DSD_NET_MIGRATION", params={"references": "children"}))
    assert "CL_AREA" in msg.codelist and not msg.dataflow
    msg = read(http.get("/sdmx/codelist/IMDX/CL_SEX", params={"references": "parents"}))
    assert "DSD_MIGRANT_STOCK" in msg.structure
    answer = http.get("/sdmx/dataflow/IMDX/BIRTHS", params={"references": "codelist"})
    msg = read(answer)
    assert set(msg.dataflow) == {"BIRTHS"} and "CL_AREA" in msg.codelist
    assert b"<str:DataStructure " not in answer.content  # only the code lists were asked for


def test_structure_accept_and_format(http):
    assert read(http.get("/sdmx/dataflow/IMDX/BIRTHS", headers={"accept": "application/xml"}))
    assert read(http.get("/sdmx/dataflow/IMDX/BIRTHS", params={"format": "structure"}))
    error(http.get("/sdmx/dataflow", headers={"accept": "application/vnd.sdmx.structure+json;version=1.0"}), 406)
    error(http.get("/sdmx/dataflow", params={"format": "json"}), 406)


def test_structure_errors(http):
    assert "MIGRANT_STOCK" in error(http.get("/sdmx/dataflow/IMDX/NO_SUCH_FLOW"), 404)
    assert "IMDX" in error(http.get("/sdmx/dataflow/ESTAT"), 404)
    assert "1.0" in error(http.get("/sdmx/codelist/IMDX/CL_SEX/2.0"), 404)
    assert "CL_SEX" in error(http.get("/sdmx/codelist/IMDX/CL_NOPE"), 404)
    assert "references" in error(http.get("/sdmx/dataflow", params={"references": "bogus"}), 400)
    assert "detail" in error(http.get("/sdmx/dataflow", params={"detail": "allstubs"}), 501)
    error(http.get("/sdmx/datastructure/IMDX/DSD_X'%20OR%201=1"), 404)


def test_the_client_statisticians_use_reads_it(sdmx_server):
    """sdmx1's own Client, pointed at this service, lists dataflows and fetches data."""
    sdmx.add_source({"id": "IMDX", "url": f"{sdmx_server}/sdmx", "name": "imdx test"}, override=True)
    client = sdmx.Client("IMDX")
    flows = client.dataflow()
    assert "NET_MIGRATION" in flows.dataflow
    data = client.data("NET_MIGRATION", key="DEU", params={"startPeriod": "2020", "endPeriod": "2021"},
                       dsd=client.datastructure("DSD_NET_MIGRATION").structure["DSD_NET_MIGRATION"])
    series = sdmx.to_pandas(data)
    assert list(series.index.get_level_values("TIME_PERIOD")) == ["2020", "2021"]


def test_openapi_documents_the_sdmx_routes(http):
    paths = http.get("/openapi.json").json()["paths"]
    data = paths["/sdmx/data/{flow}/{key}"]["get"]["responses"]
    assert "application/vnd.sdmx.data+csv;version=1.0.0" in data["200"]["content"]
    assert {"400", "404", "406"} <= set(data)
    for resource in ("dataflow", "datastructure", "codelist", "conceptscheme"):
        assert f"/sdmx/{resource}/{{agency}}/{{id}}/{{version}}" in paths
