"""Code lists of the non-area dimensions. Totals are ``_T`` in every list (the SDMX convention)."""

from __future__ import annotations

TOTAL = "_T"

SEX = {"_T": "Both sexes", "M": "Male", "F": "Female", "_O": "Other", "_U": "Unknown"}

#: age bands; ``Y0T4`` = 0 to 4 years (SDMX style), ``Y_GE60`` = 60 and over, ``_U`` = unknown. UNHCR's
#: bands, UN DESA's five-year groups (``Y5T9`` ... ``Y70T74``, ``Y_GE75``) and UNODC's minors and adults
AGE = {"_T": "All ages", "Y0T4": "0-4 years", "Y5T11": "5-11 years", "Y12T17": "12-17 years",
       "Y18T59": "18-59 years", "Y_GE60": "60 years and over", "_U": "Age unknown",
       **{f"Y{a}T{a + 4}": f"{a}-{a + 4} years" for a in range(5, 75, 5)}, "Y_GE75": "75 years and over",
       "Y0T17": "0-17 years", "Y_GE18": "18 years and over"}

#: UNHCR population types
POPULATION_TYPE = {
    "REF": "Refugees under UNHCR's mandate", "ASY": "Asylum-seekers", "RET": "Returned refugees",
    "IDP": "Internally displaced persons of concern to UNHCR", "RDP": "Returned IDPs",
    "STA": "Stateless persons", "OOC": "Others of concern to UNHCR",
    "OIP": "Other people in need of international protection", "HST": "Host community",
}

REMITTANCE_FLOW = {"received": "Personal remittances, received", "paid": "Personal remittances, paid"}

#: UN DESA International Migrant Stock "type of data" (how the stock was defined or estimated)
STOCK_DEFINITION = {
    "B": "Foreign-born population",
    "C": "Foreign citizens",
    "I": "Imputed (no data; estimated by UN DESA)",
    "BR": "Foreign-born, with refugees (UNHCR/UNRWA) added",
    "CR": "Foreign citizens, with refugees (UNHCR/UNRWA) added",
    "IR": "Imputed, with refugees (UNHCR/UNRWA) added",
    "BC": "Foreign-born and foreign citizens combined",
    "BCR": "Foreign-born and foreign citizens combined, with refugees added",
}

#: observation status (SDMX OBS_STATUS): A normal, M missing, E estimated, L below threshold (suppressed)
OBS_STATUS = {"A": "Normal value", "M": "Missing value", "E": "Estimated value",
              "L": "Missing: suppressed (below threshold)", "N": "Not significant (rounds to zero)"}

ASYLUM_DECISION = {"recognized": "Recognized (Convention status)", "other": "Complementary protection",
                   "rejected": "Rejected", "closed": "Otherwise closed", "total": "Total decisions"}
COUNT_UNIT = {"P": "Persons", "C": "Cases"}


def stock_definition(type_of_data: object) -> str | None:
    """UN DESA's type-of-data text (``'B R '``, ``'C B R'``, ``'CR'``) as one code: ``BR``, ``BCR``, ``CR``."""
    if type_of_data is None:
        return None
    letters = "".join(ch for ch in str(type_of_data).upper() if ch in "BCIR")
    if not letters:
        return None
    return "".join(ch for ch in "BCIR" if ch in letters)


#: who reported a flow: the country the migrants left (emigration) or the one they entered (immigration)
REPORTER = {"origin": "Reported by the country of origin (emigrants)",
            "destination": "Reported by the country of destination (immigrants)"}
#: how the reporting country defines a migrant
MIGRANT_CRITERION = {"RES": "Change of usual residence", "CIT": "Citizenship", "POB": "Place of birth",
                     "NATDEF": "National definitions (residence permits or population registers; OECD, not harmonised)"}
#: whom a reported flow covers
FLOW_COVERAGE = {"_T": "Everyone (citizens and foreigners)", "FOR": "Foreigners", "NAT": "Citizens (nationals)"}
#: forms of exploitation of detected trafficking victims (UNODC GLOTIP)
EXPLOITATION = {"_T": "All forms", "SEXUAL": "Sexual exploitation", "FORCED_LABOUR": "Forced labour",
                "OTHER": "Other forms of exploitation"}
#: the amount sent, in a remittance-cost observation (World Bank RPW)
REMITTANCE_AMOUNT = {"USD200": "Sending the equivalent of US$ 200", "USD500": "Sending the equivalent of US$ 500"}
REMITTANCE_COST = {"TOTAL": "Total cost (fee and exchange-rate margin)", "FX_MARGIN": "Exchange-rate margin"}
