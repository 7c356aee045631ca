"""Releases: k-anonymity proved, budget never exceeded, nothing identifying ever published."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from imdx.cases.errors import AccessDenied, BudgetExceeded, ReleaseError
from imdx.cases.generator import as_text, generate_cases
from imdx.cases.releases import ledger, publish
from imdx.cases.releases.dp import dp_tables
from imdx.cases.releases.kanon import (
    ALLOWED_QUASI_IDENTIFIERS,
    DEFAULT_QUASI_IDENTIFIERS,
    k_anonymise,
    verify_k_anonymity,
)
from imdx.cases.releases.observations import COLUMNS, observation_tables
from imdx.cases.releases.synthetic import synthesise
from imdx.cases.service import CaseService

from .conftest import approve, make_env, populate, principal, set_policy

SLOW = settings(max_examples=12, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@SLOW
@given(n=st.integers(0, 3000), seed=st.integers(0, 2**31), k=st.integers(2, 25),
       qis=st.lists(st.sampled_from(ALLOWED_QUASI_IDENTIFIERS), min_size=1, max_size=6, unique=True),
       max_suppression=st.sampled_from([0.0, 0.01, 0.05, 0.2]))
def test_every_k_anonymised_release_passes_the_verifier(n, seed, k, qis, max_suppression):
    records = generate_cases(n, seed=seed, identifying=False)
    if 0 < n < k:                          # even fully generalised, every record would be suppressed
        with pytest.raises(ReleaseError, match="too small"):
            k_anonymise(records, k=k, quasi_identifiers=tuple(qis), max_suppression=max_suppression)
        return
    result = k_anonymise(records, k=k, quasi_identifiers=tuple(qis), max_suppression=max_suppression,
                         rng=np.random.default_rng(seed))
    assert set(qis) <= set(result.quasi_identifiers)
    assert len(verify_k_anonymity(result.frame, result.quasi_identifiers, k)) == 0
    assert len(result.frame) + result.n_suppressed == n
    if len(result.frame):
        assert result.frame.groupby(list(qis)).size().min() >= k


def test_the_verifier_catches_a_release_that_is_not_k_anonymous():
    result = k_anonymise(generate_cases(2000, seed=1, identifying=False), k=11)
    broken = pd.concat([result.frame, result.frame.iloc[[0]].assign(gender="Trans/Transgender/NonConforming",
                                                                    age_band="0—8")])
    report = verify_k_anonymity(broken, DEFAULT_QUASI_IDENTIFIERS, 11)
    assert [i.type for i in report] == ["k-anonymity-violated"]
    leaking = verify_k_anonymity(result.frame.assign(victim_name="x"), DEFAULT_QUASI_IDENTIFIERS, 11)
    assert "identifying-field-in-release" in {i.type for i in leaking}


def test_suppression_is_reported():
    result = k_anonymise(generate_cases(3000, seed=2, identifying=False), k=11, max_suppression=0.02)
    report = result.suppression_report
    assert report["records_in"] == 3000
    assert report["records_suppressed"] == 3000 - report["records_released"]
    assert report["share_suppressed"] <= 0.02
    assert report["smallest_class"] >= 11


@pytest.fixture(scope="module")
def ledger_store(tmp_path_factory):
    svc = CaseService.from_env(make_env(tmp_path_factory.mktemp("ledger")))
    yield svc.store
    svc.close()


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.floats(0.1, 10), asks=st.lists(st.floats(1e-6, 5, allow_nan=False), min_size=1, max_size=25))
@example(budget=0.85, asks=[0.5, 0.17, 0.18])  # fsum of all is 0.85; 0.67 rounded, plus 0.18, was not
def test_the_ledger_never_lets_cumulative_epsilon_pass_the_budget(ledger_store, budget, asks):
    dataset, granted = uuid.uuid4().hex, []
    for eps in asks:
        would = math.fsum([*granted, eps])
        try:
            ledger.charge(ledger_store, dataset, uuid.uuid4().hex, eps, 0.0, budget)
            granted.append(eps)
            assert would <= budget
        except BudgetExceeded:
            assert would > budget
        spent, _ = ledger.spent(ledger_store, dataset)
        assert spent <= budget
        assert spent == pytest.approx(math.fsum(granted))


def test_the_ledger_refuses_invalid_charges(ledger_store):
    for eps in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(BudgetExceeded):
            ledger.charge(ledger_store, "d", "r", eps, 0.0, 10.0)


@pytest.fixture
def releasing(tmp_path):
    svc = CaseService.from_env(make_env(tmp_path))
    populate(svc)
    set_policy(svc, epsilon_budget=1.0, epsilon_per_release=1.0)
    yield svc
    svc.close()


def _load(svc, tmp_path, records):
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    as_text(records).to_csv(path, index=False)
    return svc.import_file(principal(svc, "fo_a"), path)


def test_dp_releases_stop_at_the_budget_and_nothing_is_published_when_refused(tmp_path, releasing):
    _load(releasing, tmp_path, generate_cases(500, seed=3, organisations=("OrgA",)))
    dpo = principal(releasing, "dpo_a")
    first = publish.request_release(releasing, dpo, "dp-aggregates", {"epsilon": 0.6})
    approve(releasing, dpo, first)
    second = publish.request_release(releasing, dpo, "synthetic", {"epsilon": 0.6})
    with pytest.raises(BudgetExceeded, match="0.4 left"):
        approve(releasing, dpo, second)
    assert not (Path(releasing.settings.release_dir) / second).exists()
    assert publish.release_info(releasing, dpo, second)["status"] == "pending"
    third = publish.request_release(releasing, dpo, "synthetic", {"epsilon": 0.4})
    approve(releasing, dpo, third)
    assert ledger.spent(releasing.store, "OrgA")[0] == pytest.approx(1.0)


def test_only_a_dpo_approves_and_releases_are_recorded_and_reproducible(tmp_path, releasing):
    _load(releasing, tmp_path, generate_cases(800, seed=4, organisations=("OrgA",)))
    analyst, dpo = principal(releasing, "analyst_a"), principal(releasing, "dpo_a")
    rid = publish.request_release(releasing, analyst, "k-anonymised", {"k": 11}, audience="internal")
    with pytest.raises(AccessDenied) as denied:
        publish.preview_release(releasing, analyst, rid)
    assert denied.value.status == 403
    with pytest.raises(AccessDenied) as denied:
        publish.approve_release(releasing, analyst, rid, "0" * 64)
    assert denied.value.status == 403
    approve(releasing, dpo, rid)
    info = publish.release_info(releasing, dpo, rid)
    assert info["parameters"]["k"] == 11 and info["report"]["requested"] == {"k": 11}
    assert set(info["parameters"]["quasi_identifiers"]) >= set(DEFAULT_QUASI_IDENTIFIERS)
    assert not {"seed", "secret"} & set(info)
    assert info["report"]["suppression"]["k"] == 11 and info["report"]["data_digest"].startswith("800:")
    assert publish.reproduce_release(releasing, dpo, rid)
    published = pd.read_csv(Path(releasing.settings.release_dir) / rid / "microdata.csv", dtype=str,
                            keep_default_na=False)
    assert len(published) == info["report"]["suppression"]["records_released"]
    assert len(verify_k_anonymity(published, info["parameters"]["quasi_identifiers"], 11)) == 0
    manifest = json.loads((Path(releasing.settings.release_dir) / rid / "release.json").read_text())
    assert "seed" not in json.dumps(manifest) and manifest["approved_by_role"] == "data_protection_officer"
    _load(releasing, tmp_path, generate_cases(5, seed=5, organisations=("OrgA",)))
    with pytest.raises(ReleaseError, match="records changed"):
        publish.reproduce_release(releasing, dpo, rid)


def test_release_parameters_cannot_ask_for_identifying_fields(tmp_path, releasing):
    _load(releasing, tmp_path, generate_cases(100, seed=6, organisations=("OrgA",)))
    dpo = principal(releasing, "dpo_a")
    for field in ("victim_name", "organisation", "case_reference", "no_such_field"):
        with pytest.raises(ReleaseError, match="never be released"):
            publish.request_release(releasing, dpo, "k-anonymised", {"attributes": [field]})
    with pytest.raises(ReleaseError, match="unknown parameters"):
        publish.request_release(releasing, dpo, "k-anonymised", {"columns": ["contact"]})


NAMES = st.from_regex(r"\A[A-Z][a-z]{3,9} [A-Z][a-z]{3,12}[0-9]{2}\Z")
CONTACTS = st.from_regex(r"\A\+[0-9]{11}\Z")
NARRATIVES = st.from_regex(r"\A[A-Z][a-z]{4,9} said the recruiter [A-Z][a-z]{4,9} kept the passport\Z")


@settings(max_examples=6, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), names=st.lists(NAMES, min_size=30, max_size=30, unique=True),
       contacts=st.lists(CONTACTS, min_size=30, max_size=30), narratives=st.lists(NARRATIVES, min_size=30,
                                                                                  max_size=30))
def test_no_identifying_value_appears_in_any_release_file(tmp_path_factory, seed, names, contacts, narratives):
    tmp = tmp_path_factory.mktemp("leak")
    svc = CaseService.from_env(make_env(tmp))
    try:
        populate(svc)
        set_policy(svc, epsilon_budget=10)
        records = generate_cases(400, seed=seed, organisations=("OrgA",))
        rows = np.random.default_rng(seed).choice(400, size=30, replace=False)
        records.loc[rows, "victim_name"] = names
        records.loc[rows, "contact"] = contacts
        records.loc[rows, "narrative"] = narratives
        sub = _load(svc, tmp, records)
        dpo = principal(svc, "dpo_a")
        for kind, params in (("k-anonymised", {"k": 11}), ("dp-aggregates", {"epsilon": 1.0}),
                             ("synthetic", {"epsilon": 1.0})):
            approve(svc, dpo, publish.request_release(svc, dpo, kind, params))
        published = [p for p in Path(svc.settings.release_dir).rglob("*") if p.is_file()]
        assert len(published) >= 8
        text = "\n".join(p.read_text() for p in published)
        secrets = [*records["victim_name"], *records["contact"], *records["narrative"], *records["case_reference"],
                   *sub.case_ids]
        assume(all(isinstance(s, str) for s in secrets))
        leaked = [s for s in secrets if s in text]
        assert leaked == []
    finally:
        svc.close()


def test_dp_tables_are_reproducible_with_their_secret_and_noisy():
    records = generate_cases(3000, seed=7, identifying=False)
    a = dp_tables(records, epsilon=0.5, secret=b"a" * 32)
    b = dp_tables(records, epsilon=0.5, secret=b"a" * 32)
    c = dp_tables(records, epsilon=0.5, secret=b"b" * 32)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert any(not a.tables[n]["value"].equals(c.tables[n]["value"]) for n in a.tables)
    assert a.epsilon == pytest.approx(0.5) and a.scale == pytest.approx(10.0)   # 5 tables x epsilon 0.1
    sex_age = a.tables["victims_by_sex_age_band"]
    assert len(sex_age) == 4 * 10                                                  # full public domain
    assert abs(sex_age["value"].sum() - 3000) < 400


def test_gaussian_tables_account_for_delta():
    records = generate_cases(1000, seed=8, identifying=False)
    result = dp_tables(records, epsilon=1.0, delta=1e-6, mechanism="gaussian", tables=[("sex", "age_band")],
                       secret=b"s" * 32)
    assert result.epsilon <= 1.0 + 1e-9 and result.delta == pytest.approx(1e-6)
    with pytest.raises(ReleaseError, match="delta"):
        dp_tables(records, epsilon=1.0, mechanism="gaussian", secret=b"s" * 32)


def test_synthetic_data_preserves_distributions_and_reports_risk():
    records = generate_cases(20000, seed=9, identifying=False)
    result = synthesise(records, epsilon=2.0, secret=b"1" * 32)
    assert abs(len(result.frame) - 20000) < 1000
    assert result.utility["one_way_tvd"]["sex"] < 0.03
    assert result.utility["two_way_tvd"]["sex|age_band"] < 0.05
    assert set(result.frame.columns) == {"country", "citizenship", "year", "sex", "age_band", "exploitation_type"}
    risk = result.disclosure_risk
    assert 0 <= risk["share_matching_a_real_unique"] <= risk["share_matching_a_real_combination"] <= 1
    again = synthesise(records, epsilon=2.0, secret=b"1" * 32)
    pd.testing.assert_frame_equal(result.frame, again.frame)


def test_observation_tables_of_every_kind(tmp_path, releasing):
    _load(releasing, tmp_path, generate_cases(600, seed=10, organisations=("OrgA",)))
    dpo = principal(releasing, "dpo_a")
    for kind, params in (("k-anonymised", {}), ("dp-aggregates", {"epsilon": 0.3}), ("synthetic", {"epsilon": 0.3})):
        rid = publish.request_release(releasing, dpo, kind, params)
        approve(releasing, dpo, rid)
        obs = observation_tables(Path(releasing.settings.release_dir) / rid)
        assert list(obs.columns) == list(COLUMNS)
        assert (obs["dataflow"] == "trafficking_victims").all() and (obs["release_id"] == rid).all()
        assert obs["value"].ge(0).all() and obs["value"].dtype.kind == "i"
        if kind == "dp-aggregates":
            by_sex = obs[obs["table"] == "victims_by_sex_age_band"]
            assert (by_sex["country"] == "_T").all() and set(by_sex["sex"]) >= {"Man", "Woman", "_U"}
        else:
            assert obs["value"].sum() > 0


@pytest.mark.parametrize("kind,params,expected", [
    ("synthetic", {"epsilon": "lots"}, "epsilon must be"),
    ("dp-aggregates", {"epsilon": -1}, "epsilon must be"),
    ("dp-aggregates", {"epsilon": 0.5, "mechanism": "rot13"}, "mechanism must be"),
    ("dp-aggregates", {"epsilon": 0.5, "tables": [["country", 3]]}, "tables must be"),
    ("k-anonymised", {"k": 1}, "k must be"),
    ("k-anonymised", {"k": 10}, "below the dataset's policy"),
    ("k-anonymised", {"max_suppression": 0.5}, "above the dataset's policy"),
    ("k-anonymised", {"quasi_identifiers": ["gender"]}, "cannot choose them"),
    ("dp-aggregates", {"epsilon": 2.0}, "above the dataset's policy"),
    ("k-anonymised", {"k": True}, "k must be"),
    ("dp-aggregates", {}, "needs an epsilon"),
    ("census", {}, "unknown release kind"),
])
def test_malformed_release_parameters_are_refused_when_requested(releasing, kind, params, expected):
    with pytest.raises(ReleaseError, match=expected):
        publish.request_release(releasing, principal(releasing, "dpo_a"), kind, params)
    assert releasing.store.query("SELECT count(*) FROM releases")[0][0] == 0


def test_overlapping_datasets_share_one_budget_per_person(ledger_store):
    store, budget = ledger_store, 1.0
    store.con.execute("DELETE FROM budget_ledger")
    ledger.charge(store, "OrgA", "r1", 0.6, 0.0, budget)
    with pytest.raises(BudgetExceeded):
        ledger.charge(store, "all", "r2", 0.6, 0.0, budget)      # OrgA's people would reach 1.2
    ledger.charge(store, "all", "r3", 0.4, 0.0, budget)
    ledger.charge(store, "OrgB", "r4", 0.5, 0.0, budget)          # OrgB: 0.4 + 0.5
    with pytest.raises(BudgetExceeded):
        ledger.charge(store, "OrgA", "r5", 0.1, 0.0, budget)      # OrgA: 0.4 + 0.6 + 0.1
    assert ledger.spent(store, "OrgA")[0] == pytest.approx(1.0)
    assert ledger.spent(store, "all")[0] == pytest.approx(1.0)
    assert ledger.spent(store, "OrgC")[0] == pytest.approx(0.4)
    store.con.execute("DELETE FROM budget_ledger")
