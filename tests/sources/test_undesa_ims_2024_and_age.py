"""UN DESA 2024 edition (gdidata long form), migrant stock by age 2015 and the 2017 shares, on the real files."""

from __future__ import annotations

import pandas as pd
import pytest

from imdx.codes.build import build_areas
from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import undesa_ims
from imdx.sources.base import LoadContext, finish
from imdx.sources.undesa_ims import FILE_AGE_2015, by_age, gdidata


@pytest.fixture(scope="module")
def areas(mirror):
    return build_areas(mirror / "m49")


def build(mirror, areas, key, **replace):
    release = next(s for s in undesa_ims.SOURCE.releases if s.key == key)
    paths = {f.name: replace.get(f.name, mirror / "undesa_ims" / f.name) for f in release.files}
    report = Report()
    tables = release.build(paths, LoadContext(areas=areas.copy(), report=report, source="undesa_ims"))
    return {flow: finish(flow, frame) for flow, frame in tables.items()}, report


@pytest.fixture(scope="module")
def ims2024(mirror, areas):
    return build(mirror, areas, "ims2024-origin-destination-gdidata")


def totals(stock, **where):
    for k, v in where.items():
        stock = stock[stock[k] == v]
    return stock.set_index("year")["value"].to_dict()


def test_2024_world_and_destinations_match_the_published_totals(ims2024):
    stock, report = ims2024
    stock = stock["migrant_stock"]
    world = totals(stock, destination="001", origin="_T", sex="_T")
    assert world == {1990: 153_916_063, 1995: 163_176_002, 2000: 174_566_152, 2005: 192_788_721,
                     2010: 221_020_392, 2015: 250_042_020, 2020: 275_284_032, 2024: 304_021_813}
    for code, value in {"USA": 52_375_047, "DEU": 16_750_084, "SAU": 13_683_841, "GBR": 11_845_479}.items():
        assert totals(stock, destination=code, origin="_T", sex="_T")[2024] == value
    assert len(report) == 0, report.to_frame()  # OOO, XCX (Channel Islands) and TWN all resolve


def test_2024_other_origin_is_ooo_absent_cells_are_not_zero_and_totals_say_they_are_derived(ims2024, mirror):
    stock = ims2024[0]["migrant_stock"]
    published = stock[stock["cell_row"].notna()]
    assert len(published) == 153_296  # every row of the file, nothing invented
    assert (published["value"] == 0).sum() == 14_925
    assert (stock["origin"] == "_O").any() and not stock["origin"].isin(["OOO", "XXX"]).any()
    derived = stock[stock["cell_row"].isna()]
    assert set(derived["note"]) == {gdidata.DERIVED_NOTE}
    # a pair gets a both-sexes cell only where both sexes are published
    pairs = published.groupby(["destination", "origin", "year"], observed=True)["sex"].nunique()
    both = derived[(derived["sex"] == "_T") & (derived["origin"] != "_T") & (derived["destination"] != "001")]
    assert len(both) == (pairs == 2).sum()
    assert set(published["definition"].dropna()) <= {"B", "C", "I", "BR", "CR", "IR", "BC", "BCR"}


def test_2024_damaged_file_is_refused(mirror, areas, tmp_path):
    bad = tmp_path / "x.rda"
    bad.write_bytes(b"not R data at all")
    with pytest.raises(SourceFileError):
        build(mirror, areas, "ims2024-origin-destination-gdidata", **{undesa_ims.FILE_2024_RDA: bad})


def test_by_age_2015_spaced_numbers_windows_1252_and_oracles(mirror, areas):
    tables, report = build(mirror, areas, "ims2015-by-age")
    stock = tables["migrant_stock"]
    world = stock[(stock["destination"] == "001") & (stock["year"] == 1990)].set_index(["sex", "age"])["value"]
    assert world[("_T", "Y0T4")] == 5_444_102 and world[("_T", "_T")] == 152_563_212
    assert world[("M", "_T")] == 77_747_510 and world[("F", "_T")] == 74_815_702
    burundi = stock[(stock["destination"] == "BDI") & (stock["sex"] == "_T")].set_index("age")
    assert burundi.loc["Y0T4", "value"] == 19_599 and burundi.loc["_T", "value"] == 333_110
    assert burundi.loc["_T", "definition"] == "BR"
    assert (stock["obs_status"] == "M").sum() == 302  # the '..' cells, kept as missing
    assert "REU" in set(stock["destination"]) and "CIV" in set(stock["destination"])  # Réunion, Côte d'Ivoire
    assert set(stock["age"]) == set(by_age.AGE_CODES)
    assert not [i for i in report if i.type == "unmapped-area"]


def test_by_age_2015_odd_number_is_an_issue_not_a_number(mirror, areas, tmp_path):
    text = (mirror / "undesa_ims" / FILE_AGE_2015).read_bytes().decode("cp1252")
    damaged = tmp_path / FILE_AGE_2015
    damaged.write_bytes(text.replace(" 5 444 102", " 5 444 1O2", 1).encode("cp1252"))
    tables, report = build(mirror, areas, "ims2015-by-age", **{FILE_AGE_2015: damaged})
    world = tables["migrant_stock"]
    cell = world[(world["destination"] == "001") & (world["sex"] == "_T") & (world["age"] == "Y0T4")].iloc[0]
    assert pd.isna(cell["value"]) and cell["obs_status"] == "M" and cell["note"] == "5 444 1O2"
    assert [i.type for i in report if i.type == "unknown-marker"] == ["unknown-marker"]


def test_by_age_2015_moved_header_is_refused(mirror, areas, tmp_path):
    text = (mirror / "undesa_ims" / FILE_AGE_2015).read_bytes().decode("cp1252")
    damaged = tmp_path / FILE_AGE_2015
    damaged.write_bytes(text.replace("Country code", "Code", 1).encode("cp1252"))
    with pytest.raises(SourceFileError, match="Country code"):
        build(mirror, areas, "ims2015-by-age", **{FILE_AGE_2015: damaged})


def test_2017_shares_oracles_and_encodings(mirror, areas):
    tables, report = build(mirror, areas, "ims2017-by-age-shares")
    share = tables["migrant_stock_age_share"]
    world = share[share["destination"] == "001"].set_index(["sex", "year", "age"])["value"]
    assert world[("_T", 1990, "Y0T4")] == 3.2 and world[("_T", 1990, "Y20T24")] == 8.3
    assert world[("_T", 1990, "Y_GE75")] == 5.4
    assert world[("_T", 2017, "Y0T4")] == 3.1 and world[("_T", 2017, "Y25T29")] == 9.5
    assert world[("_T", 2017, "Y_GE75")] == 4.8 and world[("M", 2017, "Y30T34")] == 11.4
    assert "REU" in set(share["destination"])  # Latin-1 'Réunion' in the both-sexes file
    assert not [i for i in report if i.type == "unmapped-area"]
