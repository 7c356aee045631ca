"""The footnotes of UN DESA's migrant-stock workbooks: what each mark of the ``Notes`` column means.

A value's ``note`` attribute keeps the marks as published (``"* 33"``: the name's ``*`` and the Notes
column's ``33``); the workbook's notes sheet says what they mean. Two layouts:

* 2020 (sheet ``Notes``): general notes as sentences, one of them ``* For country notes, please refer to
  Notes`` (the mark ``*``), then the numbered notes: the number in column A, the text in column B;
* 2019 and 2015 (sheet ``NOTES``): the mark in column A (``*``, ``(a)``, ``(1)``), the text in column B.

Marks are compared without their brackets (:func:`marks`): ``(13)``, ``13`` and ``(e)``, ``e`` are the same.
"""

from __future__ import annotations

import re
from pathlib import Path

from imdx.model.notes import _MARK, marks
from imdx.sources.undesa_ims._common import label
from imdx.sources.xlsx import open_workbook

__all__ = ["marks", "read_notes"]
_STAR_2020 = re.compile(r"^\*\s*(For country notes.*)$")


def read_notes(path: Path, sheet: str) -> dict[str, str]:
    """``{mark: text}`` of a workbook's notes sheet (``{}`` when the workbook has no such sheet), read by the
    guarded reader (:func:`imdx.sources.xlsx.open_workbook`)."""
    with open_workbook(path, "a complete xlsx workbook as published by UN DESA") as book:
        if sheet not in book.sheet_names:
            return {}
        rows = book.rows(sheet)
    out: dict[str, str] = {}
    for row in rows:
        cells = [" ".join(label(c).split()) for c in row]
        cells = [c for c in cells if c]
        if not cells:
            continue
        star = _STAR_2020.match(cells[0])
        if star:
            out["*"] = star.group(1)
            continue
        m = _MARK.match(cells[0])
        if m and len(cells) > 1:
            out[m.group(1) or m.group(2)] = " ".join(cells[1:])
    return out
