"""Identifying fields encrypted at rest, key rotation without downtime, encrypted backups."""

import threading

import pytest

from imdx.cases.crypto import Keyring, new_key, restore_backup
from imdx.cases.db import CaseStore
from imdx.cases.errors import CaseConfigError, DecryptionError
from imdx.cases.generator import as_text, generate_cases
from imdx.cases.service import CaseService
from imdx.cases.settings import CaseSettings

from .conftest import make_env, populate, principal


def _import(svc, tmp_path, n=40, seed=1):
    records = generate_cases(n, seed=seed, organisations=("OrgA",))
    as_text(records).to_csv(tmp_path / f"in{seed}.csv", index=False)
    sub = svc.import_file(principal(svc, "fo_a"), tmp_path / f"in{seed}.csv")
    return records, sub


def test_settings_refuse_to_start_without_keys(tmp_path):
    env = make_env(tmp_path)
    del env["IMDX_CASES_KEYS"]
    with pytest.raises(CaseConfigError, match="IMDX_CASES_KEYS"):
        CaseSettings.from_env(env)
    with pytest.raises(CaseConfigError, match="not a Fernet key"):
        Keyring(["not-a-key"])


def test_identifying_fields_never_reach_the_database_file_in_clear(tmp_path, service):
    records, _ = _import(service, tmp_path)
    service.store.con.execute("CHECKPOINT")
    service.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cases.duckdb*"))
    for value in records["victim_name"].tolist() + records["contact"].tolist():
        assert value.encode() not in raw
    assert records["case_reference"].iloc[0].encode() in raw      # the check itself can find clear text


def test_rotation_without_downtime(tmp_path):
    old = new_key()
    env = make_env(tmp_path, keys=[old])
    svc = CaseService.from_env(env)
    populate(svc)
    records, sub = _import(svc, tmp_path)
    svc.close()
    new = new_key()
    # step 1: new key first, old key kept: old records are still readable, new ones use the new key
    svc = CaseService.from_env({**env, "IMDX_CASES_KEYS": f"{new},{old}"})
    fo = principal(svc, "fo_a")
    assert svc.read_case(fo, sub.case_ids[0])["victim_name"] == records["victim_name"].iloc[0]
    reads, errors = [], []

    def keep_reading():
        try:
            for cid in sub.case_ids * 3:
                reads.append(svc.read_case(fo, cid)["victim_name"])
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    reader = threading.Thread(target=keep_reading)
    reader.start()
    rotated = svc.rotate_keys(principal(svc, "admin"), batch=7)     # step 2, while reads go on
    reader.join()
    assert rotated == 40 and not errors and len(reads) == 120
    assert svc.rotate_keys(principal(svc, "admin")) == 0
    svc.close()
    # step 3: the old key is removed; everything still reads
    svc = CaseService.from_env({**env, "IMDX_CASES_KEYS": new})
    fo = principal(svc, "fo_a")
    names = [svc.read_case(fo, cid)["victim_name"] for cid in sub.case_ids]
    assert names == records["victim_name"].tolist()
    svc.close()
    # and a database read with only the old key fails loudly, naming what to do
    svc = CaseService.from_env({**env, "IMDX_CASES_KEYS": old})
    with pytest.raises(DecryptionError, match="IMDX_CASES_KEYS"):
        svc.read_case(principal(svc, "fo_a"), sub.case_ids[0])
    svc.close()


def test_backups_stay_encrypted_and_restore(tmp_path, service):
    records, _ = _import(service, tmp_path)
    dest = service.backup(principal(service, "admin"), tmp_path / "cases.backup")
    blob = dest.read_bytes()
    assert b"DUCK" not in blob and records["case_reference"].iloc[0].encode() not in blob
    restored = restore_backup(dest, tmp_path / "restored.duckdb", service.keyring)
    store = CaseStore(restored)
    assert store.query("SELECT count(*) FROM cases")[0][0] == 40
    store.close()
    with pytest.raises(DecryptionError):
        restore_backup(dest, tmp_path / "other.duckdb", Keyring([new_key()]))


def test_only_administrators_rotate_keys_and_write_backups(tmp_path, service):
    from imdx.cases.errors import AccessDenied
    for user in ("fo_a", "dpo_a", "analyst_a", "partner_b"):
        with pytest.raises(AccessDenied):
            service.rotate_keys(principal(service, user))
        with pytest.raises(AccessDenied):
            service.backup(principal(service, user), tmp_path / "x.backup")
    assert not (tmp_path / "x.backup").exists()
