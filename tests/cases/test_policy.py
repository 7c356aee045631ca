"""Release policies belong to the dataset: whatever a request asks, a published release has the protection
its dataset's policy demands, computed from the released file, through the app ``imdx serve`` runs."""

from __future__ import annotations

import base64
import io
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from imdx.api.app import create_app
from imdx.cases.generator import as_text, generate_cases
from imdx.cases.policy import K_FLOOR, RELEASABLE, ReleasePolicy, validated
from imdx.cases.releases.kanon import DEFAULT_QUASI_IDENTIFIERS, KNOWN_QUASI_IDENTIFIERS, NEVER_RELEASED
from imdx.cases.routes import PREFIX
from imdx.cases.schema import RECORD_FIELDS
from imdx.cases.service import CaseService

from .conftest import PASSWORDS, bearer, make_env, populate, principal, served_client

N_RECORDS = 1500
PROPERTY = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Served:
    def __init__(self, tmp, stats_store):
        self.svc = CaseService.from_env(make_env(tmp))
        populate(self.svc)
        path = tmp / "a.csv"
        as_text(generate_cases(N_RECORDS, seed=4, organisations=("OrgA",))).to_csv(path, index=False)
        self.svc.import_file(principal(self.svc, "fo_a"), path)
        self.client = served_client(create_app(stats_store, cases=self.svc))
        self.headers = {u: bearer(self.svc.login(u, PASSWORDS[u]).access_token) for u in ("analyst_a", "dpo_a")}

    def call(self, method, path, user, body=None):
        headers = {**self.headers[user], "Content-Type": "application/json"}    # json.dumps writes NaN, Infinity
        return self.client.request(method, PREFIX + path, headers=headers,
                                   **({"content": json.dumps(body)} if body is not None else {}))

    def publish(self, kind, parameters, requester="analyst_a") -> tuple[str | None, list[str]]:
        """Request, preview and approve; ``(release id or None if refused, every answer's text)``."""
        answers = []
        requested = self.call("POST", "/releases", requester, {"kind": kind, "parameters": parameters})
        answers.append(requested.text)
        if requested.status_code != 201:
            assert requested.status_code == 400 and requested.json()["error"]["type"] == "invalid-release"
            return None, answers
        rid = requested.json()["release_id"]
        preview = self.call("GET", f"/releases/{rid}/preview", "dpo_a")
        answers.append(preview.text)
        if preview.status_code != 200:
            assert preview.status_code in (400, 409), preview.text
            return None, answers
        approved = self.call("POST", f"/releases/{rid}/approve", "dpo_a",
                             {"confirm": preview.json()["preview_digest"]})
        assert approved.status_code == 200, approved.text
        answers.append(approved.text)
        for user in ("dpo_a", "analyst_a"):
            answers.append(self.call("GET", f"/releases/{rid}", user).text)
            answers.append(self.call("GET", "/releases", user).text)
        for name in (*approved.json()["files"], "release.json"):
            answers.append(self.call("GET", f"/releases/{rid}/files/{name}", "analyst_a").text)
        return rid, answers


@pytest.fixture(scope="module")
def served(tmp_path_factory, stats_store):
    world = Served(tmp_path_factory.mktemp("policy"), stats_store)
    yield world
    world.svc.close()


POLICIES = st.fixed_dictionaries({
    "k": st.integers(K_FLOOR, 40),
    "max_suppression": st.sampled_from([0.0, 0.02, 0.1, 0.3]),
    "quasi_identifiers": st.lists(st.sampled_from(RELEASABLE), min_size=1, max_size=4, unique=True).map(
        lambda extra: list(dict.fromkeys([*DEFAULT_QUASI_IDENTIFIERS, *extra]))),
})
ANY_FIELD = st.sampled_from(RECORD_FIELDS + ("victim_name", "contact", "narrative", "case_id", "nonsense"))
PLAUSIBLE = st.fixed_dictionaries({}, optional={
    "k": st.one_of(st.integers(K_FLOOR, 40), st.integers(2, 60)),
    "max_suppression": st.one_of(st.floats(0, 0.3), st.sampled_from([0.0, 1.0])),
    "attributes": st.lists(st.sampled_from(RELEASABLE), max_size=8),
})
HOSTILE = st.fixed_dictionaries({}, optional={
    "k": st.one_of(st.integers(-5, 60), st.booleans(), st.text(max_size=3), st.none(), st.floats()),
    "max_suppression": st.one_of(st.floats(), st.integers(-1, 2), st.text(max_size=2)),
    "attributes": st.one_of(st.lists(ANY_FIELD, max_size=8), st.text(max_size=5)),
    "quasi_identifiers": st.lists(ANY_FIELD, max_size=3),
    "epsilon": st.floats(0.01, 1),
    "columns": st.just(["victim_name"]),
})
REQUESTS = st.one_of(PLAUSIBLE, PLAUSIBLE, PLAUSIBLE, HOSTILE)


@PROPERTY
@given(policy=POLICIES, request=REQUESTS)
def test_any_request_publishes_at_least_k_of_every_policy_quasi_identifier_combination(served, policy, request):
    assert served.call("PATCH", "/datasets/OrgA/policy", "dpo_a", policy).status_code == 200
    rid, _ = served.publish("k-anonymised", request)
    event("published" if rid else "refused")
    if rid is None:
        return
    released = pd.read_csv(io.StringIO(served.call("GET", f"/releases/{rid}/files/microdata.csv", "analyst_a").text),
                           dtype=str, keep_default_na=False)
    assert not set(released.columns) & NEVER_RELEASED
    assert len(released) >= N_RECORDS * (1 - policy["max_suppression"])
    for qis in (policy["quasi_identifiers"],
                [c for c in released.columns if c in KNOWN_QUASI_IDENTIFIERS or c in policy["quasi_identifiers"]]):
        assert released.groupby(qis).size().min() >= policy["k"]


DP_REQUESTS = st.fixed_dictionaries({"epsilon": st.floats(0.05, 2)}, optional={
    "mechanism": st.sampled_from(["laplace", "laplace", "gaussian"]),
    "delta": st.sampled_from([0.0, 1e-7, 1e-6, 1e-6]),
    "tables": st.lists(st.lists(st.sampled_from(["country", "citizenship", "year", "sex", "age_band",
                                                 "exploitation_type"] * 3 + ["shoe_size"]), min_size=1, max_size=2,
                                unique=True), min_size=1, max_size=3),
    "years": st.sampled_from([[2002, 2022], [2015, 2020], [1990, 2100]]),
})


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(["dp-aggregates", "synthetic"]), request=DP_REQUESTS)
def test_no_dp_or_synthetic_answer_contains_its_secret(served, kind, request):
    served.call("PATCH", "/datasets/OrgA/policy", "dpo_a", {"epsilon_budget": 100, "epsilon_per_release": 1.5})
    if kind == "synthetic":
        request.pop("tables", None)
    rid, answers = served.publish(kind, request)
    event("published" if rid else "refused")
    if rid is None:
        return
    sealed = served.svc.store.query("SELECT secret FROM releases WHERE release_id = ?", [rid])[0][0]
    secret = served.svc.keyring.decrypt_bytes(bytes(sealed))
    text = "\n".join(answers)
    forms = [secret.hex(), base64.b64encode(secret).decode().rstrip("="),
             base64.urlsafe_b64encode(secret).decode().rstrip("="), str(int.from_bytes(secret, "big")),
             str(int.from_bytes(secret[:8], "little")), bytes(sealed).decode(errors="replace")[:40]]
    leaked = [form for form in forms if form in text]
    assert leaked == []
    assert json.loads(answers[2])["epsilon"] <= request["epsilon"] + 1e-9


def test_a_policy_below_the_floor_or_malformed_is_refused(served):
    for changes in ({"k": 10}, {"k": 11.5}, {"max_suppression": 0.9}, {"quasi_identifiers": ["victim_name"]},
                    {"quasi_identifiers": []}, {"epsilon_budget": float("inf")}, {"colour": "red"},
                    {"epsilon_per_release": 5, "epsilon_budget": 1}):
        response = served.call("PATCH", "/datasets/OrgA/policy", "dpo_a", changes)
        assert response.status_code == 400, changes
    assert validated({}) == ReleasePolicy()


def test_a_policy_change_is_audited_with_old_and_new_values_and_binds_pending_requests(served):
    served.call("PATCH", "/datasets/OrgA/policy", "dpo_a", {"k": 11, "max_suppression": 0.1,
                                                            "quasi_identifiers": list(DEFAULT_QUASI_IDENTIFIERS)})
    rid = served.call("POST", "/releases", "analyst_a", {"kind": "k-anonymised", "parameters": {"k": 12}}
                      ).json()["release_id"]
    served.call("PATCH", "/datasets/OrgA/policy", "dpo_a", {"k": 25})
    row = served.svc.store.query("SELECT actor, detail FROM audit_log WHERE action = 'policy:set' ORDER BY seq DESC "
                                 "LIMIT 1")[0]
    detail = json.loads(row[1])
    assert row[0] == "dpo_a" and (detail["old"]["k"], detail["new"]["k"]) == (11, 25)
    preview = served.call("GET", f"/releases/{rid}/preview", "dpo_a")
    assert preview.status_code == 400 and "below the dataset's policy" in preview.json()["error"]["message"]


def test_a_preview_outdated_by_new_records_is_not_approved(served, tmp_path):
    served.call("PATCH", "/datasets/OrgA/policy", "dpo_a", {"k": 11})
    rid = served.call("POST", "/releases", "dpo_a", {"kind": "k-anonymised"}).json()["release_id"]
    digest = served.call("GET", f"/releases/{rid}/preview", "dpo_a").json()["preview_digest"]
    path = tmp_path / "more.csv"
    as_text(generate_cases(20, seed=77, organisations=("OrgA",))).to_csv(path, index=False)
    served.svc.import_file(principal(served.svc, "fo_a"), path)
    stale = served.call("POST", f"/releases/{rid}/approve", "dpo_a", {"confirm": digest})
    assert stale.status_code == 409 and stale.json()["error"]["type"] == "preview-mismatch"
    assert not (served.svc.settings.release_dir / rid).exists()
    fresh = served.call("GET", f"/releases/{rid}/preview", "dpo_a").json()["preview_digest"]
    assert served.call("POST", f"/releases/{rid}/approve", "dpo_a", {"confirm": fresh}).status_code == 200
