"""A mapping declares one kind of person file: where it comes from, how to read it, and which column
holds each variable of a foreign-born tabulation, with its code list.

The variables (*roles*) are ``birthplace``, ``nativity``, ``citizenship``, ``sex``, ``age``,
``year_of_arrival``, ``region`` and ``weight``; a mapping declares those its files have. A mapping is
data: the built-in ones are dicts in :mod:`imdx.census.sources`, a user's is a TOML file of the same
shape (see ``docs/census.md``), read by :func:`load_mapping`. Nothing here reads a data file.

Code lists map the values *as published* (``"1"``, ``"Mexico"``, ``"chi"``) to imdx's codes:

* ``birthplace`` / ``citizenship``: area codes (ISO 3166 alpha-3, M49 for regions) or the residuals
  ``_U`` (unknown) and ``_O`` (other or not identified); values not listed are looked up in imdx's
  area table through ``systems`` (``iso3``, ``name``, ...), and reported when still not found;
* ``nativity``: ``NAT`` native-born, ``FOR`` foreign-born, ``_U`` unknown, ``_Z`` not applicable;
* ``sex``: ``M``, ``F``, ``_U``;
* ``region``: the region's code as published → its name;
* ``age``: years (with ``special`` values such as EPH's ``-1`` = under one year) or published ``bands``.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from imdx.census.errors import MappingError

ROLES = ("birthplace", "nativity", "citizenship", "sex", "age", "year_of_arrival", "region")
FORMATS = ("auto", "csv", "fixed", "stata", "spss", "parquet", "rda")
NATIVITY_CODES = {"NAT": "Native-born", "FOR": "Foreign-born", "_U": "Place of birth unknown",
                  "_Z": "Not applicable (place of birth not asked)"}
SEX_CODES = {"M": "Male", "F": "Female", "_U": "Sex unknown"}
READ_OPTIONS = {
    "csv": {"delimiter", "header", "columns", "skip_lines", "comment", "encoding", "strip", "quote", "codebook"},
    "fixed": {"codebook", "encoding"},
    "stata": {"encoding"}, "spss": {"encoding"}, "parquet": set(), "rda": {"object"},
}
AREA_SYSTEMS = ("code", "iso3", "iso2", "m49", "name")


def text_key(value) -> str | None:
    """A published value as the text a code list is keyed by: ``1``, ``1.0`` and ``"1"`` are ``"1"``."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value)


@dataclass(frozen=True)
class Coded:
    """``sex``, ``nativity`` or ``region``: a column and its code list (published value → code)."""

    column: str
    codes: dict[str, str] = field(default_factory=dict)
    case_insensitive: bool = False
    #: nativity only: published code → the birthplaces it allows (EPH's CH15 = 4 "bordering country")
    expect: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Place:
    """``birthplace`` or ``citizenship``: a column of country codes or names."""

    column: str
    codes: dict[str, str] = field(default_factory=dict)
    systems: tuple[str, ...] = ()
    case_insensitive: bool = False
    #: look values up by the codebook's value label (IPUMS BPL codes → "Mexico")
    labels: bool = False
    #: birthplace only: areas whose natives count as native-born besides the country of residence
    native: tuple[str, ...] = ()
    #: birthplace only: the column names a place only for the foreign-born (EPH's CH15_COD holds
    #: provinces for the native-born); the native-born are born in the country of residence
    only_foreign: bool = False


@dataclass(frozen=True)
class Age:
    column: str
    #: published band code → age code (files that publish bands, e.g. ONS: 1 → Y0T15)
    bands: dict[str, str] = field(default_factory=dict)
    #: published value → age in years, or "_U" (EPH: -1 = under one year → 0)
    special: dict[str, int | str] = field(default_factory=dict)
    max_years: int = 120


@dataclass(frozen=True)
class Arrival:
    column: str
    #: published value → "_U" (unknown) or "_Z" (not applicable)
    special: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Weight:
    column: str
    decimals: int = 0
    #: the column holds whole units of 10^-decimals (IPUMS's implied decimals), not a decimal number
    implied: bool = False
    #: what a missing or negative weight does: "error" stops the tabulation, "exclude" leaves the record
    #: out of every count and records how many were left out, with the first line, as an error issue
    invalid: str = "error"


@dataclass(frozen=True)
class Mapping:
    id: str
    title: str
    country: str  # area code of the country of residence
    year: int
    format: str = "auto"
    read: dict = field(default_factory=dict)
    licence: str = "as published; see the provider's terms"
    note: str = ""
    birthplace: Place | None = None
    nativity: Coded | None = None
    citizenship: Place | None = None
    sex: Coded | None = None
    age: Age | None = None
    year_of_arrival: Arrival | None = None
    region: Coded | None = None
    weight: Weight | None = None
    #: where the mapping was declared: "imdx.census.sources" or the path of a TOML file
    origin: str = "imdx.census.sources"

    def role(self, name: str):
        return getattr(self, name)

    @property
    def roles(self) -> list[str]:
        """The roles this mapping declares, in the order of :data:`ROLES`."""
        return [r for r in ROLES if getattr(self, r) is not None]

    @property
    def birth_roles(self) -> list[str]:
        return [r for r in ("birthplace", "nativity") if getattr(self, r) is not None]

    def column(self, role: str) -> str:
        return getattr(self, role).column

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("origin")
        return {k: v for k, v in data.items() if v not in (None, {}, "")}

    def digest(self) -> str:
        """sha256 of the mapping as canonical JSON: the release's provenance names it."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=list).encode()).hexdigest()

    def format_for(self, path: Path) -> str:
        if self.format != "auto":
            return self.format
        name = path.name.lower().removesuffix(".gz")
        if path.is_dir() or name.endswith(".parquet"):
            return "parquet"
        for suffix, fmt in ((".csv", "csv"), (".dat", "fixed"), (".dta", "stata"), (".sav", "spss"),
                            (".zsav", "spss"), (".rda", "rda"), (".rdata", "rda"), (".rds", "rda")):
            if name.endswith(suffix):
                return fmt
        raise MappingError(f"mapping {self.id!r} does not say the format of {path.name} (format = \"auto\" knows "
                           ".csv, .dat (fixed width), .dta, .sav, .parquet and .rda); set format in the mapping")


_KINDS = {"birthplace": Place, "citizenship": Place, "nativity": Coded, "sex": Coded, "region": Coded,
          "age": Age, "year_of_arrival": Arrival, "weight": Weight}


def _part(kind: type, role: str, data, where: str):
    if isinstance(data, str):
        data = {"column": data}
    if not isinstance(data, dict) or "column" not in data:
        raise MappingError(f"{where}: [{role}] needs a column (e.g. column = \"COUNTRY_OF_BIRTH\")")
    allowed = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise MappingError(f"{where}: [{role}] has unknown key(s) {', '.join(unknown)}; allowed: "
                           f"{', '.join(sorted(allowed))}")
    values = dict(data)
    for key in ("codes", "bands", "special"):
        if key in values:
            if not isinstance(values[key], dict):
                raise MappingError(f"{where}: [{role}] {key} must be a table of published value = code")
            values[key] = {text_key(k): v for k, v in values[key].items()}
    if "expect" in values:
        values["expect"] = {text_key(k): tuple(v) for k, v in values["expect"].items()}
    for key in ("systems", "native"):
        if key in values:
            values[key] = tuple(values[key])
    part = kind(**values)
    _check_codes(role, part, where)
    return part


def _check_codes(role: str, part, where: str) -> None:
    allowed = {"sex": SEX_CODES, "nativity": NATIVITY_CODES}.get(role)
    if allowed is not None:
        bad = sorted({str(v) for v in part.codes.values()} - set(allowed))
        if bad:
            raise MappingError(f"{where}: [{role}] codes map to {', '.join(bad)}, which are not {role} codes "
                               f"({', '.join(f'{k} {v}' for k, v in allowed.items())})")
        if not part.codes:
            raise MappingError(f"{where}: [{role}] needs codes (published value = one of {', '.join(allowed)})")
    if isinstance(part, Place):
        bad = sorted({str(v) for v in part.codes.values() if "/" in str(v)
                      and str(v).partition("/")[2] not in NATIVITY_CODES})
        if bad:
            raise MappingError(f"{where}: [{role}] codes {', '.join(bad)}: after the area, '/' gives the nativity it "
                               f"implies ({', '.join(NATIVITY_CODES)}), e.g. \"_O/NAT\"")
        unknown = sorted(set(part.systems) - set(AREA_SYSTEMS))
        if unknown:
            raise MappingError(f"{where}: [{role}] systems {unknown} unknown; use {', '.join(AREA_SYSTEMS)}")
    if isinstance(part, Weight):
        if part.invalid not in ("error", "exclude"):
            raise MappingError(f"{where}: [weight] invalid must be \"error\" or \"exclude\", not {part.invalid!r}")
        if not 0 <= int(part.decimals) <= 9:
            raise MappingError(f"{where}: [weight] decimals must be 0 to 9")
    if isinstance(part, Arrival):
        bad = sorted({str(v) for v in part.special.values()} - {"_U", "_Z"})
        if bad:
            raise MappingError(f"{where}: [year_of_arrival] special values map to _U or _Z, not {bad}")
    if isinstance(part, Age):
        for key, value in part.special.items():
            if value != "_U" and not isinstance(value, int):
                raise MappingError(f"{where}: [age] special {key!r} must give whole years or \"_U\"")


def from_dict(data: dict, *, origin: str = "imdx.census.sources") -> Mapping:
    """A :class:`Mapping` from plain data (a TOML document or a dict in :mod:`imdx.census.sources`)."""
    where = f"mapping {data.get('id', origin)!r}"
    top = {f.name for f in fields(Mapping)} - {"origin"}
    unknown = sorted(set(data) - top)
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(top))}")
    missing = [k for k in ("id", "title", "country", "year") if k not in data]
    if missing:
        raise MappingError(f"{where}: missing {', '.join(missing)} (id, title, the country of residence as an "
                           "ISO3 code, the census or survey year)")
    values = {k: v for k, v in data.items() if k not in _KINDS}
    for role, kind in _KINDS.items():
        if data.get(role) is not None:
            values[role] = _part(kind, role, data[role], where)
    mapping = Mapping(**values, origin=origin)
    if mapping.format not in FORMATS:
        raise MappingError(f"{where}: format {mapping.format!r} unknown; use one of {', '.join(FORMATS)}")
    known = set().union(*READ_OPTIONS.values())
    bad = sorted(set(mapping.read) - known)
    if bad:
        raise MappingError(f"{where}: [read] has unknown option(s) {', '.join(bad)}; "
                           f"allowed: {', '.join(sorted(known))}")
    if not mapping.birth_roles:
        raise MappingError(f"{where}: declares neither birthplace nor nativity; a foreign-born tabulation needs one")
    if not isinstance(mapping.year, int) or not 1800 <= mapping.year <= 2200:
        raise MappingError(f"{where}: year must be the census or survey year, e.g. 2011")
    return mapping


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A built-in mapping by its id (``imdx census mappings`` lists them), or a user's TOML file."""
    from imdx.census.sources import MAPPINGS

    text = str(name_or_path)
    if text in MAPPINGS:
        return from_dict(MAPPINGS[text])
    path = Path(text)
    if not path.is_file():
        raise MappingError(f"no mapping {text!r}: give a built-in mapping ({', '.join(sorted(MAPPINGS))}) or the "
                           "path of a TOML mapping file (see docs/census.md)")
    if path.stat().st_size > 4 * 2**20:
        raise MappingError(f"{path} is larger than 4 MiB; a mapping is a small TOML file")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise MappingError(f"{path} is not a valid TOML mapping: {err}") from None
    return from_dict(data, origin=str(path.resolve()))
