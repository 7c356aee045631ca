"""Small helpers on values."""

from __future__ import annotations

import math

import pandas as pd


def plain(value):
    """A value as plain Python (None for any missing marker, numpy scalars unwrapped)."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
