"""The registry of sources: one module per agency data product, each exposing ``SOURCE``."""

from __future__ import annotations

from importlib import import_module

from imdx.errors import QueryError
from imdx.sources.base import Source

#: module names, in load order (m49 first: it builds the area table the others resolve against)
MODULES = ["m49", "undesa_ims", "wdi", "knomad", "wpp", "unhcr", "eurostat", "undesa_flows", "oecd_imo", "unodc_glotip",
           "iom_gdidata", "rpw"]


def registry() -> dict[str, Source]:
    sources = {}
    for name in MODULES:
        try:
            module = import_module(f"imdx.sources.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"imdx.sources.{name}":
                continue
            raise
        sources[module.SOURCE.name] = module.SOURCE
    return sources


def get(name: str) -> Source:
    sources = registry()
    if name not in sources:
        raise QueryError("is not a known source", kind="unknown-source", parameter="source", value=name,
                         allowed=list(sources))
    return sources[name]
