"""Revisions between editions: imdx.revisions.diff, `imdx diff` and /api/v1/diff/{dataflow}, on the editions
in the mirror (UN DESA 2015/2019/2020; the World Bank FDI files of 2018 and 2023)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from imdx.cli.diff import diff_cmd
from imdx.revisions import diff, summary
from imdx.store import connect
from tests.api.conftest import assert_envelope


@pytest.fixture(scope="module")
def store(api_db):
    with connect(api_db, read_only=True) as s:
        yield s


@pytest.fixture(scope="module")
def fdi_vintages(store):
    """The editions of the two WDI FDI files (their Last Updated dates): 2018-06-28 and 2023-10-26."""
    found = store.editions("fdi_inflows")
    api_files = found[found["key"].str.startswith("BX.KLT.DINV.CD.WD")]
    return api_files.sort_values("published")["edition"].tolist()


def test_editions(store):
    stock = store.editions("migrant_stock")
    assert {"2015", "2019", "2020"} <= set(stock["edition"]) and (stock["n_obs"] > 0).all()


TOTAL = {"origin": "total", "sex": "total", "age": "total"}


def test_germany_2015_revised_from_the_2015_to_the_2020_edition(store):
    changes = diff(store, "migrant_stock", "2015", "2020", destination="DEU", **TOTAL)
    row = changes[changes["year"] == 2015].iloc[0]
    assert row["change"] == "changed"
    assert (row["value_from"], row["value_to"]) == (12_005_690, 10_220_418)
    assert row["absolute_change"] == 10_220_418 - 12_005_690
    assert row["relative_change"] == pytest.approx((10_220_418 - 12_005_690) / 12_005_690)
    assert set(changes.loc[changes["year"] != 2015, "change"]) == {"appeared"}  # 1990-2010, 2020: not in 2015's matrix


def test_years_appear_and_vanish_from_2019_to_2020(store):
    changes = diff(store, "migrant_stock", "2019", "2020", destination="DEU", **TOTAL).set_index("year")
    assert changes.loc[2019, "change"] == "vanished" and changes.loc[2020, "change"] == "appeared"
    assert pd.isna(changes.loc[2020, "value_from"]) and changes.loc[2020, "value_to"] == 15_762_457
    assert 2015 not in changes.index  # Germany's 2015 figure was not revised from 2019 to 2020


def test_world_2015_revised_from_2019_to_2020(store):
    changes = diff(store, "migrant_stock", "2019", "2020", destination="World", year="2015", **TOTAL)
    row = changes.iloc[0]
    assert (row["change"], row["value_from"], row["value_to"]) == ("changed", 248_861_296, 247_958_644)
    assert row["destination_name"] == "World"
    counts = summary(diff(store, "migrant_stock", "2019", "2020", year="2015", **TOTAL))
    assert counts["changed"] > 50 and counts["appeared"] >= 1


def test_world_bank_fdi_vintages(store, fdi_vintages):
    old, new = fdi_vintages[0], fdi_vintages[-1]
    assert old.startswith("2018") and new.startswith("2023")
    changes = diff(store, "fdi_inflows", old, new, area="IRL", year="2015")
    row = changes.iloc[0]
    assert row["change"] == "changed"
    assert row["value_from"] == pytest.approx(2.353560e11, rel=1e-6)
    assert row["value_to"] == pytest.approx(2.370602e11, rel=1e-6)
    assert row["relative_change"] == pytest.approx(2.370602 / 2.353560 - 1, abs=1e-5)


def test_same_edition_has_no_changes(store):
    assert diff(store, "migrant_stock", "2020", "2020", destination="DEU").empty


def test_diff_is_antisymmetric(store):
    forward = diff(store, "migrant_stock", "2019", "2020", destination="FRA", origin="_T")
    back = diff(store, "migrant_stock", "2020", "2019", destination="FRA", origin="_T")
    assert summary(forward)["appeared"] == summary(back)["vanished"]
    assert summary(forward)["changed"] == summary(back)["changed"]


def test_unknown_edition(store):
    from imdx.errors import QueryError

    with pytest.raises(QueryError, match="editions are: .*2019"):
        diff(store, "migrant_stock", "1999", "2020")


def test_cli_diff(api_db):
    runner = CliRunner()
    args = ["migrant_stock", "--from", "2015", "--to", "2020", "--destination", "DEU", "--origin", "total",
            "--sex", "total", "--age", "total", "--db", str(api_db)]
    table = runner.invoke(diff_cmd, args)
    assert table.exit_code == 0, table.output
    assert "changed" in table.output and "appeared" in table.output and "12005690" in table.output
    csv = runner.invoke(diff_cmd, args + ["--format", "csv"])
    frame = pd.read_csv(io.StringIO(csv.output))
    assert {"value_from", "value_to", "absolute_change", "relative_change", "change"} <= set(frame.columns)
    records = json.loads(runner.invoke(diff_cmd, args + ["--format", "json"]).output)
    assert len(records) == len(frame)
    bad = runner.invoke(diff_cmd, ["migrant_stock", "--from", "1999", "--to", "2020", "--db", str(api_db)])
    assert bad.exit_code != 0


def test_api_diff(http, fdi_vintages):
    r = http.get("/api/v1/diff/migrant_stock", params={"from": "2015", "to": "2020", "destination": "DEU",
                                                       "origin": "_T", "sex": "_T", "age": "_T"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == "2015" and body["to"] == "2020" and body["total"] == len(body["data"])
    # 1990 is in both (the 2015 revision's by-age table, all ages) with the same value; 1995-2010 and 2020 appeared
    assert body["counts"] == {"changed": 1, "appeared": 5, "vanished": 0}
    rows = {d["year"]: d for d in body["data"]}
    assert rows[2015]["change"] == "changed" and rows[2015]["value_from"] == 12_005_690
    assert rows[2020]["change"] == "appeared" and rows[2020]["value_from"] is None
    gone = http.get("/api/v1/diff/migrant_stock", params={"from": "2019", "to": "2020", "destination": "DEU",
                                                          "origin": "_T", "sex": "_T", "age": "_T"}).json()
    assert {d["year"]: d["change"] for d in gone["data"]} == {2019: "vanished", 2020: "appeared"}
    fdi = http.get("/api/v1/diff/fdi_inflows", params={"from": fdi_vintages[0], "to": fdi_vintages[-1],
                                                       "area": "Ireland", "year": "2015", "format": "csv"})
    frame = pd.read_csv(io.StringIO(fdi.text))
    assert frame["value_to"].iloc[0] == pytest.approx(2.370602e11, rel=1e-6)
    assert "attachment" in fdi.headers["content-disposition"]


def test_api_diff_paging(http):
    body = http.get("/api/v1/diff/migrant_stock", params={"from": "2019", "to": "2020", "year": "2015", "origin": "_T",
                                                          "page_size": 50}).json()
    assert body["total"] > 50 and len(body["data"]) == 50 and body["links"]["next"]
    second = http.get(body["links"]["next"]).json()
    assert second["page"] == 2 and second["data"] != body["data"]
    far = {"from": "2019", "to": "2020", "year": "2015", "origin": "_T", "page_size": 50, "page": 10**6}
    assert_envelope(http.get("/api/v1/diff/migrant_stock", params=far), 404, "page-out-of-range", "page")


def test_api_diff_needs_editions(http):
    error = assert_envelope(http.get("/api/v1/diff/migrant_stock", params={"from": "2019"}), 400,
                            "missing-parameter", "to")
    assert "2020" in error["message"]
    error = assert_envelope(http.get("/api/v1/diff/migrant_stock", params={"from": "2019", "to": "2021"}), 400,
                            "unknown-edition", "to")
    assert "2015" in error["message"]
