"""``imdx census``: foreign-born tabulations from census and survey microdata.

* ``imdx census tabulate FILE --mapping M [--engine duckdb|spark] [--table DIMS ...] [--min-cell N]``
  tabulates a person file and stores the tables as a release of ``foreign_born_population``;
* ``imdx census mappings`` lists the built-in mappings and the files they read;
* ``imdx census synth DIR --rows N`` writes a synthetic person file fitted to a real one.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from imdx.cli.common import DB_OPTION, console, print_issues
from imdx.config import settings
from imdx.errors import ConfigError


@click.group("census")
def census_group():
    """Foreign-born tabulations from census and survey microdata (person records)."""


def _areas(cfg, store):
    areas = store.areas() if store is not None else None
    if areas is not None:
        return areas
    if cfg.mirror is None or not (cfg.mirror / "m49").is_dir():
        raise ConfigError("the area table is needed to code places of birth: load a store first (`imdx load m49`), "
                          "or set IMDX_MIRROR (or --mirror) to a folder holding m49/")
    from imdx.codes.build import build_areas

    return build_areas(cfg.mirror / "m49")


def _bar():
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=console(err=True), transient=True)


@census_group.command("tabulate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--mapping", "mapping_name", required=True,
              help="A built-in mapping (see `imdx census mappings`) or the path of a TOML mapping file.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="DuckDB on this machine (out-of-core), or Apache Spark (local mode or a cluster).")
@click.option("--spark-master", default="local[2]", show_default=True,
              help="With --engine spark: local[N] (N cores here) or a cluster URL (spark://host:7077, yarn, k8s://...).")
@click.option("--table", "table_specs", multiple=True,
              help="A cross-tab of comma-separated dimensions instead of the standard tables (repeatable): "
                   "region, birthplace, nativity, citizenship, sex, age, age_broad, year_of_arrival.")
@click.option("--min-cell", type=click.IntRange(0), default=5, show_default=True,
              help="Suppress cells counted from fewer person records than this (0: suppress none).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where non-Parquet files are staged as Parquet while tabulating (default: the system's temp).")
@click.option("--memory-limit", default="3GB", show_default=True, help="DuckDB's memory limit (it spills past it).")
@click.option("--max-bytes", type=click.IntRange(1), default=None,
              help="Refuse to read more than this many (decompressed) bytes of a text file (default 256 GiB).")
@click.option("--max-combinations", type=click.IntRange(1), default=2_000_000, show_default=True,
              help="Refuse tables whose variables take more combinations of values than this (an identifier "
                   "or free text declared as a code multiplies them).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the observations to this .csv or .parquet file.")
@click.option("--dry-run", is_flag=True, help="Tabulate and print, store nothing.")
@click.option("--mirror", type=click.Path(file_okay=False), default=None,
              help="Folder of the publishers' files, for the area table when the store is empty ($IMDX_MIRROR).")
@DB_OPTION
def tabulate_cmd(file, mapping_name, engine, spark_master, table_specs, min_cell, work_dir, memory_limit, max_bytes,
                 max_combinations, output, dry_run, mirror, db):
    """Tabulate the person file FILE (CSV, fixed width with its DDI code book, Stata, SPSS, R data, Parquet
    or a folder of Parquet parts) as its mapping says, and store the tables as a release of
    foreign_born_population (query them with `imdx query foreign_born_population --nativity FOR`)."""
    from imdx.census.mapping import load_mapping
    from imdx.census.tables import parse_table
    from imdx.census.tabulate import store_tabulation, tabulate
    from imdx.census.text import Limits
    from imdx.store import connect, exists

    cfg = settings(mirror=mirror, db=db)
    mapping = load_mapping(mapping_name)
    tables = [parse_table(t) for t in table_specs] or None
    options = {"master": spark_master} if engine == "spark" else {
        "memory_limit": memory_limit, "temp_directory": str(work_dir) if work_dir else None}
    store = None if dry_run and not exists(cfg.db) else connect(cfg.db, read_only=dry_run)
    try:
        areas = _areas(cfg, store)
        with _bar() as bar:
            task = bar.add_task(f"reading {file.name}", total=None)

            def progress(stage, done, total):
                label = f"{stage} {file.name}" + (f" ({engine})" if stage == "tabulating" else "")
                bar.update(task, description=label, completed=done, total=total)

            tab = tabulate(file, mapping, areas, engine=engine, engine_options=options, tables=tables,
                           min_cell=min_cell, work_dir=work_dir,
                           limits=Limits(max_bytes=max_bytes) if max_bytes else None,
                           max_combinations=max_combinations, progress=progress)
        out = console()
        _print_summary(out, tab, areas)
        print_issues(out, tab.report.to_frame())
        if output is not None:
            _write(tab, output)
        if dry_run:
            out.print("dry run: nothing stored")
            return
        release_id = store_tabulation(store, tab, areas)
    finally:
        if store is not None:
            store.close()
    if release_id is None:
        out.print(f"{tab.sample}: already stored (same file, mapping and options); nothing changed")
    else:
        out.print(f"stored as release {release_id} (source census, sample {tab.sample}); query with "
                  f"`imdx query foreign_born_population --sample {tab.sample} --nativity FOR`")


def _write(tab, output: Path) -> None:
    frame = tab.observations()
    if output.suffix.lower() == ".parquet":
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
    click.echo(f"wrote {len(frame):,} observations to {output}", err=True)


def _num(tab, cell, weighted: bool) -> str:
    if cell is None:
        return "–"
    if cell["suppressed"]:
        return "suppressed"
    return f"{tab.persons(cell['weight_units']):,.0f}" if weighted else f"{cell['records']:,}"


def _print_summary(out, tab, areas) -> None:
    table = Table("", "persons (weighted)", "records", "share of persons",
                  title=f"{tab.sample}: {tab.mapping.title} ({tab.engine}; cells under {tab.min_cell} records "
                        "suppressed)")
    total = tab.cell()
    for code, label in (("_T", "All persons"), ("NAT", "Native-born"), ("FOR", "Foreign-born"),
                        ("_U", "Place of birth unknown"), ("_Z", "Not applicable")):
        cell = tab.cell(nativity=code) if code != "_T" else total
        if cell is None:
            continue
        shown = total["weight_units"] and not cell["suppressed"] and not total["suppressed"]
        share = f"{100 * cell['weight_units'] / total['weight_units']:.2f}%" if shown else ""
        table.add_row(label, _num(tab, cell, tab.weighted), _num(tab, cell, False), share)
    out.print(table)
    if "birthplace" in tab.cells and (tab.cells["birthplace"] != "_T").any():
        born = tab.cells[(tab.cells["nativity"] == "FOR") & (tab.cells["birthplace"] != "_T")
                         & (tab.cells[["region", "citizenship", "sex", "age", "year_of_arrival"]] == "_T").all(axis=1)]
        top = born.sort_values("weight_units", ascending=False).head(15)
        detail = Table("country of birth", "persons (weighted)", "records",
                       title=f"Foreign-born: the {len(top)} largest countries of birth (of {len(born)})")
        for _, cell in top.iterrows():
            name = areas.name(cell["birthplace"]) or cell["birthplace"]
            detail.add_row(f"{name} ({cell['birthplace']})", _num(tab, cell, tab.weighted), _num(tab, cell, False))
        out.print(detail)


@census_group.command("mappings")
def mappings_cmd():
    """The built-in mappings: the person files imdx knows how to read."""
    from imdx.census.mapping import from_dict
    from imdx.census.sources import MAPPINGS, MIRROR_FILES

    table = Table("mapping", "title", "format", "variables", "files in $IMDX_MIRROR/census_microdata",
                  show_lines=True)
    for name, data in MAPPINGS.items():
        m = from_dict(data)
        variables = ", ".join(f"{r} ({m.column(r)})" for r in m.roles) + (f", weight ({m.weight.column})" if m.weight
                                                                           else ", unweighted")
        files = "\n".join(f for f, n in MIRROR_FILES.items() if n == name)
        table.add_row(name, m.title, m.format, variables, files)
    console().print(table)
    click.echo("A mapping of your own is a TOML file of the same shape: see docs/census.md.")


@census_group.command("synth")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", type=click.IntRange(1), required=True, help="How many person records to write.")
@click.option("--like", "like", type=click.Path(exists=True, path_type=Path), default=None,
              help="The real person file to fit (default: the UCI Adult file in $IMDX_MIRROR/census_microdata).")
@click.option("--mapping", "mapping_name", default=None, help="The mapping of --like (default: uci_adult).")
@click.option("--partitions", type=click.IntRange(1), default=None,
              help="Number of Parquet part files (default: one per 5 million rows).")
@click.option("--seed", type=int, default=2024, show_default=True, help="Seed of the random draws.")
@click.option("--mirror", type=click.Path(file_okay=False), default=None, help="The mirror folder ($IMDX_MIRROR).")
def synth_cmd(directory, rows, like, mapping_name, partitions, seed, mirror):
    """Write ROWS synthetic person records, fitted to a real person file, as Parquet part files in DIRECTORY
    (with _imdx_mapping.toml, the mapping that reads them)."""
    from imdx.census.mapping import load_mapping
    from imdx.census.synthetic import MAPPING_FILE, fit, generate

    cfg = settings(mirror=mirror)
    if like is None:
        if cfg.mirror is None:
            raise ConfigError("give --like FILE --mapping M, or set IMDX_MIRROR to the folder holding "
                              "census_microdata/")
        like, mapping_name = cfg.mirror / "census_microdata" / "uci_adult" / "adult.data", mapping_name or "uci_adult"
    if mapping_name is None:
        raise click.UsageError("--like needs --mapping (the mapping that reads it)")
    model = fit(like, load_mapping(mapping_name), _areas(cfg, None))
    with _bar() as bar:
        task = bar.add_task(f"writing {rows:,} synthetic persons", total=rows)
        parts = generate(model, rows, directory, partitions=partitions, seed=seed,
                         progress=lambda done, total: bar.update(task, completed=done))
    size = sum(p.stat().st_size for p in parts)
    click.echo(f"wrote {rows:,} persons fitted to {model.source} ({len(model.cells):,} combinations of "
               f"{', '.join(model.columns)}) in {len(parts)} part file(s), {size / 2**20:,.1f} MiB, to {directory}; "
               f"tabulate with `imdx census tabulate {directory} --mapping {directory / MAPPING_FILE}`")
