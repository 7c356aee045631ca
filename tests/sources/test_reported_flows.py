"""Flows reported by both sides: UN DESA flows 2015, OECD IMO 2023 A.1/A.2, the MigMod EU-27 pairs."""

from __future__ import annotations

import openpyxl
import pytest

from imdx.codes.build import build_areas
from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import eurostat, migmod, oecd_imo, undesa_flows
from imdx.sources.base import LoadContext, finish


@pytest.fixture(scope="module")
def areas(mirror):
    return build_areas(mirror / "m49")


def build(spec, folder, areas, **replace):
    paths = {f.name: replace.get(f.name, folder / f.name) for f in spec.files}
    report = Report()
    tables = spec.build(paths, LoadContext(areas=areas.copy(), report=report, source=spec.source))
    return finish("reported_flows", tables["reported_flows"]), report


def one(frame, **where):
    for k, v in where.items():
        frame = frame[frame[k] == v]
    assert len(frame) == 1, where
    return frame.iloc[0]


@pytest.fixture(scope="module")
def un(mirror, areas):
    return build(undesa_flows.SOURCE.releases[0], mirror / "undesa_flows", areas)


@pytest.fixture(scope="module")
def oecd(mirror, areas):
    a1 = build(oecd_imo.SOURCE.releases[0], mirror / "oecd_imo", areas)
    a2 = build(oecd_imo.SOURCE.releases[1], mirror / "oecd_imo", areas)
    return a1, a2


def test_un_flows_oracles_both_sides_and_missing_kept(un):
    flows, report = un
    assert one(flows, destination="AUS", reporter="destination", criterion="RES", coverage="_T", year=1980)[
        "value"] == 184_290
    deu = flows[(flows["destination"] == "DEU") & (flows["reporter"] == "destination")]
    assert one(deu, criterion="RES", coverage="_T", year=1980)["value"] == 753_436
    assert one(deu, criterion="RES", coverage="_T", year=2013)["value"] == 692_713
    assert one(deu, criterion="CIT", coverage="FOR", year=2013)["value"] == 609_484
    assert one(flows, destination="CAN", criterion="CIT", coverage="FOR", year=2013)["value"] == 259_019
    usa = one(flows, destination="USA", origin="_T", criterion="POB", coverage="FOR", year=2013)
    assert usa["value"] == 990_553 and usa["reporter"] == "destination"
    emigrants = flows[(flows["reporter"] == "origin")]
    assert (emigrants["destination"] == "_T").all() and emigrants["origin"].nunique() > 30  # the sending side
    assert (flows["obs_status"] == "M").sum() > 0 and flows.loc[flows["obs_status"] == "M", "value"].isna().all()
    assert not [i for i in report if i.type == "unmapped-area"]  # MKD's old name is in the sidecar


def test_un_and_oecd_agree_on_usa_2013(un, oecd):
    inflow = one(oecd[0][0], destination="USA", year=2013)
    assert inflow["value"] == 990_553 == one(un[0], destination="USA", criterion="POB", year=2013)["value"]
    assert inflow["cell_column"] == "D" and inflow["criterion"] == "NATDEF" and inflow["coverage"] == "FOR"


def test_oecd_thousands_to_persons_names_and_outflows(oecd):
    (a1, r1), (a2, r2) = oecd
    assert one(a1, destination="CAN", year=2021)["value"] == 405_795
    assert one(a1, destination="DEU", year=2015)["value"] == 2_016_241
    assert one(a1, destination="JPN", year=2019)["value"] == 591_961
    assert one(a1, destination="CZE", year=2011)["reporter"] == "destination"  # 'Czech\xa0Republic'
    assert one(a2, origin="DEU", year=2016)["value"] == 1_083_767
    assert one(a2, origin="AUT", year=2011)["value"] == 72_812
    uk = one(a2, origin="GBR", year=2020)
    assert uk["obs_status"] == "M" and uk["value"] != uk["value"]
    assert a1["destination"].nunique() == 38 and a2["origin"].nunique() == 29
    assert len(r1) == len(r2) == 0


def test_oecd_unit_row_must_say_thousands(mirror, areas, tmp_path):
    book = openpyxl.load_workbook(mirror / "oecd_imo" / oecd_imo.INFLOWS.file)
    book[oecd_imo.INFLOWS.sheet]["A2"] = "Persons"
    damaged = tmp_path / oecd_imo.INFLOWS.file
    book.save(damaged)
    with pytest.raises(SourceFileError, match="Thousands"):
        build(oecd_imo.SOURCE.releases[0], mirror / "oecd_imo", areas, **{oecd_imo.INFLOWS.file: damaged})


def test_un_flows_unknown_classification_is_refused(mirror, areas, tmp_path):
    book = openpyxl.load_workbook(mirror / "undesa_flows" / undesa_flows.FILE)
    book[undesa_flows.SHEET]["B20"] = "Nationality"
    damaged = tmp_path / undesa_flows.FILE
    book.save(damaged)
    with pytest.raises(SourceFileError, match="Criteria"):
        build(undesa_flows.SOURCE.releases[0], mirror / "undesa_flows", areas, **{undesa_flows.FILE: damaged})


def test_migmod_both_reports_of_a_corridor_side_by_side(mirror, areas):
    spec = next(s for s in eurostat.SOURCE.releases if s.key == "migmod-eu27-pairs")
    flows, report = build(spec, mirror / "eurostat", areas)
    es_be = flows[(flows["origin"] == "ESP") & (flows["destination"] == "BEL") & (flows["year"] == 2010)]
    assert es_be.set_index("reporter")["value"].to_dict() == {"origin": 5_835, "destination": 6_067}
    dk_be = flows[(flows["origin"] == "DNK") & (flows["destination"] == "BEL") & (flows["year"] == 2010)]
    assert dk_be.set_index("reporter")["value"].to_dict() == {"origin": 307, "destination": 293}
    assert one(flows, origin="ROU", destination="ITA", year=2010)["value"] == 92_591  # Emig missing: one report
    assert one(flows, origin="ESP", destination="ROU", year=2013)["value"] == 70_055
    assert (flows["reporter"] == "origin").sum() == 3_520 and (flows["reporter"] == "destination").sum() == 3_624
    assert "GRC" in set(flows["origin"]) and not flows["origin"].isin(["GR", "EL"]).any()
    assert flows[flows["origin"] == "POL"].query("destination == 'DEU'").empty  # missing on both sides
    assert es_be["note"].str.startswith("undercount").all() and len(report) == 0


def test_migmod_negative_report_is_refused(mirror, tmp_path):
    import pandas as pd
    import pyreadr

    from imdx.sources.rfiles import read_r

    frame = read_r(mirror / "eurostat" / migmod.FILE, expected="")[migmod.OBJECT].head(5).copy()
    frame.loc[0, "Emig"] = -3.0
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype) or str(frame[col].dtype) == "string":
            frame[col] = frame[col].astype(object)
    damaged = tmp_path / "mig_data.rda"
    pyreadr.write_rdata(str(damaged), frame, df_name=migmod.OBJECT)
    with pytest.raises(SourceFileError, match="Emig"):
        migmod.read_rda(damaged)
