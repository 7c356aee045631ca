"""Footnote marks: the ``note`` attribute of an observation keeps a publisher's marks as published
(UN DESA's ``"* 33"``: the name's ``*`` and note 33); a release keeps what they mean
(:attr:`imdx.store.base.ReleaseRecord.notes`). Marks are compared without brackets: ``(13)`` is ``13``."""

from __future__ import annotations

import re

_MARK = re.compile(r"^\(?([0-9]{1,3}|[a-z])\)?$|^(\*)$")


def marks(note: str | None) -> list[str]:
    """The footnote marks in a ``note``, without brackets: ``"* 33"`` -> ``["*", "33"]``, ``"(17) blank"`` ->
    ``["17"]``; words that are not marks are left out."""
    out = []
    for token in (note or "").split():
        m = _MARK.match(token)
        if m:
            out.append(m.group(1) or m.group(2))
    return out
