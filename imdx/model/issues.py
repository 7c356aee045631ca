"""The catalogue of issue types: every kind of data problem imdx reports, what it means and what to do.

An :class:`~imdx.model.report.Issue` names its type by a slug from :data:`ISSUE_TYPES`; an issue of a
type not listed here is refused when it is made (a typo would otherwise become a new kind of problem
nobody filters for). Add a type here, with its meaning and the action it calls for, when a reader,
check or application finds a new kind of problem.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IssueType:
    slug: str
    #: where it is found: "reading", "areas", "checks", "estimates", "census", "cases", "audit", "library", "registry"
    area: str
    meaning: str  # what the issue says about the data
    action: str  # what a data officer does about it


_TYPES = [
    # -- reading a published file ----------------------------------------------------------------
    IssueType("file-changed", "reading", "a file's bytes differ from the published file imdx knows; it was loaded "
              "as a new vintage beside the old one", "check the publisher's release notes for what changed"),
    IssueType("edition-mismatch", "reading", "the file names another edition or vintage than the one imdx "
              "expects for it", "check that the file is the one the publisher released under that edition"),
    IssueType("not-loaded", "reading", "part of a table was not loaded, because the model has no place for it",
              "none needed; the message says which part and why"),
    IssueType("unknown-marker", "reading", "a cell holds a mark the publisher's notes do not define where a "
              "number was expected", "ask the publisher what the mark means"),
    IssueType("non-numeric-value", "reading", "a value is neither a number nor a known missing-value mark",
              "check the cell in the published file"),
    IssueType("row-without-code", "reading", "a row has values but no area code", "check the row in the file"),
    IssueType("duplicate-row", "reading", "two rows are the same area with the same values; loaded once",
              "none needed"),
    IssueType("conflicting-duplicate-row", "reading", "two rows are the same area with different values; only "
              "the first was loaded", "ask the publisher which row is right"),
    IssueType("missing-code", "reading", "rows have no code for a dimension; loaded with the code _U (unknown)",
              "none needed, unless the code can be found elsewhere"),
    IssueType("bad-period", "reading", "a period does not start with a four-digit year; its observation was not "
              "loaded", "check the period's format in the message"),
    IssueType("no-time-dimension", "reading", "the message has no time dimension; year is left empty",
              "none needed"),
    IssueType("dataflow-renamed", "reading", "the store already has a dataflow of that id with other "
              "dimensions; this one is stored under a new id", "query the new id the message names"),
    IssueType("corrupt-value", "reading", "cells hold values that cannot be what the column means (date-like "
              "numbers or questionnaire ids where a count is expected); their rows were not loaded",
              "ask the publisher for the right values"),
    IssueType("damaged-text", "reading", "cells hold replacement characters (U+FFFD): the text was damaged before "
              "publication; kept as published", "none needed; read the names with care"),
    IssueType("missing-category", "reading", "rows broken down by a category (a country, a form) name none; they "
              "were not loaded", "check the rows in the published file"),
    IssueType("implausible-value", "reading", "values are outside what the quantity can plausibly be (a negative or "
              "above-100 % cost); kept as published", "check the published records before using them"),
    IssueType("year-not-stored", "reading", "numbers whose year was generalised to a period or withheld were not "
              "stored (the store's time dimension is a year)", "read them from the release files"),
    # -- areas -----------------------------------------------------------------------------------
    IssueType("unmapped-area", "areas", "a name or code is not a known country, area or region; its rows were "
              "not loaded", "add the spelling to the source's aliases file (imdx/codes/aliases/) if it is an "
              "area imdx knows"),
    IssueType("area-matched-by-name", "areas", "an area was matched by its name, not its code",
              "check that the match is right"),
    IssueType("area-kind-mismatch", "areas", "the publisher and the area table disagree on whether an area is a "
              "country or an aggregate", "check the area's kind; sums of countries may differ"),
    IssueType("area-code-without-iso", "areas", "a publisher's area code has no ISO code; it was not registered",
              "none needed, unless the area should be one imdx knows"),
    IssueType("area-codes-kept", "areas", "no code of an area dimension is a known area; the codes are kept as "
              "published", "none needed for sub-national or other areas imdx does not know"),
    IssueType("duplicate-area", "areas", "two labels of a matrix denote the same area; the later one was not "
              "loaded", "ask the publisher which is right"),
    IssueType("location-missing", "areas", "a location of the other tables of a release is missing from this one",
              "check the table"),
    # -- checks on every release (imdx.checks) ---------------------------------------------------
    IssueType("negative-value", "checks", "a count that cannot be negative is below zero",
              "check the published cells"),
    IssueType("origin-is-destination", "checks", "a bilateral observation has the same country on both sides",
              "check whether the publisher means the native-born or an error"),
    IssueType("parts-exceed-total", "checks", "parts (sexes, origins, countries) add up to more than their "
              "published total, beyond the tolerance", "check the published totals and parts"),
    IssueType("parts-differ-from-total", "checks", "parts add up to less than their published total, beyond "
              "the tolerance the source declares (a few units for exact counts); the message names the members "
              "that can explain the gap (a member with a total but no parts, a member published as missing)",
              "check which parts are not published; the members named are where to look first"),
    IssueType("total-without-parts", "checks", "a member has a published total but every one of its parts is "
              "published as missing (UN DESA gives Bonaire, Sint Eustatius and Saba no split by sex), so totals "
              "over it exceed the sum of their parts", "none needed if the publisher's notes say so; otherwise ask "
              "the publisher for the split"),
    IssueType("implausible-jump", "checks", "a series grows or falls more than tenfold from one observation to "
              "the next", "check the two observations"),
    # -- estimates -------------------------------------------------------------------------------
    IssueType("estimate-adjustment", "estimates", "an estimate had to adjust or assume something (recorded in "
              "its notes)", "read the note before using the estimate"),
    IssueType("region-outside-account", "estimates", "a country has no resident inside the demographic account "
              "and is left out of it", "none needed"),
    IssueType("population-by-sex-imputed", "estimates", "a population by sex was imputed (half of both sexes)",
              "treat the estimates for that area and sex with care"),
    IssueType("not-harmonised", "estimates", "a year or a country's corridors could not be harmonised: no pair is "
              "reported by both sides, so the correction factors cannot be estimated", "none needed; the message "
              "says which were left out"),
    IssueType("negative-native-born", "estimates", "more foreign-born than population: the native-born count is "
              "negative", "check the stocks and the population of the area"),
    # -- case records (imdx.cases) ---------------------------------------------------------------
    IssueType("missing-required", "cases", "a required field is empty; the record was not imported",
              "fill the field"),
    IssueType("missing-recommended", "cases", "a recommended field is empty", "fill it when known"),
    IssueType("unknown-column", "cases", "a column is not a variable of the standard; it was ignored",
              "rename it to the standard's name, or leave it out"),
    IssueType("unknown-code", "cases", "a value is not a code of the variable's code list (a case record's "
              "field, or a publisher's category imdx does not know: its rows were not loaded)",
              "use a code of the list (docs/cases.md); for a published file, tell imdx's maintainers"),
    IssueType("bad-flag", "cases", "a yes/no field holds something else than 1 or empty", "use 1 or leave empty"),
    IssueType("bad-year", "cases", "a year is not a four-digit year, or is before 1990", "correct the year"),
    IssueType("bad-date", "cases", "a date is not an ISO date (YYYY-MM-DD)", "correct the date"),
    IssueType("future-date", "cases", "a date or year is in the future", "correct it"),
    IssueType("date-year-mismatch", "cases", "a registration date and year disagree", "correct one of them"),
    IssueType("minor-with-adult-age-band", "cases", "a minor has an adult age band", "correct one of them"),
    IssueType("adult-with-minor-age-band", "cases", "an adult has a minor's age band", "correct one of them"),
    IssueType("labour-type-without-forced-labour", "cases", "a type of labour exploitation is given but forced "
              "labour is not marked", "check the record's exploitation fields"),
    IssueType("sexual-type-without-sexual-exploitation", "cases", "a type of sexual exploitation is given but "
              "sexual exploitation is not marked", "check the record's exploitation fields"),
    IssueType("organisation-mismatch", "cases", "a record names another organisation than the one importing it",
              "import it as that organisation, or correct the field"),
    IssueType("possible-duplicate", "cases", "a record looks like one already stored", "check both records"),
    IssueType("identifying-field-in-release", "cases", "a release would hold an identifying field; it was "
              "refused", "leave the field out of the release"),
    IssueType("quasi-identifier-missing", "cases", "a declared quasi-identifier is not in the data",
              "correct the release's parameters"),
    IssueType("k-anonymity-violated", "cases", "fewer than k records share a combination of quasi-identifiers",
              "generalise or suppress further"),
    # -- census and survey microdata (imdx.census) ------------------------------------------------
    IssueType("table-not-made", "census", "a standard table was not made: the mapping declares none of a variable "
              "it needs", "declare the variable in the mapping if the file has it"),
    IssueType("invalid-weight", "census", "person records with a missing or negative weight were left out of every "
              "count (the mapping's weight invalid = \"exclude\")", "correct the weights in the file"),
    IssueType("code-not-in-codebook", "census", "a value is not among the codes the code book lists for its column; "
              "it was counted as the mapping says", "check the file against its code book"),
    IssueType("code-not-in-mapping", "census", "a value is not among the mapping's codes for its variable; its "
              "records were counted as unknown (_U)", "add the code to the mapping"),
    IssueType("missing-value", "census", "a variable is empty for some records; they were counted as unknown (_U)",
              "none needed, unless the value can be found elsewhere"),
    IssueType("birthplace-residual", "census", "a place of birth means 'not known' or 'abroad, country not "
              "identified' (the mapping says so); its records were counted as _U or _O (other)",
              "none needed"),
    IssueType("citizenship-residual", "census", "a citizenship means 'not known' or 'foreign, country not "
              "identified' (the mapping says so); its records were counted as a residual", "none needed"),
    IssueType("unmapped-birthplace", "census", "a place of birth is not a country or area imdx knows; its records "
              "were counted as unknown (_U)", "add the value to the mapping's birthplace codes if it is a known "
              "place"),
    IssueType("unmapped-citizenship", "census", "a citizenship is not a country or area imdx knows; its records were "
              "counted as unknown (_U)", "add the value to the mapping's citizenship codes if it is a known "
              "country"),
    IssueType("age-not-a-number", "census", "an age is not a number of years; its records were counted as unknown "
              "(_U)", "check the column the mapping declares as age"),
    IssueType("age-out-of-range", "census", "an age is not a whole number of years within the mapping's range; its "
              "records were counted as unknown (_U)", "check the value, or the mapping's special codes"),
    IssueType("arrival-not-a-year", "census", "a year of arrival is not a year; its records were counted as unknown "
              "(_U)", "check the column the mapping declares as year of arrival"),
    IssueType("arrival-out-of-range", "census", "a year of arrival is before 1850 or after the census year; its "
              "records were counted as unknown (_U)", "check the value, or the mapping's special codes"),
    IssueType("birthplace-contradicts-nativity", "census", "the nativity column says foreign-born but the place of "
              "birth is native; the records were counted as foreign-born", "check the two columns in the file"),
    IssueType("birthplace-outside-category", "census", "a place of birth is outside the places the nativity "
              "category allows; the records were counted with the place of birth", "check the two columns and the "
              "mapping's nativity categories"),
    # -- the audit log ---------------------------------------------------------------------------
    IssueType("audit-entry-missing", "audit", "an entry of the audit log is missing", "investigate: the log was "
              "changed outside imdx"),
    IssueType("audit-entry-out-of-order", "audit", "an entry of the audit log is out of order", "investigate"),
    IssueType("audit-entry-changed", "audit", "an entry of the audit log was changed", "investigate"),
    IssueType("audit-link-broken", "audit", "an entry does not link to the one before it", "investigate"),
    IssueType("audit-head-missing", "audit", "the latest entries noted earlier are gone", "investigate"),
    IssueType("audit-checkpoint-forged", "audit", "a signed checkpoint of the log's head is not a checkpoint, or its "
              "signature is wrong", "investigate: the checkpoints were changed outside imdx"),
    IssueType("audit-entries-removed", "audit", "a signed checkpoint names an entry the log no longer holds as it "
              "was: entries were removed or replaced", "investigate; restore the log from a backup"),
    IssueType("audit-checkpoints-missing", "audit", "the database is in use but no signed checkpoint is found: the "
              "log or its checkpoints were removed", "investigate; restore the checkpoint file"),
    IssueType("audit-checkpoint-file-behind", "audit", "checkpoints of the database are missing from the checkpoint "
              "file", "check whether the file was replaced"),
    IssueType("audit-entries-unsigned", "audit", "the latest entries are not covered by a signed checkpoint yet",
              "none needed: the next checkpoint covers them"),
    # -- the research library (imdx.library) -----------------------------------------------------
    IssueType("record-without-title", "library", "an entry of the file has no title; it was left out",
              "add its title in the file and import it again"),
    IssueType("title-from-file-name", "library", "a document does not give its title; the file name was used",
              "import the document's metadata (CSL-JSON, BibTeX or RIS) with its title"),
    IssueType("no-text", "library", "no text could be extracted from a document (a scanned image?); only its "
              "metadata is searchable", "import a version with a text layer"),
    IssueType("document-truncated", "library", "a document has more pages than the library reads; the text of "
              "its first pages was read", "raise IMDX_LIBRARY_MAX_PAGES if the rest must be searchable"),
    IssueType("no-area", "library", "a record names no country or area it covers", "none needed; add its "
              "countries in the source if they are known"),
    IssueType("period-reversed", "library", "a record's period ends before it starts", "check the dates in the "
              "source"),
    IssueType("not-utf8", "library", "a text file is not UTF-8; it was read as Windows-1252",
              "check the accented names; save the file as UTF-8"),
    # -- the coordination registry (imdx.registry) -----------------------------------------------
    IssueType("unknown-country", "registry", "a 3W row names a country that is neither an ISO 3166 code nor a "
              "known name; nothing was imported", "write the country as ISO 3166 alpha-3 (KEN)"),
    IssueType("unknown-status", "registry", "an activity's status is not one imdx knows; kept as written",
              "use planned, ongoing, completed, cancelled or unknown"),
    IssueType("row-without-organisation", "registry", "a 3W row names no organisation (#org); nothing was "
              "imported", "fill the row's #org"),
    IssueType("invalid-row", "registry", "a 3W row is not a valid activity (the message says why); nothing was "
              "imported", "correct the row"),
    IssueType("unknown-hashtag", "registry", "a column's HXL hashtag is not in the HXL core dictionary; the "
              "column is kept as written but not read", "use a core hashtag if the column should be read"),
    IssueType("duplicate-id", "registry", "a framework publishes one id twice with different titles; the second "
              "is kept under a new id", "none needed; the message names the new id"),
    IssueType("mapping-one-sided", "registry", "a link between a GCM objective and an SRF output is published in "
              "one direction only; it is kept", "none needed"),
    IssueType("mapping-unknown-objective", "registry", "a mapping names a GCM objective that does not exist; it "
              "was left out", "none needed; tell the publisher"),
    IssueType("mapping-unknown-output", "registry", "a mapping names an SRF output that does not exist; it was "
              "left out", "none needed; tell the publisher"),
    IssueType("typo-as-published", "registry", "a published text has a typo; it is kept as published",
              "none needed"),
]

#: every issue type, by slug
ISSUE_TYPES: dict[str, IssueType] = {t.slug: t for t in _TYPES}


def issue_type(slug: str) -> IssueType:
    """The catalogue's entry for ``slug``; a slug not in the catalogue is a bug in imdx."""
    try:
        return ISSUE_TYPES[slug]
    except KeyError:
        raise ValueError(f"issue type {slug!r} is not in the catalogue imdx/model/issues.py: add it there, with "
                         "its meaning and what to do, or use one of its types") from None
