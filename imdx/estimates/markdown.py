"""Markdown tables for the estimate reports (no extra dependency)."""

from __future__ import annotations

import math

import pandas as pd

#: columns printed as they are (no thousands separator)
PLAIN = {"year", "period_start"}


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v).replace("|", "\\|")


def table(frame: pd.DataFrame, index: bool = False) -> str:
    """A pipe table of ``frame`` (the index as first column when ``index``)."""
    df = frame.reset_index() if index else frame
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    plain = [str(c) in PLAIN for c in df.columns]
    body = ["| " + " | ".join(str(v) if p else _cell(v.item() if hasattr(v, "item") else v)
                              for v, p in zip(row, plain)) + " |"
            for row in df.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])
