"""The Eurostat receiving-side table: every row loaded, codes mapped."""

from __future__ import annotations

import pandas as pd
import pytest

from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources import eurostat
from imdx.sources.base import LoadContext, finish

ROWS = 14931


def test_every_row_is_loaded_with_codes_mapped(mirror, areas):
    path = mirror / "eurostat" / eurostat.FILE
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(raw) == ROWS
    ctx = LoadContext(areas=areas, report=Report(), source="eurostat")
    out = finish("immigration_flows", eurostat._build({eurostat.FILE: path}, ctx)["immigration_flows"])
    assert len(ctx.report) == 0 and len(out) == ROWS
    assert out["destination"].notna().all() and out["origin"].notna().all()
    pairs = dict(zip(raw["partner"], out["origin"]))
    assert pairs["UK"] == "GBR" and pairs["GR"] == "GRC" and pairs["OTHER"] == "_O" and pairs["DE"] == "DEU"
    assert set(out["destination"]) >= {"DEU", "GBR", "SWE", "_O"} and "GRC" not in set(out["destination"])
    assert (out["value"] == 0).sum() == 921
    assert out["note"].notna().sum() == ((raw["partner"] == "OTHER") | (raw["geo"] == "OTHER")).sum()
    assert out["cell_row"].min() == 2 and out["cell_row"].max() == ROWS + 1


def test_the_stored_dataflow_answers(est_store):
    from imdx.query import query

    rows = query(est_store, "immigration_flows", destination="DE", origin="PL", year=2023)
    assert rows["value"].tolist() == [56023.0]
    assert rows["destination"].tolist() == ["DEU"]
    stored = est_store.releases()
    assert stored.loc[stored.key == "migr_imm5prv-derived-2025", "n_obs"].tolist() == [ROWS]


def test_a_changed_file_is_refused(tmp_path, mirror, areas):
    text = (mirror / "eurostat" / eurostat.FILE).read_text().splitlines()
    text[5] = text[5].rsplit(",", 1)[0] + ",12:"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(SourceFileError, match="row 6"):
        eurostat.read_table(bad)
