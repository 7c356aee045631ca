"""Every role against every route and action over HTTP; refusals are 401/403/404 and logged."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from imdx.cases import access
from imdx.cases.generator import as_text, generate_cases
from imdx.cases.releases import publish
from imdx.cases.routes import PREFIX, cases_router
from imdx.cases.service import CaseService

from .conftest import PASSWORDS, make_env, populate

USERS = ("fo_a", "fo_b", "dpo_a", "analyst_a", "partner_b", "admin")
ROLES = USERS + ("public", "expired", "forged", "revoked")
RECORD = {"data_source": "hotline", "gender": "Woman", "age_band": "21—23", "majority_status": "Adult",
          "year_of_registration": "2020", "citizenship": "PHL", "victim_name": "Matrix Testperson"}


class World:
    """One database with a user of each role, a case of OrgA and releases of every audience."""

    def __init__(self, tmp: Path):
        self.svc = CaseService.from_env(make_env(tmp, budget="1000"))
        populate(self.svc)
        self.app = FastAPI()
        self.app.include_router(cases_router(self.svc))
        self.client = TestClient(self.app)
        self.tokens = {u: self.svc.login(u, PASSWORDS[u]) for u in USERS}
        self.tokens["expired"] = access.login(self.svc.store, "fo_a", PASSWORDS["fo_a"], minutes=-1)
        self.tokens["forged"] = "x" * 43
        self.tokens["revoked"] = self.svc.login("dpo_a", PASSWORDS["dpo_a"])
        access.revoke(self.svc.store, self.tokens["revoked"])
        fo_a = self.svc.principal(self.tokens["fo_a"])
        sub = self.svc.submit_record(fo_a, RECORD)
        self.case_a = sub.case_ids[0]
        text = as_text(generate_cases(300, seed=11, organisations=("OrgA",)))
        csv = tmp / "a.csv"
        text.to_csv(csv, index=False)
        self.svc.import_file(fo_a, csv)
        self.dpo = self.svc.principal(self.tokens["dpo_a"])
        self.public = self.release("public")
        self.shared = self.release("internal")
        publish.share_release(self.svc, self.dpo, self.shared, "OrgB")
        self.internal = self.release("internal")
        self.pending = publish.request_release(self.svc, self.dpo, "k-anonymised", {}, audience="public")
        self.users_made = itertools.count()

    def release(self, audience: str) -> str:
        rid = publish.request_release(self.svc, self.dpo, "k-anonymised", {"k": 5}, audience=audience)
        publish.approve_release(self.svc, self.dpo, rid)
        return rid

    def headers(self, role: str) -> dict:
        return {} if role == "public" else {"Authorization": f"Bearer {self.tokens[role]}"}

    def denials(self) -> int:
        return self.svc.store.query("SELECT count(*) FROM audit_log WHERE outcome = 'denied'")[0][0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("matrix"))
    yield w
    w.svc.close()


def _fresh_pending(w: World) -> str:
    return publish.request_release(w.svc, w.dpo, "dp-aggregates", {"epsilon": 0.01}, audience="internal")


ANY_READER = {r: 200 for r in USERS + ("public",)}
ROUTES = {
    # name: (method, path(w), body(w), expected status per role; roles not listed -> 403)
    "create record": ("POST", lambda w: "/records", lambda w: RECORD,
                      {"fo_a": 201, "fo_b": 201, "public": 401}),
    "list own records": ("GET", lambda w: "/records", None, {"fo_a": 200, "fo_b": 200, "dpo_a": 200, "public": 401}),
    "read a case by id": ("GET", lambda w: f"/records/{w.case_a}", None,
                          {"fo_a": 200, "dpo_a": 200, "fo_b": 404, "public": 401}),
    "de-identified view": ("GET", lambda w: "/deidentified", None, {"dpo_a": 200, "analyst_a": 200, "public": 401}),
    "completeness": ("GET", lambda w: "/completeness", None, {"dpo_a": 200, "analyst_a": 200, "public": 401}),
    "create user": ("POST", lambda w: "/users",
                    lambda w: {"username": f"new{next(w.users_made)}", "password": "a-new-password-1",
                               "organisation": "OrgA", "role": "field_officer"}, {"admin": 201, "public": 401}),
    "verify audit": ("GET", lambda w: "/audit/verify", None, {"dpo_a": 200, "admin": 200, "public": 401}),
    "rotate keys": ("POST", lambda w: "/keys/rotate", None, {"admin": 200, "public": 401}),
    "request release": ("POST", lambda w: "/releases",
                        lambda w: {"kind": "dp-aggregates", "parameters": {"epsilon": 0.1}},
                        {"dpo_a": 201, "analyst_a": 201, "public": 401}),
    "list releases": ("GET", lambda w: "/releases", None, ANY_READER),
    "read public release": ("GET", lambda w: f"/releases/{w.public}", None, ANY_READER),
    "read shared release": ("GET", lambda w: f"/releases/{w.shared}", None,
                            {"fo_b": 200, "partner_b": 200, "dpo_a": 200, "analyst_a": 200, "fo_a": 404,
                             "admin": 404, "public": 404}),
    "read internal release": ("GET", lambda w: f"/releases/{w.internal}", None,
                              {"dpo_a": 200, "analyst_a": 200, "fo_a": 404, "fo_b": 404, "partner_b": 404,
                               "admin": 404, "public": 404}),
    "read pending release": ("GET", lambda w: f"/releases/{w.pending}", None,
                             {"dpo_a": 200, "analyst_a": 404, "fo_a": 404, "fo_b": 404, "partner_b": 404,
                              "admin": 404, "public": 404}),
    "approve release": ("POST", lambda w: f"/releases/{_fresh_pending(w)}/approve", None,
                        {"dpo_a": 200, "public": 401}),
    "share release": ("POST", lambda w: f"/releases/{w.public}/share", lambda w: {"organisation": "OrgB"},
                      {"dpo_a": 200, "public": 401}),
    "download public file": ("GET", lambda w: f"/releases/{w.public}/files/microdata.csv", None, ANY_READER),
    "download shared file": ("GET", lambda w: f"/releases/{w.shared}/files/microdata.csv", None,
                             {"fo_b": 200, "partner_b": 200, "dpo_a": 200, "analyst_a": 200, "fo_a": 404,
                              "admin": 404, "public": 404}),
}


def expected_status(route: str, role: str) -> int:
    if role in ("expired", "forged", "revoked"):
        return 401
    return ROUTES[route][3].get(role, 403)


@pytest.mark.parametrize("route,role", list(itertools.product(ROUTES, ROLES)))
def test_role_route_matrix(world, route, role):
    method, path, body, _ = ROUTES[route]
    before = world.denials()
    kwargs = {"headers": world.headers(role)}
    if body is not None:
        kwargs["json"] = body(world)
    response = world.client.request(method, PREFIX + path(world), **kwargs)
    expected = expected_status(route, role)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert world.denials() > before, "a refusal must be written to the audit log"
        assert response.json()["detail"]["type"] == "access-denied"
    else:
        assert world.denials() == before


def test_another_organisations_case_is_reported_absent_not_forbidden(world):
    response = world.client.get(f"{PREFIX}/records/{world.case_a}", headers=world.headers("fo_b"))
    missing = world.client.get(f"{PREFIX}/records/{'0' * 32}", headers=world.headers("fo_b"))
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()
    assert "Matrix Testperson" not in response.text


@pytest.mark.parametrize("role,asked", [("fo_a", "data_protection_officer"), ("dpo_a", "data_protection_officer"),
                                        ("analyst_a", "administrator"), ("admin", "administrator"),
                                        ("admin", "public"), ("admin", "superuser")])
def test_role_escalation_is_refused(world, role, asked):
    before = world.denials()
    response = world.client.post(f"{PREFIX}/users", headers=world.headers(role), json={
        "username": f"esc{next(world.users_made)}", "password": "escalation-pass1", "organisation": "OrgA",
        "role": asked})
    assert response.status_code == 403
    assert world.denials() > before
    assert not world.svc.store.query("SELECT 1 FROM users WHERE role = 'administrator' AND username <> 'admin'")


def test_expired_token_replay_is_refused_everywhere_and_logged(world):
    before = world.denials()
    for method, path, body, _ in ROUTES.values():
        kwargs = {"headers": world.headers("expired")}
        if body is not None:
            kwargs["json"] = body(world)
        assert world.client.request(method, PREFIX + path(world), **kwargs).status_code == 401
    assert world.denials() - before >= len(ROUTES)
    rows = world.svc.store.query("SELECT detail FROM audit_log WHERE action = 'authenticate' ORDER BY seq DESC "
                                 "LIMIT 1")
    assert "expired" in rows[0][0]


INJECTIONS = ["' OR '1'='1", "1; DROP TABLE cases; --", "\" OR \"\"=\"", "../../etc/passwd",
              "..%2F..%2Fcases.duckdb", "%2e%2e%2f%2e%2e%2fcases.duckdb", "release.json%00.csv", "*",
              "00000000000000000000000000000000' UNION SELECT victim_name FROM cases --"]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("template,role", [("/records/{p}", "fo_a"), ("/releases/{p}", "dpo_a"),
                                           ("/releases/{p}/approve", "dpo_a"), ("/releases/{p}/share", "dpo_a"),
                                           ("/releases/{public}/files/{p}", "public"),
                                           ("/releases/{p}/files/microdata.csv", "analyst_a")])
def test_injection_in_every_path_parameter_is_refused_and_logged(world, template, role, payload):
    before_cases = world.svc.store.query("SELECT count(*) FROM cases")[0][0]
    before = world.denials()
    method = "POST" if template.endswith(("approve", "share")) else "GET"
    kwargs = {"json": {"organisation": "OrgB"}} if template.endswith("share") else {}
    url = PREFIX + template.format(p=payload, public=world.public)
    status, text = raw_request(world.app, method, url, world.headers(role), kwargs.get("json"))
    assert status == 404
    assert world.denials() > before
    assert world.svc.store.query("SELECT count(*) FROM cases")[0][0] == before_cases
    assert "Testperson" not in text


def raw_request(app, method: str, url: str, headers: dict, body: dict | None) -> tuple[int, str]:
    """Send ``url`` exactly as written (like ``curl --path-as-is``): HTTP clients would remove ``../``
    segments before sending, an attacker's client need not."""
    payload = json.dumps(body).encode() if body is not None else b""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": unquote(url), "raw_path": url.encode(), "query_string": b"",
             "root_path": "", "server": ("testserver", 80), "client": ("testclient", 50000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
             + [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]}
    sent, messages = [], [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
    return status, text


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_body_and_header_parameters_is_refused_and_logged(world, payload):
    before = world.denials()
    assert world.client.post(f"{PREFIX}/token", json={"username": payload, "password": payload}).status_code == 401
    assert world.client.get(f"{PREFIX}/records", headers={"Authorization": f"Bearer {payload}"}).status_code == 401
    shared = world.client.post(f"{PREFIX}/releases/{world.public}/share", headers=world.headers("dpo_a"),
                               json={"organisation": payload})
    assert shared.status_code == 404
    dataset = world.client.post(f"{PREFIX}/releases", headers=world.headers("analyst_a"),
                                json={"kind": "k-anonymised", "dataset": payload})
    assert dataset.status_code == 404
    assert world.denials() - before >= 4
    record = world.client.post(f"{PREFIX}/records", headers=world.headers("fo_a"),
                               json={**RECORD, "gender": payload, "citizenship": payload})
    assert record.status_code == 422          # rejected as data, never executed
    assert {i["type"] for i in record.json()["detail"]["report"]} >= {"unknown-code"}
    assert world.svc.store.query("SELECT count(*) FROM users")[0][0] >= 6
    assert world.svc.audit.verify().count("error") == 0
