"""The case-record standard: fields, code lists and their CTDC names, versioned.

The standard follows the variables of the CTDC Global Synthetic Data Codebook (version 2,
February 2024) and adds the perpetrator summary of the CTDC victim-perpetrator dataset and the
provenance every contribution must carry. Field names are the codebook's concepts in snake case;
``ctdc`` gives the codebook's own variable name so files in CTDC layout import unchanged.

Identifying fields (``victim_name``, ``contact``, ``narrative``) are part of the standard so a field
mission can record them, but they are stored encrypted and are never part of any release.

Kinds of field:

- ``code``: one value of ``codes`` (or missing);
- ``codes``: several values of ``codes`` separated by ``;`` (perpetrator summaries);
- ``flag``: ``1`` when the attribute was observed, missing otherwise (the codebook has no 0);
- ``year``: a four-digit year; ``period``: a year or a ``YYYY-YYYY`` band; ``date``: ISO 8601;
- ``country``: ISO 3166-1 alpha-3 (alpha-2 accepted on intake, Namibia's ``NA`` included);
- ``text``: free text (identifying fields only).
"""

from __future__ import annotations

from dataclasses import dataclass

import pycountry

SCHEMA_VERSION = "1.0"

#: what a contributor may write for "missing" (the codebook's NULL, Stata's ``.``, empty)
NULL_MARKERS = frozenset({"", "NULL", "null", "Null", "."})

GENDERS = ("Man", "Woman", "Trans/Transgender/NonConforming")
AGE_BANDS = ("0—8", "9—17", "18—20", "21—23", "24—26", "27—29", "30—38", "39—47", "48+")
MINOR_AGE_BANDS = ("0—8", "9—17")
MAJORITY_STATUSES = ("Adult", "Minor")
TRAFFICKING_DURATIONS = ("0—12 (0-1 yr)", "13—24 (1-2 yrs)", "25+ (2+ yrs)")
UN_REGIONS = ("Africa", "Americas", "Asia", "Europe", "Oceania", "Americas/Oceania")
DATA_SOURCES = ("case-management", "hotline", "assistance-programme", "ctdc-synthetic")
PERPETRATOR_AGE_BANDS = ("0--29", "30--38", "39--47", "48+")
PERPETRATOR_RELATIONS = ("StrangerUnknownOther", "FriendAcquaintance", "FamilyIntimatePartner")
YES_NO = ("Yes", "No")
COUNTRIES = tuple(sorted(c.alpha_3 for c in pycountry.countries))
ISO2_TO_ISO3 = {c.alpha_2: c.alpha_3 for c in pycountry.countries}

#: exploitation type as one value per victim (used by releases; a victim with several is "multiple")
EXPLOITATION_TYPES = ("forced_labour", "sexual_exploitation", "other_exploitation", "multiple")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: str
    ctdc: str | None = None
    codes: tuple[str, ...] = ()
    required: bool = False
    recommended: bool = False
    identifying: bool = False
    section: str = "victim"


def _flags(prefix: str, ctdc_prefix: str, names: list[tuple[str, str, str]], section: str) -> list[Field]:
    return [Field(f"{prefix}{n}", "flag", label, f"{ctdc_prefix}{c}", section=section) for n, c, label in names]


FIELDS: tuple[Field, ...] = (
    # provenance
    Field("organisation", "code", "Contributing organisation", required=True, section="provenance"),
    Field("field_mission", "code", "Field mission (country office) that recorded the case",
          section="provenance"),
    Field("data_source", "code", "Data source", codes=DATA_SOURCES, required=True, section="provenance"),
    Field("case_reference", "code", "Contributor's own case reference", section="provenance"),
    Field("registration_date", "date", "Date of registration", section="process"),
    Field("year_of_registration", "year", "Year of registration", "yearOfRegistration", section="process"),
    Field("registration_period", "period", "Registration period (when only a band is known)",
          "yearRegister", section="process"),
    # victim
    Field("gender", "code", "Gender", "gender", GENDERS, recommended=True),
    Field("age_band", "code", "Age band", "ageBroad", AGE_BANDS),
    Field("majority_status", "code", "Majority status", "majorityStatus", MAJORITY_STATUSES, recommended=True),
    Field("citizenship", "country", "Citizenship (ISO 3166-1 alpha-3)", "citizenship", COUNTRIES),
    Field("citizenship_region", "code", "Region of citizenship (UN)", "UN_COO_Region", UN_REGIONS),
    # process
    Field("country_of_exploitation", "country", "Country of exploitation (ISO 3166-1 alpha-3)",
          "CountryOfExploitation", COUNTRIES, section="process"),
    Field("region_of_exploitation", "code", "Region of exploitation (UN)", "UN_COE_Region", UN_REGIONS,
          section="process"),
    Field("trafficking_duration", "code", "Trafficking duration", "traffickMonths", TRAFFICKING_DURATIONS,
          section="process"),
    *_flags("means_", "means", [
        ("debt_bondage_earnings", "DebtBondageEarnings", "Means of control: debt bondage and/or withheld wages"),
        ("threats", "Threats", "Means of control: threats to individual and/or family"),
        ("abuse", "AbusePsyPhySex", "Means of control: psychological, physical and/or sexual abuse"),
        ("false_promises", "FalsePromises", "Means of control: false promises"),
        ("drugs_alcohol", "DrugsAlcohol", "Means of control: psychoactive substances"),
        ("deny_basic_needs", "DenyBasicNeeds", "Means of control: restricts finance, movement, care"),
        ("excessive_work_hours", "ExcessiveWorkHours", "Means of control: excessive working hours"),
        ("withhold_documents", "WithholdDocs", "Means of control: withholds documents")], "process"),
    *_flags("is_", "is", [
        ("forced_labour", "ForcedLabour", "Type of trafficking: forced labour"),
        ("sexual_exploitation", "SexualExploit", "Type of trafficking: sexual exploitation"),
        ("other_exploitation", "OtherExploit", "Type of trafficking: other exploitation")], "process"),
    *_flags("labour_", "typeOfLabour", [
        ("agriculture", "Agriculture", "Type of labour: agriculture"),
        ("construction", "Construction", "Type of labour: construction"),
        ("domestic_work", "DomesticWork", "Type of labour: domestic work"),
        ("hospitality", "Hospitality", "Type of labour: hospitality")], "process"),
    *_flags("sexual_", "typeOfSex", [
        ("prostitution", "Prostitution", "Type of sexual exploitation: prostitution"),
        ("pornography", "Pornography", "Type of sexual exploitation: pornography")], "process"),
    *_flags("recruiter_", "recruiterRelation", [
        ("intimate_partner", "IntimatePartner", "Recruiter relation: intimate partner"),
        ("friend", "Friend", "Recruiter relation: friend"),
        ("family", "Family", "Recruiter relation: family"),
        ("other", "Other", "Recruiter relation: other")], "process"),
    # perpetrators (summary of the perpetrators linked to the victim)
    *_flags("perpetrator_", "IP_", [
        ("exploiter", "Exploiter", "Perpetrator role: exploiter"),
        ("recruiter_broker", "RecruiterBroker", "Perpetrator role: recruiter or broker"),
        ("transaction_process", "TransactionProcess", "Perpetrator role: transport, transfer, sale"),
        ("control_abuse_kidnap", "ControlAbuseKidnap", "Perpetrator role: control, abuse, kidnap")],
        "perpetrator"),
    Field("perpetrator_gender", "codes", "Perpetrator gender(s)", "IP_Gender", ("Female", "Male"),
          section="perpetrator"),
    Field("perpetrator_age_band", "codes", "Perpetrator age band(s)", "IP_ageBroad", PERPETRATOR_AGE_BANDS,
          section="perpetrator"),
    Field("perpetrator_citizenship_region", "codes", "Perpetrator region(s) of citizenship",
          "IP_citizen_UNRegion", UN_REGIONS, section="perpetrator"),
    Field("perpetrator_relation", "codes", "Relation(s) between victim and perpetrator", "IP_Relation",
          PERPETRATOR_RELATIONS, section="perpetrator"),
    Field("perpetrator_paid", "codes", "Did the victim pay the perpetrator", "IP_PayMoney", YES_NO,
          section="perpetrator"),
    # identifying: encrypted at rest, never released
    Field("victim_name", "text", "Name of the victim", identifying=True, section="identifying"),
    Field("contact", "text", "Contact details (phone, address)", identifying=True, section="identifying"),
    Field("narrative", "text", "Free-text narrative of the case", identifying=True, section="identifying"),
)

FIELD_BY_NAME = {f.name: f for f in FIELDS}
IDENTIFYING_FIELDS = tuple(f.name for f in FIELDS if f.identifying)
RECORD_FIELDS = tuple(f.name for f in FIELDS if not f.identifying)
FLAG_FIELDS = tuple(f.name for f in FIELDS if f.kind == "flag")
CTDC_TO_FIELD = {f.ctdc: f.name for f in FIELDS if f.ctdc}

