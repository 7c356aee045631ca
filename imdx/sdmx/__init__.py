"""SDMX exchange: imdx's dataflows published as SDMX 2.1 (structures, and data as SDMX-ML
structure-specific and generic, SDMX-JSON 1.0 and SDMX-CSV 1.0/2.0) under SDMX-REST paths, and
SDMX messages of other agencies loaded into the store.

* :mod:`imdx.sdmx.structure`: dataflows, DSDs, code lists and the concept scheme as sdmx1 objects;
* :mod:`imdx.sdmx.data`, :mod:`imdx.sdmx.ml`: data messages in the four formats;
* :mod:`imdx.sdmx.routes`: ``sdmx_router(get_store)``, the FastAPI router mounted at ``/sdmx``;
* :mod:`imdx.sdmx.reader`: any SDMX data message, read through sdmx1, as one table;
* :mod:`imdx.sdmx.importer`: ``load_sdmx(store, file=..., url=..., structure=...)``.

See docs/sdmx.md.
"""
