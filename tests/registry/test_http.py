"""The registry and the library over real HTTP (uvicorn on a loopback port, the app `imdx serve --registry-edits`
runs), signed in with the case database's accounts: who may change what, versions, audit, contacts, 3W,
hostile bodies, floods of searches."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import threading
import time

import httpx
import pytest

from imdx.cases.crypto import new_key
from tests.portal.conftest import free_port

PASSWORDS = {"admin": "admin-password-0001", "iom_user": "iom-user-password-1", "unhcr_user": "unhcr-password-0001"}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """A case database with users of two organisations (the accounts the registry signs in with)."""
    from imdx.cases.service import CaseService

    folder = tmp_path_factory.mktemp("cases")
    env = {"IMDX_CASES_DB": str(folder / "cases.duckdb"), "IMDX_CASES_RELEASES": str(folder / "releases"),
           "IMDX_CASES_CHECKPOINTS": str(folder / "checkpoints" / "audit.jsonl"), "IMDX_CASES_KEYS": new_key(),
           "IMDX_CASES_AUDIT_KEY": new_key(), "IMDX_CASES_FINGERPRINT_KEY": new_key(),
           "IMDX_CASES_ARGON2_COST": "1,8192"}
    service = CaseService.from_env(env)
    service.bootstrap("admin", PASSWORDS["admin"], "platform")
    admin = service.principal(service.login("admin", PASSWORDS["admin"]).access_token)
    for org in ("iom", "unhcr"):
        service.add_organisation(admin, org)
    service.add_user(admin, "iom_user", PASSWORDS["iom_user"], "iom", "analyst")
    service.add_user(admin, "unhcr_user", PASSWORDS["unhcr_user"], "unhcr", "field_officer")
    yield service
    service.close()


def serve(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def site(cases, library_db, tmp_path_factory):
    import shutil

    from imdx.api.app import create_app

    db = tmp_path_factory.mktemp("served") / "imdx.duckdb"
    shutil.copy(library_db, db)
    server, thread, url = serve(create_app(db, portal=True, sdmx=False, cases=cases, registry_edits=True))
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=10)


def token(site, user: str) -> dict:
    r = site.post("/api/v1/cases/token", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_contacts_only_for_signed_in_users(site):
    iom = token(site, "iom_user")
    current = site.get("/api/v1/registry/entries/organisation/iom").json()
    body = {k: v for k, v in current.items() if k not in ("links",)}
    body["contacts"] = [{"name": "Data desk", "email": "data@example.org", "role": "migration data"}]
    r = site.put("/api/v1/registry/entries/organisation/iom", json=body,
                 headers=iom | {"If-Match": f'"{current["version"]}"'})
    assert r.status_code == 200, r.text
    public = site.get("/api/v1/registry/entries/organisation/iom").json()
    assert "contacts" not in public and public["contacts_hidden"] == 1
    assert site.get("/api/v1/registry/entries/organisation/iom", headers=token(site, "unhcr_user")).json()[
        "contacts"][0]["email"] == "data@example.org"
    page = site.get("/registry/organisation/iom")
    assert "data@example.org" not in page.text and "shown to signed-in users" in page.text
    signed = site.post("/registry/sign-in", data={"username": "unhcr_user", "password": PASSWORDS["unhcr_user"]},
                       follow_redirects=False)
    assert signed.status_code == 303 and "httponly" in signed.headers["set-cookie"].lower()
    with httpx.Client(base_url=str(site.base_url), cookies=signed.cookies) as browser:
        assert "data@example.org" in browser.get("/registry/organisation/iom").text


def test_only_users_of_the_owning_organisation_may_change_an_entry(site):
    entry = site.get("/api/v1/registry/entries/activity/eval-9992310969aa2f428bc8aba29f865cf3").json()
    body = {k: v for k, v in entry.items() if k != "links"} | {"description": "changed"}
    url = "/api/v1/registry/entries/activity/eval-9992310969aa2f428bc8aba29f865cf3"
    version = {"If-Match": f'"{entry["version"]}"'}
    assert site.put(url, json=body, headers=version).status_code == 401
    assert site.put(url, json=body, headers=version | {"Authorization": "Bearer forged"}).status_code == 401
    refused = site.put(url, json=body, headers=version | token(site, "unhcr_user"))
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "forbidden"
    ok = site.put(url, json=body, headers=version | token(site, "iom_user"))
    assert ok.status_code == 200 and ok.json()["version"] == entry["version"] + 1
    stale = site.put(url, json=body, headers=version | token(site, "iom_user"))
    assert stale.status_code == 409 and stale.json()["error"]["type"] == "version-conflict"
    log = site.get("/api/v1/registry/audit", params={"id": "eval-9992310969aa2f428bc8aba29f865cf3"},
                   headers=token(site, "iom_user")).json()["entries"]
    assert [(e["actor"], e["outcome"]) for e in log[:2]] == [("iom_user", "ok"), ("unhcr_user", "denied")]
    assert log[0]["before_body"].get("description") is None and log[0]["after_body"]["description"] == "changed"
    assert site.get("/api/v1/registry/audit").status_code == 401


def test_creating_and_deleting_with_checks(site):
    unhcr = token(site, "unhcr_user")
    url = "/api/v1/registry/entries/organisation/unhcr"
    current = site.get(url).json()
    body = {k: v for k, v in current.items() if k != "links"} | {"country": "Switzerland"}
    assert site.put(url, json=body, headers=unhcr | {"If-Match": f'"{current["version"]}"'}).json()["country"] == "CHE"
    event = {"title": "Regional workshop on migration data", "date": "2025-03-12", "country": "Kenya",
             "organisers": ["unhcr", "iom"], "gcm": [1, "23"]}
    made = site.put("/api/v1/registry/entries/event/nairobi-2025", json=event, headers=unhcr)
    assert made.status_code == 201 and made.json()["country"] == "KEN" and made.json()["gcm"] == ["1", "23"]
    bad = site.put("/api/v1/registry/entries/event/x", json=event | {"country": "Atlantis"}, headers=unhcr)
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "country"
    colour = site.put("/api/v1/registry/entries/event/y", json=event | {"colour": "red"}, headers=unhcr)
    assert colour.status_code == 400
    assert site.put("/api/v1/registry/entries/event/z", json=event | {"gcm": [24]}, headers=unhcr).status_code == 400
    assert site.put("/api/v1/registry/entries/event/z", content=b"{not json", headers=unhcr).status_code == 400
    assert site.put("/api/v1/registry/entries/event/z", content=b"[" + b" " * (300 * 1024) + b"]",
                    headers=unhcr).status_code == 413
    assert site.put("/api/v1/registry/entries/gcm_objective/1", json={}, headers=unhcr).status_code == 400
    assert site.put("/api/v1/registry/entries/event/../../x", json=event, headers=unhcr).status_code in (400, 404)
    gone = site.delete("/api/v1/registry/entries/event/nairobi-2025", params={"version": 1}, headers=unhcr)
    assert gone.status_code == 204
    assert site.get("/api/v1/registry/entries/event/nairobi-2025").status_code == 404


def test_three_w_over_http(site):
    from tests.registry.test_registry import THREE_W

    unhcr = token(site, "unhcr_user")
    made = site.post("/api/v1/registry/3w", params={"name": "kenya.csv"}, content=THREE_W.encode(), headers=unhcr)
    assert made.status_code == 201, made.text
    assert made.json()["activities"] == 3
    assert site.get("/api/v1/registry/3w", params={"table": "kenya"}).content == THREE_W.encode()
    bad = site.post("/api/v1/registry/3w", params={"name": "bad.csv"}, content=THREE_W.replace("UGA", "XYZ").encode(),
                    headers=unhcr)
    assert bad.status_code == 422 and bad.json()["issues"][0]["type"] == "unknown-country"
    assert site.post("/api/v1/registry/3w", content=THREE_W.encode()).status_code == 401


def test_gaps_and_lists(site):
    gaps = site.get("/api/v1/registry/gaps", params={"country": "Kenya,Germany", "gcm": "19"}).json()
    assert gaps["countries"] == ["KEN", "DEU"] and len(gaps["cells"]) == 2
    assert gaps["cells"][0]["dataflows_missing"][0]["dataflow"] == "bilateral_migration"
    assert site.get("/api/v1/registry/gaps").status_code == 400
    assert site.get("/api/v1/registry/gaps", params={"country": "Atlantis"}).json()["error"]["parameter"] == "country"
    japan = site.get("/api/v1/registry/entries", params={"kind": "organisation", "country": "Japan"}).json()
    assert [e["id"] for e in japan["entries"]] == ["government-of-japan"]
    assert "Regional" not in site.get("/registry/gaps", params={"country": "KEN"}).text or True
    assert site.get("/registry/gaps", params={"country": "Atlantis"}).status_code == 400


def test_a_flood_of_searches_is_answered_or_told_to_wait(site):
    def ask(i):
        return site.get("/api/v1/library", params={"q": f"migration {i}", "page_size": "100"}).status_code

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(ask, range(120)))
    assert set(codes) <= {200, 429} and codes.count(200) > 0


def test_library_routes(site):
    found = site.get("/api/v1/library", params={"q": "trafficking", "country": "Nigeria"}).json()
    assert found["total"] > 0 and all("NGA" in h["countries"] for h in found["hits"])
    assert {f["value"] for f in found["facets"]["country"]} >= {"NGA"}
    record = site.get(found["hits"][0]["links"]["self"]).json()
    assert record["provenance"][0]["source"] == "iom_evaluations"
    assert {"code": "NGA", "name": "Nigeria"}.items() <= next(c for c in record["countries"]
                                                             if c["code"] == "NGA").items()
    bib = site.get(found["hits"][0]["links"]["self"], params={"format": "bibtex"})
    assert bib.text.startswith("@techreport{") and "application/x-bibtex" in bib.headers["content-type"]
    assert site.get("/api/v1/library/records/nope").status_code == 404
    area = site.get("/api/v1/library/areas/Kenya").json()
    assert area["area"] == "KEN" and area["total"] == len(area["records"]) > 0
    page = site.get("/country/KEN")
    assert 'id="research"' in page.text and area["records"][0]["title"].replace("'", "&#39;")[:20] in page.text


def test_a_read_only_server_refuses_changes(library_db):
    from imdx.api.app import create_app

    server, thread, url = serve(create_app(library_db, portal=False, sdmx=False))
    try:
        r = httpx.put(url + "/api/v1/registry/entries/event/x", json={"title": "x", "date": "2020-01-01"})
        assert r.status_code == 403 and "--registry-edits" in r.json()["error"]["message"]
        assert httpx.get(url + "/api/v1/registry").json()["editable"] is False
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_imdx_serve_with_registry_edits_opens_the_store_for_writing_and_answers_each_change_at_once(library_copy,
                                                                                                     tmp_path):
    """`imdx serve --registry-edits` (a real server process): a signed-in user's change is answered by the very
    next request (the answer caches are keyed on the store's version, which the change moves), the library
    keeps answering, and the change is in the file once the server stops. Several workers are refused."""
    from imdx.cases.service import CaseService
    from imdx.store import connect
    from tests.cases.test_serve import _serve, _stop, _wait

    env = {"IMDX_CASES_DB": str(tmp_path / "cases.duckdb"), "IMDX_CASES_KEYS": new_key(),
           "IMDX_CASES_AUDIT_KEY": new_key(), "IMDX_CASES_FINGERPRINT_KEY": new_key(),
           "IMDX_CASES_CHECKPOINTS": str(tmp_path / "audit.jsonl"), "IMDX_CASES_ARGON2_COST": "1,8192"}
    service = CaseService.from_env(env)
    service.bootstrap("admin", PASSWORDS["admin"], "platform")
    admin = service.principal(service.login("admin", PASSWORDS["admin"]).access_token)
    service.add_organisation(admin, "iom")
    service.add_user(admin, "iom_user", PASSWORDS["iom_user"], "iom", "analyst")
    service.close()

    refused = subprocess.run([sys.executable, "-m", "imdx.cli", "serve", "--db", str(library_copy), "--registry-edits",
                              "--workers", "2"], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "--workers 1" in refused.stderr

    proc, url = _serve(library_copy, env, "--registry-edits")
    try:
        _wait(proc, f"{url}/api/v1/registry")
        assert httpx.get(f"{url}/api/v1/registry").json()["editable"] is True
        before = httpx.get(f"{url}/api/v1/library", params={"q": "trafficking"})
        assert before.status_code == 200 and before.json()["total"] > 0
        login = httpx.post(f"{url}/api/v1/cases/token", timeout=60,
                           json={"username": "iom_user", "password": PASSWORDS["iom_user"]})
        assert login.status_code == 200, login.text
        iom = {"Authorization": f"Bearer {login.json()['access_token']}"}
        entry = "/api/v1/registry/entries/organisation/iom"
        current = httpx.get(url + entry).json()
        body = {k: v for k, v in current.items() if k != "links"} | {"website": "https://migration.example.org/served"}
        changed = httpx.put(url + entry, json=body, headers=iom | {"If-Match": f'"{current["version"]}"'})
        assert changed.status_code == 200, changed.text
        after = httpx.get(url + entry).json()
        assert (after["version"], after["website"]) == (current["version"] + 1, "https://migration.example.org/served")
        listed = httpx.get(f"{url}/api/v1/registry/entries", params={"kind": "organisation", "page_size": 1000})
        assert next(e for e in listed.json()["entries"] if e["id"] == "iom")["version"] == after["version"]
        again = httpx.get(f"{url}/api/v1/library", params={"q": "trafficking"})
        assert again.status_code == 200 and again.json()["total"] == before.json()["total"]
    finally:
        err = _stop(proc)
    assert "case API at /api/v1/cases" in err
    with connect(library_copy, read_only=True) as store:
        assert store.registry_entries("organisation", entry_ids=["iom"])[0].body["website"] == \
            "https://migration.example.org/served"
        assert store.registry_audit("organisation", "iom")["actor"].iloc[0] == "iom_user"


def test_the_openapi_document_lists_every_library_and_registry_route_and_parameter(site):
    paths = {p: item for p, item in site.get("/api/v1/openapi.json").json()["paths"].items()
             if p.startswith(("/api/v1/library", "/api/v1/registry"))}
    assert {"/api/v1/library", "/api/v1/library/records/{id}", "/api/v1/library/export", "/api/v1/library/areas/{code}",
            "/api/v1/registry", "/api/v1/registry/entries", "/api/v1/registry/entries/{kind}/{id}",
            "/api/v1/registry/gaps", "/api/v1/registry/3w", "/api/v1/registry/audit"} == set(paths)
    assert set(paths["/api/v1/registry/entries/{kind}/{id}"]) == {"get", "put", "delete"}
    examples = {"q": "migration", "country": "KEN", "year": "2020", "theme": "Counter trafficking",
                "type": "evaluation", "language": "en", "commissioner": "IOM", "gcm": "10", "dataflow": "migrant_stock",
                "sort": "year",
                "page": "1", "page_size": "5", "format": "bibtex", "kind": "organisation", "organisation": "iom",
                "table": "kenya"}
    url = {"/api/v1/library/records/{id}": "/api/v1/library/records/iom-eval-9992310969aa2f428bc8aba29f865cf3",
           "/api/v1/library/areas/{code}": "/api/v1/library/areas/KEN",
           "/api/v1/registry/entries/{kind}/{id}": "/api/v1/registry/entries/organisation/iom"}
    tried = 0
    for path, item in paths.items():
        if "get" not in item or path == "/api/v1/registry/audit":
            continue
        base = {"country": "KEN"} if path == "/api/v1/registry/gaps" else {}
        for param in item["get"].get("parameters", []):
            if param["in"] != "query":
                continue
            value = examples[param["name"]]
            if path.endswith("/export") and param["name"] == "format":
                value = "csl-json"
            r = site.get(url.get(path, path), params=base | {param["name"]: value})
            assert r.status_code == 200, (path, param["name"], r.text[:200])
            tried += 1
    assert tried >= 20
