"""The default backend: one embedded DuckDB file (``imdx.duckdb``).

One table per dataflow (``coded_<dataflow>``: ``release_id``, the dimensions, ``year``, ``value`` and
the attributes, text stored as the ids of :mod:`imdx.store.labels`), with a view ``obs_<dataflow>``
that reads it as text (for people and tools exploring the file; imdx's own queries read the coded
table), and the tables ``label``, ``release``, ``release_file``, ``release_dataflow``, ``area``,
``area_alias`` and ``issue``. A release is written in one transaction; a process killed part-way
leaves the file as it was at the last commit (DuckDB's write-ahead log holds only committed work).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdx.codes.areas import AREA_COLUMNS, AreaChanges, Areas
from imdx.errors import StoreError
from imdx.model import dataflows
from imdx.model.dataflows import ATTRIBUTES, TEXT_ATTRIBUTES, Dataflow
from imdx.model.report import Issue, Report
from imdx.store.base import ReleaseRecord, Store
from imdx.store.labels import LABEL_SCHEMA, Labels, decoded
from imdx.store.library_tables import DocumentTables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS release (
  release_id INTEGER PRIMARY KEY, source VARCHAR NOT NULL, key VARCHAR NOT NULL, title VARCHAR,
  edition VARCHAR NOT NULL, published DATE NOT NULL, licence VARCHAR, fingerprint VARCHAR NOT NULL,
  loaded_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS release_file (
  release_id INTEGER, name VARCHAR, url VARCHAR, sha256 VARCHAR, size BIGINT, retrieved_from VARCHAR,
  retrieved_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS release_dataflow (release_id INTEGER, dataflow VARCHAR, n_obs BIGINT);
CREATE TABLE IF NOT EXISTS area (code VARCHAR PRIMARY KEY, name VARCHAR, kind VARCHAR, m49 VARCHAR,
  iso3 VARCHAR, iso2 VARCHAR, region VARCHAR, subregion VARCHAR, intermediate_region VARCHAR,
  sdg_region VARCHAR, wb_income VARCHAR, un_development VARCHAR, ldc BOOLEAN, lldc BOOLEAN, sids BOOLEAN);
CREATE TABLE IF NOT EXISTS dataflow_definition (id VARCHAR PRIMARY KEY, definition JSON);
CREATE TABLE IF NOT EXISTS area_alias (code VARCHAR, system VARCHAR, alias VARCHAR);
CREATE TABLE IF NOT EXISTS issue (
  release_id INTEGER, type VARCHAR, severity VARCHAR, source VARCHAR, dataflow VARCHAR, file VARCHAR,
  sheet VARCHAR, "row" INTEGER, "column" VARCHAR, area VARCHAR, message VARCHAR, n_obs BIGINT);
"""


_SAFE_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")


#: the releases, each with its ``rank``: the order that decides which value of a key is current (the
#: latest publication date, then the later edition, then the later load)
RANKED_RELEASES = "(SELECT *, row_number() OVER (ORDER BY published, edition, release_id) AS rank FROM release)"


def coded_table(flow_id: str) -> str:
    """The table of a dataflow's observations, text as label ids."""
    return f"coded_{flow_id}"


def text_columns(flow: Dataflow) -> list[str]:
    """The columns of a dataflow's coded table that hold label ids: every dimension but ``year``, and the
    text attributes."""
    return flow.dimension_names[:-1] + TEXT_ATTRIBUTES


class DuckDBStore(DocumentTables, Store):
    def __init__(self, path: str | Path = "imdx.duckdb", *, read_only: bool = False):
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}; load one first with `imdx load --db {self.path}`")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as err:
            raise StoreError(f"cannot open the store {self.path}: {err}. If another imdx process is "
                             "loading into it, wait for it to finish.") from err
        self._check_layout()
        if not read_only:
            self.con.execute(_SCHEMA + LABEL_SCHEMA)
            for flow in dataflows.DATAFLOWS.values():
                self._create_obs_table(flow)
            self._create_document_tables()  # the research library and the coordination registry
        self._labels: Labels | None = None  # see labels()
        self._areas: Areas | None = None
        self._merged: tuple[Areas, tuple] | None = None  # the areas last written, and their revision

    def _check_layout(self) -> None:
        """Refuse a store written by an imdx that kept observations as text (before label ids)."""
        old = self.con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                               "AND starts_with(table_name, 'obs_') LIMIT 1").fetchall()
        if old:
            self.con.close()
            raise StoreError(f"the store {self.path} was written by an older imdx (its table {old[0][0]} holds text, "
                             "this imdx stores label ids); load the sources again into a new file, e.g. "
                             f"`imdx load --db {self.path.with_name('imdx-new.duckdb')}`")

    def _create_obs_table(self, flow: Dataflow) -> None:
        dims = ", ".join(f'"{d}" INTEGER' for d in flow.dimension_names[:-1])
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {coded_table(flow.id)} (release_id INTEGER, {dims}, "
            "year SMALLINT, value DOUBLE, obs_status INTEGER, definition INTEGER, note INTEGER, "
            "cell_file INTEGER, cell_sheet INTEGER, cell_row INTEGER, cell_column INTEGER, "
            "current BOOLEAN DEFAULT FALSE)")
        self.con.execute(f"CREATE VIEW IF NOT EXISTS obs_{flow.id} AS "
                         + decoded(f"SELECT * FROM {coded_table(flow.id)}", text_columns(flow)))

    def _mark_current(self, flow: Dataflow, release_id: int, source: str) -> None:
        """Keep ``current`` true for exactly one observation per key and source: the one from the most
        recently published release (ties: the later edition, then the later load). The new release's
        rows were inserted as current; here they and the rows they supersede are corrected."""
        table = coded_table(flow.id)
        rank = "(r.published, r.edition, r.release_id)"
        others = self.con.execute(f"""
            SELECT count(*) FILTER (WHERE {rank} < (n.published, n.edition, n.release_id)),
                   count(*) FILTER (WHERE {rank} > (n.published, n.edition, n.release_id))
            FROM release r, release n
            WHERE n.release_id = ? AND r.source = ? AND r.release_id <> n.release_id
              AND r.release_id IN (SELECT release_id FROM release_dataflow WHERE dataflow = ?)""",
                                  [release_id, source, flow.id]).fetchall()[0]
        older, newer = others
        same = " AND ".join(f'o."{d}" IS NOT DISTINCT FROM n."{d}"' for d in flow.dimension_names)
        if older:  # the new release supersedes the older releases' values of the keys it holds
            self.con.execute(f"""
                UPDATE {table} o SET current = FALSE
                FROM (SELECT * FROM {table} WHERE release_id = ?) n
                WHERE o.current AND {same} AND o.release_id IN (
                    SELECT r.release_id FROM release r, release x WHERE x.release_id = ? AND r.source = ?
                      AND {rank} < (x.published, x.edition, x.release_id))""", [release_id, release_id, source])
        if newer:  # a release published later already holds some of these keys (an old edition loaded late)
            self.con.execute(f"""
                UPDATE {table} n SET current = FALSE
                FROM (SELECT * FROM {table} WHERE release_id IN (
                    SELECT r.release_id FROM release r, release x WHERE x.release_id = ? AND r.source = ?
                      AND {rank} > (x.published, x.edition, x.release_id))) o
                WHERE n.release_id = ? AND {same}""", [release_id, source, release_id])

    def dataflow(self, dataflow_id: str) -> Dataflow:
        if dataflow_id in dataflows.DATAFLOWS:
            return dataflows.DATAFLOWS[dataflow_id]
        rows = self.con.execute("SELECT definition FROM dataflow_definition WHERE id = ?", [dataflow_id]).fetchall()
        if not rows:
            return dataflows.get(dataflow_id)  # raises the QueryError listing the known dataflows
        return dataflows.from_dict(json.loads(rows[0][0]))

    def dataflow_ids(self) -> list[str]:
        stored = [r[0] for r in self.con.execute("SELECT id FROM dataflow_definition ORDER BY id").fetchall()]
        return sorted(dataflows.DATAFLOWS) + [i for i in stored if i not in dataflows.DATAFLOWS]

    def close(self) -> None:
        self.con.close()

    # -- writing ------------------------------------------------------------------------------
    def has_release(self, release: ReleaseRecord) -> bool:
        row = self.con.execute("SELECT count(*) FROM release WHERE source = ? AND key = ? AND fingerprint = ?",
                               [release.source, release.key, release.fingerprint]).fetchall()[0]
        return row[0] > 0

    def write_release(self, release, observations, report, areas, definitions=()) -> int:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for flow in definitions:
                if flow.id in dataflows.DATAFLOWS:
                    raise StoreError(f"a release cannot redefine imdx's own dataflow {flow.id!r}")
                if not _SAFE_ID.fullmatch(flow.id):
                    raise StoreError(f"dataflow id {flow.id!r} must be lower-case letters, digits and '_'")
                con.execute("INSERT OR REPLACE INTO dataflow_definition VALUES (?, ?)",
                            [flow.id, json.dumps(dataflows.to_dict(flow))])
                self._create_obs_table(flow)
            release_id = con.execute("SELECT coalesce(max(release_id), 0) + 1 FROM release").fetchall()[0][0]
            con.execute("INSERT INTO release VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [release_id, release.source, release.key, release.title, release.edition,
                         release.published, release.licence, release.fingerprint,
                         datetime.now(UTC).replace(tzinfo=None)])
            for f in release.files:
                con.execute("INSERT INTO release_file VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [release_id, f.name, f.url, f.sha256, f.size, f.retrieved_from, f.retrieved_at])
            labels = self.labels()  # as this transaction sees it
            for flow_id, frame in observations.items():
                flow = self.dataflow(flow_id)
                cols, text = flow.dimension_names + ["value"] + ATTRIBUTES, set(text_columns(flow))
                table = pa.table({c: labels.encode(frame[c]) if c in text else pa.array(frame[c]) for c in cols})
                con.register("_incoming", table)
                quoted = ", ".join(f'"{c}"' for c in cols)
                con.execute(f"INSERT INTO {coded_table(flow_id)} (release_id, {quoted}, current) "
                            f"SELECT {release_id}, {quoted}, TRUE FROM _incoming")
                con.unregister("_incoming")
                con.execute("INSERT INTO release_dataflow VALUES (?, ?, ?)", [release_id, flow_id, len(frame)])
                self._mark_current(flow, release_id, release.source)
            issues = report.to_frame()
            if len(issues):
                issues.insert(0, "release_id", release_id)
                con.register("_issues", issues)
                con.execute("INSERT INTO issue SELECT release_id, type, severity, source, dataflow, file, sheet, "
                            '"row", "column", area, message, n_obs FROM _issues')
                con.unregister("_issues")
            merged = (areas, areas.revision)
            since = self._merged[1] if self._merged is not None and self._merged[0] is areas else (0, 0, 0)
            changed = since != merged[1]
            if changed:  # only what was added since the last write of these areas: they only grow
                self._merge_areas(areas.changes_since(since))
            con.register("_labels", labels.added())
            con.execute("INSERT INTO label SELECT id, text FROM _labels")
            con.unregister("_labels")
            con.execute("COMMIT")
            labels.commit()
        except BaseException:
            con.execute("ROLLBACK")
            if self._labels is not None:
                self._labels.rollback()
            raise
        if changed:
            self._merged, self._areas = merged, None
        return release_id

    def share_cpus(self, taken: int) -> None:
        """DuckDB's own threads would only contend with the workers (measured: one thread is faster)."""
        if taken != getattr(self, "_taken", 0):
            self.con.execute(f"SET threads = {max(1, (os.cpu_count() or 1) - taken)}" if taken else "RESET threads")
            self._taken = taken

    def _merge_areas(self, changes: AreaChanges) -> None:
        if len(changes.areas):
            table = changes.areas[AREA_COLUMNS].astype(object)
            table = table.where(table.notna(), None)
            for col in ("ldc", "lldc", "sids"):
                table[col] = table[col].map(lambda v: None if v is None else bool(v))
            self.con.register("_areas", table)
            self.con.execute("INSERT INTO area SELECT * FROM _areas WHERE code NOT IN (SELECT code FROM area)")
            self.con.unregister("_areas")
        income = changes.wb_income.rename("wb_income").rename_axis("code").reset_index()
        self.con.register("_income", income)
        self.con.execute("UPDATE area SET wb_income = n.wb_income FROM _income n "
                         "WHERE area.code = n.code AND area.wb_income IS NULL")
        self.con.unregister("_income")
        if changes.aliases:
            self.con.register("_aliases", pd.DataFrame(changes.aliases, columns=["code", "system", "alias"]))
            self.con.execute("INSERT INTO area_alias SELECT DISTINCT a.code, a.system, a.alias FROM _aliases a "
                             "WHERE NOT EXISTS (SELECT 1 FROM area_alias b WHERE b.code = a.code AND "
                             "b.system = a.system AND b.alias = a.alias)")
            self.con.unregister("_aliases")

    def add_issues(self, release_id: int, issues: list[Issue]) -> None:
        frame = Report(issues).to_frame()
        if len(frame):
            frame.insert(0, "release_id", release_id)
            self.con.register("_issues", frame)
            self.con.execute("INSERT INTO issue SELECT release_id, type, severity, source, dataflow, file, sheet, "
                             '"row", "column", area, message, n_obs FROM _issues')
            self.con.unregister("_issues")

    # -- reading ------------------------------------------------------------------------------
    def releases(self) -> pd.DataFrame:
        return self.con.execute("""
            SELECT r.release_id, r.source, r.key, r.title, r.edition, r.published, r.loaded_at, r.licence,
                   (SELECT string_agg(dataflow || ' (' || n_obs || ')', ', ' ORDER BY dataflow)
                      FROM release_dataflow d WHERE d.release_id = r.release_id) AS dataflows,
                   (SELECT coalesce(sum(n_obs), 0) FROM release_dataflow d WHERE d.release_id = r.release_id) AS n_obs,
                   (SELECT string_agg(name || ' sha256:' || sha256, '; ' ORDER BY name)
                      FROM release_file f WHERE f.release_id = r.release_id) AS files
            FROM release r ORDER BY r.source, r.published, r.release_id""").df()

    def release_files(self) -> pd.DataFrame:
        return self.con.execute("SELECT * FROM release_file ORDER BY release_id, name").df()

    def areas(self) -> Areas | None:
        if self._areas is None:
            frame = self.con.execute("SELECT * FROM area").df()
            if frame.empty:
                return None
            aliases = self.con.execute("SELECT code, system, alias FROM area_alias").df()
            self._areas = Areas(frame, aliases)
        return self._areas

    def select(self, dataflow, filters, *, edition=None, source=None, as_of=None) -> pa.Table:
        flow = self.dataflow(dataflow)
        dims, text = flow.dimension_names, text_columns(flow)
        labels = self.labels()
        where, params = [], []
        for dim, values in filters.items():
            if dim not in dims:
                raise StoreError(f"{dataflow} has no dimension {dim}")
            values = list(values) if dim == "year" else labels.known(values)
            where.append(f'o."{dim}" IN ({", ".join("?" for _ in values)})' if values else "FALSE")
            params.extend(values)
        if edition is not None:
            where.append("r.edition = ?")
            params.append(edition)
        if source is not None:
            where.append("r.source = ?")
            params.append(source)
        if as_of is not None:
            where.append("r.published <= ?")
            params.append(as_of)
        if edition is None and as_of is None:  # the current values, marked at load time
            latest = ""
            where.append("o.current")
        else:
            latest = (f"QUALIFY row_number() OVER (PARTITION BY r.source, {', '.join(f'o.{d}' for d in dims)} "
                      "ORDER BY r.rank DESC) = 1")
        coded = self.con.sql(f"""
            SELECT {', '.join(f'o."{c}"' for c in dims + ["value"] + ATTRIBUTES)}, r.source, r.edition, o.release_id
            FROM {coded_table(dataflow)} o JOIN {RANKED_RELEASES} r USING (release_id)
            WHERE {' AND '.join(where) or 'TRUE'} {latest}""", params=params).to_arrow_table()
        # text and order in Arrow, from the ids: cheaper than joining the label table once per column
        keys = pa.table({d: labels.ranks(coded[d]) if d in text else coded[d] for d in dims} | {"source": coded["source"]})
        coded = coded.take(pc.sort_indices(keys, [(k, "ascending", "at_end") for k in keys.column_names]))
        areas = self.areas()
        names = {} if areas is None else areas.frame["name"].to_dict()
        revision = None if areas is None else areas.revision
        out = {}
        for d in dims:
            out[d] = labels.decode(coded[d]) if d in text else coded[d]
        for d in (d.name for d in flow.dimensions if d.is_area):
            out[f"{d}_name"] = labels.lookup(f"area names {revision}", names, coded[d])
        out["value"] = coded["value"]
        out["unit"] = pa.repeat(pa.scalar(flow.unit), len(coded))
        for c in ["obs_status", "definition", "note", "source", "edition", "release_id", "cell_file", "cell_sheet",
                  "cell_row", "cell_column"]:
            out[c] = labels.decode(coded[c]) if c in text else coded[c]
        return pa.table(out)

    def distinct(self, dataflow, dimension) -> list:
        self.dataflow(dataflow).dimension_names.index(dimension)
        values = self.con.sql(f'SELECT DISTINCT "{dimension}" AS v FROM {coded_table(dataflow)}').to_arrow_table()["v"]
        if dimension != "year":
            values = self.labels().decode(values)
        return sorted(values.to_pylist(), key=lambda v: (v is None, v))

    def labels(self) -> Labels:
        """The label table, as committed now (one copy per store, shared with its cursors)."""
        if self._labels is None:
            self._labels = Labels([])
        return self._labels.refresh(self.con)

    def with_cursor(self, cursor=None) -> DuckDBStore:
        """This store, read through its own cursor of the same connection (one per thread: a connection must
        not run two queries at once), sharing the areas and labels read so far."""
        if self._labels is None:
            self._labels = Labels([])  # one copy for all cursors; each brings it up to date through its own
        view = DuckDBStore.__new__(DuckDBStore)
        view.path, view.con, view._merged = self.path, cursor if cursor is not None else self.con.cursor(), None
        view._areas, view._labels = self._areas, self._labels
        return view

    def issues(self, *, source=None, area=None) -> pd.DataFrame:
        where, params = [], []
        if source:
            where.append("source = ?")
            params.append(source)
        if area:
            where.append("area = ?")
            params.append(area)
        sql = (f"SELECT * FROM issue WHERE {' AND '.join(where) or 'TRUE'} "
               "ORDER BY release_id, severity, type, file, \"row\"")
        return self.con.execute(sql, params).df()


def open_store(path: str | Path | None = None, *, read_only: bool = False) -> DuckDBStore:
    return DuckDBStore(path or "imdx.duckdb", read_only=read_only)

