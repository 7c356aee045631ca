"""Fixtures of the case-database tests. No real victim record is ever used: only the generator
and CTDC's published synthetic file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imdx.cases.crypto import new_key
from imdx.cases.service import CaseService

CTDC_DIR = Path(os.environ.get("IMDX_MIRROR", Path(__file__).resolve().parents[3] / "shared" / "data")) / "ctdc"
CTDC_VP_FILE = CTDC_DIR / "vp_synthetic_20221201" / "CTDC_VPsynthetic_condensed.csv"
CTDC_VP_DICT = CTDC_DIR / "vp_synthetic_20221201" / "CTDC_VPsynthetic_dict_20221201.xlsx"

PASSWORDS = {
    "admin": "admin-password-0001",
    "fo_a": "field-officer-a-pass", "fo_b": "field-officer-b-pass",
    "dpo_a": "protection-officer-a", "analyst_a": "analyst-a-password",
    "partner_b": "partner-b-password",
}
ROLES_OF = {"fo_a": ("OrgA", "field_officer"), "fo_b": ("OrgB", "field_officer"),
            "dpo_a": ("OrgA", "data_protection_officer"), "analyst_a": ("OrgA", "analyst"),
            "partner_b": ("OrgB", "partner_agency")}


def make_env(tmp: Path, keys: list[str] | None = None, budget: str = "3.0") -> dict[str, str]:
    return {"IMDX_CASES_DB": str(tmp / "cases.duckdb"), "IMDX_CASES_RELEASES": str(tmp / "releases"),
            "IMDX_CASES_KEYS": ",".join(keys or [new_key()]), "IMDX_CASES_AUDIT_KEY": "audit-" + "x" * 32,
            "IMDX_CASES_FINGERPRINT_KEY": "fp-" + "y" * 32, "IMDX_CASES_EPSILON_BUDGET": budget,
            "IMDX_CASES_ARGON2_COST": "1,8192"}   # cheaper hashing keeps the tests fast


def populate(svc: CaseService) -> None:
    """Administrator, two organisations and one user of every role."""
    svc.bootstrap("admin", PASSWORDS["admin"], "Platform")
    admin = svc.principal(svc.login("admin", PASSWORDS["admin"]))
    for org in ("OrgA", "OrgB"):
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
    return svc.principal(svc.login(user, PASSWORDS[user]))
