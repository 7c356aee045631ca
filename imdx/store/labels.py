"""The store's dictionary of text values.

A release repeats a few hundred codes and notes millions of times. The store keeps each text value
of an observation (a dimension's code, a text attribute) once, in the table ``label`` (``id``,
``text``), and stores its integer ``id`` in the observation tables: storing 4 M rows of integers
costs DuckDB a quarter of what 4 M strings cost, and filters and groupings compare integers.

Queries translate their filters into ids and the ids of their results back into text in Arrow
(:class:`Labels`, :mod:`imdx.store.reads`); :func:`decoded` makes the DuckDB file's text views. Ids are dense
(0, 1, 2, ...) and never change once committed.
"""

from __future__ import annotations

import threading

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdx.model.dataflows import TEXT_ATTRIBUTES, Dataflow

LABEL_SCHEMA = """
CREATE TABLE IF NOT EXISTS label (id INTEGER PRIMARY KEY, text VARCHAR NOT NULL UNIQUE);
CREATE OR REPLACE MACRO code(t) AS (SELECT id FROM label WHERE text = t);
"""


class Labels:
    """A copy of the ``label`` table: text to id and back, with the ids a write added since its last commit.

    One copy serves a store and every cursor reading it (:meth:`refresh` appends what other connections
    committed since: labels are only ever appended)."""

    def __init__(self, texts: list[str]):
        self.texts = list(texts)
        self.ids = {t: i for i, t in enumerate(self.texts)}
        self.committed = len(self.texts)
        self._lock = threading.Lock()
        self._read: dict[str, tuple[int, object]] = {}  # arrays for reading, with the count they were made at

    def refresh(self, con) -> Labels:
        """Read the labels committed since this copy was made or last refreshed (``con``: a DuckDB or psycopg
        connection)."""
        with self._lock:
            count = con.execute("SELECT coalesce(max(id), -1) + 1 FROM label").fetchall()[0][0]  # ids are dense
            if count == self.committed or len(self.texts) != self.committed:  # nothing new, or a write is on
                return self
            rows = con.execute(f"SELECT id, text FROM label WHERE id >= {int(self.committed)} ORDER BY id").fetchall()
            if [i for i, _ in rows] != list(range(self.committed, count)):
                raise ValueError(f"the label table's ids are not 0 … {count - 1}: the store is damaged")
            for _, text in rows:
                self.ids[text] = len(self.texts)
                self.texts.append(text)
            self.committed = count
        return self

    # -- reading ------------------------------------------------------------------------------
    def known(self, texts) -> list[int]:
        """The ids of those ``texts`` that have one (a text no observation holds has none)."""
        return [self.ids[t] for t in map(str, texts) if t in self.ids and self.ids[t] < self.committed]

    def decode(self, ids: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """The texts of ``ids`` (null stays null)."""
        return pc.take(self._cached("texts", lambda t: pa.array(t, pa.string())), ids)

    def ranks(self, ids: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """Integers that sort as the texts of ``ids`` sort (as SQL orders text: by code point)."""
        def ranks(texts):
            out = np.empty(len(texts), dtype=np.int32)
            out[np.argsort(np.array(texts, dtype=object), kind="stable")] = np.arange(len(texts), dtype=np.int32)
            return pa.array(out)
        return pc.take(self._cached("ranks", ranks), ids)

    def lookup(self, name: str, mapping: dict, ids: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """``mapping[text]`` for each id (null where the text is not a key), e.g. the names of area codes;
        ``name`` keys the cache, so one name must always mean one mapping."""
        return pc.take(self._cached(name, lambda t: pa.array([mapping.get(x) for x in t], pa.string())), ids)

    def json(self, name: str = "texts", mapping: dict | None = None) -> np.ndarray:
        """Each id's text (or ``mapping[text]``: null where the text is not a key) encoded as JSON, at ``id + 1``;
        at 0, ``null`` (for a missing value); ``name`` keys the cache, as in :meth:`lookup`."""
        def make(texts):
            values = texts if mapping is None else [mapping.get(t) for t in texts]
            return np.array([b"null"] + [orjson.dumps(v) for v in values], dtype=object)
        return self._cached(f"json {name}", make)

    def _cached(self, name: str, make):
        count, array = self._read.get(name, (-1, None))  # no lock on the way that almost every call takes
        if count == self.committed:
            return array
        with self._lock:
            count, array = self._read.get(name, (-1, None))
            if count != self.committed:
                array = make(self.texts[:self.committed])
                self._read[name] = (self.committed, array)
            return array

    # -- writing ------------------------------------------------------------------------------

    def encode(self, column: pd.Series) -> pa.Array:
        """The ids of a text column (null where the value is missing), adding the texts not known yet."""
        values = column.array if isinstance(column.dtype, pd.CategoricalDtype) else pd.Categorical(column)
        if len(values.categories) == 0:
            return pa.nulls(len(values), pa.int32())
        ids = np.array([self._id(t) for t in values.categories] + [-1], dtype=np.int32)
        out = ids[values.codes]
        missing = out < 0
        return pa.array(out, mask=missing) if missing.any() else pa.array(out)

    def _id(self, text) -> int:
        text = text if isinstance(text, str) else str(text)
        found = self.ids.get(text)
        if found is None:
            found = self.ids[text] = len(self.texts)
            self.texts.append(text)
        return found

    def added(self) -> pa.Table:
        """The labels added since the last commit, to be inserted in the same transaction."""
        return pa.table({"id": pa.array(range(self.committed, len(self.texts)), pa.int32()),
                         "text": pa.array(self.texts[self.committed:], pa.string())})

    def commit(self) -> None:
        self.committed = len(self.texts)

    def rollback(self) -> None:
        for text in self.texts[self.committed:]:
            del self.ids[text]
        del self.texts[self.committed:]


def decoded(sql: str, columns: list[str]) -> str:
    """SQL: the rows of ``sql`` with its id ``columns`` replaced by their text, in the same order."""
    if not columns:
        return sql
    replace = ", ".join(f'l{i}.text AS "{c}"' for i, c in enumerate(columns))
    joins = " ".join(f'LEFT JOIN label l{i} ON l{i}.id = q."{c}"' for i, c in enumerate(columns))
    return f"SELECT q.* REPLACE ({replace}) FROM ({sql}) q {joins}"


def coded_table(flow_id: str) -> str:
    """The table of a dataflow's observations, text as label ids."""
    return f"coded_{flow_id}"


def text_columns(flow: Dataflow) -> list[str]:
    """The columns of a dataflow's coded table that hold label ids: every dimension but ``year``, and the
    text attributes."""
    return flow.dimension_names[:-1] + TEXT_ATTRIBUTES
