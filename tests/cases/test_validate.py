import datetime as dt

import pandas as pd

from imdx.cases.generator import as_text, generate_cases
from imdx.cases.schema import FIELDS, IDENTIFYING_FIELDS, SCHEMA_VERSION
from imdx.cases.validate import validate_records

TODAY = dt.date(2024, 6, 1)


def one(**values):
    base = {"organisation": "OrgA", "data_source": "hotline"}
    base.update(values)
    return pd.DataFrame([base], dtype=object)


def types(report):
    return {i.type for i in report}


def test_schema_is_versioned_and_declares_identifying_fields():
    assert SCHEMA_VERSION == "1.0"
    assert set(IDENTIFYING_FIELDS) == {"victim_name", "contact", "narrative"}
    ctdc_names = {f.ctdc for f in FIELDS if f.ctdc}
    for name in ("yearOfRegistration", "gender", "ageBroad", "citizenship", "CountryOfExploitation",
                 "traffickMonths", "isForcedLabour", "typeOfLabourAgriculture", "recruiterRelationFamily",
                 "meansWithholdDocs", "majorityStatus", "UN_COE_Region", "IP_Relation"):
        assert name in ctdc_names


def test_valid_generated_records_pass_without_errors():
    records = generate_cases(500, seed=4)
    normalised, report, accepted = validate_records(as_text(records), today=TODAY)
    assert accepted.all()
    assert report.count("error") == 0
    assert normalised["gender"].tolist() == records["gender"].tolist()


def test_minor_with_adult_age_band_is_rejected():
    _, report, accepted = validate_records(one(majority_status="Minor", age_band="30—38"), today=TODAY)
    assert not accepted[0]
    assert "minor-with-adult-age-band" in types(report)


def test_adult_with_child_age_band_is_rejected():
    _, report, accepted = validate_records(one(majority_status="Adult", age_band="9-17"), today=TODAY)
    assert not accepted[0]
    assert "adult-with-minor-age-band" in types(report)


def test_future_dates_and_years_are_rejected():
    _, report, accepted = validate_records(one(registration_date="2024-06-02", year_of_registration="2025"),
                                           today=TODAY)
    assert not accepted[0]
    assert sorted(i.column for i in report if i.type == "future-date") == ["registration_date",
                                                                          "year_of_registration"]


def test_unknown_codes_and_missing_required_fields_are_reported_with_their_row():
    raw = pd.DataFrame([{"organisation": "OrgA", "data_source": "hotline", "gender": "Robot"},
                        {"organisation": "OrgA", "data_source": "", "citizenship": "XXX"}], dtype=object)
    _, report, accepted = validate_records(raw, file="f.csv", today=TODAY)
    assert not accepted.any()
    located = {(i.type, i.row, i.column) for i in report if i.severity == "error"}
    assert ("unknown-code", 2, "gender") in located
    assert ("missing-required", 3, "data_source") in located
    assert ("unknown-code", 3, "citizenship") in located


def test_iso2_codes_become_iso3_and_namibia_na_is_not_missing():
    normalised, _, accepted = validate_records(one(citizenship="NA", country_of_exploitation="za"), today=TODAY)
    assert accepted[0]
    assert normalised.loc[0, "citizenship"] == "NAM"
    assert normalised.loc[0, "country_of_exploitation"] == "ZAF"


def test_null_markers_mean_missing_and_flags_accept_only_one():
    normalised, report, accepted = validate_records(one(gender="NULL", is_forced_labour="1", is_sexual_exploitation="",
                                                        is_other_exploitation="2"), today=TODAY)
    assert normalised.loc[0, "gender"] is None
    assert normalised.loc[0, "is_forced_labour"] is True or bool(normalised.loc[0, "is_forced_labour"])
    assert pd.isna(normalised.loc[0, "is_sexual_exploitation"])
    assert "bad-flag" in types(report) and not accepted[0]


def test_labour_type_without_forced_labour_is_a_warning_not_a_rejection():
    _, report, accepted = validate_records(one(labour_agriculture="1"), today=TODAY)
    assert accepted[0]
    assert any(i.type == "labour-type-without-forced-labour" and i.severity == "warning" for i in report)


def test_unknown_columns_are_reported_once():
    _, report, _ = validate_records(one(shoe_size="42"), today=TODAY)
    assert [i.column for i in report if i.type == "unknown-column"] == ["shoe_size"]
