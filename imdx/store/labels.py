"""The store's dictionary of text values.

A release repeats a few hundred codes and notes millions of times. The store keeps each text value
of an observation (a dimension's code, a text attribute) once, in the table ``label`` (``id``,
``text``), and stores its integer ``id`` in the observation tables: storing 4 M rows of integers
costs DuckDB a quarter of what 4 M strings cost, and filters and groupings compare integers.

Reading SQL translates both ways: :func:`code_in` turns text values into a filter on ids, and
:func:`decoded` turns the ids of a query's result back into text. Ids are dense (0, 1, 2, ...) and
never change once committed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

LABEL_SCHEMA = """
CREATE TABLE IF NOT EXISTS label (id INTEGER PRIMARY KEY, text VARCHAR NOT NULL UNIQUE);
CREATE OR REPLACE MACRO code(t) AS (SELECT id FROM label WHERE text = t);
"""


class Labels:
    """The writer's copy of the ``label`` table: text to id, with the ids added since the last commit."""

    def __init__(self, texts: list[str]):
        self.texts = list(texts)
        self.ids = {t: i for i, t in enumerate(self.texts)}
        self.committed = len(self.texts)

    @classmethod
    def read(cls, con) -> Labels:
        rows = con.execute("SELECT id, text FROM label ORDER BY id").fetchall()
        if any(i != k for k, (i, _) in enumerate(rows)):
            raise ValueError("the label table's ids are not 0, 1, 2, ...")
        return cls([t for _, t in rows])

    def encode(self, column: pd.Series) -> pa.Array:
        """The ids of a text column (null where the value is missing), adding the texts not known yet."""
        values = column.array if isinstance(column.dtype, pd.CategoricalDtype) else pd.Categorical(column)
        ids = np.array([self._id(t) for t in values.categories] + [-1], dtype=np.int32)
        out = ids[values.codes]
        return pa.array(out, mask=out < 0)

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


def code_in(column: str, n: int) -> str:
    """SQL: ``column`` (ids) is one of ``n`` text values, given as parameters."""
    return f"{column} IN (SELECT id FROM label WHERE text IN ({', '.join('?' for _ in range(n))}))"


def decoded(sql: str, columns: list[str]) -> str:
    """SQL: the rows of ``sql`` with its id ``columns`` replaced by their text, in the same order."""
    if not columns:
        return sql
    replace = ", ".join(f'l{i}.text AS "{c}"' for i, c in enumerate(columns))
    joins = " ".join(f'LEFT JOIN label l{i} ON l{i}.id = q."{c}"' for i, c in enumerate(columns))
    return f"SELECT q.* REPLACE ({replace}) FROM ({sql}) q {joins}"
