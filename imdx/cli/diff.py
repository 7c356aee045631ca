"""``imdx diff``: what changed in a dataflow between two editions."""

from __future__ import annotations

import click

from imdx.cli.common import DB_OPTION, open_store, parse_filters, write


@click.command("diff", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dataflow")
@click.option("--from", "from_edition", required=True, help="The older edition (see `imdx sources`).")
@click.option("--to", "to_edition", required=True, help="The newer edition.")
@click.option("--source", "source_name", default=None, help="Only releases of this source.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
@DB_OPTION
@click.pass_context
def diff_cmd(ctx, dataflow, from_edition, to_edition, source_name, fmt, output, db):
    """Values of DATAFLOW that changed (absolute and relative), appeared or vanished between two
    editions, filtered by its dimensions: --DIMENSION VALUE ...

    \b
    imdx diff migrant_stock --from 2019 --to 2020 --destination DEU --origin total
    imdx diff fdi_inflows --from 2018-06-28 --to 2023-10-26 --area IRL --format csv
    """
    from imdx.revisions import diff, summary

    with open_store(db) as store:
        filters = parse_filters(ctx.args, store.dataflow(dataflow))
        changes = diff(store, dataflow, from_edition, to_edition, source=source_name, **filters)
    if fmt != "table":
        write(changes, fmt, output)
        return
    shown = changes.drop(columns=["release_from", "release_to", "unit"])
    text = shown.to_string(index=False, max_rows=200) if len(shown) else "No observation changed."
    text += "\n" + ", ".join(f"{n:,} {kind}" for kind, n in summary(changes).items()) \
        + f" ({changes['unit'].iloc[0]})" \
        if len(changes) else "\n"
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)
