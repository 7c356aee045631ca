"""Every role of organisation A against every route and action on organisation B's objects, through the
app ``imdx serve`` runs (``imdx.api.app.create_app`` with the case database mounted).

Another organisation's objects answer 404, exactly as absent ones, and the refusal is audited; the one
way across organisations is a release B's DPO published for the public or shared with A. Each request
comes from an address of its own, so the sign-in throttle (tested in test_auth) stays out of the way.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

from imdx.api.app import create_app
from imdx.cases import accounts
from imdx.cases.generator import as_text, generate_cases
from imdx.cases.releases import publish
from imdx.cases.routes import PREFIX
from imdx.cases.service import CaseService

from .conftest import PASSWORDS, ROLES_OF, approve, bearer, make_env, populate, principal, served_client

ORG_A_ROLES = ("fo_a", "dpo_a", "analyst_a", "partner_a")
ROLES = ORG_A_ROLES + ("admin", "public", "expired", "forged", "revoked", "deactivated")
MARKER = "Beatrix Orgbeeperson"


class World:
    """A database with a user of every role in OrgA and OrgB, records of both, and OrgB's releases of every
    status and audience, served by the app ``imdx serve`` runs."""

    def __init__(self, tmp: Path, stats_store: Path):
        self.svc = CaseService.from_env(make_env(tmp))
        populate(self.svc)
        admin = principal(self.svc, "admin")
        self.svc.add_user(admin, "spare_b", "spare-b-password-01", "OrgB", "field_officer")
        self.svc.add_user(admin, "gone_a", "gone-a-password-001", "OrgA", "data_protection_officer")
        for org, fo, seed in (("OrgA", "fo_a", 1), ("OrgB", "fo_b", 2)):
            records = generate_cases(400, seed=seed, organisations=(org,))
            records.loc[0, "victim_name"] = MARKER if org == "OrgB" else "Alma Orgaperson"
            path = tmp / f"{org}.csv"
            as_text(records).to_csv(path, index=False)
            self.svc.import_file(principal(self.svc, fo), path)
        self.case_b = self.svc.store.query("SELECT case_id FROM cases WHERE organisation = 'OrgB' LIMIT 1")[0][0]
        self.dpo_b = principal(self.svc, "dpo_b")
        self.svc.set_policy(self.dpo_b, {"epsilon_budget": 100, "epsilon_per_release": 1})
        self.pending_b = publish.request_release(self.svc, self.dpo_b, "k-anonymised", {}, audience="public")
        self.internal_b = self.release("internal")
        self.shared_a_b = self.release("internal", share_with="OrgA")
        self.shared_c_b = self.release("internal", share_with="OrgC")
        self.public_b = self.release("public")
        self.app = create_app(stats_store, cases=self.svc)
        self.tokens = {u: self.svc.login(u, PASSWORDS[u]).access_token for u in (*ORG_A_ROLES, "admin")}
        self.tokens["expired"] = accounts.issue(self.svc.store, "fo_a", -1, accounts.utcnow()).access_token
        self.tokens["forged"] = "x" * 43
        self.tokens["revoked"] = self.svc.login("dpo_a", PASSWORDS["dpo_a"]).access_token
        self.svc.logout(self.tokens["revoked"])
        self.tokens["deactivated"] = self.svc.login("gone_a", "gone-a-password-001").access_token
        self.svc.set_active(admin, "gone_a", False)
        self.new_users = itertools.count()
        self.addresses = itertools.count(1)

    def release(self, audience: str, share_with: str | None = None) -> str:
        rid = publish.request_release(self.svc, self.dpo_b, "k-anonymised", {}, audience=audience)
        approve(self.svc, self.dpo_b, rid)
        if share_with:
            publish.share_release(self.svc, self.dpo_b, rid, share_with)
        return rid

    def request(self, role: str, method: str, path: str, body=None):
        n = next(self.addresses)
        client = served_client(self.app, f"10.{n // 250}.{n % 250}.7")
        headers = {} if role == "public" else bearer(self.tokens[role])
        return client.request(method, PREFIX + path, headers=headers,
                              **({"json": body} if body is not None else {}))

    def denials(self) -> int:
        return self.svc.store.query("SELECT count(*) FROM audit_log WHERE outcome = 'denied'")[0][0]


@pytest.fixture(scope="module")
def world(tmp_path_factory, stats_store):
    w = World(tmp_path_factory.mktemp("matrix"), stats_store)
    yield w
    w.svc.close()


def only(**statuses) -> dict:
    """Expected status per OrgA role and the administrator; the public gets 401 unless given."""
    return {"public": 401, **statuses}


READERS_OF_SHARED = {role: 200 for role in ORG_A_ROLES} | {"admin": 404, "public": 404}
NOBODY = {role: 404 for role in (*ORG_A_ROLES, "admin", "public")}
DPO_ONLY_404 = only(dpo_a=404)

ROUTES = {
    # name: (method, path(w), body(w) or None, expected status per role (unlisted roles: 403))
    "read B's case": ("GET", lambda w: f"/records/{w.case_b}", None, only(fo_a=404, dpo_a=404)),
    "submit a record for B": ("POST", lambda w: "/records", lambda w: {
        "data_source": "hotline", "gender": "Woman", "organisation": "OrgB"}, only(fo_a=422)),
    "read B's policy": ("GET", lambda w: "/datasets/OrgB/policy", None, only(dpo_a=404, analyst_a=404)),
    "lower B's policy": ("PATCH", lambda w: "/datasets/OrgB/policy", lambda w: {"epsilon_budget": 99.5},
                         DPO_ONLY_404),
    "request a release of B": ("POST", lambda w: "/releases", lambda w: {"kind": "k-anonymised", "dataset": "OrgB"},
                               only(dpo_a=404, analyst_a=404)),
    "read B's pending release": ("GET", lambda w: f"/releases/{w.pending_b}", None, NOBODY),
    "read B's internal release": ("GET", lambda w: f"/releases/{w.internal_b}", None, NOBODY),
    "read B's release shared with A": ("GET", lambda w: f"/releases/{w.shared_a_b}", None, READERS_OF_SHARED),
    "read B's release shared with C": ("GET", lambda w: f"/releases/{w.shared_c_b}", None, NOBODY),
    "read B's public release": ("GET", lambda w: f"/releases/{w.public_b}", None,
                                {role: 200 for role in (*ORG_A_ROLES, "admin", "public")}),
    "preview B's pending release": ("GET", lambda w: f"/releases/{w.pending_b}/preview", None, DPO_ONLY_404),
    "preview B's public release": ("GET", lambda w: f"/releases/{w.public_b}/preview", None, DPO_ONLY_404),
    "approve B's pending release": ("POST", lambda w: f"/releases/{w.pending_b}/approve",
                                    lambda w: {"confirm": "0" * 64}, DPO_ONLY_404),
    "approve B's release without a preview": ("POST", lambda w: f"/releases/{w.pending_b}/approve", lambda w: {},
                                              DPO_ONLY_404),
    "reproduce B's public release": ("POST", lambda w: f"/releases/{w.public_b}/reproduce", None, DPO_ONLY_404),
    "share B's public release": ("POST", lambda w: f"/releases/{w.public_b}/share",
                                 lambda w: {"organisation": "OrgA"}, DPO_ONLY_404),
    "share B's internal release with A": ("POST", lambda w: f"/releases/{w.internal_b}/share",
                                          lambda w: {"organisation": "OrgA"}, DPO_ONLY_404),
    "withdraw B's share with A": ("DELETE", lambda w: f"/releases/{w.shared_a_b}/share/OrgA", None, DPO_ONLY_404),
    "download B's internal file": ("GET", lambda w: f"/releases/{w.internal_b}/files/microdata.csv", None, NOBODY),
    "download B's shared-with-A file": ("GET", lambda w: f"/releases/{w.shared_a_b}/files/microdata.csv", None,
                                        READERS_OF_SHARED),
    "download B's shared-with-C file": ("GET", lambda w: f"/releases/{w.shared_c_b}/files/microdata.csv", None,
                                        NOBODY),
    "download B's pending manifest": ("GET", lambda w: f"/releases/{w.pending_b}/files/release.json", None, NOBODY),
    "list releases": ("GET", lambda w: "/releases", None, {role: 200 for role in (*ORG_A_ROLES, "admin", "public")}),
    "list cases": ("GET", lambda w: "/records", None, only(fo_a=200, dpo_a=200)),
    "de-identified view": ("GET", lambda w: "/deidentified", None, only(dpo_a=200, analyst_a=200)),
    "completeness": ("GET", lambda w: "/completeness", None, only(dpo_a=200, analyst_a=200)),
    "revoke a B user's tokens": ("POST", lambda w: "/users/spare_b/revoke-tokens", None, only(admin=200)),
    "make a DPO in B": ("POST", lambda w: "/users", lambda w: {
        "username": f"new_b{next(w.new_users)}", "password": "a-new-password-01", "organisation": "OrgB",
        "role": "data_protection_officer"}, only(admin=201)),
    "rotate keys": ("POST", lambda w: "/keys/rotate", None, only(admin=200)),
    "verify the audit log": ("GET", lambda w: "/audit/verify", None, only(dpo_a=200, admin=200)),
}


def expected_status(route: str, role: str) -> int:
    if role in ("expired", "forged", "revoked", "deactivated"):
        return 401
    return ROUTES[route][3].get(role, 403)


@pytest.mark.parametrize("route,role", list(itertools.product(ROUTES, ROLES)))
def test_role_route_organisation_matrix(world, route, role):
    method, path, body, _ = ROUTES[route]
    before = world.denials()
    response = world.request(role, method, path(world), body(world) if body else None)
    expected = expected_status(route, role)
    assert response.status_code == expected, response.text
    assert MARKER not in response.text
    if expected in (401, 403, 404):
        error = response.json()["error"]
        assert error["status"] == expected and error["type"] == "access-denied"
    if expected in (403, 404) and role not in ("public",):
        assert world.denials() > before, "a refusal of a signed-in user must be audited"
    if expected < 400 or role == "public" or expected == 401:
        assert world.denials() == before


def test_what_a_reads_of_b_is_only_what_b_released_to_a(world):
    listed = {r["release_id"] for r in world.request("analyst_a", "GET", "/releases").json()}
    assert {world.public_b, world.shared_a_b} <= listed
    assert not {world.pending_b, world.internal_b, world.shared_c_b} & listed
    for role in ("dpo_a", "analyst_a"):
        view = world.request(role, "GET", "/deidentified").json()
        assert len(view) == 400 and {r["organisation"] for r in view} == {"OrgA"}
        completeness = world.request(role, "GET", "/completeness").json()
        assert {r["organisation"] for r in completeness} == {"all", "OrgA"}
    cases = world.request("dpo_a", "GET", "/records").json()
    assert len(cases) == 400 and world.case_b not in {r["case_id"] for r in cases}
    info = world.request("dpo_a", "GET", f"/releases/{world.shared_a_b}").json()
    assert "report" not in info and "requested_by" not in info          # B's internal record stays B's


def test_another_organisations_objects_answer_exactly_as_absent_ones(world):
    absent = "0" * 32
    for path, absent_path in ((f"/records/{world.case_b}", f"/records/{absent}"),
                              (f"/releases/{world.internal_b}", f"/releases/{absent}"),
                              (f"/releases/{world.pending_b}/preview", f"/releases/{absent}/preview")):
        there, nothing = world.request("dpo_a", "GET", path), world.request("dpo_a", "GET", absent_path)
        assert there.status_code == nothing.status_code == 404
        assert there.json() == nothing.json()
    row = world.svc.store.query("SELECT actor, action, target, outcome, detail FROM audit_log WHERE target = ? "
                                "ORDER BY seq DESC LIMIT 1", [world.case_b])[0]
    assert row[:4] == ("dpo_a", "case:read", world.case_b, "denied") and json.loads(row[4])["status"] == 404


def test_the_owners_reach_everything_the_matrix_refused(world):
    """The refusals above are organisation scope, not missing objects: B's own users get them."""
    b = {u: world.svc.login(u, PASSWORDS[u]).access_token for u in ROLES_OF if u.endswith("_b")}
    world.tokens.update(b)
    assert world.request("fo_b", "GET", f"/records/{world.case_b}").json()["victim_name"] == MARKER
    assert world.request("dpo_b", "GET", "/datasets/OrgB/policy").json()["epsilon_budget"] == 100
    assert world.request("dpo_b", "GET", f"/releases/{world.internal_b}").json()["status"] == "published"
    assert world.request("analyst_b", "GET", f"/releases/{world.internal_b}/files/microdata.csv").status_code == 200
    assert world.request("dpo_b", "POST", f"/releases/{world.public_b}/reproduce").json()["identical"] is True
    preview = world.request("dpo_b", "GET", f"/releases/{world.pending_b}/preview")
    assert preview.status_code == 200 and preview.json()["smallest_class"] >= 11
    assert world.request("partner_b", "GET", f"/releases/{world.internal_b}").status_code == 404


def test_a_partner_reads_a_shared_file_as_published(world):
    text = world.request("partner_a", "GET", f"/releases/{world.shared_a_b}/files/microdata.csv").text
    released = pd.read_csv(Path(world.svc.settings.release_dir) / world.shared_a_b / "microdata.csv", dtype=str)
    assert len(text.splitlines()) == len(released) + 1
