"""``imdx estimate``: flows from stocks stored as estimate releases, remittance and comparison reports.

* ``imdx estimate flows --method M --from 1990 --to 2000 [--sex M] [--allow-missing-vitals]`` (or
  ``--all``): run the methods on the stored inputs and store one ``imdx-estimates`` release;
* ``imdx estimate remittances [--output FILE]``: the remittance-volatility and Ratha-Shaw report;
* ``imdx estimate report abel-sander|remittances|mirror --output FILE``: a markdown report.
"""

from __future__ import annotations

from pathlib import Path

import click

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


@estimate_group.command("flows")
@click.option("--method", "methods", multiple=True,
              help="A method code (repeatable): stock_differencing_drop, stock_differencing_reverse, "
                   "migration_rates_dennett, rogers_von_rabenau, demographic_accounting_closed, "
                   "demographic_accounting_open, demographic_accounting_closed_no_stayer, pseudo_bayesian.")
@click.option("--from", "start", type=int, default=None, help="First stock year (1990 ... 2015).")
@click.option("--to", "end", type=int, default=None,
              help="Last stock year; the span is cut into five-year periods.")
@click.option("--sex", "sexes", multiple=True, type=click.Choice(["_T", "M", "F"]),
              help="Sex (repeatable); default both sexes (_T).")
@click.option("--all", "everything", is_flag=True,
              help="Every method, the six periods 1990-2020, both sexes and each sex.")
@click.option("--allow-missing-vitals", is_flag=True,
              help="Run the demographic-accounting methods where births/deaths are missing (taken as 0; "
                   "recorded). Needed for M and F: WPP 2024 here has no births or deaths by sex.")
@click.option("--total-flow", type=float, default=None,
              help="World flow total for migration_rates_dennett (default: the closed demographic "
                   "account's total for the same period and sex).")
@click.option("--dry-run", is_flag=True, help="Estimate and print the totals; store nothing.")
@DB_OPTION
def flows_cmd(methods, start, end, sexes, everything, allow_missing_vitals, total_flow, dry_run, db):
    """Estimate migration flows from the stored bilateral stocks (and births and deaths) and store them
    as one release of the dataflow estimated_flows (query it with `imdx query estimated_flows`)."""
    from rich.table import Table

    from imdx.estimates.inputs import PERIODS, SEXES, StoreInputs
    from imdx.estimates.run import METHODS, run_all, store_estimates

    if everything:
        methods, periods, sexes = tuple(methods) or METHODS, PERIODS, tuple(sexes) or SEXES
    else:
        if not methods:
            raise click.UsageError("give --method (repeatable) or --all")
        periods, sexes = _periods(start, end), tuple(sexes) or ("_T",)
    err = console(err=True)
    with open_store(db, read_only=dry_run) as store:
        inputs = StoreInputs(store)
        estimates = run_all(inputs, methods=methods, periods=periods, sexes=sexes,
                            allow_missing_vitals=allow_missing_vitals, total_flow=total_flow,
                            progress=lambda what: err.print(f"estimating {what}"))
        table = Table(title="Estimated flows")
        table.add_column("method", no_wrap=True, min_width=39)
        for name in ("period", "sex", "world total", "adjustments"):
            table.add_column(name)
        for e in estimates:
            table.add_row(e.method, f"{e.start}-{e.end}", e.sex, f"{e.total:,.0f}", _flags(e))
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
                                                       periods=abel_sander.PERIODS, sexes=["_T"]))
    return abel_sander.report(abel_sander.compare(ours, theirs))


def _mirror(store) -> str:
    from imdx.estimates import mirror
    from imdx.estimates.markdown import table as md

    cov = mirror.coverage_table(store)
    year = int(cov.sort_values(["pairs_reported_both_ways", "year"]).iloc[-1]["year"])
    checks = [mirror.coverage_check(store, year, noise=n) for n in (0.0, 0.05, 0.1)]
    rows = [{"noise (log sd)": c.noise, "countries": len(c.countries), "pairs": c.pairs,
             "max factor error": round(c.max_factor_error, 4)} for c in checks]
    import pandas as pd

    return "\n".join([
        "# Mirror flows (de Beer et al. 2010): what the data allow", "",
        ("**Missing: the sending side.** Only the receiving side (Eurostat migr_imm5prv, immigration by previous "
        "residence, derived copy) is in the mirror; emigration by next residence (migr_emi3nxt) is not. No real "
        "pair can be harmonised until a sending-side table is loaded."), "",
        "## Receiving-side coverage", "", md(cov), "",
        f"## Identification on the real coverage ({year}, constructed sending side)", "",
        ("A sending side is constructed from the real receiving side with known factors (log-uniform in [0.5, 2], "
        "Sweden = 1) and log-normal noise; the method recovers the factors exactly without noise, and the "
        "error grows with noise because few pairs carry each factor. These are not harmonised flows."), "",
        md(pd.DataFrame(rows)), ""])

