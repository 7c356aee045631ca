"""A case database written by the first version (schema 1) opens with this one: its release seeds are sealed,
its old tokens revoked, and nothing else is lost."""

from __future__ import annotations

import duckdb

from imdx.cases.service import CaseService

from .conftest import make_env

#: the tables of schema 1 that schema 2 changed, as the first version created them
SCHEMA_1 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
INSERT INTO meta VALUES ('schema', '1');
CREATE TABLE organisations (name VARCHAR PRIMARY KEY, created_at TIMESTAMP);
INSERT INTO organisations VALUES ('Platform', now());
CREATE TABLE users (username VARCHAR PRIMARY KEY, organisation VARCHAR NOT NULL, role VARCHAR NOT NULL,
  password_hash VARCHAR NOT NULL, active BOOLEAN NOT NULL, created_at TIMESTAMP);
INSERT INTO users VALUES ('admin', 'Platform', 'administrator', 'x', TRUE, now());
CREATE TABLE tokens (token_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, expires_at TIMESTAMP NOT NULL,
  revoked BOOLEAN NOT NULL);
INSERT INTO tokens VALUES ('abc', 'admin', now() + INTERVAL 1 DAY, FALSE);
CREATE TABLE releases (release_id VARCHAR PRIMARY KEY, kind VARCHAR, dataset VARCHAR, status VARCHAR,
  audience VARCHAR, requested_by VARCHAR, requested_at TIMESTAMP, approved_by VARCHAR, approved_at TIMESTAMP,
  parameters VARCHAR, seed BIGINT, epsilon DOUBLE, delta DOUBLE, files VARCHAR, report VARCHAR);
INSERT INTO releases (release_id, kind, dataset, status, audience, parameters, seed)
  VALUES ('0123456789abcdef0123456789abcdef', 'dp-aggregates', 'all', 'published', 'public', '{}', 4389636577581589513);
CREATE TABLE release_shares (release_id VARCHAR, organisation VARCHAR);
CREATE TABLE budget_ledger (dataset VARCHAR, release_id VARCHAR, epsilon DOUBLE, delta DOUBLE, charged_at TIMESTAMP);
INSERT INTO budget_ledger VALUES ('all', '0123456789abcdef0123456789abcdef', 0.5, 0, now());
"""


def test_a_schema_1_database_is_brought_to_schema_2(tmp_path):
    env = make_env(tmp_path)
    con = duckdb.connect(env["IMDX_CASES_DB"])
    con.execute(SCHEMA_1)
    con.close()
    svc = CaseService.from_env(env)
    try:
        columns = {r[0] for r in svc.store.query("SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_name = 'releases'")}
        assert "seed" not in columns and "secret" in columns
        sealed = svc.store.query("SELECT secret FROM releases")[0][0]
        assert svc.keyring.decrypt_bytes(bytes(sealed)) == b"4389636577581589513"
        assert svc.store.query("SELECT revoked FROM tokens")[0][0] is True
        assert svc.store.query("SELECT value FROM meta WHERE key = 'schema'")[0][0] == "2"
        assert svc.store.query("SELECT sum(epsilon) FROM budget_ledger")[0][0] == 0.5       # still spent
        from imdx.cases.releases import ledger
        assert ledger.spent(svc.store, "OrgA")[0] == 0.5       # a release on `all` exposed every organisation
        assert svc.checkpoints.from_table()[-1]["reason"] == "migrate"
    finally:
        svc.close()
    svc = CaseService.from_env(env)                               # opening again changes nothing more
    try:
        assert svc.store.query("SELECT count(*) FROM audit_log WHERE action = 'database:migrate'")[0][0] == 1
    finally:
        svc.close()
