"""The portal's explanations, kept as data (``imdx/portal/texts/*.toml``) and read when first asked for:
what each estimation method does, in plain language, and what a reader should know about each
indicator (definition, source, coverage, caveats)."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

TEXTS = Path(__file__).parent / "texts"


@functools.cache
def load(name: str) -> dict:
    """``texts/<name>.toml`` as a dict (read once per process)."""
    return tomllib.loads((TEXTS / f"{name}.toml").read_text("utf-8"))


def method(code: str) -> dict:
    """``label``, ``summary``, ``how``, ``reference`` of an estimation method (its code when unknown)."""
    known = load("methods")["methods"].get(code)
    if known:
        return {"code": code, "in_range": True, **known}
    return {"code": code, "label": code.replace("_", " ").capitalize(), "summary": "", "how": "", "reference": "",
            "in_range": True}


def method_order(codes) -> list[str]:
    """``codes`` in the order the pages offer methods: the recommended one first, then the others by how
    well they estimate moves (``order`` in texts/methods.toml), unknown codes last."""
    first = recommended_method()[0]
    order = [first] + [c for c in load("methods")["recommended"]["order"] if c != first]
    return sorted(codes, key=lambda c: (order.index(c) if c in order else len(order), c))


def recommended_method() -> tuple[str, str]:
    """The method the flows pages show by default, and why: the estimates' own default
    (``imdx.estimates.run.DEFAULT_METHOD``) when imdx defines one, else the one texts/methods.toml names."""
    from imdx.estimates import run

    texts = load("methods")
    code = getattr(run, "DEFAULT_METHOD", None) or texts["recommended"]["method"]
    why = texts["methods"].get(code, {}).get("why") or (texts["recommended"]["why"]
                                                         if code == texts["recommended"]["method"] else "")
    return code, " ".join(why.split())


def indicator(code: str) -> dict:
    """``definition``, ``source``, ``coverage``, ``caveats`` of an indicator (empty strings when unknown),
    each on one line."""
    known = load("indicators").get(code, {})
    return {k: " ".join(known.get(k, "").split()) for k in ("definition", "source", "coverage", "caveats")}
