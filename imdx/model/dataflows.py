"""The dataflows: what each table of observations means, its dimensions and unit.

Every dataflow shares one tidy observation model: one row per observation, one column per
dimension (areas as area codes, the other dimensions as codes of a code list, time as ``year``),
``value`` in the dataflow's unit (and, for estimates, the ``measures`` ``lower`` and ``upper``: the
bounds of the value's interval, what SDMX calls LOWER_BOUND and UPPER_BOUND), and the attributes
``obs_status`` (SDMX OBS_STATUS), ``definition`` (e.g. a migrant stock's B/C/I/R type of data),
``note`` (footnote marks as published) and the source cell (``cell_file``, ``cell_sheet``, ``cell_row``,
``cell_column``). Which release an observation belongs to is recorded by the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imdx.errors import QueryError
from imdx.model import codelists as cl


@dataclass(frozen=True)
class Dimension:
    name: str
    description: str
    codelist: str = "area"  # "area", a code list name from imdx.model.codelists, or "free" (codes as published)

    @property
    def is_area(self) -> bool:
        return self.codelist == "area"

    def codes(self) -> dict[str, str] | None:
        return None if self.codelist in ("area", "free") else getattr(cl, self.codelist)


@dataclass(frozen=True)
class Dataflow:
    id: str
    name: str
    dimensions: tuple[Dimension, ...]
    unit: str
    description: str
    definitions: dict[str, str] = field(default_factory=dict)
    #: numeric columns stored beside ``value`` (e.g. ``("lower", "upper")``: an interval); NaN where unknown
    measures: tuple[str, ...] = ()

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.dimensions] + ["year"]

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise self.unknown_dimension(name)

    def unknown_dimension(self, name: str) -> QueryError:
        """The error for a dimension this dataflow does not have."""
        return QueryError(f"is not a dimension of {self.id}", kind="unknown-parameter", parameter=name,
                          allowed=self.dimension_names)


ATTRIBUTES = ["obs_status", "definition", "note", "cell_file", "cell_sheet", "cell_row", "cell_column"]
TEXT_ATTRIBUTES = [a for a in ATTRIBUTES if a != "cell_row"]

_AREA = {
    "area": Dimension("area", "Country or area (or aggregate) the value refers to"),
    "destination": Dimension("destination", "Country or area of destination (residence)"),
    "origin": Dimension("origin", "Country or area of origin (birth or citizenship)"),
    "asylum": Dimension("asylum", "Country of asylum"),
    "sender": Dimension("sender", "Country from which remittances are sent"),
    "receiver": Dimension("receiver", "Country receiving remittances"),
    "country": Dimension("country", "Country of exploitation"),
    "citizenship": Dimension("citizenship", "Country of citizenship of the victim"),
}
_SEX = Dimension("sex", "Sex", "SEX")
_BOUNDS = ("lower", "upper")  # an interval beside the value: SDMX LOWER_BOUND / UPPER_BOUND
_AGE = Dimension("age", "Age group", "AGE")
_POP_TYPE = Dimension("population_type", "UNHCR population type", "POPULATION_TYPE")


def _flow(id, name, dims, unit, description, **kw) -> Dataflow:
    return Dataflow(id, name, tuple(_AREA[d] if isinstance(d, str) else d for d in dims), unit, description, **kw)


_PER_AREA_YEAR = ["area"]

_NATIONALITY = Dimension("citizenship", "Citizenship (nationality) of the persons counted")
_REPORTER = Dimension("reporter", "Which country reported the flow: origin (emigrants) or destination "
                      "(immigrants)", "REPORTER")
_TRAFFICKING_DIMS = [
    Dimension("country", "Country that detected or reported (UNODC GLOTIP)"), _SEX, _AGE,
    Dimension("exploitation", "Form of exploitation", "EXPLOITATION"),
    Dimension("citizenship", "Citizenship of the persons counted (`_T`: all; `_U`: unknown)"),
    Dimension("repatriation", "Country of repatriation (`_T`: all; `_O`: abroad, unspecified)")]


def _trafficking(id, name, what, unit="persons"):
    return _flow(id, name, _TRAFFICKING_DIMS, unit,
                 f"{what} during the year, as the country reported to UNODC (GLOTIP). Suppressed small counts "
                 "(published as `<5`) have no value and obs_status L. Each observation is broken down by at most "
                 "one of exploitation, citizenship and repatriation (the others are `_T`).")


_NEW_FLOWS = [
    _flow("reported_flows", "Migration flows as reported by the countries on each side",
          ["origin", "destination", _REPORTER,
           Dimension("criterion", "How the reporter defines a migrant", "MIGRANT_CRITERION"),
           Dimension("coverage", "Whom the figure covers: everyone, foreigners or citizens", "FLOW_COVERAGE"), _SEX],
          "persons", "Migrants who moved from `origin` to `destination` during the calendar year, as reported by one "
          "side (`reporter`): the origin country counts its emigrants, the destination its immigrants. Both reports "
          "of one corridor sit side by side; an origin or destination `_T` means all countries (a reporter's total). "
          "National definitions differ: compare only within one criterion and coverage."),
    _flow("migrant_stock_age_share", "Percentage distribution of the migrant stock by age",
          ["destination", _SEX, _AGE], "percent",
          "Share of the international migrant stock in each age group (all ages = 100), as published by UN DESA."),
    _trafficking("detected_trafficking_victims", "Detected victims of trafficking in persons (UNODC)",
                 "Victims of trafficking in persons detected by the authorities"),
    _trafficking("trafficking_persons_prosecuted", "Persons prosecuted for trafficking in persons (UNODC)",
                 "Persons prosecuted for trafficking in persons"),
    _trafficking("trafficking_persons_convicted", "Persons convicted of trafficking in persons (UNODC)",
                 "Persons convicted of trafficking in persons"),
    _trafficking("trafficking_persons_in_formal_contact",
                 "Persons brought into formal contact with the police for trafficking in persons (UNODC)",
                 "Persons brought into formal contact with the police or criminal justice system"),
    _trafficking("trafficking_offences", "Offences of trafficking in persons (UNODC)",
                 "Offences of trafficking in persons recorded", unit="offences"),
    _flow("missing_migrants", "Migrants dead or missing on migration routes (IOM Missing Migrants Project)",
          [Dimension("area", "Country where the incident happened"),
           Dimension("origin", "Country of origin of the dead and missing (`_U` unknown; `_M` several)"),
           Dimension("route", "Migration route (IOM)", "free"), Dimension("cause", "Cause of death (IOM)", "free"),
           Dimension("incident_type", "IOM incident type (incident, split, cumulative)", "free")],
          "persons", "Dead and missing migrants in incidents during the calendar year (IOM Missing Migrants Project); "
          "`note` gives the number of incident records."),
    _flow("border_crossing_detections", "Detections of illegal border crossings at the EU's external borders (Frontex)",
          [Dimension("route", "Migratory route (Frontex)", "free"),
           Dimension("border_type", "Sea or land border", "free"), _NATIONALITY],
          "detections", "Detections of illegal border crossing during the calendar year (Frontex); detections, "
          "not persons: one person may be detected several times."),
    _flow("border_encounters", "Encounters at the United States southwest border (U.S. CBP)",
          [Dimension("component", "U.S. Border Patrol or Office of Field Operations", "free"),
           Dimension("border_area", "Sector or field office (`_U` not given)", "free"),
           Dimension("authority", "Title 8 or Title 42", "free"),
           Dimension("encounter_type", "Apprehensions, inadmissibles or expulsions", "free"),
           Dimension("demographic", "Demographic group as published by CBP", "free"), _NATIONALITY],
          "encounters", "Encounters of noncitizens by U.S. Customs and Border Protection during the calendar year "
          "(summed from months; CBP publishes by fiscal year); citizenship is published from October 2019 only."),
    _flow("first_time_asylum_applicants", "First-time asylum applicants (Eurostat)",
          ["origin", "asylum", _SEX], "persons",
          "First-time asylum applicants during the year by citizenship (`origin`) and country of application "
          "(Eurostat migr_asyappctza). `EUU` (the EU27 row) is an aggregate: never add it to its members."),
    _flow("remittance_costs", "Cost of sending remittances (World Bank RPW, derived)",
          ["sender", "receiver", Dimension("amount", "Amount sent", "REMITTANCE_AMOUNT"),
           Dimension("cost", "Total cost or exchange-rate margin", "REMITTANCE_COST"),
           Dimension("quarter", "Quarter of the year (Q1-Q4)", "free")],
          "percent", "Average cost of sending the amount from `sender` to `receiver`, as a percentage of the amount: "
          "the unweighted mean over the RPW records (providers and products) of the corridor and quarter, from a "
          "derived subset of corridors. It does not reproduce the World Bank's published averages."),
]

DATAFLOWS: dict[str, Dataflow] = {f.id: f for f in [
    _flow("migrant_stock", "International migrant stock", ["destination", "origin", _SEX, _AGE], "persons",
          "Persons living in a country other than their country of birth (or, where only that is known, "
          "of citizenship), at mid-year.", definitions=cl.STOCK_DEFINITION),
    _flow("migrant_stock_share", "International migrants as a share of the population",
          ["destination", _SEX], "percent", "Migrant stock as a percentage of the total population."),
    _flow("female_migrant_share", "Female migrants as a share of all international migrants",
          ["destination"], "percent", "Female migrant stock as a percentage of the migrant stock."),
    _flow("migrant_stock_growth", "Annual rate of change of the migrant stock", ["destination", _SEX],
          "percent per year", "Average annual rate of change over the five years ending in `year`."),
    _flow("refugee_stock", "Refugees and asylum-seekers included in the migrant stock", ["destination"],
          "persons", "Refugees and asylum seekers (UNHCR, UNRWA) counted in UN DESA's migrant stock."),
    _flow("refugee_stock_share", "Refugees and asylum-seekers as a share of the migrant stock",
          ["destination"], "percent", "Refugee stock as a percentage of the international migrant stock."),
    _flow("refugee_stock_growth", "Annual rate of change of the refugee stock", ["destination"],
          "percent per year", "Average annual rate of change over the five years ending in `year`."),
    _flow("bilateral_migration", "Bilateral migrant stock (World Bank/KNOMAD)", ["origin", "destination"],
          "persons", "Migrants born in `origin` living in `destination` (KNOMAD estimates)."),
    _flow("bilateral_remittances", "Bilateral remittance flows (World Bank/KNOMAD)", ["sender", "receiver"],
          "US dollars", "Remittances sent from `sender` to `receiver` (current US$; published in millions)."),
    _flow("remittances", "Personal remittances", ["area", Dimension("flow", "Direction", "REMITTANCE_FLOW")],
          "US dollars", "Personal remittances, received or paid (current US$), balance of payments."),
    _flow("fdi_inflows", "Foreign direct investment, net inflows", _PER_AREA_YEAR, "US dollars",
          "Foreign direct investment, net inflows (BoP, current US$)."),
    _flow("oda_received", "Net official development assistance received", _PER_AREA_YEAR, "US dollars",
          "Net ODA received (current US$); negative when repayments exceed disbursements."),
    _flow("gdp", "Gross domestic product", _PER_AREA_YEAR, "US dollars", "GDP (current US$)."),
    _flow("population", "Total population", _PER_AREA_YEAR, "persons",
          "Total population (de facto, all residents), mid-year unless stated."),
    _flow("births", "Live births", _PER_AREA_YEAR, "persons", "Live births during the calendar year."),
    _flow("deaths", "Deaths", _PER_AREA_YEAR, "persons", "Deaths during the calendar year."),
    _flow("net_migration", "Net migration", _PER_AREA_YEAR, "persons",
          "Immigrants minus emigrants during the calendar year (negative: net emigration)."),
    _flow("crude_birth_rate", "Crude birth rate", _PER_AREA_YEAR, "per 1,000 population",
          "Births per 1,000 population (person-years lived)."),
    _flow("crude_death_rate", "Crude death rate", _PER_AREA_YEAR, "per 1,000 population",
          "Deaths per 1,000 population (person-years lived)."),
    _flow("crude_net_migration_rate", "Crude net migration rate", _PER_AREA_YEAR, "per 1,000 population",
          "Net migrants per 1,000 population (person-years lived)."),
    _flow("refugees", "Refugees and other forcibly displaced and stateless people", ["origin", "asylum", _POP_TYPE],
          "persons", "End-year stock by country of origin and country of asylum (UNHCR)."),
    _flow("asylum_applications", "Asylum applications",
          ["origin", "asylum", Dimension("procedure_type", "Procedure: G government, U UNHCR, J joint", "free"),
           Dimension("application_type", "Application type (UNHCR code; 'NA' is a code)", "free"),
           Dimension("decision_level", "Decision level (UNHCR code; 'NA' is a code)", "free"),
           Dimension("count_unit", "Persons or cases", "COUNT_UNIT")],
          "persons or cases", "Asylum applications lodged during the year (UNHCR); see count_unit."),
    _flow("asylum_decisions", "Asylum decisions",
          ["origin", "asylum", Dimension("procedure_type", "Procedure: G government, U UNHCR, J joint", "free"),
           Dimension("decision_level", "Decision level (UNHCR code; 'NA' is a code)", "free"),
           Dimension("count_unit", "Persons or cases", "COUNT_UNIT"),
           Dimension("decision", "Decision", "ASYLUM_DECISION")],
          "persons or cases", "Decisions on asylum applications during the year (UNHCR); see count_unit."),
    _flow("displacement_demographics", "Forcibly displaced and stateless people by sex and age",
          ["origin", "asylum", _POP_TYPE, Dimension("location", "Location as published by UNHCR", "free"),
           Dimension("location_type", "UNHCR location type: C camp, U urban, R rural, V various", "free"),
           Dimension("accommodation_type", "UNHCR accommodation: I individual, S self-settled, P planned, "
                     "C collective, R reception centre, U unknown", "free"),
           _SEX, _AGE], "persons", "End-year stock by sex and age group (UNHCR demographics)."),
    _flow("estimated_flows", "Estimated migrant flows (from stocks)",
          ["origin", "destination", _SEX, Dimension("method", "Estimation method and variant (imdx code)", "free"),
           Dimension("period_start", "First year of the period; `year` is its last (mid-year to mid-year)", "free")],
          "persons", "Persons who moved from `origin` to `destination` during the period `period_start`-`year`, "
          "estimated by imdx from bilateral migrant stocks (and births and deaths); `lower` and `upper` bound the "
          "value's interval (see `definition`); `definition` gives the method's options and assumptions, `note` the "
          "inputs and adjustments. Cells estimated below half a person are not stored (the note says how many).",
          measures=_BOUNDS),
    _flow("harmonised_flows", "Harmonised migrant flows (both reports of a corridor reconciled)",
          ["origin", "destination", Dimension("method", "Harmonisation method (imdx code)", "free")], "persons",
          "Migrants who moved from `origin` to `destination` during the calendar year, estimated by imdx from the "
          "flow reported by the origin country and the one reported by the destination (de Beer et al. 2010 "
          "correction factors); `lower`/`upper` bound the value's interval; `note` gives both reports and factors.",
          measures=_BOUNDS),
    _flow("estimated_region_flows", "Estimated migrant flows between regions (sums of estimated_flows)",
          [Dimension("grouping", "Which regions: geographic (UN DESA's six), sdg (eight SDG regions) or subregion "
                                 "(22 geographic subregions)", "free"),
           Dimension("origin", "Region of residence at the start of the period"),
           Dimension("destination", "Region of residence at the end of the period"), _SEX,
           Dimension("method", "Estimation method and variant (imdx code)", "free"),
           Dimension("period_start", "First year of the period; `year` is its last (mid-year to mid-year)", "free")],
          "persons", "Sum of the estimated flows (estimated_flows, same release, method, period and sex) from the "
          "countries of region `origin` to those of region `destination`; origin = destination: the flows "
          "between countries of one region. Made when the estimates are stored (imdx.estimates.regions)."),
    _flow("immigration_flows", "Immigration by country of previous residence (Eurostat)",
          ["destination", Dimension("origin", "Country of previous usual residence")], "persons",
          "Immigrants during the calendar year, reported by the receiving country `destination` (Eurostat "
          "migr_imm5prv, both sexes, all ages)."),
    _flow("trafficking_victims", "Identified victims of trafficking (case-database releases)",
          ["country", "citizenship", Dimension("sex", "Gender as recorded (CTDC codebook)", "free"),
           Dimension("age_band", "Age band (CTDC codebook, or generalised)", "free"),
           Dimension("exploitation_type", "Type of exploitation", "free"),
           Dimension("release_kind", "dp-aggregates, k-anonymised or synthetic", "free"),
           Dimension("table", "The published table the number comes from", "free")],
          "persons", "Victims registered in the year, from an approved disclosure-controlled release of the "
          "imdx case database (differentially private counts are estimates: obs_status E)."),
    _flow("foreign_born_population", "Foreign-born population from census and survey microdata",
          [Dimension("area", "Country of residence (the census or survey country)"),
           Dimension("region", "Region of residence: the code as published (note: its name), _T all, _U unknown",
                     "free"),
           Dimension("birthplace", "Country of birth (_U unknown, _O abroad but not identified, _T all)"),
           Dimension("nativity", "NAT native-born, FOR foreign-born, _U place of birth unknown, _Z not applicable, "
                     "_T all persons", "free"),
           Dimension("citizenship", "Country of citizenship (_U unknown, _T all)"),
           Dimension("sex", "M male, F female, _U unknown, _T both sexes", "free"),
           Dimension("age", "Age group: Y0T4 ... Y80T84, Y_GE85 (five-year); Y0T14, Y15T24, Y25T64, Y_GE65 "
                     "(broad); or the file's own bands; _U unknown, _T all ages", "free"),
           Dimension("year_of_arrival", "Period of arrival: 2010-2014 ...; _U unknown, _Z not applicable "
                     "(native-born), _T all", "free"),
           Dimension("measure", "PERSONS: weighted count (the file's weights); RECORDS: its unweighted base "
                     "(person records)", "free"),
           Dimension("sample", "The microdata tabulated: <mapping>/<file name>", "free")],
          "persons", "Persons by place of birth, tabulated by imdx from person records (census or survey "
          "microdata) with `imdx census tabulate`: weighted counts with their unweighted bases; cells from fewer "
          "records than the threshold are suppressed (obs_status L).", definitions=cl.STOCK_DEFINITION),
    *_NEW_FLOWS,
]}


def to_dict(flow: Dataflow) -> dict:
    return {"id": flow.id, "name": flow.name, "unit": flow.unit, "description": flow.description,
            "definitions": dict(flow.definitions), "measures": list(flow.measures),
            "dimensions": [{"name": d.name, "description": d.description, "codelist": d.codelist}
                           for d in flow.dimensions]}


def from_dict(data: dict) -> Dataflow:
    return Dataflow(data["id"], data["name"], tuple(Dimension(**d) for d in data["dimensions"]), data["unit"],
                    data["description"], definitions=data.get("definitions", {}),
                    measures=tuple(data.get("measures", ())))


def get(dataflow_id: str) -> Dataflow:
    try:
        return DATAFLOWS[dataflow_id]
    except KeyError:
        raise unknown_dataflow(dataflow_id, sorted(DATAFLOWS)) from None


def unknown_dataflow(dataflow_id: str, known: list[str]) -> QueryError:
    """The error for a dataflow that does not exist (``known``: the ones that do)."""
    return QueryError("unknown dataflow {value}", kind="unknown-dataflow", parameter="dataflow",
                      value=dataflow_id, allowed=known)
