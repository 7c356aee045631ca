"""Data problems as typed records: an :class:`Issue` in a :class:`Report`, never an exception.

An issue says what kind of problem it is (``type``, a slug of the catalogue
:data:`imdx.model.issues.ISSUE_TYPES`, such as ``unmapped-area`` or ``parts-exceed-total``), where it
is (file, sheet, row, column, and the dataflow and areas it
touches), a message a person can act on, and how many observations it touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import pandas as pd

from imdx.model.issues import issue_type

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Issue:
    type: str
    message: str
    severity: str = "warning"
    source: str | None = None
    dataflow: str | None = None
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    area: str | None = None
    n_obs: int = 1

    def __post_init__(self):
        issue_type(self.type)  # a type of the catalogue, or a bug
        for name in ("file", "sheet", "row", "column", "area", "dataflow", "source"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str) and pd.isna(value):
                object.__setattr__(self, name, None)  # pandas' NA from a table cell means "not known"
        if self.row is not None:
            object.__setattr__(self, "row", int(self.row))
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def location(self) -> str:
        parts = [p for p in (self.file, self.sheet and f"sheet {self.sheet!r}",
                             self.row is not None and f"row {self.row}",
                             self.column and f"column {self.column}") if p]
        return ", ".join(parts)


@dataclass
class Report:
    """An ordered collection of issues, with the counts the CLI shows."""

    issues: list[Issue] = field(default_factory=list)

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    def extend(self, issues: Iterable[Issue]) -> None:
        self.issues.extend(issues)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)

    def count(self, severity: str | None = None) -> int:
        return sum(1 for i in self.issues if severity is None or i.severity == severity)

    def to_frame(self) -> pd.DataFrame:
        cols = [f.name for f in Issue.__dataclass_fields__.values()]
        return pd.DataFrame([asdict(i) for i in self.issues], columns=cols)
