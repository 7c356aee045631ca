"""One door for data: every release enters the store through :func:`ingest`.

Sources (:mod:`imdx.load`), SDMX messages (:mod:`imdx.sources.sdmx`), estimates
(:mod:`imdx.estimates.run`, :mod:`imdx.estimates.remittances`), case-database releases
(:mod:`imdx.cases.releases.to_store`), and whatever comes next, hand their harmonised tables to
:func:`ingest`, which

1. checks each table against its dataflow and puts it in the model's shape
   (:func:`imdx.sources.base.finish`: columns, types, text as categoricals, rows without an area
   dropped);
2. runs the validation rules (:func:`imdx.checks.run`) and adds their issues to the report, unless
   the caller already did both (``checked=True``: :func:`imdx.load.prepare` does, in worker processes,
   so that the loading process only writes);
3. writes the release, its observations, files, issues and what it taught the area table, in one
   transaction (:meth:`imdx.store.base.Store.write_release`): all of it lands, or nothing does.

A second way into the store is a bug (``tests/test_boundaries.py`` looks for one).
"""

from __future__ import annotations

import pandas as pd

from imdx import checks
from imdx.codes.areas import Areas
from imdx.errors import StoreError
from imdx.model.dataflows import Dataflow
from imdx.model.report import Report
from imdx.sources.base import finish
from imdx.store.base import ReleaseRecord, Store


def ingest(store: Store, record: ReleaseRecord, observations: dict[str, pd.DataFrame], *,
           report: Report | None = None, areas: Areas | None = None, definitions: tuple[Dataflow, ...] = (),
           checked: bool = False) -> int:
    """Check and store one release whole; returns its release id.

    ``observations``: harmonised tables by dataflow id (the dataflow's dimensions, ``value`` and any
    attributes); ``report``: the issues found while reading and harmonising them (the checks' issues
    are added to it); ``areas``: the area table the tables were harmonised against, with what the
    release taught it (default: the store's); ``definitions``: dataflows the release brings that imdx
    does not define itself (e.g. an SDMX message's); ``checked``: the tables were finished and checked
    already (:func:`imdx.load.prepare`).

    Whether the same release is stored already is the caller's question
    (:meth:`~imdx.store.base.Store.has_release`), asked before the work of preparing it.
    """
    report = report if report is not None else Report()
    areas = areas if areas is not None else store.areas()
    if areas is None:
        raise StoreError(f"{store.describe()} has no area table yet, which {record.source} {record.key} needs: "
                         "load the areas first with `imdx load m49`")
    if not checked:
        brought = {flow.id: flow for flow in definitions}
        tables = {}
        for flow_id, frame in observations.items():
            flow = brought.get(flow_id) or store.dataflow(flow_id)
            tables[flow_id] = finish(flow_id, frame, flow=flow)
            report.extend(checks.run(flow_id, tables[flow_id], areas, source=record.source, flow=flow))
        observations = tables
    return store.write_release(record, observations, report, areas, definitions)
