"""Intake, tested on CTDC's real published synthetic file and on generated contributor files."""

import pandas as pd
import pytest

from imdx.cases.errors import IntakeError
from imdx.cases.generator import as_text, generate_cases
from imdx.cases.intake import read_contributor_file

from .conftest import CTDC_VP_DICT, CTDC_VP_FILE, principal


def test_ctdc_victim_perpetrator_file_imports_like_a_contributor_file(service):
    fo = principal(service, "fo_a")
    sub = service.import_file(fo, CTDC_VP_FILE, data_source="ctdc-synthetic")
    assert (sub.n_records, sub.n_accepted, sub.n_rejected) == (21195, 21195, 0)
    assert sub.n_possible_duplicates == 0          # identical rows within one file are expected, not flagged
    records = service.store.records("OrgA")
    # counts published in the dictionary's TabStat sheet (see PROVENANCE.md)
    assert records["gender"].value_counts().to_dict() == {"Woman": 9589, "Man": 7995}
    assert int(records["gender"].isna().sum()) == 3611
    assert int(records["is_forced_labour"].sum()) == 12248
    assert int(records["is_sexual_exploitation"].sum()) == 2775
    assert records["registration_period"].value_counts().to_dict() == {
        "2014-2018": 6274, "2021-2022": 4335, "2005-2013": 2531, "2019": 2398, "2020": 2002}
    assert records["year_of_registration"].value_counts().to_dict() == {2019: 2398, 2020: 2002}
    assert records["majority_status"].value_counts().to_dict() == {"Adult": 16379, "Minor": 1212}
    assert records["perpetrator_relation"].value_counts()["FriendAcquaintance;StrangerUnknownOther"] == 588
    assert set(records["region_of_exploitation"].dropna()) == {"Africa", "Asia", "Europe", "Americas/Oceania"}


def test_ctdc_file_again_is_flagged_as_possible_duplicates(service):
    fo = principal(service, "fo_a")
    service.import_file(fo, CTDC_VP_FILE, data_source="ctdc-synthetic")
    again = service.import_file(fo, CTDC_VP_FILE, data_source="ctdc-synthetic")
    assert again.n_possible_duplicates == 21195
    assert any(i.type == "possible-duplicate" for i in again.report)
    statuses = service.store.query("SELECT review_status, count(*) FROM cases GROUP BY ALL ORDER BY 1")
    assert statuses == [("accepted", 21195), ("possible-duplicate", 21195)]


def test_ctdc_dictionary_region_sheet_keeps_namibia(tmp_path, service):
    regions = pd.read_excel(CTDC_VP_DICT, sheet_name="Region", dtype=str, keep_default_na=False, engine="calamine")
    namibia = regions[regions["ISO3"] == "NAM"]
    contributor = pd.DataFrame({"citizenship": namibia["ISO2"].tolist() * 3, "gender": ["Woman"] * 3,
                                "case_reference": ["R1", "R2", "R3"]})
    path = tmp_path / "namibia.csv"
    contributor.to_csv(path, index=False)
    sub = service.import_file(principal(service, "fo_a"), path, data_source="case-management")
    assert sub.n_accepted == 3
    assert service.store.records("OrgA")["citizenship"].tolist() == ["NAM"] * 3


def test_excel_contributor_file_imports(tmp_path, service):
    records = generate_cases(50, seed=2, organisations=("OrgA",))
    path = tmp_path / "contribution.xlsx"
    as_text(records).to_excel(path, index=False)
    sub = service.import_file(principal(service, "fo_a"), path)
    assert sub.n_accepted == 50
    stored = service.store.records("OrgA")
    assert sorted(stored["case_reference"]) == sorted(records["case_reference"])


def test_invalid_records_are_rejected_and_reported_and_the_rest_stored(tmp_path, service):
    text = as_text(generate_cases(20, seed=3, organisations=("OrgA",)))
    text.loc[4, "majority_status"], text.loc[4, "age_band"] = "Minor", "48+"
    text.loc[7, "registration_date"] = "2999-01-01"
    text.loc[9, "organisation"] = "OrgB"          # a field officer may not submit for another organisation
    path = tmp_path / "mixed.csv"
    text.to_csv(path, index=False)
    sub = service.import_file(principal(service, "fo_a"), path)
    assert (sub.n_accepted, sub.n_rejected) == (17, 3)
    errors = {(i.type, i.row) for i in sub.report if i.severity == "error"}
    assert {("minor-with-adult-age-band", 6), ("future-date", 9), ("organisation-mismatch", 11)} <= errors
    assert service.store.query("SELECT count(*) FROM cases")[0][0] == 17


def test_duplicates_across_submissions_use_names_without_storing_them(tmp_path, service):
    records = generate_cases(30, seed=5, organisations=("OrgA",))
    first, second = as_text(records.iloc[:20]), as_text(records.iloc[10:])
    second = second.assign(case_reference="NEW-" + second["case_reference"])
    for name, frame in (("one.csv", first), ("two.csv", second)):
        frame.to_csv(tmp_path / name, index=False)
    fo = principal(service, "fo_a")
    service.import_file(fo, tmp_path / "one.csv")
    sub = service.import_file(fo, tmp_path / "two.csv")
    assert sub.n_possible_duplicates == 10
    rows = service.store.query("SELECT fingerprint FROM cases")
    assert all(records.loc[0, "victim_name"] not in r[0] for r in rows)


def test_unreadable_file_leaves_the_store_unchanged(tmp_path, service):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(IntakeError, match="broken.xlsx"):
        service.import_file(principal(service, "fo_a"), bad)
    with pytest.raises(IntakeError, match="not found"):
        read_contributor_file(tmp_path / "absent.csv")
    assert service.store.query("SELECT count(*) FROM cases")[0][0] == 0
    assert service.store.query("SELECT count(*) FROM submissions")[0][0] == 0


def test_completeness_per_field_of_the_own_organisation_only(tmp_path, service):
    fo_a, fo_b = principal(service, "fo_a"), principal(service, "fo_b")
    generated = generate_cases(40, seed=6, organisations=("OrgA",))
    generated["citizenship"] = None
    as_text(generated).to_csv(tmp_path / "a.csv", index=False)
    as_text(generate_cases(10, seed=7, organisations=("OrgB",))).to_csv(tmp_path / "b.csv", index=False)
    service.import_file(fo_a, tmp_path / "a.csv")
    service.import_file(fo_b, tmp_path / "b.csv")
    report = service.completeness(principal(service, "analyst_a")).set_index(["organisation", "field"])
    assert report.loc[("OrgA", "citizenship"), "share"] == 0.0
    assert report.loc[("OrgA", "data_source"), "share"] == 1.0
    assert report.loc[("all", "data_source"), "records"] == 40
    assert set(report.index.get_level_values("organisation")) == {"all", "OrgA"}     # nothing of OrgB
    other = service.completeness(principal(service, "analyst_b")).set_index(["organisation", "field"])
    assert other.loc[("all", "data_source"), "records"] == 10 and other.loc[("OrgB", "citizenship"), "filled"] > 0


def test_a_file_in_the_codebook_layout_imports_with_its_own_column_names(tmp_path, service):
    from imdx.cases.schema import FIELDS
    records = generate_cases(60, seed=8, organisations=("OrgA",))
    ctdc_names = {f.name: f.ctdc for f in FIELDS if f.ctdc and f.kind != "codes" and f.ctdc != "yearRegister"}
    text = as_text(records)[list(ctdc_names) + ["data_source", "victim_name"]].rename(columns=ctdc_names)
    assert "CountryOfExploitation" in text.columns and "ageBroad" in text.columns
    path = tmp_path / "codebook_layout.csv"
    text.to_csv(path, index=False)
    sub = service.import_file(principal(service, "fo_a"), path)
    assert sub.n_accepted == 60 and not [i for i in sub.report if i.type == "unknown-column"]
    stored = service.store.records("OrgA")
    assert sorted(stored["country_of_exploitation"].fillna("-")) == sorted(
        records["country_of_exploitation"].fillna("-"))
    assert int(stored["is_forced_labour"].sum()) == int(records["is_forced_labour"].sum())


def test_a_submission_that_fails_while_writing_leaves_nothing_behind(tmp_path, service, monkeypatch):
    as_text(generate_cases(30, seed=9, organisations=("OrgA",))).to_csv(tmp_path / "c.csv", index=False)
    fo = principal(service, "fo_a")

    def broken_record(actor, action, target="", outcome="ok", detail=None):
        if action == "case:create" and outcome == "ok":      # the last write of the submission
            raise OSError("disk full")
        return original(actor, action, target, outcome, detail)

    original = service.audit.record
    monkeypatch.setattr(service.audit, "record", broken_record)
    with pytest.raises(OSError):
        service.import_file(fo, tmp_path / "c.csv")
    monkeypatch.undo()
    assert service.store.query("SELECT count(*) FROM cases")[0][0] == 0
    assert service.store.query("SELECT count(*) FROM submissions")[0][0] == 0
