"""``imdx load sdmx --file F | --url U [--structure S]``: load one SDMX data message into the store
(:mod:`imdx.sources.sdmx`); this module only opens the store and prints."""

from __future__ import annotations

import sys

from imdx.cli.common import console, print_issues
from imdx.config import settings


def load_sdmx_message(*, file, url, structure, mirror, db) -> None:
    """Load an SDMX data message as a release of source `sdmx` (dataflow sdmx_<agency>_<flow>); exit code 3
    for a structure message (nothing to load)."""
    from imdx.sources.sdmx import load_sdmx
    from imdx.store import connect

    cfg = settings(mirror=mirror, db=db)
    areas = None
    with connect(cfg.db) as store:
        if store.areas() is None and cfg.mirror is not None:
            from imdx.codes.build import build_areas

            areas = build_areas(cfg.mirror / "m49")
        outcome = load_sdmx(store, file=file, url=url, structure=structure, areas=areas)
    out = console()
    out.print(outcome.message)
    if outcome.status == "loaded":
        print_issues(out, outcome.report.to_frame())
    if outcome.status == "structure-only":
        sys.exit(3)
