"""SDMX formats: imdx's dataflows as SDMX 2.1 structures and data messages, and any SDMX message read.

Format code only (as sdmx1's ``reader/`` and ``writer/``); the HTTP routes that publish these
messages are :mod:`imdx.api.sdmx`, and loading another agency's message into the store is
:mod:`imdx.sources.sdmx`.

* :mod:`imdx.sdmx.structure`: dataflows, DSDs, code lists and the concept scheme as sdmx1 objects;
* :mod:`imdx.sdmx.data`, :mod:`imdx.sdmx.ml`: data messages in the four formats (SDMX-ML structure-
  specific and generic, SDMX-JSON 1.0, SDMX-CSV 1.0/2.0);
* :mod:`imdx.sdmx.reader`: any SDMX data message, read through sdmx1, as one table.

See docs/sdmx.md.
"""
