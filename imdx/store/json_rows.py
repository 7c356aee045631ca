"""Rows of a copy of current values (:class:`imdx.store.current.CurrentCopy`) as JSON objects, without decoding
them into a table first.

Every column of an answer is a text (a label: its JSON text is made once per label, :meth:`Labels.json`), an
area's name (once per label too), a release's source or edition (once per release), the dataflow's unit, or a
number. A row is the pieces ``{"destination":``, ``"DEU"``, ``,"origin":``, ``"AFG"``, ... ``}`` joined: the
texts, names and releases of a whole page are taken from one table of encoded values in one array operation, the
numbers are encoded by orjson from Python numbers, as :func:`imdx.api.encode.records` gives them. The bytes are
those of ``orjson.dumps(records(table))`` for the decoded rows (``tests/store/test_current.py`` checks it on every
row of every dataflow), in about a tenth of the time for a page of fifty rows.
"""

from __future__ import annotations

import numpy as np
import orjson


class JsonRows:
    """Encodes rows of ``copy`` with the columns ``wanted``; ``text``: the columns holding label ids, ``names``:
    area code to name, ``releases``: (release ids, their sources, their editions)."""

    def __init__(self, copy, wanted: list[str], text: set[str], unit: str, labels, names: tuple[dict, object],
                 releases: tuple[list[int], list[str], list[str]]):
        self.width = 2 * len(wanted) + 1  # a key and a value per column, and the row's end
        self.template = np.empty(self.width, dtype=object)
        tables: list[np.ndarray] = []
        offsets: list[int] = []
        self.codes: list[np.ndarray] = []
        self.coded_at: list[int] = []
        #: (place, numbers, nulls or None) of each column of numbers
        self.numbers: list[tuple[int, np.ndarray, np.ndarray | None]] = []
        by_release: dict[str, np.ndarray] = {}
        ids, sources, editions = releases
        for k, texts in (("source", sources), ("edition", editions)):
            table = np.full(max(ids, default=-1) + 2, b"null", dtype=object)
            table[np.asarray(ids, dtype=np.int64) + 1] = [orjson.dumps(t) for t in texts]
            by_release[k] = table
        mapping, revision = names

        def coded(place: int, table: np.ndarray, codes: np.ndarray | None) -> None:
            if codes is None:  # nulls only
                self.template[place] = b"null"
                return
            offsets.append(sum(len(t) for t in tables) + 1)  # a code's piece is at its offset + code (+1: null)
            tables.append(table)
            self.codes.append(codes)
            self.coded_at.append(place)

        for i, column in enumerate(wanted):
            self.template[2 * i] = (b"{" if i == 0 else b",") + orjson.dumps(column) + b":"
            place = 2 * i + 1
            if column.endswith("_name") and column not in copy.table.column_names:
                coded(place, labels.json(f"area names {revision}", mapping), copy.columns[column[:-5]])
            elif column == "unit":
                self.template[place] = orjson.dumps(unit)
            elif column in by_release:
                coded(place, by_release[column], copy.columns["release_id"])
            elif column in text:
                coded(place, labels.json(), copy.columns[column])
            elif column in copy.columns:
                values = copy.columns[column]
                if values is None:
                    self.template[place] = b"null"
                else:
                    self.numbers.append((place, values, copy.nulls.get(column)))
            else:
                raise ValueError(f"no column {column!r} in the copy")
        self.table = np.concatenate(tables) if tables else np.empty(0, dtype=object)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.template[-1] = b"}"

    def encode(self, rows: np.ndarray) -> bytes:
        """The JSON array of the rows at ``rows``."""
        if len(rows) == 0:
            return b"[]"
        pieces = np.empty((len(rows), self.width), dtype=object)
        pieces[:] = self.template
        if self.codes:
            at = np.stack([codes[rows] for codes in self.codes], axis=1) + self.offsets
            pieces[:, self.coded_at] = self.table[at]
        for place, values, nulls in self.numbers:
            out = values[rows].tolist()
            if nulls is not None:
                for i in np.flatnonzero(nulls[rows]).tolist():
                    out[i] = None
            pieces[:, place] = orjson.dumps(out)[1:-1].split(b",")
        pieces[1:, 0] = b"," + pieces[0, 0]
        pieces[0, 0] = b"[" + pieces[0, 0]
        pieces[-1, -1] = b"}]"
        return b"".join(pieces.ravel().tolist())
