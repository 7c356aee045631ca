"""The tables: which cross-tabulations are made, with their margins, and small cells suppressed.

The standard tables follow ECLAC's IMILA and the OECD's DIOC: the population by nativity, sex and
age; the foreign-born by country of birth and sex, by broad age group, by period of arrival, by
citizenship; the population by region of residence. A table is made when the mapping declares its
variables (the others are said in an info issue); any other cross-tab is a :class:`Table` of the
dimensions asked for. Every table has all its margins (``_T``), and where a table holds the country of
birth or the period of arrival it also holds nativity, so that the foreign-born are one filter away.

Cells come from the harmonised cube by summing (exact integers: records and weight units). A cell
counted from fewer than ``min_cell`` records (the unweighted base) is suppressed: its value is left
out (obs_status ``L``) for both the weighted count and its base. Only the cell itself is suppressed
(primary suppression): a suppressed cell can sometimes be recovered from its margins.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from imdx.census.errors import CensusError

DIMENSIONS = ("region", "birthplace", "nativity", "citizenship", "sex", "age", "year_of_arrival")
AGE_SCHEMES = ("five_year", "broad")
TOTAL = "_T"


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    dims: tuple[str, ...]
    age: str = "five_year"  # the age groups of the age dimension: five_year or broad

    def roles(self, births: list[str]) -> set[str]:
        """The mapping's roles this table reads (a birthplace or nativity needs every birth role)."""
        out = set()
        for dim in self.dims:
            if dim in ("birthplace", "nativity", "year_of_arrival"):
                out |= set(births)
            if dim not in ("birthplace", "nativity"):
                out.add(dim)
        return out


STANDARD = (
    Table("nativity_sex", "Population by place of birth (native, foreign) and sex", ("nativity", "sex")),
    Table("nativity_age_sex", "Population by place of birth, five-year age group and sex", ("nativity", "age", "sex")),
    Table("birthplace_sex", "Foreign-born by country of birth and sex", ("nativity", "birthplace", "sex")),
    Table("birthplace_age", "Foreign-born by country of birth and broad age group", ("nativity", "birthplace", "age"),
          age="broad"),
    Table("birthplace_arrival", "Foreign-born by country of birth and period of arrival",
          ("nativity", "birthplace", "year_of_arrival")),
    Table("birthplace_citizenship", "Foreign-born by country of birth and citizenship",
          ("nativity", "birthplace", "citizenship")),
    Table("region_nativity_sex", "Population by region of residence, place of birth and sex",
          ("region", "nativity", "sex")),
    Table("region_birthplace", "Foreign-born by region of residence and country of birth",
          ("region", "nativity", "birthplace")),
)


def parse_table(text: str) -> Table:
    """``birthplace,sex,region`` (``age_broad`` for broad age groups) as a :class:`Table`."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    age = "broad" if "age_broad" in names else "five_year"
    dims = tuple(dict.fromkeys("age" if n == "age_broad" else n for n in names))
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown or not dims:
        raise CensusError(f"a table is a comma-separated list of {', '.join(DIMENSIONS)} (age_broad for broad age "
                          f"groups); {', '.join(unknown) or 'nothing'} is not one")
    if ("birthplace" in dims or "year_of_arrival" in dims) and "nativity" not in dims:
        dims = ("nativity", *dims)
    return Table("custom_" + "_".join(names), "Cross-tabulation by " + ", ".join(names), dims, age)


def available(tables: list[Table] | tuple[Table, ...], roles: list[str]) -> tuple[list[Table], list[Table]]:
    """The tables the mapping's roles allow, and those they do not."""
    have = set(roles)
    if have & {"birthplace", "nativity"}:
        have.add("nativity")  # derived from the birthplace when the file has no nativity column
    ok = [t for t in tables if all(d in have for d in t.dims)]
    return ok, [t for t in tables if t not in ok]


def grouping_sets(tables: list[Table], births: list[str]) -> list[tuple[str, ...]]:
    """The fewest grouping sets that hold every table's roles (a set inside another is dropped: its
    table is summed from the larger one)."""
    needed = {frozenset(t.roles(births)) for t in tables}
    maximal = [s for s in needed if not any(s < other for other in needed)]
    order = ("region", "birthplace", "nativity", "citizenship", "sex", "age", "year_of_arrival")
    return sorted((tuple(r for r in order if r in s) for s in maximal), key=lambda s: (-len(s), s))


# -- codes of the table dimensions -------------------------------------------------------------------
def age_code(value, scheme: str) -> str:
    if value is None:
        return "_U"
    if isinstance(value, str):
        return value  # a published band, or _U
    value = int(value)
    if scheme == "broad":
        for lo, hi in ((0, 14), (15, 24), (25, 64)):
            if value <= hi:
                return f"Y{lo}T{hi}"
        return "Y_GE65"
    if value >= 85:
        return "Y_GE85"
    lo = value - value % 5
    return f"Y{lo}T{lo + 4}"


def arrival_code(value, nativity: str | None) -> str:
    if nativity in ("NAT", "_Z"):
        return "_Z"
    if value is None:
        return "_U"
    if isinstance(value, str):
        return value
    value = int(value)
    lo = value - value % 5
    return f"{lo}-{lo + 4}"


def _codes(rows: pd.DataFrame, table: Table) -> pd.DataFrame:
    out = pd.DataFrame(index=rows.index)
    for dim in table.dims:
        if dim == "age":
            out[dim] = [age_code(v, table.age) for v in rows["age"]]
        elif dim == "year_of_arrival":
            out[dim] = [arrival_code(v, n) for v, n in zip(rows["year_of_arrival"], rows["nativity"])]
        else:
            out[dim] = rows[dim].fillna("_U").astype(str)
    out["records"] = rows["records"].to_numpy(np.int64)
    out["weight_units"] = rows["weight_units"].to_numpy(np.int64)
    return out


def cells(coded: pd.DataFrame, tables: list[Table], births: list[str]) -> pd.DataFrame:
    """Every cell of every table with all margins: one row per key (all of :data:`DIMENSIONS`, ``_T`` where
    a table does not break down by it), with its records and weight units."""
    parts = []
    for table in tables:
        need = table.roles(births)
        sets = [s for s in dict.fromkeys(coded["set"]) if need <= set(s)]
        if not sets:
            raise CensusError(f"no grouping set holds the roles of table {table.name} (a bug in imdx)")
        rows = coded[coded["set"] == min(sets, key=len)]
        base = _codes(rows, table)
        for k in range(len(table.dims) + 1):
            for kept in combinations(table.dims, k):
                summed = base.groupby(list(kept), sort=False)[["records", "weight_units"]].sum().reset_index() \
                    if kept else base[["records", "weight_units"]].sum().to_frame().T
                for dim in DIMENSIONS:
                    if dim not in kept:
                        summed[dim] = TOTAL
                parts.append(summed[list(DIMENSIONS) + ["records", "weight_units"]])
    if not parts:
        return pd.DataFrame(columns=list(DIMENSIONS) + ["records", "weight_units"])
    every = pd.concat(parts, ignore_index=True)
    grouped = every.groupby(list(DIMENSIONS), sort=True)
    merged = grouped.agg(records=("records", "first"), weight_units=("weight_units", "first"),
                         lo=("records", "min"), hi=("records", "max"), wlo=("weight_units", "min"),
                         whi=("weight_units", "max")).reset_index()
    clash = merged[(merged["lo"] != merged["hi"]) | (merged["wlo"] != merged["whi"])]
    if len(clash):
        raise CensusError(f"two tables disagree on a cell ({clash.iloc[0][list(DIMENSIONS)].to_dict()}): a bug in imdx")
    return merged[list(DIMENSIONS) + ["records", "weight_units"]]


def suppress(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Mark cells counted from fewer than ``min_cell`` records (``min_cell`` 0 or 1: none)."""
    out = table.copy()
    out["suppressed"] = (out["records"] > 0) & (out["records"] < min_cell)
    return out
