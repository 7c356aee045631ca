"""What the command modules share: the ``--db`` option and opening the store, the console, printing
issues and tables, parsing ``--DIMENSION VALUE`` filters, and the wording of errors for the terminal.

Command modules import from here, never from each other.
"""

from __future__ import annotations

import click
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from imdx.config import settings
from imdx.errors import ImdxError, QueryError, StoreError
from imdx.store.base import Store

DB_OPTION = click.option("--db", "db", default=None,
                         help="The store: a DuckDB file, or a PostgreSQL URL (postgresql://user@host/imdx). "
                              "Default: $IMDX_DB or ./imdx.duckdb.")
LIMIT_OPTION = click.option(
    "--limit", "limit", multiple=True, metavar="NAME=VALUE",
    help="Raise or lower a limit on what a file may hold, e.g. --limit max_cells=1e8 --limit max_memory=16G "
         "(also $IMDX_MAX_CELLS, ...). Limits: max_file, max_unpacked, max_ratio, max_rows, max_columns, max_cells, "
         "max_text, max_memory.")


def limit_overrides(pairs) -> dict[str, str]:
    """``--limit NAME=VALUE`` options as a mapping for :func:`imdx.config.settings`."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip():
            raise click.UsageError(f"--limit takes NAME=VALUE, e.g. --limit max_cells=1e8 (got {pair!r})")
        out[name.strip()] = value.strip()
    return out

#: parameters the command line takes as arguments, not as ``--options``
POSITIONAL = ("dataflow", "q")


def console(err: bool = False) -> Console:
    return Console(stderr=err, highlight=False)


def open_store(db: str | None, *, read_only: bool = True) -> Store:
    """The store ``--db`` (or ``IMDX_DB``) names, which must exist (only ``imdx load`` makes one)."""
    from imdx.store import connect, exists

    target = settings(db=db).db
    if not exists(target):
        raise StoreError(f"no store at {target}; load one first with `imdx load --db {target}`")
    return connect(target, read_only=read_only)


def error_message(err: ImdxError) -> str:
    """An error worded for the command line: a :class:`QueryError` names its option as typed
    (``--destination 'X'``) and the area search as ``imdx areas X``."""
    if not isinstance(err, QueryError):
        return str(err)

    def subject(name: str, value) -> str:
        if name in POSITIONAL:
            return name if value is None else f"{name} {value!r}"
        return f"--{name.replace('_', '-')}" + ("" if value is None else f" {value!r}")

    return err.words(subject, lambda text: f"`imdx areas {text}` searches")


def parse_filters(args: list[str], flow) -> dict[str, list[str]]:
    """``--DIMENSION VALUE`` (or ``--DIMENSION=VALUE``, repeatable) from the arguments click left over."""
    filters: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise QueryError("is not a filter: filters are written --DIMENSION VALUE", kind="bad-request", value=arg)
        name, _, value = arg[2:].partition("=")
        name = name.replace("-", "_")
        if name not in flow.dimension_names:
            raise flow.unknown_dimension(name)
        if not value:
            if i + 1 >= len(args):
                raise QueryError("needs a value", kind="missing-value", parameter=name)
            value, i = args[i + 1], i + 1
        filters.setdefault(name, []).append(value)
        i += 1
    return filters


def write(frame: pd.DataFrame, fmt: str, output: str | None) -> None:
    """A result as a table for people, CSV, JSON or Parquet, to the terminal or to ``output``."""
    if fmt == "parquet":
        if not output:
            raise QueryError("needs --output FILE", kind="missing-value", parameter="format", value="parquet")
        frame.to_parquet(output, index=False)
        return
    if fmt == "csv":
        from imdx.exports import safe_frame

        text = safe_frame(frame).to_csv(index=False)  # formula-looking text cells made safe for spreadsheets
    elif fmt == "json":
        text = frame.to_json(orient="records", date_format="iso", force_ascii=False, indent=1)
    else:
        shown = frame.drop(columns=[c for c in frame.columns if c.startswith("cell_")] + ["release_id"])
        shown["value"] = shown["value"].map(lambda v: "" if pd.isna(v) else f"{v:,.12g}")
        text = shown.to_string(index=False, max_rows=200) if len(frame) else "No observations match."
        text += f"\n({len(frame):,} observations)\n"
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


def print_issues(out: Console, issues: pd.DataFrame, limit: int = 40) -> None:
    """The issue report: counts by severity and type, then the first ``limit`` issues, most serious first."""
    if issues.empty:
        out.print("No data issues.")
        return
    counts = issues.groupby(["severity", "type"]).agg(n=("type", "size"), obs=("n_obs", "sum")).reset_index()
    table = Table("severity", "type", "issues", "observations touched", title="Data issues")
    for r in counts.itertuples(index=False):
        table.add_row(r.severity, r.type, str(r.n), f"{int(r.obs):,}")
    out.print(table)
    rank = issues["severity"].map({"error": 0, "warning": 1, "info": 2})
    shown = issues.assign(_rank=rank).sort_values("_rank", kind="stable").head(limit)
    title = f"First {limit} of {len(issues)} issues (all: imdx report --all)" if len(issues) > limit else "Issues"
    detail = Table("severity", "type", "source", "location", "message", title=title)
    for r in shown.itertuples(index=False):
        file, sheet, column = (_text(v) for v in (r.file, r.sheet, r.column))
        where = ", ".join(x for x in [file, sheet and f"sheet {sheet}",
                                      pd.notna(r.row) and f"row {int(r.row)}",  # NaN or <NA> when unknown
                                      column and f"column {column}"] if x)
        detail.add_row(r.severity, r.type, _text(r.source) or "", escape(where), escape(str(r.message)))
    out.print(detail)


def _text(value) -> str | None:
    """A text cell of the issue table, None where it is missing (NaN or None)."""
    return value if isinstance(value, str) and value else None
