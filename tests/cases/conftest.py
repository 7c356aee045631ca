"""Fixtures of the case-database tests. No real victim record is ever used: only the generator
and CTDC's published synthetic file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from imdx.cases.crypto import new_key
from imdx.cases.releases import publish
from imdx.cases.service import CaseService

CTDC_DIR = Path(os.environ.get("IMDX_MIRROR", Path(__file__).resolve().parents[3] / "shared" / "data")) / "ctdc"
CTDC_VP_FILE = CTDC_DIR / "vp_synthetic_20221201" / "CTDC_VPsynthetic_condensed.csv"
CTDC_VP_DICT = CTDC_DIR / "vp_synthetic_20221201" / "CTDC_VPsynthetic_dict_20221201.xlsx"

#: one user of every role in two organisations, an administrator of the organisation running the database
ROLES_OF = {"fo_a": ("OrgA", "field_officer"), "dpo_a": ("OrgA", "data_protection_officer"),
            "analyst_a": ("OrgA", "analyst"), "partner_a": ("OrgA", "partner_agency"),
            "fo_b": ("OrgB", "field_officer"), "dpo_b": ("OrgB", "data_protection_officer"),
            "analyst_b": ("OrgB", "analyst"), "partner_b": ("OrgB", "partner_agency")}
PASSWORDS = {"admin": "admin-password-0001", **{user: f"{user}-password-0001" for user in ROLES_OF}}
ORGANISATIONS = ("OrgA", "OrgB", "OrgC")


def make_env(tmp: Path, keys: list[str] | None = None) -> dict[str, str]:
    return {"IMDX_CASES_DB": str(tmp / "cases.duckdb"), "IMDX_CASES_RELEASES": str(tmp / "releases"),
            "IMDX_CASES_CHECKPOINTS": str(tmp / "checkpoints" / "audit.jsonl"),
            "IMDX_CASES_KEYS": ",".join(keys or [new_key()]), "IMDX_CASES_AUDIT_KEY": new_key(),
            "IMDX_CASES_FINGERPRINT_KEY": new_key(),
            "IMDX_CASES_ARGON2_COST": "1,8192"}   # cheaper hashing keeps the tests fast


def populate(svc: CaseService) -> None:
    """The administrator, three organisations and the users of :data:`ROLES_OF`."""
    svc.bootstrap("admin", PASSWORDS["admin"], "Platform")
    admin = principal(svc, "admin")
    for org in ORGANISATIONS:
        svc.add_organisation(admin, org)
    for user, (org, role) in ROLES_OF.items():
        svc.add_user(admin, user, PASSWORDS[user], org, role)


@pytest.fixture
def env(tmp_path):
    return make_env(tmp_path)


@pytest.fixture
def service(env):
    svc = CaseService.from_env(env)
    populate(svc)
    yield svc
    svc.close()


def principal(svc: CaseService, user: str):
    return svc.principal(svc.login(user, PASSWORDS[user]).access_token)


def set_policy(svc: CaseService, dpo_user: str = "dpo_a", **changes):
    return svc.set_policy(principal(svc, dpo_user), changes)


def approve(svc: CaseService, dpo, release_id: str) -> dict:
    """Preview, then approve what was previewed (what a DPO does)."""
    preview = publish.preview_release(svc, dpo, release_id)
    return publish.approve_release(svc, dpo, release_id, preview["preview_digest"])


def submit(svc: CaseService, who, record: dict) -> str:
    """Submit one record through the service as the API does; its case id."""
    status, body, _ = svc.submit_record(who, record)
    assert status == 201, body
    return json.loads(body)["case_id"]


@pytest.fixture(scope="session")
def stats_store(tmp_path_factory, mirror):
    """A small statistics store (the M49 area table only) for the app `imdx serve` runs."""
    from imdx.config import settings
    from imdx.load import load
    from imdx.store.duckdb_store import DuckDBStore

    path = tmp_path_factory.mktemp("stats") / "imdx.duckdb"
    with DuckDBStore(path) as store:
        load(store, settings(mirror=str(mirror), db=str(path)), ["m49"])
    return path


def served_client(app, address: str = "testclient"):
    """A client of ``app`` (the app ``imdx serve`` runs) whose requests come from ``address``."""
    from fastapi.testclient import TestClient

    return TestClient(app, client=(address, 50000), raise_server_exceptions=False)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
