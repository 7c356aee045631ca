"""The small interface every source module follows: fetch, read, harmonise.

A *source* is one agency data product (UN DESA International Migrant Stock, World Bank WDI, ...).
It publishes *releases* (an edition or a vintage), each made of files. For each release a source
module declares a :class:`ReleaseSpec`: the files (their published names, official URLs and
checksums), the edition and publication date, the licence, and a ``build`` function that turns the
fetched files into observation tables, one per dataflow:

* **fetch** (generic, :mod:`imdx.sources.fetch`): the bytes, from the mirror folder or the publisher;
* **read** (per source): the file as published, faithfully (its own columns, markers as strings);
* **harmonise** (per source): into the observation model, areas resolved through
  :class:`LoadContext.map_areas`, which records what it could not map as issues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from imdx.checks.tolerance import ROUNDED, Tolerance
from imdx.codes.areas import Areas
from imdx.model import dataflows
from imdx.model.dataflows import ATTRIBUTES, TEXT_ATTRIBUTES
from imdx.model.report import Issue, Report


@dataclass(frozen=True)
class SourceFile:
    name: str  # path inside the source's mirror folder, e.g. "derived/x.rda"
    url: str  # official download location
    sha256: str | None = None  # checksum of the published bytes we know of (None: not verified)


@dataclass(frozen=True)
class ReleaseSpec:
    source: str
    key: str  # unique within the source, e.g. "ims2020-destination"
    title: str
    edition: str  # the publisher's edition or vintage label
    published: date
    licence: str
    files: tuple[SourceFile, ...]
    dataflows: tuple[str, ...]
    build: Callable[[dict[str, Path], LoadContext], dict[str, pd.DataFrame]] = field(compare=False, repr=False)
    folder: str | None = None  # the mirror folder, when it is not named after the source

    @property
    def mirror_folder(self) -> str:
        return self.folder or self.source


@dataclass(frozen=True)
class Source:
    name: str  # folder name in the mirror, e.g. "undesa_ims"
    title: str
    publisher: str
    homepage: str
    releases: tuple[ReleaseSpec, ...]
    #: alias systems only this source registers (its own country codes). A release that adds nothing
    #: to the areas but aliases of these cannot change what another source's release registers, so
    #: the loader may write it ahead of them (see :mod:`imdx.load`)
    own_alias_systems: tuple[str, ...] = ()
    #: how far its parts may be from its totals before the checks report it: exact counts or rounded
    #: figures (:mod:`imdx.checks.tolerance`); ``tolerances`` overrides it for some dataflows
    tolerance: Tolerance = ROUNDED
    tolerances: tuple[tuple[str, Tolerance], ...] = ()

    def tolerance_for(self, dataflow: str) -> Tolerance:
        return dict(self.tolerances).get(dataflow, self.tolerance)


@dataclass
class LoadContext:
    """What a release's ``build`` function gets besides its files: the areas and the report."""

    areas: Areas
    report: Report
    source: str
    dataflow: str | None = None
    #: the release's footnotes as published: mark (without brackets) -> text
    notes: dict[str, str] = field(default_factory=dict)

    def issue(self, type: str, message: str, **where) -> None:
        self.report.add(Issue(type=type, message=message, source=self.source,
                              dataflow=where.pop("dataflow", self.dataflow), **where))

    def map_areas(self, values: pd.Series, systems: tuple[str, ...], *, file: str, column: str,
                  rows: pd.Series | None = None, sheet: str | None = None) -> pd.Series:
        """Area codes for ``values``; each distinct value that maps to nothing is one ``unmapped-area``
        issue naming the file, the first row it occurs in, the column and the name, and how many
        observations (rows) it touches. Those rows get ``<NA>``; :func:`finish` drops them."""
        codes = self.areas.map(values, systems)
        missing = codes.isna() & values.notna() & (values.astype("string").str.strip() != "")
        if missing.any():
            bad = pd.DataFrame({"value": values[missing].astype(str),
                                "row": rows[missing] if rows is not None else values[missing].index})
            for value, group in bad.groupby("value", sort=True):
                self.issue("unmapped-area", f"{value!r} is not a known country, area or region name or code "
                           f"({'/'.join(systems)}); its rows were not loaded. Add an alias to "
                           f"imdx/codes/aliases/ if it is a known place.", severity="error", file=file,
                           sheet=sheet, row=int(group["row"].iloc[0]), column=column, area=value,
                           n_obs=len(group))
        return codes


def finish(flow_id: str, frame: pd.DataFrame, flow: dataflows.Dataflow | None = None) -> pd.DataFrame:
    """Check a harmonised table against its dataflow and put its columns in the model's order.

    Rows whose area could not be mapped (``<NA>`` in an area dimension) are dropped here; they
    were reported by :meth:`LoadContext.map_areas`. Text columns (the dimensions but ``year``, and the
    text attributes) come out as pandas categoricals of strings: a release repeats a few hundred codes
    millions of times, and every later step (checks, the store) works on the codes.
    """
    flow = flow or dataflows.get(flow_id)
    dims = flow.dimension_names
    missing = [c for c in dims + ["value"] if c not in frame.columns]
    if missing:
        raise AssertionError(f"harmonised {flow_id} lacks columns {missing}")
    out = frame.copy(deep=False)  # copy-on-write (pandas 3): the columns replaced below leave ``frame`` as it was
    for col in ATTRIBUTES:
        if col not in out.columns:
            out[col] = coded(["A" if col == "obs_status" else None], np.zeros(len(out), dtype=np.int8))
    area_dims = [d.name for d in flow.dimensions if d.is_area]
    if area_dims:
        out = out.dropna(subset=area_dims)
    out["value"] = pd.to_numeric(out["value"], errors="raise").astype("float64")
    for col in flow.measures:
        out[col] = pd.to_numeric(out[col], errors="raise").astype("float64") if col in out else np.nan
    out["year"] = out["year"].astype("Int16" if out["year"].isna().any() else "int16")  # none: no time dimension
    out["cell_row"] = pd.to_numeric(out["cell_row"]).astype("Int32")
    for col in dims[:-1] + TEXT_ATTRIBUTES:
        out[col] = _categorical(out[col])
    return out[dims + ["value", *flow.measures] + ATTRIBUTES].reset_index(drop=True)


def _categorical(column: pd.Series) -> pd.Series:
    """A text column as a categorical of strings, without unused categories."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype("string").astype("category")
    categories, codes = column.cat.categories, column.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(categories)) > 0  # O(n), where pandas sorts
    if used.all() and all(isinstance(c, str) for c in categories):
        return column
    remap = np.append(np.cumsum(used) - 1, -1).astype(codes.dtype)
    return pd.Series(coded(list(categories[used]), remap[codes]), index=column.index, name=column.name)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def coded(labels, codes) -> pd.Categorical:
    """``labels[codes]`` as a pandas Categorical, built from the codes without one Python object per row.

    A code of -1, or a label that is None or NA, gives a missing value; equal labels are merged.
    This is how sources build the long columns of a melted table (each row's area repeated over the
    columns, each column's code tiled over the rows)."""
    text = [None if _missing(v) else str(v) for v in labels]
    categories = list(dict.fromkeys(t for t in text if t is not None))
    codes = np.asarray(codes)
    if categories != text:  # some labels are missing or repeated: map the codes onto the categories
        position = {c: i for i, c in enumerate(categories)}
        remap = np.array([-1 if t is None else position[t] for t in text] + [-1], dtype=np.int32)
        codes = remap[codes]
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))


def column_letter(index: int) -> str:
    """Excel column letter of a 0-based column index, as a person sees it: 0 -> A, 26 -> AA."""
    return get_column_letter(index + 1)
