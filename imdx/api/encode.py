"""Arrow tables to response bytes: JSON (orjson), CSV and Parquet (pyarrow)."""

from __future__ import annotations

import io
import math

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from imdx.exports import safe_table


def records(table: pa.Table) -> list[dict]:
    """Rows as dicts; NaN becomes null (JSON has no NaN)."""
    names = table.column_names
    cols = []
    for col in table.columns:
        values = col.to_pylist()
        if pa.types.is_floating(col.type):
            values = [None if v is not None and math.isnan(v) else v for v in values]
        cols.append(values)
    return [dict(zip(names, row)) for row in zip(*cols)]


def _default(value):
    """What orjson cannot encode by itself: pandas timestamps and missing values, numpy scalars."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def json_bytes(document: dict) -> bytes:
    return orjson.dumps(document, default=_default,
                        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def csv_bytes(table: pa.Table) -> bytes:
    """CSV with formula-looking text cells neutralised (:func:`imdx.exports.safe_table`), numbers as numbers."""
    sink = io.BytesIO()
    pacsv.write_csv(safe_table(table), sink)
    return sink.getvalue()


def parquet_bytes(table: pa.Table, metadata: dict[str, str] | None = None) -> bytes:
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               **{k.encode(): v.encode() for k, v in metadata.items()}})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def frame_table(frame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)
