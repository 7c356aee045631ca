"""A public release of the case database becomes dataflow trafficking_victims in the statistics store."""

from __future__ import annotations

import uuid

import pytest

from imdx.cases.errors import AccessDenied, ReleaseError
from imdx.cases.generator import as_text, generate_cases
from imdx.cases.releases import publish
from imdx.cases.releases.to_store import store_release
from imdx.cases.service import CaseService
from imdx.config import settings
from imdx.load import load
from imdx.query import query
from imdx.store.duckdb_store import DuckDBStore

from .conftest import approve, make_env, populate, principal, set_policy


@pytest.fixture
def svc(tmp_path):
    service = CaseService.from_env(make_env(tmp_path))
    populate(service)
    set_policy(service, epsilon_budget=2.0)
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    as_text(generate_cases(800, seed=5, organisations=("OrgA",))).to_csv(path, index=False)
    service.import_file(principal(service, "fo_a"), path)
    yield service
    service.close()


def test_public_dp_release_is_queryable_from_the_store(svc, tmp_path, mirror):
    dpo = principal(svc, "dpo_a")
    rid = publish.request_release(svc, dpo, "dp-aggregates", {"epsilon": 0.5}, audience="public")
    approve(svc, dpo, rid)
    with DuckDBStore(tmp_path / "stats.duckdb") as store:
        load(store, settings(mirror=str(mirror)), ["m49"])
        with pytest.raises(AccessDenied):
            store_release(svc, principal(svc, "analyst_a"), rid, store)
        with pytest.raises(AccessDenied) as other:          # another organisation's DPO: not theirs to store
            store_release(svc, principal(svc, "dpo_b"), rid, store)
        assert other.value.status == 404
        store_id = store_release(svc, dpo, rid, store)
        frame = query(store, "trafficking_victims")
        assert len(frame) > 0 and set(frame["release_id"]) == {store_id}
        assert set(frame["obs_status"]) == {"E"} and (frame["value"] >= 0).all()
        assert frame["edition"].iloc[0] == rid
        by_country = frame[(frame["table"] == "victims_by_country_year") & (frame["country"] != "_U")]
        assert by_country["country"].isin(store.areas().frame.index).all()
        with pytest.raises(ReleaseError, match="in the store already"):
            store_release(svc, dpo, rid, store)


def test_internal_release_never_goes_to_the_store(svc, tmp_path, mirror):
    dpo = principal(svc, "dpo_a")
    rid = publish.request_release(svc, dpo, "dp-aggregates", {"epsilon": 0.5}, audience="internal")
    approve(svc, dpo, rid)
    with DuckDBStore(tmp_path / "stats.duckdb") as store:
        load(store, settings(mirror=str(mirror)), ["m49"])
        with pytest.raises(ReleaseError, match="only a published release for the public"):
            store_release(svc, dpo, rid, store)
        assert "cases" not in set(store.releases()["source"])
