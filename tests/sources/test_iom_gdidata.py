"""IOM gdidata: Missing Migrants, Frontex, U.S. CBP and Eurostat first-time asylum applicants, on the real files."""

from __future__ import annotations

import pytest

from imdx.codes.build import build_areas
from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import iom_gdidata as gdi
from imdx.sources.base import LoadContext, finish


@pytest.fixture(scope="module")
def areas(mirror):
    return build_areas(mirror / "m49")


def build(mirror, areas, table, path=None):
    spec = next(s for s in gdi.SOURCE.releases if s.dataflows == (table.dataflow,))
    report = Report()
    tables = spec.build({table.file: path or mirror / "iom_gdidata" / table.file},
                        LoadContext(areas=areas.copy(), report=report, source="iom_gdidata"))
    return finish(table.dataflow, tables[table.dataflow]), report


def test_missing_migrants_totals_by_year_and_origins(mirror, areas):
    deaths, report = build(mirror, areas, gdi.MMP)
    assert deaths["value"].sum() == 75_068
    assert deaths[deaths["incident_type"] == "Incident"]["value"].sum() == 63_776
    by_year = deaths.groupby("year")["value"].sum()
    assert by_year[2023] == 8_755 and by_year[2024] == 9_191 and by_year.index.min() == 2014  # days since 1970
    several = deaths[deaths["origin"] == "_M"]
    assert len(several) and several["note"].str.contains("origins ").all()
    assert "_U" in set(deaths["origin"]) and len(report) == 0


def test_frontex_detections_and_partial_year(mirror, areas):
    detections, report = build(mirror, areas, gdi.FRONTEX)
    assert detections["value"].sum() == 4_966_869  # OOO, OOS and STL resolve: nothing dropped
    y2023 = detections[detections["year"] == 2023].groupby("route")["value"].sum()
    assert y2023["Central Mediterranean Route"] == 158_026 and y2023["Western Balkan Route"] == 99_002
    assert detections[detections["year"] == 2025]["note"].str.contains("only months 1-4").all()
    assert len(report) == 0


def test_cbp_encounters_calendar_2023(mirror, areas):
    encounters, report = build(mirror, areas, gdi.CBP)
    assert encounters[encounters["year"] == 2023]["value"].sum() == 2_541_959
    assert "_U" in set(encounters["citizenship"]) and len(report) == 0


def test_eu27_is_an_aggregate_never_summed(mirror, areas):
    asylum, report = build(mirror, areas, gdi.ASYLUM)
    assert asylum[(asylum["asylum"] == "DEU") & (asylum["year"] == 2023)]["value"].sum() == 351_510
    eu = asylum[asylum["asylum"] == "EUU"]
    assert len(eu) and (eu["note"] == "EU27: aggregate of the member states").all()
    assert set(asylum["sex"]) == {"F", "M", "_U"} and len(report) == 0


def test_missing_columns_are_refused(mirror, areas, tmp_path):
    import pandas as pd
    import pyreadr

    damaged = tmp_path / gdi.FRONTEX.file
    pyreadr.write_rdata(str(damaged), pd.DataFrame({"route": ["x"], "n": [1.0]}), df_name="frontex")
    with pytest.raises(SourceFileError, match="missing"):
        build(mirror, areas, gdi.FRONTEX, damaged)
