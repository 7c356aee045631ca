"""One tabulation, from a person file to a release of ``foreign_born_population``.

:func:`tabulate` reads the file as its mapping says (staging it to Parquet unless it is Parquet
already), has the engine count records and sum weights in one pass, maps the published codes to
imdx's, makes the tables with their margins, suppresses small cells, and reports every value it could
not map at its first line. :func:`store_tabulation` writes the result as one release with its
provenance: the microdata file and its sha256, the code book, the mapping (sha256 of its canonical
JSON) and the tabulation's options.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from imdx.census import tables as tb
from imdx.census.engine import BAD_WEIGHT, Engine, make_engine
from imdx.census.errors import CensusError, MicrodataError
from imdx.census.harmonise import Problem, harmonise
from imdx.census.mapping import Mapping
from imdx.census.read import PersonFiles, stage
from imdx.census.text import Limits
from imdx.codes.areas import Areas
from imdx.ingest import ingest
from imdx.model.report import Issue, Report
from imdx.sources.base import finish
from imdx.sources.fetch import sha256_of
from imdx.store.base import FileRecord, ReleaseRecord, Store

FLOW = "foreign_born_population"
SOURCE = "census"
DEFAULT_MIN_CELL = 5
#: the most combinations of published values a tabulation may meet (the cube is mapped in Python)
MAX_COMBINATIONS = 2_000_000
#: at most this many problem values are located (one more scan finds them all); the rest are reported
#: with their counts but without a line
MAX_LOCATED = 500

Progress = Callable[[str, float, float | None], None]


@dataclass
class Tabulation:
    mapping: Mapping
    path: Path
    sample: str
    engine: str
    tables: list[tb.Table]
    cells: pd.DataFrame  # one row per cell: the dimensions, records, weight_units, suppressed
    report: Report
    files: PersonFiles
    min_cell: int
    skipped: list[tb.Table] = field(default_factory=list)

    @functools.cached_property
    def checksum(self) -> tuple[str, int]:
        """(sha256, size) of the microdata file, computed when first asked (storing asks)."""
        return checksum(self.path)

    @property
    def weighted(self) -> bool:
        return self.mapping.weight is not None

    def persons(self, units) -> float:
        """A weighted count from weight units."""
        return units / 10 ** self.files.weight_decimals if self.weighted else units

    def cell(self, **dims) -> pd.Series | None:
        """The cell whose dimensions are ``dims`` (the others ``_T``), e.g. ``cell(nativity="FOR")``."""
        mask = np.ones(len(self.cells), bool)
        for dim in tb.DIMENSIONS:
            mask &= self.cells[dim].to_numpy() == dims.get(dim, tb.TOTAL)
        rows = self.cells[mask]
        return None if rows.empty else rows.iloc[0]

    def observations(self) -> pd.DataFrame:
        """The cells in the dataflow's model: for each cell, PERSONS (weighted) and RECORDS (its base)."""
        c = self.cells
        n = len(c)
        persons = c["weight_units"].to_numpy(np.float64) / 10 ** self.files.weight_decimals if self.weighted \
            else c["records"].to_numpy(np.float64)
        records = c["records"].to_numpy(np.float64)
        hidden = c["suppressed"].to_numpy()
        frame = pd.concat([c[list(tb.DIMENSIONS)]] * 2, ignore_index=True)
        frame["measure"] = ["PERSONS"] * n + ["RECORDS"] * n
        frame["value"] = np.where(np.concatenate([hidden, hidden]), np.nan, np.concatenate([persons, records]))
        frame["obs_status"] = np.where(np.concatenate([hidden, hidden]), "L", "A")
        frame["area"] = self.mapping.country
        frame["sample"] = self.sample
        frame["year"] = self.mapping.year
        frame["definition"] = "B"
        names = self.region_names()
        frame["note"] = frame["region"].map(names) if names else None
        frame["cell_file"] = self.path.name
        frame["cell_column"] = ", ".join(self.mapping.column(r) for r in self.mapping.roles)
        frame["cell_row"] = pd.NA
        return finish(FLOW, frame)

    def region_names(self) -> dict[str, str]:
        if self.mapping.region is None:
            return {}
        names = dict(self.mapping.region.codes)
        var = self.files.codebook.get(self.mapping.region.column) if self.files.codebook else None
        if var is not None:
            names = {**var.labels, **names}
        return names


def _tables(requested: list[tb.Table] | None, mapping: Mapping,
            report: Report) -> tuple[list[tb.Table], list[tb.Table]]:
    made, skipped = tb.available(list(requested or tb.STANDARD), mapping.roles)
    if requested and skipped:
        missing = sorted({d for t in skipped for d in t.dims} - set(mapping.roles) - {"nativity"})
        raise CensusError(f"the mapping {mapping.id!r} declares no {', '.join(missing)}, which the table(s) "
                          f"{', '.join(t.name for t in skipped)} need")
    if skipped:
        wanting = {t.name: ", ".join(d for d in t.dims if d not in mapping.roles and d != "nativity") for t in skipped}
        report.add(Issue("table-not-made", "standard tables not made, for want of their variables in the mapping: "
                         + "; ".join(f"{name} ({dims})" for name, dims in wanting.items()), severity="info",
                         source=SOURCE, dataflow=FLOW, n_obs=0))
    if not made:
        raise CensusError(f"no table can be made from the mapping {mapping.id!r}")
    return made, skipped


def weights_certainly_valid(files: PersonFiles) -> bool:
    """True when the Parquet files' statistics prove every weight present and not negative: the engine
    then sums them without checking each (the files' footers are read, not their data)."""
    if files.weight is None or files.staged or files.weight_scale is not None:
        return files.weight is None  # decimal weights (NaN has no statistics) are checked row by row
    try:
        for path in files.paths:
            meta = pq.ParquetFile(path).metadata
            index = meta.schema.names.index(files.weight)
            for g in range(meta.num_row_groups):
                stats = meta.row_group(g).column(index).statistics
                if stats is None or not stats.has_min_max or stats.null_count != 0 or stats.min < 0:
                    return False
    except (OSError, ValueError, TypeError):
        return False
    return True


def tabulate(path: str | Path, mapping: Mapping, areas: Areas, *, engine: str | Engine = "duckdb",
             engine_options: dict | None = None, tables: list[tb.Table] | None = None,
             min_cell: int = DEFAULT_MIN_CELL, work_dir: str | Path | None = None, limits: Limits | None = None,
             max_combinations: int = MAX_COMBINATIONS, progress: Progress | None = None) -> Tabulation:
    """Tabulate the person file ``path`` (see the module docstring). Raises :class:`MicrodataError` for
    a file that cannot be read as its mapping says (naming the file, line and column)."""
    path = Path(path)
    progress = progress or (lambda *a: None)
    if min_cell < 0:
        raise CensusError("the suppression threshold (--min-cell) cannot be negative")
    report = Report()
    made, skipped = _tables(tables, mapping, report)
    births = mapping.birth_roles
    roles = [r for r in mapping.roles if any(r in t.roles(births) for t in made)]
    own = isinstance(engine, str)
    runner = make_engine(engine, **(engine_options or {})) if own else engine
    try:
        with tempfile.TemporaryDirectory(prefix="imdx-census-", dir=work_dir) as work:
            files = stage(path, mapping, roles, Path(work), limits=limits,
                          progress=lambda what, done, total: progress(what, done, total))
            sets = tb.grouping_sets(made, births)
            cube = runner.cube(files, sets, check_weight=not weights_certainly_valid(files),
                               max_rows=max_combinations, progress=lambda f: progress("tabulating", f, 1.0))
            if cube.num_rows > max_combinations:
                raise CensusError(_too_many(cube, mapping, roles, max_combinations))
            coded = harmonise(cube, mapping, roles, files.codebook, areas)
            _weights(runner, files, mapping, coded, report)
            _locate(runner, files, coded.problems, report)
        progress("tabulating", 1.0, 1.0)
    finally:
        if own:
            runner.close()
    cells = tb.suppress(tb.cells(coded.frame, made, births), min_cell)
    return Tabulation(mapping, path, f"{mapping.id}/{path.name}", runner.name, made, cells, report, files, min_cell,
                      skipped)


def _too_many(cube, mapping: Mapping, roles: list[str], limit: int) -> str:
    distinct = {r: len(set(cube[f"v_{r}"].to_pylist())) for r in roles if f"v_{r}" in cube.column_names}
    worst = max(distinct, key=distinct.get)
    return (f"the variables of these tables take more than {limit:,} combinations of values (the column "
            f"{mapping.column(worst)!r}, declared as {worst}, alone takes at least {distinct[worst]:,}); is it an "
            "identifier or free text? Correct the mapping, ask for smaller tables (--table), or raise the limit "
            "(--max-combinations)")


def _weights(engine: Engine, files: PersonFiles, mapping: Mapping, coded, report: Report) -> None:
    if not coded.bad_weight:
        return
    where = engine.locate(files, [{BAD_WEIGHT: True}])[0]
    column = mapping.weight.column
    if mapping.weight.invalid == "error":
        raise MicrodataError(where.file if where else files.display,
                             f"{coded.bad_weight:,} record(s) have a missing or negative weight; this is the first",
                             row=where.row if where else None, column=column,
                             unit=files.unit, hint="Correct the weights, or set [weight] invalid = \"exclude\" in the "
                             "mapping to leave such records out of every count (they are then reported); nothing was "
                             "stored.")
    frame = coded.frame
    frame["records"] = frame["records"] - frame["bad_weight"]
    report.add(Issue("invalid-weight", f"{coded.bad_weight:,} record(s) with a missing or negative weight were left "
                     f"out of every count (mapping {mapping.id}: weight invalid = \"exclude\")", severity="error",
                     source=SOURCE, dataflow=FLOW, file=where.file if where else files.display,
                     row=where.row if where else None, column=column, n_obs=coded.bad_weight))


def _locate(engine: Engine, files: PersonFiles, problems: list[Problem], report: Report) -> None:
    problems = sorted(problems, key=lambda p: ({"error": 0, "warning": 1, "info": 2}[p.severity], -p.records, p.type,
                                               p.role, repr(sorted(p.condition.items(), key=str))))
    located = engine.locate(files, [p.condition for p in problems[:MAX_LOCATED]])
    for i, p in enumerate(problems):
        where = located[i] if i < len(located) else None
        area = next((str(v) for r, v in p.condition.items() if r in ("birthplace", "citizenship") and v is not None),
                    None)
        report.add(Issue(p.type, p.message.replace("{n}", f"{p.records:,}"), severity=p.severity, source=SOURCE,
                         dataflow=FLOW, file=where.file if where else files.display,
                         row=where.row if where else None, column=p.column, area=area, n_obs=p.records))


def checksum(path: Path) -> tuple[str, int]:
    """sha256 and size of a file; for a folder of Parquet parts, the sha256 of their names and checksums."""
    if not path.is_dir():
        return sha256_of(path), path.stat().st_size
    digest, size = hashlib.sha256(), 0
    for part in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{part.relative_to(path).as_posix()}:{sha256_of(part)}\n".encode())
        size += part.stat().st_size
    return digest.hexdigest(), size


# -- storing ---------------------------------------------------------------------------------------
def release_record(tab: Tabulation) -> ReleaseRecord:
    now = datetime.now(UTC).replace(tzinfo=None)
    options = json.dumps({"min_cell": tab.min_cell, "tables": [[t.name, list(t.dims), t.age] for t in tab.tables]},
                         sort_keys=True)
    mapping_json = json.dumps(tab.mapping.to_dict(), sort_keys=True, default=list)
    sha256, size = tab.checksum
    files = [FileRecord(tab.path.name, tab.path.resolve().as_uri(), sha256, size, str(tab.path.resolve()), now),
             FileRecord(f"mapping:{tab.mapping.id}", f"imdx-census-mapping://{tab.mapping.id}", tab.mapping.digest(),
                        len(mapping_json), tab.mapping.origin, now),
             FileRecord("tabulation-options.json", "imdx-census-options://" + options,
                        hashlib.sha256(options.encode()).hexdigest(), len(options), "imdx census tabulate", now)]
    if tab.files.codebook is not None and not tab.path.is_dir():
        book = tab.path.parent / tab.files.codebook.file
        if book.is_file():
            files.append(FileRecord(book.name, book.resolve().as_uri(), sha256_of(book), book.stat().st_size,
                                    str(book.resolve()), now))
    weighting = "weighted" if tab.weighted else "unweighted (each record counts one person)"
    title = (f"{tab.mapping.title}: foreign-born tables from {tab.path.name} ({weighting}; cells under "
             f"{tab.min_cell} records suppressed; {', '.join(t.name for t in tab.tables)})")
    return ReleaseRecord(source=SOURCE, key=tab.sample, title=title[:1000], edition=str(tab.mapping.year),
                         published=date.today(), licence=tab.mapping.licence, files=files)


def store_tabulation(store: Store, tab: Tabulation, areas: Areas) -> int | None:
    """Write the tabulation as one release through :func:`imdx.ingest.ingest` (all or nothing); None when
    the same file, mapping and options are stored already.

    The generic checks of :mod:`imdx.checks` (parts against totals, jumps) are not run (``checked=True``;
    :meth:`Tabulation.observations` puts the table in the model's shape itself): every cell is an exact
    sum over the same records, so the margins add up by construction (``tests/census`` verifies it), and
    the rules would report only the cells suppression hid, some of them quoting what was hidden."""
    record = release_record(tab)
    if store.has_release(record):
        return None
    return ingest(store, record, {FLOW: tab.observations()}, report=tab.report, areas=areas, checked=True)


