"""The checks, on real releases: what they report is recomputed here from the published files with
plain pandas (pyreadr, read_csv), independently of imdx/checks; a value corrupted in a copy is caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadr
import pytest

from imdx import checks
from imdx.model.report import Report
from imdx.sources import registry
from imdx.sources.base import LoadContext, finish


def _prepared(mirror, areas, source: str, key: str) -> dict[str, pd.DataFrame]:
    spec = next(s for s in registry()[source].releases if s.key == key)
    paths = {f.name: mirror / spec.mirror_folder / f.name for f in spec.files}
    tables = spec.build(paths, LoadContext(areas=areas.copy(), report=Report(), source=source))
    return {flow: finish(flow, frame) for flow, frame in tables.items()}


def _issues(flow: str, frame: pd.DataFrame, areas, kind: str) -> list:
    return [i for i in checks.run(flow, frame, areas, source="test") if i.type.startswith(kind)]


def _r(mirror, file: str) -> pd.DataFrame:
    return next(iter(pyreadr.read_r(str(mirror / "unhcr" / file)).values()))


@pytest.fixture(scope="module")
def refugees(mirror, areas):
    return _prepared(mirror, areas, "unhcr", "refugees-2025.12.1")


def test_sexes_against_both_sexes(mirror, areas, refugees):
    raw = _r(mirror, "demographics.rda")
    raw = raw[raw["coo_iso"].ne("TIB") & raw["coa_iso"].ne("TIB")]  # Tibetan: unmapped, not loaded
    parts, total = raw["f_total"] + raw["m_total"], raw["total"]
    known = parts > 0  # a row of zeros has no breakdown: imdx keeps its sex cells as missing
    diff = parts - total
    bad = known & (diff.abs() > 5) & (diff.abs() / np.maximum(total.abs(), np.maximum(parts.abs(), 1)) > 0.005)
    expected = sorted(raw.index[bad] + 1)  # R row numbers
    assert 100 < len(expected) < 200  # all of them are listed
    found = _issues("displacement_demographics", refugees["displacement_demographics"], areas, "parts-")
    assert sorted(i.row for i in found) == expected
    assert {i.column for i in found} == {"total"} and all("males and females add up to" in i.message for i in found)
    first = raw.loc[bad].iloc[0]
    issue = next(i for i in found if i.row == expected[0])
    assert f"add up to {first.f_total + first.m_total:,.0f}, the published total is {first.total:,.0f}" \
        in issue.message


def test_age_bands_are_not_taken_for_parts_of_a_total(areas, refugees):
    # only all ages has a total by sex: the age bands of F and M are in no group with a total, and
    # changing one changes nothing; changing a sex total is caught
    frame = refugees["displacement_demographics"]
    before = _issues("displacement_demographics", frame, areas, "parts-")
    band = frame.index[(frame["sex"] == "F") & (frame["age"] == "Y0T4") & (frame["value"] > 1000)][0]
    changed = frame.copy()
    changed.loc[band, "value"] *= 10
    assert _issues("displacement_demographics", changed, areas, "parts-") == before
    women = frame.index[(frame["sex"] == "F") & (frame["age"] == "_T") & (frame["value"] > 10_000)][0]
    changed.loc[women, "value"] *= 2
    after = _issues("displacement_demographics", changed, areas, "parts-")
    assert len(after) == len(before) + 1
    assert frame.loc[women, "cell_row"] in {i.row for i in after} - {i.row for i in before}


def test_implausible_jumps_and_how_many_more(mirror, areas, refugees):
    raw = _r(mirror, "population.rda")
    raw = raw.assign(row=raw.index + 1)[raw["coo_iso"].ne("TIB") & raw["coa_iso"].ne("TIB")]
    long = raw.melt(id_vars=["row", "year", "coo_iso", "coa_iso"], value_vars=["refugees", "asylum_seekers",
                    "returned_refugees", "idps", "returned_idps", "stateless", "ooc", "oip", "hst"])
    long = long[long["value"] > 0].sort_values(["coo_iso", "coa_iso", "variable", "year"])
    prev = long.groupby(["coo_iso", "coa_iso", "variable"])["value"].shift()
    ratio = long["value"] / prev
    jumps = long[((ratio > 10) | (ratio < 0.1)) & (np.maximum(long["value"], prev) > 10_000)]
    found = _issues("refugees", refugees["refugees"], areas, "implausible-jump")
    assert len(jumps) > checks.rules.LIMIT
    assert len(found) == checks.rules.LIMIT
    assert found[-1].message.endswith(f"({len(jumps) - checks.rules.LIMIT} more like this not listed)")
    syria = jumps[(jumps["coo_iso"] == "SYR") & (jumps["coa_iso"] == "LBN") & (jumps["year"] == 2012)]
    assert len(syria) == 1  # 2011 to 2012, Syrian refugees in Lebanon
    listed = {(i.row, i.column) for i in found}  # each a jump found here: its R row and column
    assert len(listed) == len(found) and listed <= set(zip(jumps["row"], jumps["variable"]))


def test_origin_is_destination(mirror, areas, refugees):
    raw = _r(mirror, "asylum_applications.rda")
    same = raw[(raw["coo_iso"] == raw["coa_iso"]) & (raw["applied"].fillna(0) != 0)]
    expected = same.groupby("coo_iso").size().to_dict()
    found = _issues("asylum_applications", refugees["asylum_applications"], areas, "origin-is-destination")
    assert {i.area: i.n_obs for i in found} == expected and expected


def test_countries_against_the_world(mirror, areas):
    name = "API_BX.KLT.DINV.CD.WD_DS2_en_csv_v2_9984841.csv"
    raw = pd.read_csv(mirror / "wdi" / name, skiprows=4)
    years = [c for c in raw.columns if c.isdigit()]
    kind = raw["Country Code"].map(areas.frame["kind"].to_dict())
    countries = raw[kind.isin(["country", "residual"]).to_numpy()][years].sum(min_count=1)
    world = raw.loc[raw["Country Code"] == "WLD", years].iloc[0]
    diff = countries - world
    bad = world.notna() & (diff.abs() > 5) & (diff.abs() / np.maximum(world.abs(), 1) > 0.005)
    frame = _prepared(mirror, areas, "wdi", "BX.KLT.DINV.CD.WD-2018-06-28")["fdi_inflows"]
    found = _issues("fdi_inflows", frame, areas, "parts-")
    assert sorted(i.column for i in found) == sorted(bad.index[bad]) and len(found) > 5
    assert {i.row for i in found} == {int(np.flatnonzero(raw["Country Code"] == "WLD")[0]) + 6}  # header at row 5


def test_a_negative_count_is_reported(mirror, areas):
    frame = _prepared(mirror, areas, "wdi", "BX.TRF.PWKR.CD.DT-2025-07-01")["remittances"]
    assert not _issues("remittances", frame, areas, "negative-value")
    changed = frame.copy()
    at = changed.index[changed["value"] > 0][123]
    changed.loc[at, "value"] = -changed.loc[at, "value"]
    found = _issues("remittances", changed, areas, "negative-value")
    assert len(found) == 1 and found[0].n_obs == 1 and found[0].severity == "error"
    assert (found[0].row, found[0].column) == (frame.loc[at, "cell_row"], frame.loc[at, "cell_column"])


# -- tolerances per publisher and causes (issue 13) ---------------------------------------------
def test_each_source_declares_how_exact_its_figures_are():
    from imdx.checks.tolerance import Tolerance

    sources = registry()
    assert sources["undesa_ims"].tolerance_for("migrant_stock") == Tolerance.exact()
    assert sources["undesa_ims"].tolerance_for("population") == Tolerance.rounded()  # Table 2 is in thousands
    assert sources["unhcr"].tolerance_for("displacement_demographics") == Tolerance.exact()
    assert sources["wdi"].tolerance_for("fdi_inflows") == Tolerance.rounded()
    assert checks.declared_tolerance("sdmx", "anything") == Tolerance.rounded()  # a publisher imdx does not know


@pytest.fixture(scope="module")
def desa_2020(mirror, areas):
    return _prepared(mirror, areas, "undesa_ims", "ims2020-destination")["migrant_stock"]


def _workbook_table_1(mirror) -> pd.DataFrame:
    """UN DESA's 2020 Table 1 as published, read with openpyxl: columns L, S and Z hold 2020 for both
    sexes, males and females; aggregates have no 'Type of data' (column E)."""
    raw = pd.read_excel(mirror / "undesa_ims" / "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx",
                        sheet_name="Table 1", header=None, skiprows=11, engine="openpyxl")
    return raw[raw[3].notna()]


def test_undesa_2020_sex_split_is_reported_with_its_cause(mirror, areas, desa_2020):
    """The countries' men and women do not add up to the World's, because Bonaire, Sint Eustatius and Saba
    has a total and no split by sex: the report says so, naming it (figures recomputed from the workbook)."""
    raw = _workbook_table_1(mirror)
    countries = raw[raw[4].astype(str).str.strip().ne("") & raw[4].notna()]
    world = raw[raw[3] == 900].iloc[0]
    bes = raw[raw[3] == 535].iloc[0]
    assert bes[18] == ".." and bes[25] == ".." and bes[11] == 26_221  # published: a total, no split
    issues = checks.run("migrant_stock", desa_2020, areas, source="undesa_ims")
    for sex, column in (("M", 18), ("F", 25)):
        parts = pd.to_numeric(countries[column], errors="coerce").sum()
        assert world[column] - parts > 10_000  # short by thousands
        issue = next(i for i in issues if i.type == "parts-differ-from-total" and f"sex={sex}," in i.message
                     and "year=2020" in i.message and "countries (destination)" in i.message)
        assert f"add up to {parts:,.0f}, the published total is {world[column]:,.0f}" in issue.message
        assert issue.area == "001" and issue.sheet == "Table 1"
        cause = issue.message.split("Cause:")[1]
        assert cause.lstrip().startswith("1 member(s) of destination missing from the parts, which can account "
                                         "for it: Bonaire, Sint Eustatius and Saba (BES), which has 26,221 for sex=_T")
    alone = [i for i in issues if i.type == "total-without-parts" and i.area == "BES"]
    assert len(alone) == 1 and "in 7 years, 1990-2020 (26,221 in 2020)" in alone[0].message
    assert "males and females are all published as missing" in alone[0].message
    # at the old, relative tolerance for every publisher, the gap (0.01% of the World) went unreported
    relaxed = checks.run("migrant_stock", desa_2020, areas, source="undesa_ims", tolerance=checks.ROUNDED)
    assert not [i for i in relaxed if i.type.startswith("parts-") and "countries (destination)" in i.message]


def test_a_member_left_out_of_the_parts_is_named(areas, desa_2020):
    """Germany's men taken out of the 2020 table: the World's men are short by them, and Germany, which
    still has its total for both sexes, is named first."""
    frame = desa_2020
    men = (frame["destination"] == "DEU") & (frame["sex"] == "M") & (frame["year"] == 2020) & (frame["origin"] == "_T")
    german_men = frame.loc[men, "value"].iloc[0]
    german_total = frame.loc[(frame["destination"] == "DEU") & (frame["sex"] == "_T") & (frame["year"] == 2020)
                             & (frame["origin"] == "_T"), "value"].iloc[0]
    issues = checks.run("migrant_stock", frame[~men.to_numpy()].reset_index(drop=True), areas, source="undesa_ims")
    issue = next(i for i in issues if "sex=M," in i.message and "year=2020" in i.message
                 and "countries (destination)" in i.message)
    assert f"({-(german_men + 13_614):+,.0f}," in issue.message  # Germany's men and BES's
    assert f"2 member(s) of destination missing from the parts, which can account for it: Germany (DEU), which " \
           f"has {german_total:,.0f} for sex=_T but no value here; Bonaire" in issue.message


@pytest.mark.parametrize("source, flow, exact", [
    ("undesa_ims", "migrant_stock", True), ("undesa_ims", "population", False),
    ("undesa_ims", "migrant_stock_age_share", False), ("undesa_flows", "reported_flows", True),
    ("oecd_imo", "reported_flows", True), ("unodc_glotip", "detected_trafficking_victims", True),
    ("iom_gdidata", "missing_migrants", True), ("iom_gdidata", "first_time_asylum_applicants", False),
    ("rpw", "remittance_costs", False), ("eurostat", "reported_flows", True)])
def test_the_new_sources_declare_how_exact_their_figures_are(source, flow, exact):
    """Counts to the person get an absolute tolerance of a few units; rounded figures (Eurostat's asylum
    applicants, to the nearest 5; UN DESA's population, in thousands; percentages) a relative one."""
    from imdx.checks import declared_tolerance

    tolerance = declared_tolerance(source, flow)
    assert (tolerance.relative == 0 and tolerance.absolute <= 5) if exact else tolerance.relative > 0
