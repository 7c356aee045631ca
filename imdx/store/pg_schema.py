"""The PostgreSQL store's schema, versioned: each migration is applied once, in order, in one transaction,
and recorded in the table ``imdx_schema`` (version, description, when).

A store opened for writing (``imdx load``) is brought to :data:`VERSION`; one opened read-only (``imdx
serve``) must be at it already, and says what to do when it is not. Add a migration at the end of
:data:`MIGRATIONS` (never change one that has shipped) when the tables change. The observation tables of
each dataflow (``coded_<dataflow>``) are made by the store when it opens a database for writing, or when a
release defines a dataflow; their partitions, one per release, when a release is written.
"""

from __future__ import annotations

import re

import psycopg

from imdx.errors import StoreError

#: the advisory lock that serialises migrations and writes (one writer at a time)
WRITE_LOCK = 0x1D8C_0001


def _bytewise(statement: str) -> str:
    """Text columns that compare byte by byte, as DuckDB's do: the same order from both backends whatever the
    database's locale."""
    return re.sub(r"\btext\b", 'text COLLATE "C"', statement)


MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "releases, their files and dataflows, areas, aliases, issues, labels, dataflow definitions", [
        """CREATE TABLE release (
             release_id integer PRIMARY KEY, source text NOT NULL, key text NOT NULL, title text,
             edition text NOT NULL, published date NOT NULL, licence text, fingerprint text NOT NULL,
             loaded_at timestamp NOT NULL)""",
        "CREATE INDEX release_source_key ON release (source, key)",
        """CREATE TABLE release_file (
             release_id integer NOT NULL REFERENCES release, name text, url text, sha256 text, size bigint,
             retrieved_from text, retrieved_at timestamp)""",
        "CREATE INDEX release_file_release ON release_file (release_id)",
        """CREATE TABLE release_dataflow (release_id integer NOT NULL REFERENCES release, dataflow text NOT NULL,
             n_obs bigint NOT NULL, PRIMARY KEY (release_id, dataflow))""",
        """CREATE TABLE area (code text PRIMARY KEY, name text, kind text, m49 text, iso3 text, iso2 text,
             region text, subregion text, intermediate_region text, sdg_region text, wb_income text,
             un_development text, ldc boolean, lldc boolean, sids boolean,
             position bigint GENERATED ALWAYS AS IDENTITY)""",  # the order areas were added in (DuckDB keeps it)
        "CREATE TABLE area_alias (code text NOT NULL, system text NOT NULL, alias text NOT NULL, "
        "PRIMARY KEY (system, alias, code))",
        "CREATE TABLE dataflow_definition (id text PRIMARY KEY, definition jsonb NOT NULL)",
        """CREATE TABLE issue (
             release_id integer NOT NULL REFERENCES release, type text, severity text, source text,
             dataflow text, file text, sheet text, "row" integer, "column" text, area text, message text,
             n_obs bigint)""",
        "CREATE INDEX issue_release ON issue (release_id)",
        "CREATE TABLE label (id integer PRIMARY KEY, text text NOT NULL UNIQUE)",
        "CREATE SCHEMA imdx_release",  # each release's partition of each dataflow's table (imdx/store/pg_write.py)
    ]),
    (2, "the research library's and the coordination registry's tables (imdx/store/library_tables.py) and the "
        "count of their writes", [_bytewise(statement) for statement in [
        "CREATE TABLE library_record (record_id text PRIMARY KEY, body text NOT NULL, updated_at timestamp NOT NULL)",
        "CREATE TABLE library_link (record_id text NOT NULL, rel text NOT NULL, target text NOT NULL)",
        "CREATE INDEX library_link_record ON library_link (record_id)",
        "CREATE INDEX library_link_target ON library_link (rel, target)",
        """CREATE TABLE library_source (record_id text NOT NULL, import_id integer NOT NULL, source text,
             source_key text, file text, sha256 text, location text)""",
        "CREATE INDEX library_source_record ON library_source (record_id)",
        """CREATE TABLE library_import (import_id integer PRIMARY KEY, format text, file text, sha256 text,
             size bigint, imported_at timestamp, actor text, n_read integer, n_new integer, n_merged integer)""",
        """CREATE TABLE library_issue (import_id integer, type text, severity text, source text, dataflow text,
             file text, sheet text, "row" integer, "column" text, area text, message text, n_obs bigint)""",
        """CREATE TABLE registry_entry (kind text NOT NULL, entry_id text NOT NULL, owner text, body text NOT NULL,
             version integer NOT NULL, updated_at timestamp NOT NULL, updated_by text, PRIMARY KEY (kind, entry_id))""",
        """CREATE TABLE registry_link (kind text NOT NULL, entry_id text NOT NULL, rel text NOT NULL,
             target text NOT NULL)""",
        "CREATE INDEX registry_link_entry ON registry_link (kind, entry_id)",
        "CREATE INDEX registry_link_target ON registry_link (rel, target)",
        """CREATE TABLE registry_audit (seq bigint PRIMARY KEY, logged_at timestamp NOT NULL, actor text NOT NULL,
             organisation text, action text NOT NULL, kind text, entry_id text, outcome text, before_body text,
             after_body text, detail text)""",
        "CREATE TABLE document_version (n bigint NOT NULL)",
        "INSERT INTO document_version VALUES (0)",
    ]]),
    (3, "the footnotes of each release (what the marks of a value's note mean)", [
        'CREATE TABLE release_note (release_id integer NOT NULL REFERENCES release, mark text COLLATE "C" NOT NULL, '
        "text text NOT NULL, PRIMARY KEY (release_id, mark))",
    ]),
    (4, "the indexes are each partition's own, built after its release commits, and hold the current values only "
        "(imdx/store/pg_index.py)", [
        # each index of a dataflow's table, made again on each of its partitions with ``WHERE current`` (named
        # as pg_index.index_name names them), then dropped from the table (and with it from its partitions)
        r"""DO $$
        DECLARE found record;
        BEGIN
          FOR found IN
            SELECT c.relname AS part, a.attname AS col
            FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
                 JOIN pg_inherits h ON h.inhparent = t.oid JOIN pg_class c ON c.oid = h.inhrelid
            WHERE t.relkind = 'p' AND t.relnamespace = current_schema()::regnamespace AND t.relname LIKE 'coded\_%'
          LOOP
            EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON imdx_release.%I (%I) WHERE current',
                           left(found.part || '_' || found.col, 63), found.part, found.col);
          END LOOP;
          FOR found IN
            SELECT i.relname AS ind FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
                 JOIN pg_class i ON i.oid = x.indexrelid
            WHERE t.relkind = 'p' AND t.relnamespace = current_schema()::regnamespace AND t.relname LIKE 'coded\_%'
          LOOP
            EXECUTE format('DROP INDEX %I', found.ind);
          END LOOP;
        END $$""",
    ]),
    (5, "each partition's indexes: a BRIN index of the year and one GIN index of the area dimensions (the "
        "extension btree_gin; imdx/store/pg_index.py)", [
        "CREATE EXTENSION IF NOT EXISTS btree_gin",
        # the B-trees of migration 4 dropped; the store that migrates builds the new indexes once it is open
        # (pg_index.unindexed), in the background, as after a stopped load
        r"""DO $$
        DECLARE found record;
        BEGIN
          FOR found IN
            SELECT i.relname AS ind FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE i.relnamespace = 'imdx_release'::regnamespace
          LOOP
            EXECUTE format('DROP INDEX imdx_release.%I', found.ind);
          END LOOP;
        END $$""",
    ]),
]

#: the schema version this imdx writes and reads
VERSION = MIGRATIONS[-1][0]

_VERSIONS = """CREATE TABLE IF NOT EXISTS imdx_schema (
    version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""


def version(con) -> int | None:
    """The schema version of the database ``con`` is connected to; None when it holds no imdx store."""
    found = con.execute("SELECT to_regclass('imdx_schema') IS NOT NULL").fetchall()[0][0]
    if not found:
        return None
    return con.execute("SELECT coalesce(max(version), 0) FROM imdx_schema").fetchall()[0][0]


def migrate(con) -> list[int]:
    """Apply the migrations the database lacks, in one transaction, under the writers' lock; returns the
    versions applied. ``con`` must not be in a transaction."""
    applied = []
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        con.execute(_VERSIONS)
        current = con.execute("SELECT coalesce(max(version), 0) FROM imdx_schema").fetchall()[0][0]
        for number, description, statements in MIGRATIONS:
            if number <= current:
                continue
            for statement in statements:
                try:
                    con.execute(statement)
                except psycopg.errors.InsufficientPrivilege as err:
                    raise StoreError(f"the store's schema migration {number} ({description}) needs a right the "
                                     f"database user lacks: {str(err).strip()}. Ask the database's owner to run "
                                     f"it once, or to run `imdx load` once as the owner.") from err
                except psycopg.errors.UndefinedFile as err:  # an extension PostgreSQL was installed without
                    raise StoreError(f"the store's schema migration {number} ({description}) failed: "
                                     f"{str(err).strip()}. Install PostgreSQL's contrib extensions (Debian and "
                                     "the PGDG packages include them; docs/deploy.md).") from err
            con.execute("INSERT INTO imdx_schema (version, description) VALUES (%s, %s)", [number, description])
            applied.append(number)
    return applied
