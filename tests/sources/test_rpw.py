"""World Bank RPW, the derived corridor subset: oracles of the file, never the World Bank's headline averages."""

from __future__ import annotations

import pytest

from imdx.codes.build import build_areas
from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import rpw
from imdx.sources.base import LoadContext, finish


def build(path, areas):
    report = Report()
    tables = rpw.SOURCE.releases[0].build({rpw.FILE: path}, LoadContext(areas=areas.copy(), report=report,
                                                                         source="rpw"))
    return finish("remittance_costs", tables["remittance_costs"]), report


def test_corridor_costs_and_the_derived_flag(mirror):
    areas = build_areas(mirror / "m49")
    costs, report = build(mirror / "rpw" / rpw.FILE, areas)
    cost200 = costs[(costs["amount"] == "USD200") & (costs["cost"] == "TOTAL")]
    gbr_ind = cost200[(cost200["sender"] == "GBR") & (cost200["receiver"] == "IND") & (cost200["year"] == 2016)
                      & (cost200["quarter"] == "Q2")].iloc[0]
    assert gbr_ind["value"] == pytest.approx(4.1403448275862065, rel=1e-15)
    assert gbr_ind["note"] == "29 RPW records averaged"
    usa_mex = cost200[(cost200["sender"] == "USA") & (cost200["receiver"] == "MEX") & (cost200["year"] == 2025)]
    assert usa_mex["value"].iloc[0] == pytest.approx(4.97804347826087, rel=1e-15)
    q = cost200.groupby(["year", "quarter"])["value"].mean()
    assert q[(2025, "Q1")] == pytest.approx(6.919672, abs=1e-6) and q[(2024, "Q2")] == pytest.approx(7.366171, abs=1e-6)
    assert "XKX" in set(costs["sender"]) | set(costs["receiver"])  # RPW's KSV
    assert (costs["definition"] == rpw.DEFINITION).all() and "unweighted" in rpw.SOURCE.releases[0].title.lower()
    assert sorted(i.type for i in report) == ["implausible-value", "implausible-value"]


def test_bad_period_is_refused(mirror, tmp_path):
    text = (mirror / "rpw" / rpw.FILE).read_text("utf-8").replace("2016_2Q", "2016-Q2", 1)
    damaged = tmp_path / "rpw.csv"
    damaged.write_text(text, "utf-8")
    with pytest.raises(SourceFileError, match="period"):
        build(damaged, build_areas(mirror / "m49"))
