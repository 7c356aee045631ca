"""How the PostgreSQL store writes a release (a mixin of :class:`imdx.store.postgres.PostgresStore`).

One partition per release
    Each dataflow's table ``coded_<dataflow>`` is partitioned by release (``PARTITION BY LIST
    (release_id)``); a release's observations go into a table of their own in the schema ``imdx_release``
    (``imdx_release.<dataflow>_<release id>``), made in the release's transaction: ``COPY`` in PostgreSQL's
    binary format (:mod:`imdx.store.pg_copy`: no text for the server to parse; the rows of a year together,
    as queries read them), then ``ATTACH PARTITION``, which takes only a SHARE UPDATE EXCLUSIVE lock on the
    dataflow's table: readers go on reading it while a release loads, and see the new partition once the
    release commits. Its indexes are built after the commit, while the next release is written
    (:mod:`imdx.store.pg_index`).
One writer at a time
    The transaction first takes an advisory lock (:data:`imdx.store.pg_schema.WRITE_LOCK`): a second ``imdx
    load`` waits for the first.
The current value
    The new rows are written marked: not current where a release of the same source ranked above the new one
    holds the same key (an old edition loaded late; its keys are matched in Arrow before the COPY, read from
    the server unless this store wrote them: :class:`KeysWritten`).
    The values of older releases that the new rows supersede are then corrected by one UPDATE per release
    concerned, each a hash join of two partitions (an UPDATE that adds nothing to the indexes, which hold the
    current values only).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from imdx.codes.areas import AREA_COLUMNS, AreaChanges, Areas
from imdx.errors import StoreError
from imdx.model import dataflows
from imdx.model.dataflows import ATTRIBUTES, Dataflow
from imdx.model.report import Report
from imdx.store import pg_copy, pg_index, pg_schema
from imdx.store.base import ReleaseRecord, check_definition
from imdx.store.labels import Labels, coded_table, text_columns
from imdx.store.pg_documents import missing

#: the schema that holds each release's partition of each dataflow's table
PARTITIONS = "imdx_release"
#: a release's rank (:data:`imdx.store.base.RANK_ORDER`); editions compare as bytes, as DuckDB compares them
RANK = '(r.published, r.edition COLLATE "C", r.release_id)'


def column_type(flow: Dataflow, column: str) -> str:
    """The PostgreSQL type of a column of a dataflow's table (:func:`create_obs_table`)."""
    if column == "year":
        return "smallint"
    if column in ("value", *flow.measures):
        return "double precision"
    return "boolean" if column == "current" else "integer"


def partition_name(flow_id: str, release_id: int) -> str:
    """The name of the table of one release's observations of a dataflow (in the schema :data:`PARTITIONS`)."""
    name = f"{flow_id}_{release_id}"
    if len(name) > 63:  # PostgreSQL's longest name: a long id keeps its start and a digest of the rest
        name = f"{flow_id[:40]}_{hashlib.sha256(flow_id.encode()).hexdigest()[:8]}_{release_id}"
    return name


def partition(flow_id: str, release_id: int) -> sql.Identifier:
    """The table of one release's observations of a dataflow (a partition of ``coded_<dataflow>``)."""
    return sql.Identifier(PARTITIONS, partition_name(flow_id, release_id))


def create_obs_table(con: psycopg.Connection, flow: Dataflow) -> None:
    """The dataflow's table (partitioned by release) with its measures, when missing (the indexes are its
    partitions': :mod:`imdx.store.pg_index`). What exists is read first: DDL on an existing table would lock
    it, and readers would queue behind the lock."""
    name = coded_table(flow.id)
    table = sql.Identifier(name)
    have = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_schema = current_schema() AND table_name = %s", [name])}
    if not have:
        dims = sql.SQL(", ").join(sql.SQL("{} integer").format(sql.Identifier(d)) for d in flow.dimension_names[:-1])
        measures = sql.SQL("").join(sql.SQL("{} double precision, ").format(sql.Identifier(m)) for m in flow.measures)
        con.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (release_id integer NOT NULL, {}, year smallint, value double precision, "
            "{}obs_status integer, definition integer, note integer, cell_file integer, cell_sheet integer, "
            "cell_row integer, cell_column integer, current boolean NOT NULL DEFAULT false) "
            "PARTITION BY LIST (release_id)").format(table, dims, measures))
        return
    for measure in flow.measures:  # an interval beside the value (estimates), added to a table made without it
        if measure not in have:
            con.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} double precision").format(
                table, sql.Identifier(measure)))


def row_keys(flow: Dataflow, table: pa.Table) -> pa.Table:
    """The keys of a release's rows of a dataflow (``table``, coded): its dimensions as 32-bit integers, a
    missing id or year as -1 (never a real one)."""
    keys = {}
    for d in flow.dimension_names:
        column = table[d] if table[d].type == pa.int32() else pc.cast(table[d], pa.int32())
        keys[d] = pc.coalesce(column, pa.scalar(-1, pa.int32())) if column.null_count else column  # fill_null is slower
    return pa.table(keys)


class KeysWritten:
    """The keys (:func:`row_keys`) of the partitions this store has written and committed, the newest kept
    within ``max_bytes``: the next release of the same source need not read them back from the server to know
    which of its rows they supersede (a load writes several editions of a source one after another)."""

    def __init__(self, max_bytes: int = 256 << 20):
        self.max_bytes, self._kept, self._bytes = max_bytes, OrderedDict[tuple[str, int], pa.Table](), 0

    def add(self, key: tuple[str, int], keys: pa.Table) -> None:
        if keys.nbytes > self.max_bytes:
            return
        self._kept[key] = keys
        self._bytes += keys.nbytes
        while self._bytes > self.max_bytes:
            self._bytes -= self._kept.popitem(last=False)[1].nbytes

    def get(self, key: tuple[str, int]) -> pa.Table | None:
        return self._kept.get(key)


class ReleaseWriter:
    """``write_release`` for :class:`~imdx.store.postgres.PostgresStore` (its ``_admin`` connection, its labels
    and caches)."""

    _admin: psycopg.Connection
    read_only: bool
    _labels: Labels | None
    _cache: dict
    _merged: tuple[Areas, tuple] | None
    _indexer: pg_index.Indexer
    _keys_written: KeysWritten

    def describe(self) -> str:
        raise NotImplementedError

    def dataflow(self, dataflow_id: str) -> Dataflow:
        raise NotImplementedError

    def labels(self, con=None) -> Labels:
        raise NotImplementedError


    def write_release(self, release: ReleaseRecord, observations: dict[str, pd.DataFrame], report: Report,
                      areas: Areas, definitions: tuple[Dataflow, ...] = ()) -> int:
        if self.read_only:
            raise StoreError(f"{self.describe()} was opened read-only")
        con = self._admin
        brought = {flow.id: flow for flow in definitions}
        written: list[tuple[str, list[str]]] = []  # the partitions written, and their area columns
        keys: list[tuple[str, pa.Table]] = []  # the dataflows written, and the keys of their rows
        try:
            with con.transaction():
                con.execute("SELECT pg_advisory_xact_lock(%s)", [pg_schema.WRITE_LOCK])  # one writer at a time
                labels = self.labels(con)  # as this transaction sees it, after the lock
                self._define(con, definitions)
                release_id = self._record(con, release)
                for flow_id, frame in observations.items():
                    flow = brought.get(flow_id) or self.dataflow(flow_id)
                    keys.append((flow.id, self._write_observations(con, flow, release_id, frame, labels,
                                                                   release.source)))
                    written.append((partition_name(flow.id, release_id), pg_index.area_columns(flow)))
                    con.execute("INSERT INTO release_dataflow VALUES (%s, %s, %s)", [release_id, flow_id, len(frame)])
                    self._mark_current(con, flow, release_id, release.source)
                self._copy_issues(con, release_id, report)
                merged = (areas, areas.revision)
                since = self._merged[1] if self._merged is not None and self._merged[0] is areas else (0, 0, 0)
                changed = since != merged[1]
                if changed:  # only what was added since the last write of these areas: they only grow
                    self._merge_areas(con, areas.changes_since(since))
                added = labels.added()
                with con.cursor().copy("COPY label (id, text) FROM STDIN") as copy:
                    for i, text in zip(added["id"].to_pylist(), added["text"].to_pylist()):
                        copy.write_row([i, text])
        except BaseException:
            if self._labels is not None:
                self._labels.rollback()
            raise
        labels.commit()
        if changed:
            self._merged = merged
        self._cache.clear()
        for part, area_columns in written:
            self._indexer.add(PARTITIONS, part, area_columns)
        for flow_id, held in keys:  # committed: a release's rows never change keys, and its id is never reused
            self._keys_written.add((flow_id, release_id), held)
        return release_id

    def _define(self, con, definitions: tuple[Dataflow, ...]) -> None:
        for flow in definitions:
            check_definition(flow)
            con.execute("INSERT INTO dataflow_definition VALUES (%s, %s) ON CONFLICT (id) DO UPDATE "
                        "SET definition = excluded.definition", [flow.id, json.dumps(dataflows.to_dict(flow))])
            create_obs_table(con, flow)

    def _record(self, con, release: ReleaseRecord) -> int:
        """The release's row, its files and its footnotes; its id."""
        release_id = con.execute("SELECT coalesce(max(release_id), 0) + 1 FROM release").fetchall()[0][0]
        con.execute("INSERT INTO release VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [release_id, release.source, release.key, release.title, release.edition, release.published,
                     release.licence, release.fingerprint, datetime.now(UTC).replace(tzinfo=None)])
        with con.cursor().copy("COPY release_file FROM STDIN") as copy:
            for f in release.files:
                copy.write_row([release_id, f.name, f.url, f.sha256, f.size, f.retrieved_from, f.retrieved_at])
        with con.cursor().copy("COPY release_note (release_id, mark, text) FROM STDIN") as copy:
            for mark, text in release.notes.items():
                copy.write_row([release_id, mark, text])
        return release_id

    def _write_observations(self, con, flow: Dataflow, release_id: int, frame: pd.DataFrame,
                            labels: Labels, source: str) -> pa.Table:
        """The release's partition of the dataflow's table: made, filled by COPY (binary, its rows already
        marked current or not) and attached; indexed once the release is committed (:mod:`pg_index`). Returns
        the keys of its rows (:func:`row_keys`)."""
        part = partition(flow.id, release_id)
        parent = sql.Identifier(coded_table(flow.id))
        con.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, CHECK (release_id = {}))").format(
            part, parent, sql.Literal(release_id)))
        cols, text = flow.dimension_names + ["value", *flow.measures] + ATTRIBUTES, set(text_columns(flow))
        table = pa.table({c: labels.encode(frame[c]) if c in text else pa.array(frame[c]) for c in cols})
        table = table.append_column("release_id", pa.repeat(pa.scalar(release_id, pa.int32()), len(table)))
        keys = row_keys(flow, table)
        table = table.append_column("current", self._not_superseded(con, flow, release_id, source, keys))
        table, constants = pg_copy.constant_columns(table, [column_type(flow, c) for c in table.column_names])
        if constants:  # a value every row holds is the partition's default, not sent (nor read) row by row
            con.execute(sql.SQL("ALTER TABLE {} {}").format(part, sql.SQL(", ").join(
                sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(sql.Identifier(c), sql.Literal(v))
                for c, v in constants.items())))
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            part, sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names))
        types, by = [column_type(flow, c) for c in table.column_names], "year" if "year" in table.column_names else None
        with con.cursor().copy(statement) as copy:  # in blocks: the server reads one while numpy makes the next
            for block in pg_copy.blocks(table, types, order_by=by):  # a year's rows together, as queries read them
                copy.write(block)
        con.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
            parent, part, sql.Literal(release_id)))
        return keys

    def _others(self, con, flow: Dataflow, release_id: int, source: str) -> list[tuple[int, bool]]:
        """The other releases of ``source`` holding ``flow``: (id, whether it ranks above the new release)."""
        return con.execute(f"""
            SELECT r.release_id, {RANK} > (n.published, n.edition COLLATE "C", n.release_id)
            FROM release r, release n
            WHERE n.release_id = %s AND r.source = %s AND r.release_id <> n.release_id
              AND r.release_id IN (SELECT release_id FROM release_dataflow WHERE dataflow = %s)
            ORDER BY r.release_id""", [release_id, source, flow.id]).fetchall()

    def _not_superseded(self, con, flow: Dataflow, release_id: int, source: str, keys: pa.Table) -> pa.Array:
        """Whether each new row (of the keys ``keys``) is current: false where a release of the source ranked
        above the new one (an older edition loaded late) holds the same key. Those keys are matched here (in
        Arrow), before the rows are written, rather than by an UPDATE of the rows once written; they are read
        from the server, unless this store wrote them (:class:`KeysWritten`)."""
        newer = [other for other, above in self._others(con, flow, release_id, source) if above]
        if not newer or not keys.num_rows:
            return pa.repeat(pa.scalar(True), keys.num_rows)
        dims = flow.dimension_names
        held = [self._keys_written.get((flow.id, other)) for other in newer]
        unknown = [other for other, found in zip(newer, held) if found is None]
        if unknown:
            picks = sql.SQL(", ").join(sql.Identifier(d) for d in dims)
            query = sql.SQL(" UNION ALL ").join(sql.SQL("SELECT {} FROM {}").format(picks, partition(flow.id, other))
                                                for other in unknown)
            held.append(pa.table(pg_copy.read_ints(con, query, dims)))  # missing ids and years: -1, as row_keys
        rows = keys.append_column("__row", pa.array(np.arange(keys.num_rows)))
        newer_keys = pa.concat_tables([t for t in held if t is not None])
        hit = rows.join(newer_keys, keys=dims, join_type="left semi", use_threads=False)["__row"].to_numpy()
        current = np.ones(keys.num_rows, dtype=bool)
        current[hit] = False
        return pa.array(current)

    def _copy_issues(self, con, release_id: int, report: Report) -> None:
        frame = report.to_frame()
        if frame.empty:
            return
        columns = ["type", "severity", "source", "dataflow", "file", "sheet", "row", "column", "area", "message",
                   "n_obs"]
        whole = {"row", "n_obs"}  # whole numbers (pandas makes them floats where some are missing)
        rows = [[None if missing(v) else int(v) if c in whole else str(v) for c, v in zip(columns, row)]
                for row in frame[columns].itertuples(index=False)]
        statement = sql.SQL("COPY issue (release_id, {}) FROM STDIN").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns))
        with con.cursor().copy(statement) as copy:
            for row in rows:
                copy.write_row([release_id, *row])

    def _mark_current(self, con, flow: Dataflow, release_id: int, source: str) -> None:
        """Keep ``current`` true for exactly one observation per key and source (the rule of
        :mod:`imdx.store.base`): the new release's rows were written marked (:meth:`_not_superseded`); here the
        values of older releases that they supersede are marked, one partition at a time."""
        older = [other for other, above in self._others(con, flow, release_id, source) if not above]
        # keys compared so that the planner can hash them (ids and years are never negative)
        same = sql.SQL(" AND ").join(sql.SQL("coalesce(o.{d}, -1) = coalesce(n.{d}, -1)").format(
            d=sql.Identifier(d)) for d in flow.dimension_names)
        new = partition(flow.id, release_id)
        if older:  # hash joins: the planner cannot know how few keys match (it guesses one), so it may sort both
            con.execute("SET LOCAL enable_nestloop = off")
            con.execute("SET LOCAL enable_mergejoin = off")
        for other in older:  # the new release supersedes the older release's values of the keys it holds
            con.execute(sql.SQL("UPDATE {other} o SET current = FALSE FROM {new} n WHERE o.current AND {same}")
                        .format(new=new, other=partition(flow.id, other), same=same))

    def _merge_areas(self, con, changes: AreaChanges) -> None:
        if len(changes.areas):
            flags = {"ldc", "lldc", "sids"}
            rows = [[None if missing(v) else bool(v) if c in flags else str(v) for c, v in zip(AREA_COLUMNS, row)]
                    for row in changes.areas[AREA_COLUMNS].itertuples(index=False)]
            names = sql.SQL(", ").join(sql.Identifier(c) for c in AREA_COLUMNS)
            con.execute(sql.SQL("CREATE TEMP TABLE _areas ON COMMIT DROP AS SELECT {} FROM area WITH NO DATA").format(
                names))
            with con.cursor().copy(sql.SQL("COPY _areas ({}) FROM STDIN").format(names)) as copy:
                for row in rows:
                    copy.write_row(row)
            con.execute(sql.SQL("INSERT INTO area ({}) SELECT {} FROM _areas ON CONFLICT (code) DO NOTHING").format(
                names, names))
        income = changes.wb_income.dropna()
        if len(income):
            con.execute("CREATE TEMP TABLE _income (code text, wb_income text) ON COMMIT DROP")
            with con.cursor().copy("COPY _income FROM STDIN") as copy:
                for code, group in income.items():
                    copy.write_row([str(code), str(group)])
            con.execute("UPDATE area SET wb_income = n.wb_income FROM _income n "
                        "WHERE area.code = n.code AND area.wb_income IS NULL")
        if changes.aliases:
            con.execute("CREATE TEMP TABLE _aliases (code text, system text, alias text) ON COMMIT DROP")
            with con.cursor().copy("COPY _aliases FROM STDIN") as copy:
                for alias in changes.aliases:
                    copy.write_row([str(v) for v in alias])
            con.execute("INSERT INTO area_alias SELECT DISTINCT code, system, alias FROM _aliases "
                        "ON CONFLICT DO NOTHING")
