"""The registry on the real seed files: the 23 GCM objectives and the SRF with their mappings, data products of
every source linked to their releases, IOM's evaluated projects as activities, 3W spreadsheets in and out
unchanged (bad ones refused whole), the gaps matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imdx.errors import SourceFileError
from imdx.registry.access import operator
from imdx.registry.frameworks import FOLDER, read_frameworks
from imdx.registry.gaps import matrix
from imdx.registry.hxl import ThreeWImportError
from imdx.registry.threew import export_3w, import_3w
from imdx.store import connect

OPERATOR = operator("cli:test")
THREE_W = ("Organisation,Sector,Country code,Province,Activity,Start date,End date,Status,Budget\r\n"
           "#org,#sector,#country+code,#adm1+name,#activity,#date+start,#date+end,#status,#x_budget\r\n"
           "IOM,Migration data,KEN,Nairobi,Migration profile update,2024-01-15,2024-12-31,ongoing,120000\r\n"
           "UNHCR,Protection,UGA,Kampala,\"Refugee registration, phase 2\",2023-05-01,,completed,\r\n"
           "Refugee Consortium of Kenya,Protection,KEN,Garissa,Legal aid,2024-03,,planned,5000\r\n")


def test_the_23_objectives_and_the_srf_as_published(mirror):
    fw = read_frameworks(Path(mirror) / FOLDER)
    assert sorted(fw.objectives, key=int) == [str(i) for i in range(1, 24)]
    one = fw.objectives["1"]
    assert one.title == "Collect and utilize accurate and disaggregated data as a basis for evidence-based policies"
    assert [a["letter"] for a in one.actions] == list("abcdefghijk")
    assert one.actions[0]["text"].startswith("Elaborate and implement a comprehensive strategy") and \
        len(one.actions[0]["text"]) > len(one.actions[0]["short"])  # the long text
    assert fw.objectives["2"].title.startswith("Minimize the adverse drivers")
    levels = [n.level for n in fw.srf.values()]
    assert (levels.count("objective"), levels.count("long_term_outcome"), levels.count("short_term_outcome"),
            levels.count("output"), levels.count("enabler"), levels.count("crosscutting_priority")) == (3, 10, 33,
                                                                                                        113, 7, 4)
    assert fw.srf["1a11"].title == \
        "Crisis-affected populations in-need receive dignified shelter and settlement support."
    types = {i.type for i in fw.report}
    assert types == {"duplicate-id", "typo-as-published"}  # 2a12 twice; "regular migation"; mappings agree


def test_mapping_disagreements_are_reported(mirror, tmp_path):
    import shutil

    folder = tmp_path / FOLDER
    shutil.copytree(Path(mirror) / FOLDER, folder)
    forward = json.loads((folder / "gcm_to_srf_outputs.json").read_text())
    forward["1"] = forward.get("1", []) + ["9z99"]
    forward["7"] = [o for o in forward["7"] if o != "1a11"]
    (folder / "gcm_to_srf_outputs.json").write_text(json.dumps(forward))
    fw = read_frameworks(folder)
    messages = [i.message for i in fw.report]
    assert any("9z99" in m and "not an output" in m for m in messages)
    assert any("1a11" in m and "srf_outputs_to_gcm.json maps" in m for m in messages)
    assert "1a11" in fw.gcm_to_srf["7"]  # the union keeps what one file says


def test_seed_loads_frameworks_products_and_activities(library_store, mirror):
    gcm = library_store.registry_entries("gcm_objective")
    assert len(gcm) == 23 and len(library_store.registry_entries("srf_node")) == 170
    fw = read_frameworks(Path(mirror) / FOLDER)
    mapped = sum(len(e.body.get("srf_outputs", [])) for e in gcm)
    assert mapped == sum(len(v) for v in fw.gcm_to_srf.values()) > 0
    products = {e.entry_id: e for e in library_store.registry_entries("data_product")}
    assert {"undesa_ims", "wdi", "unhcr", "wpp", "knomad", "eurostat", "m49"} <= set(products)
    desa = products["undesa_ims"]
    loaded = library_store.releases()
    assert {r["key"] for r in desa.body["releases"]} == set(loaded.loc[loaded.source == "undesa_ims", "key"])
    assert desa.body["publisher"] == "undesa-pd" and ("dataflow", "migrant_stock") in desa.links
    activities = library_store.registry_entries("activity")
    assert len(activities) == 734
    japan = library_store.registry_entries("organisation", entry_ids=["government-of-japan"])[0]
    assert japan.body["country"] == "JPN" and japan.body["type"] == "government"
    funded = library_store.registry_entries("activity", rel="donor", target="government-of-japan")
    assert len(funded) == 28  # PROVENANCE-checked count of evaluations funded by Japan


def test_three_w_round_trip_is_byte_identical(library_copy, tmp_path):
    path = tmp_path / "kenya-3w.csv"
    path.write_bytes(THREE_W.encode())
    with connect(library_copy) as store:
        result = import_3w(store, path, OPERATOR, owner="iom")
        assert (result.rows, result.activities, result.organisations) == (3, 3, 1)
        assert export_3w(store, result.table).encode() == path.read_bytes()
        act = store.registry_entries("activity", entry_ids=["3w-kenya-3w-3"])[0]
        assert act.body["countries"] == ["KEN"] and act.body["period_from"] == "2024-03"
        assert act.owner == "iom"
        # a change made in the registry shows in the export, in its own cell only
        body = dict(act.body, status="ongoing")
        from imdx.registry.service import Registry

        Registry(store).save(OPERATOR, "activity", act.entry_id, body, act.version)
        lines = export_3w(store, result.table).splitlines()
        assert lines[4].endswith(",ongoing,5000") and lines[2:4] == THREE_W.splitlines()[2:4]
        everything = export_3w(store)
        assert everything.splitlines()[1] == \
            "#org,#sector,#country+code,#adm1+name,#activity,#date+start,#date+end,#status"
        assert store.registry_audit(kind="activity", entry_id=act.entry_id)["action"].tolist() == ["update", "create"]


@pytest.mark.parametrize("text, problem", [
    (THREE_W.replace("UGA", "XYZ"), "unknown-country"),
    (THREE_W.replace("2023-05-01", "31/31/2023"), "bad-date"),
    (THREE_W.replace("\r\nUNHCR,", "\r\n,"), "row-without-organisation"),
])
def test_bad_three_w_rows_refuse_the_whole_file(library_copy, tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text, "utf-8", newline="")
    with connect(library_copy) as store:
        before = (len(store.registry_entries()), len(store.registry_audit(limit=100_000)))
        with pytest.raises(ThreeWImportError, match="nothing was imported") as err:
            import_3w(store, path, OPERATOR, owner="iom")
        assert [i.type for i in err.value.report if i.severity == "error"] == [problem]
        assert all(i.file == "bad.csv" and i.row for i in err.value.report if i.severity == "error")
        assert (len(store.registry_entries()), len(store.registry_audit(limit=100_000))) == before


def test_unknown_hashtags_are_reported_and_kept(library_copy, tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text(THREE_W.replace("#x_budget", "#budgetline+usd"), "utf-8", newline="")
    with connect(library_copy) as store:
        result = import_3w(store, path, OPERATOR, owner="iom")
        assert [(i.type, i.column) for i in result.report] == [("unknown-hashtag", "I")]
        assert export_3w(store, result.table).encode() == path.read_bytes()


@pytest.mark.parametrize("text, match", [
    ("Organisation,Country\r\nIOM,KEN\r\n", "no row of HXL hashtags"),
    ("Org,Sector\r\n#org,#sector\r\nIOM,Health\r\n", "no #country"),
    ("Org,Country,Sector\r\n#org,#country+code,#not a tag\r\n", "not an HXL hashtag"),
])
def test_files_that_are_not_3w_are_refused(library_copy, tmp_path, text, match):
    path = tmp_path / "x.csv"
    path.write_text(text, "utf-8", newline="")
    with connect(library_copy) as store, pytest.raises(SourceFileError, match=match):
        import_3w(store, path, OPERATOR, owner="iom")


def test_gaps_show_present_and_missing_dataflows_by_side(library_store):
    cells = {(c.gcm, c.country): c for c in matrix(library_store, ["KEN", "DEU"])}
    assert len(cells) == 46
    diaspora = cells[("19", "KEN")]  # emigrants: UN DESA's origin side is loaded, KNOMAD's is not
    assert {p["dataflow"] for p in diaspora.present} == {"migrant_stock"}
    assert diaspora.present[0]["collected_by"] == ["undesa-pd"]
    assert {(m["dataflow"], m["side"]) for m in diaspora.missing} == {("bilateral_migration", "sending")}
    assert cells[("10", "KEN")].status == "none" and cells[("10", "KEN")].activities  # IOM works on it there
    assert cells[("3", "KEN")].status == "unmeasured"
    stock = cells[("1", "DEU")]
    expected = {"dataflow": "migrant_stock", "sides": ["receiving", "sending"], "collected_by": ["undesa-pd"]}
    assert expected in stock.present
