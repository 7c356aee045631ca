"""Small helpers on values."""

from __future__ import annotations

import math

import pandas as pd


def plain(value):
    """A value as plain Python (None for any missing marker, numpy scalars unwrapped)."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def jsonable(value):
    """``value`` with every number, text and container as plain JSON types: numpy and pandas scalars
    unwrapped, NaN and other missing markers as None, tuples and sets as lists, dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    value = plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value
