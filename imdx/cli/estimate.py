"""``imdx estimate``: flows from stocks stored as estimate releases, remittance and comparison reports.

* ``imdx estimate flows [--method M] --from 1990 --to 2000 [--sex M] [--replicates R]`` (or ``--all``): run
  the methods (default: the recommended one) on the stored inputs, each flow with its interval, and store one
  ``imdx-estimates`` release of ``estimated_flows``;
* ``imdx estimate methods``: the method codes, which migest function each matches, the default;
* ``imdx estimate mirror [--year Y] [--dry-run]``: both reports of each corridor harmonised (de Beer et al.
  2010), stored as ``harmonised_flows``;
* ``imdx estimate remittances [--output FILE]``: the remittance-volatility and Ratha-Shaw report;
* ``imdx estimate report abel-sander|remittances|mirror --output FILE``: a markdown report.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from imdx.cli.common import DB_OPTION, console, open_store
from imdx.config import settings
from imdx.errors import ImdxError


@click.group("estimate")
def estimate_group():
    """Estimates from the store: migration flows, remittance analytics, comparison reports."""


def _periods(start: int | None, end: int | None) -> list[tuple[int, int]]:
    from imdx.estimates.inputs import STOCK_YEARS

    if start is None or end is None:
        raise click.UsageError("give --from and --to (stock years 1990, 1995, ..., 2020), or --all")
    if start not in STOCK_YEARS or end not in STOCK_YEARS or end <= start:
        raise click.UsageError(f"--from and --to must be stock years {', '.join(map(str, STOCK_YEARS))} "
                               "with --from before --to")
    return [(y, y + 5) for y in range(start, end, 5)]


@estimate_group.command("methods")
def methods_cmd():
    """The flow-estimation methods: code, the migest (R) function it reproduces, and the default."""
    from imdx.estimates.run import DEFAULT_METHOD, METHODS, MIGEST

    for m in METHODS:
        click.echo(f"{m}{'  [default (recommended)]' if m == DEFAULT_METHOD else ''}\n    migest: {MIGEST[m]}")


@estimate_group.command("flows")
@click.option("--method", "methods", multiple=True,
              help="A method code (repeatable; `imdx estimate methods` lists them with their migest "
                   "equivalents). Default: pseudo_bayesian (Azose & Raftery 2019), the recommended one.")
@click.option("--from", "start", type=int, default=None, help="First stock year (1990 ... 2015).")
@click.option("--to", "end", type=int, default=None,
              help="Last stock year; the span is cut into five-year periods.")
@click.option("--sex", "sexes", multiple=True, type=click.Choice(["_T", "M", "F"]),
              help="Sex (repeatable); default both sexes (_T).")
@click.option("--all", "everything", is_flag=True,
              help="Every method, the six periods 1990-2020, both sexes and each sex.")
@click.option("--allow-missing-vitals", is_flag=True,
              help="Run the demographic-accounting methods where an area's births/deaths are missing (taken as 0; "
                   "recorded). Births and deaths by sex are derived from WPP's both-sexes figures (see the notes).")
@click.option("--replicates", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="Perturbed runs behind each flow's interval (0: no interval). Each costs one more run.")
@click.option("--level", type=click.FloatRange(0.5, 0.99), default=0.9, show_default=True,
              help="Coverage of the intervals.")
@click.option("--total-flow", type=float, default=None,
              help="World flow total for migration_rates_dennett (default: the closed demographic "
                   "account's total for the same period and sex).")
@click.option("--dry-run", is_flag=True, help="Estimate and print the totals; store nothing.")
@DB_OPTION
def flows_cmd(methods, start, end, sexes, everything, allow_missing_vitals, replicates, level, total_flow, dry_run,
              db):
    """Estimate migration flows from the stored bilateral stocks (and births and deaths) and store them
    as one release of the dataflow estimated_flows (query it with `imdx query estimated_flows`)."""
    from rich.table import Table

    from imdx.estimates.inputs import PERIODS, SEXES, StoreInputs
    from imdx.estimates.run import DEFAULT_METHOD, METHODS, MIGEST, run_all, store_estimates

    if everything:
        methods, periods, sexes = tuple(methods) or METHODS, PERIODS, tuple(sexes) or SEXES
    else:
        methods = tuple(methods) or (DEFAULT_METHOD,)
        periods, sexes = _periods(start, end), tuple(sexes) or ("_T",)
    err = console(err=True)
    with open_store(db, read_only=dry_run) as store:
        inputs = StoreInputs(store)
        estimates = run_all(inputs, methods=methods, periods=periods, sexes=sexes,
                            allow_missing_vitals=allow_missing_vitals, total_flow=total_flow,
                            replicates=replicates, level=level,
                            progress=lambda what: err.print(f"estimating {what}"))
        for m in dict.fromkeys(e.method for e in estimates):
            click.echo(f"{m}{' (default)' if m == DEFAULT_METHOD else ''}: migest {MIGEST[m]}")
        table = Table(title=f"Estimated flows ({level:.0%} intervals; bounds: the cells' bounds summed)")
        table.add_column("method", no_wrap=True, min_width=39)
        for name in ("period", "sex", "world total", "bounds", "adjustments"):
            table.add_column(name)
        for e in estimates:
            bounds = ("-" if e.lower is None else
                      f"{np.nansum(e.lower - np.diag(np.diag(e.lower))):,.0f} - "
                      f"{np.nansum(e.upper - np.diag(np.diag(e.upper))):,.0f}")
            table.add_row(e.method, f"{e.start}-{e.end}", e.sex, f"{e.total:,.0f}", bounds, _flags(e))
        console().print(table)
        missing = sum(1 for e in estimates if e.options.get("allow_missing_vitals"))
        if missing:
            click.echo(f"{missing} estimate(s) made with births/deaths missing, taken as 0 "
                       "(recorded in their options and notes)")
        if dry_run:
            return
        release_id = store_estimates(store, estimates, inputs)
    if release_id is None:
        click.echo("these estimates (same methods, options and input releases) are stored already")
    else:
        click.echo(f"stored as release {release_id} (source imdx-estimates); query with "
                   "`imdx query estimated_flows --origin MEX --destination USA`")


def _flags(e) -> str:
    """A short summary of what the estimate had to adjust or assume."""
    out = []
    for note in e.notes:
        if note.startswith("births/deaths missing"):
            out.append(f"vitals missing ({note.split(' for ', 1)[1].split(' ', 1)[0]} areas, taken as 0)")
        elif note.startswith("left out"):
            out.append("some regions left out (singular)")
        elif note.startswith("more births"):
            out.append("births > native-born somewhere")
        elif note.startswith("birthplace totals could only"):
            out.append("birthplace totals not exact")
        elif note.startswith("flows can be negative"):
            out.append("can be negative")
        elif note.startswith("rounded away"):
            out.append(note.split(" left by")[0])
    return "; ".join(out)


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


def _remittance_markdown(store) -> str:
    from imdx.estimates import remittances

    return (remittances.volatility_report(remittances.volatility(store)) + "\n"
            + remittances.ratha_shaw_report(remittances.ratha_shaw_comparison(store)))


@estimate_group.command("remittances")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the markdown report to this file (default: print it).")
@click.option("--store", "store_it", is_flag=True,
              help="Also store one Ratha-Shaw allocation in bilateral_remittances (source imdx-estimates).")
@click.option("--stocks", type=click.Choice(["knomad", "undesa"]), default="knomad", show_default=True,
              help="Bilateral migrant stocks of the stored allocation.")
@click.option("--received", type=click.Choice(["wdi", "knomad"]), default="wdi", show_default=True,
              help="Remittances received: WDI 2021, or the KNOMAD matrix's receiver totals.")
@click.option("--rule", type=click.Choice(["stock", "host_income", "income_gap"]), default="stock",
              show_default=True, help="Ratha & Shaw weights of the stored allocation.")
@DB_OPTION
def remittances_cmd(output, store_it, stocks, received, rule, db):
    """Is remittance growth less volatile than FDI in low- and middle-income countries? Remittances as a
    share of GDP, and the Ratha & Shaw allocation against the KNOMAD 2021 matrix (markdown); with
    --store, one allocation is stored as an estimate release."""
    with open_store(db, read_only=not store_it) as store:
        _write(_remittance_markdown(store), output)
        if store_it:
            from imdx.estimates.remittances import store_ratha_shaw

            rid = store_ratha_shaw(store, stocks=stocks, received=received, rule=rule)
            click.echo("this allocation is stored already" if rid is None else
                       f"stored as release {rid}; query with `imdx query bilateral_remittances --receiver MEX "
                       "--source imdx-estimates`")


@estimate_group.command("mirror")
@click.option("--year", "years", multiple=True, type=int, help="A year (repeatable); default every year with pairs.")
@click.option("--replicates", type=click.IntRange(0, 1000), default=50, show_default=True,
              help="Bootstrap resamples of the pairs behind each interval.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Also write the markdown report (sender and receiver against the harmonised flows) here.")
@click.option("--dry-run", is_flag=True, help="Harmonise and report; store nothing.")
@DB_OPTION
def mirror_cmd(years, replicates, output, dry_run, db):
    """Harmonise the flows both sides report (de Beer et al. 2010 correction factors) and store them as one
    release of harmonised_flows, each with its interval."""
    from imdx.estimates import mirror

    with open_store(db, read_only=dry_run) as store:
        harmonised, issues, pairs = mirror.harmonise_all(store, years=list(years) or None, replicates=replicates)
        text = mirror.report(harmonised, issues, mirror.totals_side_by_side(store))
        if output:
            _write(text, output)
        click.echo(f"harmonised {sum(len(h.frame()) for h in harmonised):,} corridor-years in {len(harmonised)} "
                   f"year(s); {len(issues)} note(s) on what could not be harmonised")
        if dry_run:
            return
        release_id = mirror.store_harmonised(store, harmonised, pairs, issues, replicates)
    click.echo("these harmonised flows are stored already" if release_id is None else
               f"stored as release {release_id}; query with "
               "`imdx query harmonised_flows --origin ESP --destination BEL`")


@estimate_group.command("report")
@click.argument("topic", type=click.Choice(["abel-sander", "remittances", "mirror"]))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the markdown report to this file (default: print it).")
@click.option("--mirror", type=click.Path(file_okay=False), default=None,
              help="The folder of published files ($IMDX_MIRROR), for abel_flows/.")
@DB_OPTION
def report_cmd(topic, output, mirror, db):
    """A markdown report: abel-sander (our 1990-2010 flows against Abel & Sander 2014; uses the stored
    estimates, or estimates the closed account when none are stored), remittances, or mirror (what the
    Eurostat receiving side allows)."""
    with open_store(db) as store:
        if topic == "remittances":
            text = _remittance_markdown(store)
        elif topic == "abel-sander":
            text = _abel_sander(store, mirror)
        else:
            text = _mirror(store)
    _write(text, output)


def _abel_sander(store, mirror) -> str:
    from imdx.estimates import abel_sander
    from imdx.estimates.run import run_all

    cfg = settings(mirror=mirror)
    if cfg.mirror is None:
        raise ImdxError("the Abel & Sander file is read from the mirror folder: set IMDX_MIRROR or --mirror "
                        "(the folder holding abel_flows/)")
    theirs = abel_sander.read_abel_sander(cfg.mirror)
    ours = abel_sander.ours_from_store(store)
    if ours.empty:
        ours = abel_sander.ours_from_estimates(run_all(store, methods=["demographic_accounting_closed"],
                                                       periods=abel_sander.PERIODS, sexes=["_T"], replicates=0))
    return abel_sander.report(abel_sander.compare(ours, theirs))


def _mirror(store) -> str:
    from imdx.estimates import mirror

    harmonised, issues, _ = mirror.harmonise_all(store, replicates=20)
    return mirror.report(harmonised, issues, mirror.totals_side_by_side(store))
