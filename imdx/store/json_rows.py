"""Rows of a copy of current values (:class:`imdx.store.current.CurrentCopy`) as JSON objects, without decoding
them into a table first.

Every column of an answer is a text (a label id), an area's name (by the label id of its code), a release's source
or edition (by release id), the dataflow's unit, or a number. A row is written as one piece per column that varies
from row to row, each piece holding its key and whatever constant text precedes it (``{"destination":"DEU"``,
``,"origin":"AFG"``, ... ``,"unit":"persons","obs_status":"A"``, ...) and a closing piece. The pieces of coded
columns are encoded once, for the codes each column holds, and a page's pieces are taken from them by one array
lookup; numbers are encoded by orjson from Python numbers, as :func:`imdx.api.encode.records` gives them. The
bytes are those of ``orjson.dumps(records(table))`` for the decoded rows (``tests/store/test_current.py`` checks it
on every row of every dataflow), in about a tenth of the time for a page of fifty rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import orjson


class JsonRows:
    """Encodes rows of ``copy`` with the columns ``wanted``; ``text``: the columns holding label ids, ``names``:
    (area code to name, the areas' revision), ``releases``: (release ids, their sources, their editions)."""

    def __init__(self, copy, wanted: list[str], text: set[str], unit: str, labels, names: tuple[dict, object],
                 releases: tuple[list[int], list[str], list[str]]):
        ids, sources, editions = releases
        by_release = {"source": dict(zip(ids, sources)), "edition": dict(zip(ids, editions))}
        mapping, _ = names
        texts = labels.texts
        #: the codes of each coded column (null: -1) and the JSON of a code's value
        self.codes: list[np.ndarray] = []
        pieces: list[dict[int, bytes]] = []
        #: (column position among the pieces, numbers, nulls or None, the piece's prefix) of each column of numbers
        self.numbers: list[tuple[int, np.ndarray, np.ndarray | None, bytes]] = []
        pending = b"{"  # constant text not yet written: it goes in front of the next varying piece
        value: Callable[[int], object] | None
        places = 0
        coded_at: list[int] = []
        for i, column in enumerate(wanted):
            pending += (b"" if i == 0 else b",") + orjson.dumps(column) + b":"
            values = copy.columns.get(column, ...)
            if column.endswith("_name") and column not in copy.table.column_names:
                value = lambda code: mapping.get(texts[code])  # noqa: E731 -- one of three small lookups
                values = copy.columns[column[:-5]]
            elif column in by_release:
                value, values = by_release[column].get, copy.columns["release_id"]
            elif column in text:
                value = texts.__getitem__
            elif column == "unit":
                values = None
            elif values is not ...:
                value = None  # numbers
            else:
                raise ValueError(f"no column {column!r} in the copy")
            if values is None:  # a constant: the unit, or nulls only
                pending += orjson.dumps(unit if column == "unit" else None)
                continue
            if value is None:
                self.numbers.append((places, values, copy.nulls.get(column), pending))
                pending, places = b"", places + 1
                continue
            codes = values
            held = np.unique(codes).tolist()
            pieces.append({c: pending + orjson.dumps(None if c < 0 else value(c)) for c in held})
            self.codes.append(codes)
            coded_at.append(places)
            pending, places = b"", places + 1
        self.width = places + 1
        self.end = pending + b"}"  # the constant text after the last varying piece, and the row's end
        self.coded_at = coded_at
        # each array of codes taken once per page (the names share their dimension's codes, source and edition
        # the release ids), then spread to the coded columns
        arrays = list({id(c): c for c in self.codes}.values())
        self.arrays = arrays
        self.spread = [next(i for i, a in enumerate(arrays) if a is c) for c in self.codes]
        # one table of every coded column's pieces, ordered by (column, code): a page's are found by one search
        span = max([max(held) + 2 for held in pieces if held] or [1])
        self.bases = np.arange(len(self.codes), dtype=np.int64) * span + 1  # + 1: null (-1) is 0
        self.keys = np.asarray([j * span + 1 + c for j, held in enumerate(pieces) for c in held], dtype=np.int64)
        self.table = np.empty(len(self.keys), dtype=object)
        self.table[:] = [p for held in pieces for p in held.values()]

    def encode(self, rows: np.ndarray) -> bytes:
        """The JSON array of the rows at ``rows``."""
        if len(rows) == 0:
            return b"[]"
        out = np.empty((len(rows), self.width), dtype=object)
        if self.codes:
            keys = np.stack([codes[rows] for codes in self.arrays], axis=1)[:, self.spread] + self.bases
            out[:, self.coded_at] = self.table[np.searchsorted(self.keys, keys)]
        for place, values, nulls, prefix in self.numbers:
            numbers = values[rows].tolist()
            if nulls is not None:
                for i in np.flatnonzero(nulls[rows]).tolist():
                    numbers[i] = None
            # numbers hold no comma and no NUL: each gets its prefix, then they are split apart
            out[:, place] = (prefix + orjson.dumps(numbers)[1:-1].replace(b",", b"\0" + prefix)).split(b"\0")
        out[:, -1] = self.end + b","
        out[-1, -1] = self.end + b"]"
        out[0, 0] = b"[" + out[0, 0]
        return b"".join(out.ravel().tolist())
