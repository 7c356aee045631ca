"""The OpenAPI document matches the server: every route is documented, every documented route and
parameter is accepted."""

from __future__ import annotations


def test_every_route_is_documented(http, app_routes):
    paths = {p: item for p, item in http.get("/api/v1/openapi.json").json()["paths"].items() if p.startswith("/api/")}
    routes = {path for path, _ in app_routes}
    assert routes == set(paths)
    for path, item in paths.items():  # read-only, but for the registry's changes (tests/registry)
        assert set(item) == {"get"} or (path.startswith("/api/v1/registry/") and set(item) <= {"get", "put",
                                                                                               "delete", "post"}), path


def _example(http, path: str, name: str, param: dict, flows: dict):
    flow = path.rsplit("/", 1)[-1] if path.startswith(("/api/v1/data/", "/api/v1/diff/")) else None
    if flow in ("{dataflow}",):
        flow = "migrant_stock"
    info = flows.get(flow)
    schema = param.get("schema", {})
    if "enum" in schema:
        return schema["enum"]
    if name in ("page",):
        return ["1"]
    if name == "page_size":
        return ["10"]
    if name == "as_of":
        return ["2030-01-01"]
    if info is not None:
        dims = {d["name"]: d for d in info["dimensions"]}
        if name == "year":
            return [str(info["dimensions"][-1]["range"][0])] if info["editions"] else []
        if name in dims:
            return [next(iter(dims[name]["codes"]))] if dims[name].get("codes") else []
        if name == "edition":
            return [info["editions"][-1]["edition"]] if info["editions"] else []
        if name == "source":
            return [info["editions"][-1]["source"]] if info["editions"] else []
        if name in ("from", "to"):
            return []  # always given, see below
    return {"q": ["korea"], "source": ["undesa_ims"], "dataflow": ["migrant_stock"], "area": ["DEU"],
            "type": [], "filters": []}.get(name, [])


def test_every_documented_parameter_is_accepted(http):
    openapi = http.get("/api/v1/openapi.json").json()
    flows = {}
    for path in openapi["paths"]:
        if path.startswith("/api/v1/data/") and "{" not in path:
            flow = path.rsplit("/", 1)[-1]
            flows[flow] = http.get(f"/api/v1/dataflows/{flow}").json()
    editions = [e["edition"] for e in flows["migrant_stock"]["editions"]]
    issue_types = [c["type"] for c in http.get("/api/v1/report").json()["counts"]]
    tried = 0
    for path, item in openapi["paths"].items():
        if not path.startswith("/api/") or path.startswith(("/api/v1/library", "/api/v1/registry")):
            continue  # the SDMX paths' parameters are tested in tests/sdmx; the library's and registry's there
        url = path.replace("{dataflow}", "migrant_stock").replace("{id}", "migrant_stock").replace("{area}", "DEU")
        base = {"from": editions[0], "to": editions[-1], "destination": "DEU"} if "/diff/" in path else {}
        flow = flows.get(path.rsplit("/", 1)[-1]) if path.startswith("/api/v1/data/") else None
        if path == "/api/v1/data/{dataflow}":
            base = {"destination": "DEU"}
        elif flow is not None and flow["editions"]:  # one area, to keep the big dataflows' answers small
            area = next(d for d in flow["dimensions"] if d["codelist"] == "area" and d.get("codes"))
            base = {area["name"]: next(iter(area["codes"]))}
        params = item["get"].get("parameters", [])
        required = {p["name"] for p in params if p.get("required")}
        assert required <= set(base) | {"dataflow", "id", "area"}, (path, required)
        assert http.get(url, params=base).status_code == 200, url
        for param in params:
            if param["in"] != "query" or param["name"] in ("from", "to"):
                continue
            values = issue_types[:1] if param["name"] == "type" else _example(http, path, param["name"], param, flows)
            if param["name"] == "filters":  # the generic routes take the dataflow's dimensions
                values, param = ["DEU"], {**param, "name": "destination"}
            for value in values:
                r = http.get(url, params={**base, param["name"]: value})
                assert r.status_code == 200, (url, param["name"], value, r.text[:300])
                tried += 1
    assert tried > 100


def test_data_routes_document_their_dimensions(http):
    paths = http.get("/api/v1/openapi.json").json()["paths"]
    names = {p["name"] for p in paths["/api/v1/data/migrant_stock"]["get"]["parameters"]}
    assert {"destination", "origin", "sex", "age", "year", "edition", "as_of", "format", "page", "page_size"} <= names
    refugees = {p["name"] for p in paths["/api/v1/data/refugees"]["get"]["parameters"]}
    assert {"origin", "asylum", "population_type", "year"} <= refugees and "destination" not in refugees
