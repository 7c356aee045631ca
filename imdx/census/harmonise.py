"""From the engine's cube of published values to imdx's codes, with every problem recorded.

Each distinct published value of a variable is mapped once (the cube is small): through the
mapping's code list, the code book's value labels, and for places imdx's area table. A value that
maps to nothing is counted as unknown (``_U``) and becomes a :class:`Problem` (how many records, and
the condition that finds its first line); nothing is dropped. Then each cube row gets its final
``nativity`` and ``birthplace``: from a nativity column when the mapping has one, else from the
birthplace (the country of residence and the mapping's ``native`` areas are native-born).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from imdx.census.codebook import Codebook
from imdx.census.errors import MappingError
from imdx.census.mapping import Mapping, Place, text_key
from imdx.codes.areas import Areas

RESIDUAL = {"_U", "_O"}


@dataclass
class Problem:
    type: str
    severity: str
    role: str
    column: str
    message: str  # without the count; "{n}" is replaced by the number of records
    condition: dict  # role -> published value, to find the first record
    records: int = 0


@dataclass
class Coded:
    """The cube in imdx's codes: one row per cube row, ``set`` the grouped roles."""

    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    bad_weight: int = 0


def cube_frame(cube: pa.Table, roles: list[str]) -> pd.DataFrame:
    """The engine's cube as plain Python values (the same from either engine)."""
    data = {}
    for role in roles:
        name = f"v_{role}"
        data[role] = cube[name].to_pylist() if name in cube.column_names else [None] * cube.num_rows
        grouped = cube[f"g_{role}"].to_pylist() if f"g_{role}" in cube.column_names else [1] * cube.num_rows
        data[f"g_{role}"] = [int(g) for g in grouped]
    for col in ("records", "weight_units", "bad_weight"):
        data[col] = [int(v or 0) for v in cube[col].to_pylist()]
    frame = pd.DataFrame(data)
    frame["set"] = [tuple(r for r in roles if g[f"g_{r}"] == 0) for g in frame[[f"g_{r}" for r in roles]]
                    .to_dict("records")] if roles else [()] * len(frame)
    return frame.drop(columns=[f"g_{r}" for r in roles])


class Lookup:
    """The mapping of one variable's published values, with the problems it met."""

    def __init__(self, mapping: Mapping, role: str, codebook: Codebook | None, areas: Areas):
        self.mapping, self.role, self.areas = mapping, role, areas
        self.spec = mapping.role(role)
        self.column = self.spec.column
        self.var = codebook.get(self.column) if codebook is not None else None
        self.problems: dict[tuple, Problem] = {}
        self._cache: dict = {}
        self.listed = set(self.var.labels) | {None, ""} if self.var is not None and self.var.labels else None
        if isinstance(self.spec, Place):
            for raw, code in self.spec.codes.items():
                area = str(code).split("/")[0]
                if areas.kind(area) is None:
                    raise MappingError(f"mapping {mapping.id!r}: [{role}] codes map {raw!r} to {area!r}, which is not "
                                       "an imdx area code (ISO3, M49 region, _U unknown, _O other)")

    def key(self, value) -> str | None:
        key = text_key(value)
        if key is None:
            return None
        key = key.strip()
        return key.upper() if getattr(self.spec, "case_insensitive", False) else key

    def codes(self) -> dict:
        codes = getattr(self.spec, "codes", {})
        if getattr(self.spec, "case_insensitive", False):
            return {k.upper(): v for k, v in codes.items()}
        return codes

    def problem(self, type: str, severity: str, raw, message: str, records: int, condition: dict | None = None):
        key = (type, tuple(sorted((condition or {self.role: raw}).items(), key=str)))
        if key not in self.problems:
            self.problems[key] = Problem(type, severity, self.role, self.column, message, condition or {self.role: raw})
        self.problems[key].records += records

    def __call__(self, raw, records: int, context: dict | None = None):
        """The code of a published value; problems are counted by ``records``. ``context`` (other roles'
        published values) narrows where the first record with the problem is looked for."""
        if raw not in self._cache:
            self._cache[raw] = self._map(raw)
        code, problem = self._cache[raw]
        condition = {**(context or {}), self.role: raw}
        if problem is not None:
            self.problem(*problem[:2], raw, problem[2], records, condition)
        if self.listed is not None and self.key(raw) not in self.listed:
            self.problem("code-not-in-codebook", "warning", raw, f"{self.column} = {text_key(raw)!r} is not among "
                         f"the codes the code book lists for {self.column}; {{n}} records", records, condition)
        return code

    def _map(self, raw):
        key, codes = self.key(raw), self.codes()
        if key is None or (key == "" and "" not in codes):
            missing = ("missing-value", "info", f"{self.column} is empty for {{n}} records; counted as unknown (_U)")
            return (("_U", None) if isinstance(self.spec, Place) else "_U"), missing
        what = f"{self.column} = {text_key(raw).strip()!r}"
        if isinstance(self.spec, Place):
            return self._place(key, what)
        if self.role == "age":
            return self._age(key, what)
        if self.role == "year_of_arrival":
            return self._arrival(key, what)
        if self.role == "region" and not codes:
            return key, None  # codes as published (the code book, if any, lists them)
        if key in codes:
            return (key if self.role == "region" else codes[key]), None
        listed = ", ".join(f"{k}={v}" for k, v in list(codes.items())[:12])
        return "_U", ("code-not-in-mapping", "warning",
                      f"{what} is not in the mapping's {self.role} codes ({listed}); {{n}} records counted as _U")

    def _place(self, key: str, what: str):
        codes, spec = self.codes(), self.spec
        if key in codes:
            code = codes[key]
            area, _, nativity = str(code).partition("/")
            if area in RESIDUAL:
                meaning = "not known" if area == "_U" else "born abroad, the country not identified"
                if nativity == "NAT":
                    meaning = "native-born, the place not identified"
                kind = "birthplace-residual" if self.role == "birthplace" else "citizenship-residual"
                text = f"{what} means {meaning} (mapping {self.mapping.id}); {{n}} records counted as {area}"
                return (area, nativity or None), (kind, "info", text)
            return (area, nativity or None), None
        lookup = key
        if spec.labels and self.var is not None and key in self.var.labels:
            lookup = self.var.labels[key]
        match = self.areas.resolve(lookup, spec.systems) if spec.systems else None
        if match is not None and match.code is not None:
            return (match.code, None), None
        shown = f"{what}" + (f" ({lookup!r})" if lookup != key else "")
        text = (f"{shown} is not a country or area imdx knows; {{n}} records counted as _U (unknown). Add it "
                f"to the {self.role} codes of the mapping if it is a known place")
        return ("_U", None), (f"unmapped-{self.role}", "warning", text)

    def _age(self, key: str, what: str):
        spec = self.spec
        if spec.bands:
            if key in spec.bands:
                return spec.bands[key], None
            text = (f"{what} is not one of the mapping's age bands ({', '.join(spec.bands)}); {{n}} records "
                    "counted as _U")
            return "_U", ("code-not-in-mapping", "warning", text)
        if key in spec.special:
            return spec.special[key], None
        try:
            number = float(key)
        except ValueError:
            return "_U", ("age-not-a-number", "warning", f"{what} is not an age in years; {{n}} records counted as _U")
        if not number.is_integer() or not 0 <= number <= spec.max_years:
            text = f"{what} is not an age from 0 to {spec.max_years} years; {{n}} records counted as _U"
            return "_U", ("age-out-of-range", "warning", text)
        return int(number), None

    def _arrival(self, key: str, what: str):
        spec = self.spec
        if key in spec.special:
            return spec.special[key], None
        try:
            number = float(key)
        except ValueError:
            return "_U", ("arrival-not-a-year", "warning", f"{what} is not a year; {{n}} records counted as _U")
        if not number.is_integer() or not 1850 <= number <= self.mapping.year:
            text = f"{what} is not a year from 1850 to the census year {self.mapping.year}; {{n}} records counted as _U"
            return "_U", ("arrival-out-of-range", "warning", text)
        return int(number), None


def harmonise(cube: pa.Table, mapping: Mapping, roles: list[str], codebook: Codebook | None,
              areas: Areas) -> Coded:
    """The cube in imdx's codes; every set that holds a birth role holds them all (see :mod:`tables`)."""
    frame = cube_frame(cube, roles)
    lookups = {r: Lookup(mapping, r, codebook, areas) for r in roles}
    first_set = {r: next((s for s in frame["set"] if r in s), None) for r in roles}
    births = [r for r in ("birthplace", "nativity") if r in roles]
    others = [r for r in roles if r not in births]
    out: dict[str, list] = {r: [] for r in others + ["nativity", "birthplace"]}
    for row in frame.itertuples(index=False):
        grouped = row.set
        for role in others:
            counted = row.records if first_set[role] == grouped else 0
            code = lookups[role](getattr(row, role), counted) if role in grouped else None
            out[role].append(code[0] if isinstance(code, tuple) else code)  # a citizenship: (area, nativity)
        if births and births[0] in grouped:
            counted = row.records if first_set[births[0]] == grouped else 0
            nativity, birthplace = _birth(mapping, lookups, row, grouped, counted)
        else:
            nativity = birthplace = None
        out["nativity"].append(nativity)
        out["birthplace"].append(birthplace)
    coded = pd.DataFrame({k: pd.Series(v, index=frame.index, dtype=object) for k, v in out.items()})
    coded["set"] = frame["set"]
    for col in ("records", "weight_units", "bad_weight"):
        coded[col] = frame[col]
    problems = [p for lookup in lookups.values() for p in lookup.problems.values() if p.records > 0]
    first = next(iter(frame["set"]), None)
    bad = int(frame.loc[frame["set"] == first, "bad_weight"].sum()) if first is not None else 0
    return Coded(coded, problems, bad)


def _birth(mapping: Mapping, lookups: dict[str, Lookup], row, grouped: tuple,
           count: int) -> tuple[str | None, str | None]:
    """(nativity, birthplace) of a cube row, from the nativity column and/or the birthplace."""
    nat_raw = getattr(row, "nativity", None) if "nativity" in grouped else None
    bp_raw = getattr(row, "birthplace", None) if "birthplace" in grouped else None
    nat_col = lookups["nativity"](nat_raw, count) if "nativity" in grouped else None
    if "birthplace" not in grouped:
        return nat_col, None
    spec = mapping.birthplace
    bp_lookup = lookups["birthplace"]
    if spec.only_foreign and nat_col in ("NAT", "_Z"):
        return nat_col, (mapping.country if nat_col == "NAT" else "_U")
    area, forced = bp_lookup(bp_raw, count, {"nativity": nat_raw} if spec.only_foreign else None)
    native = {mapping.country, *spec.native}
    if nat_col is not None:
        nativity = nat_col
        if nat_col == "FOR" and area in native:
            bp_lookup.problem("birthplace-contradicts-nativity", "warning", bp_raw,
                              f"{mapping.nativity.column} = {lookups['nativity'].key(nat_raw)!r} says foreign-born, "
                              f"{spec.column} = {text_key(bp_raw)!r} a native birthplace ({area}); {{n}} records "
                              "counted as foreign-born", count, {"nativity": nat_raw, "birthplace": bp_raw})
        expect = mapping.nativity.expect.get(lookups["nativity"].key(nat_raw))
        if expect and area not in RESIDUAL and area not in expect:
            bp_lookup.problem("birthplace-outside-category", "warning", bp_raw,
                              f"{mapping.nativity.column} = {lookups['nativity'].key(nat_raw)!r} allows birthplaces "
                              f"{', '.join(expect)}, but {spec.column} = {text_key(bp_raw)!r} is {area}; {{n}} records "
                              f"counted with birthplace {area}", count, {"nativity": nat_raw, "birthplace": bp_raw})
    elif forced is not None:
        nativity = forced
    elif area == "_U":
        nativity = "_U"
    else:
        nativity = "NAT" if area in native else "FOR"
    if nativity == "NAT" and spec.only_foreign:
        area = mapping.country
    return nativity, area
