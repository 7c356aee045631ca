"""Build the area table from the UN's own code files and pycountry.

* UNSD M49 (``m49/unsd_m49_methodology.csv``): countries with M49 and ISO3, the M49 regions,
  sub-regions and intermediate regions, LDC/LLDC/SIDS flags;
* UN DESA's International Migrant Stock 2020 annex (``m49/aggregates_correspondence_table_2020_1.xlsx``):
  DESA's location codes for every country and aggregate, SDG regions, development groups and
  World Bank income groups as memberships;
* pycountry: ISO alpha-2 codes and the ISO names as aliases;
* the sidecar ``imdx/codes/aliases/common.csv``: spellings that differ in words, reviewed by hand;
* ``imdx/codes/names_today.csv``: the names publishers use today where the M49 file is older
  (``Türkiye``, not ``Turkey``); the former name stays an alias.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import pandas as pd
import pycountry

from imdx.codes.areas import AREA_COLUMNS, RESIDUALS, Areas, read_m49
from imdx.codes.names import normalise, strip_footnote
from imdx.errors import SourceFileError
from imdx.sources.xlsx import open_workbook

M49_FILE = "unsd_m49_methodology.csv"
ANNEX_FILE = "aggregates_correspondence_table_2020_1.xlsx"

#: UN DESA aggregate codes that denote the same area as a World Bank or M49 code
DESA_EQUIVALENTS = {"900": "001", "1503": "HIC", "1517": "MIC", "1502": "UMC", "1501": "LMC", "1500": "LIC",
                    "1518": "INX"}
WB_INCOME_NAMES = {"HIC": "High income", "MIC": "Middle income", "UMC": "Upper middle income",
                   "LMC": "Lower middle income", "LIC": "Low income", "INX": "Not classified"}
#: countries without an ISO 3166 alpha-3 code: the code the World Bank uses
NON_ISO = {"830": ("CHI", "Channel Islands"), "412": ("XKX", "Kosovo")}
#: region, sub-region of areas that UN statistics show but the M49 file does not place: Channel Islands
#: (Northern Europe, as M49 830's members Guernsey and Jersey), Taiwan (Eastern Asia, as UN DESA and WPP
#: place it) and Kosovo (Southern Europe, where WPP places its code 412)
PLACED = {"CHI": ("150", "154"), "TWN": ("142", "030"), "XKX": ("150", "039")}
NAMES_TODAY = "names_today.csv"

_M49_REQUIRED = ["Global Code", "Region Code", "Region Name", "Sub-region Code", "Sub-region Name",
                 "Intermediate Region Code", "Intermediate Region Name", "Country or Area", "M49 Code",
                 "ISO-alpha3 Code"]


def _pad(code: str) -> str:
    return str(int(code)).zfill(3)


def _country_rows(m49: pd.DataFrame) -> list[dict]:
    rows = []
    for get in m49.to_dict("records"):
        num, iso3, name = get["M49 Code"], get["ISO-alpha3 Code"], get["Country or Area"]
        code = iso3 or NON_ISO.get(num, (f"M{_pad(num)}",))[0]
        get = get.get
        rows.append({
            "code": code, "name": name, "kind": "country", "m49": _pad(num), "iso3": iso3 or None,
            "region": get("Region Code") and _pad(get("Region Code")),
            "subregion": get("Sub-region Code") and _pad(get("Sub-region Code")),
            "intermediate_region": get("Intermediate Region Code") and _pad(get("Intermediate Region Code")),
            "ldc": get("Least Developed Countries (LDC)") == "x",
            "lldc": get("Land Locked Developing Countries (LLDC)") == "x",
            "sids": get("Small Island Developing States (SIDS)") == "x",
        })
    return rows


def _region_rows(m49: pd.DataFrame) -> list[dict]:
    rows = {"001": {"code": "001", "name": "World", "kind": "aggregate", "m49": "001"}}
    for code_col, name_col in [("Region Code", "Region Name"), ("Sub-region Code", "Sub-region Name"),
                               ("Intermediate Region Code", "Intermediate Region Name")]:
        for code, name in m49[[code_col, name_col]].drop_duplicates().itertuples(index=False):
            if code and code != "830":  # Channel Islands: an area of its own in UN DESA's statistics
                rows[_pad(code)] = {"code": _pad(code), "name": name, "kind": "aggregate", "m49": _pad(code)}
    return list(rows.values())


def read_annex(path: Path) -> pd.DataFrame:
    """UN DESA's location table: one row per location code, with its type and memberships."""
    with open_workbook(path, "the UN DESA IMS 2020 annex workbook") as book:
        if "Annex" not in book.sheet_names:
            raise SourceFileError(str(path), f"has no sheet 'Annex' (sheets: {book.sheet_names})", sheet="Annex",
                                  expected="the UN DESA IMS 2020 annex workbook")
        raw = pd.DataFrame(book.rows("Annex"), dtype=object)
    raw = raw.where(raw != "", None)
    labels = [str(v) for v in raw.iloc[10].tolist()]
    if "Location code" not in labels or "ISO3 Alpha-code" not in labels:
        raise SourceFileError(str(path), "the header row is not where it was published", sheet="Annex",
                              row=11, expected="'Location code' and 'ISO3 Alpha-code' in row 11")
    body = raw.iloc[11:].dropna(subset=[3])
    income_cols = {i: str(int(str(lab).rsplit("\n", 1)[-1])) for i, lab in enumerate(labels)
                   if "income" in lab.lower() and "\n" in lab}
    dev_cols = {i: str(int(str(lab).rsplit("\n", 1)[-1])) for i, lab in enumerate(labels)
                if "\n" in lab and i not in income_cols}
    out = pd.DataFrame({
        "name": body[1].map(lambda s: strip_footnote(s)[0]),
        "code": body[3].astype(int).astype(str),
        "iso3": body[4].map(lambda v: v.strip() if isinstance(v, str) and v.strip() else None),
        "type": body[5].fillna(0).astype(int),
        "sdg_region": body[13].map(lambda v: None if pd.isna(v) else str(int(v))),
        # the most detailed group: upper/lower-middle (1502/1501) rather than middle-income (1517)
        "income": body[list(income_cols)].apply(
            lambda r: min((str(int(v)) for v in r if pd.notna(v)), key=lambda c: c == "1517", default=None),
            axis=1),
        "development": body[list(dev_cols)].apply(
            lambda r: ",".join(str(int(v)) for v in r if pd.notna(v)) or None, axis=1),
    })
    out = out.drop_duplicates("code").astype(object)
    return out.where(out.notna(), None)


def build_areas(m49_folder: Path) -> Areas:
    """The area table from the two files of the ``m49`` mirror folder, plus pycountry."""
    csv_path = m49_folder / M49_FILE
    try:
        m49 = read_m49(csv_path)
    except (FileNotFoundError, SourceFileError):
        raise
    except Exception as err:
        raise SourceFileError(str(csv_path), f"cannot be read as CSV ({err})") from err
    missing = [c for c in _M49_REQUIRED if c not in m49.columns]
    if missing:
        raise SourceFileError(str(csv_path), f"columns {missing} are missing", row=1,
                              expected=f"the UNSD M49 header with {_M49_REQUIRED}")
    frame = pd.DataFrame(_country_rows(m49) + _region_rows(m49), columns=AREA_COLUMNS)
    for code, name in RESIDUALS:
        frame.loc[len(frame)] = {c: None for c in AREA_COLUMNS} | {"code": code, "name": name, "kind": "residual"}
    frame.loc[len(frame)] = {c: None for c in AREA_COLUMNS} | {"code": "_T", "name": "Total", "kind": "total"}
    for code, name in WB_INCOME_NAMES.items():
        frame.loc[len(frame)] = {c: None for c in AREA_COLUMNS} | {"code": code, "name": name, "kind": "aggregate"}
    areas = Areas(frame)
    for row in frame.itertuples(index=False):
        areas.add_alias(row.code, "name", row.name)
        if row.m49:
            areas.add_alias(row.code, "m49", row.m49)
        if row.iso3:
            areas.add_alias(row.code, "iso3", row.iso3)
    _add_desa(areas, read_annex(m49_folder / ANNEX_FILE))
    # Kosovo has no M49 or ISO code; the World Bank publishes it as XKX and WPP as 412
    areas.add_area("XKX", "Kosovo", "country", iso2="XK")
    for code, (region, subregion) in PLACED.items():
        if code in areas.frame.index and not _text(areas.frame.at[code, "region"]):
            areas.frame.loc[code, ["region", "subregion"]] = [region, subregion]
    _add_pycountry(areas)
    areas.load_sidecar("common")
    _rename_today(areas)
    return areas


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def names_today() -> pd.DataFrame:
    """``imdx/codes/names_today.csv``: code, name (as publishers write it today), former (the older name)."""
    text = resources.files("imdx.codes").joinpath(NAMES_TODAY).read_text("utf-8")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, comment="#")


def _rename_today(areas: Areas) -> None:
    """Give areas the names their publishers use today; the former name stays an alias (it resolves as before)."""
    for row in names_today().itertuples(index=False):
        if row.code in areas.frame.index:
            areas.add_alias(row.code, "name", row.name)
            areas.frame.loc[row.code, "name"] = row.name


def _add_desa(areas: Areas, annex: pd.DataFrame) -> None:
    m49_by_name = {normalise(n): c for c, n, k in areas.frame[["code", "name", "kind"]].itertuples(index=False)
                   if k == "aggregate"}
    taken: set[str] = set()
    groups: dict[str, list] = {}  # code -> its SDG region, income group, development group; set at the end
    # geographic regions (types 2, 3) first, so that they win a shared name against SDG regions
    for row in annex.sort_values("type", key=lambda t: t.map({2: 0, 3: 0}).fillna(1)).itertuples(index=False):
        if row.type == 4 or row.iso3:
            code = row.iso3 or NON_ISO.get(row.code, (f"M{_pad(row.code)}",))[0]
            if code not in areas.frame.index:
                areas.add_area(code, row.name, "country", m49=_pad(row.code))
            areas.add_alias(code, "undesa", row.code)
            areas.add_alias(code, "name", row.name)
            groups[code] = [row.sdg_region, DESA_EQUIVALENTS.get(row.income), row.development]
            continue
        target = DESA_EQUIVALENTS.get(row.code) or m49_by_name.get(normalise(row.name))
        if target and (target not in taken or row.type in (2, 3)):
            taken.add(target)
        else:
            target = row.code
            areas.add_area(target, row.name, "aggregate")
        areas.add_alias(target, "undesa", row.code)
        areas.add_alias(target, "name", row.name)
    if groups:  # SDG regions as area codes, now that every aggregate is known (DESA 947 is M49 202)
        for group in groups.values():
            group[0] = group[0] and _desa_code(areas, group[0])
        columns = ["sdg_region", "wb_income", "un_development"]
        areas.frame.loc[list(groups), columns] = pd.DataFrame(list(groups.values()), columns=columns,
                                                              index=list(groups)).astype(object)


def _desa_code(areas: Areas, desa: str) -> str:
    return areas.resolve(desa, ("undesa",)).code or desa


def _add_pycountry(areas: Areas) -> None:
    iso2 = {}
    for country in pycountry.countries:
        code = country.alpha_3
        if code not in areas.frame.index:
            continue
        iso2[code] = country.alpha_2
        areas.add_alias(code, "iso2", country.alpha_2)
        for attr in ("name", "official_name", "common_name"):
            areas.add_alias(code, "name", getattr(country, attr, None))
    areas.frame.loc[list(iso2), "iso2"] = list(iso2.values())
