"""Census and survey microdata: foreign-born tabulations from person records.

A person file (CSV, fixed width with an IPUMS DDI code book, Stata, SPSS, R data, Parquet) is read
as its *mapping* declares (:mod:`imdx.census.mapping`; the known files' mappings are in
:mod:`imdx.census.sources`), tabulated by an engine (:mod:`imdx.census.engine`: DuckDB on one
machine, Apache Spark when the records outgrow it; both give the same tables to the unit), and
stored as a release of the dataflow ``foreign_born_population`` (:mod:`imdx.census.tabulate`).
:mod:`imdx.census.synthetic` writes synthetic person files of any size fitted to the real ones.

This application imports imdx's core (codes, model, store interface) and nothing of the other
applications. The command line is ``imdx census``; the guide is ``docs/census.md``.
"""

from imdx.census.mapping import Mapping, load_mapping
from imdx.census.tabulate import Tabulation, store_tabulation, tabulate

__all__ = ["Mapping", "Tabulation", "load_mapping", "store_tabulation", "tabulate"]
