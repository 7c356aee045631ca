"""Code lists of the non-area dimensions. Totals are ``_T`` in every list (the SDMX convention)."""

from __future__ import annotations

TOTAL = "_T"

SEX = {"_T": "Both sexes", "M": "Male", "F": "Female"}

#: age bands; ``Y0T4`` = 0 to 4 years (SDMX style), ``Y_GE60`` = 60 and over, ``_U`` = unknown
AGE = {"_T": "All ages", "Y0T4": "0-4 years", "Y5T11": "5-11 years", "Y12T17": "12-17 years",
       "Y18T59": "18-59 years", "Y_GE60": "60 years and over", "_U": "Age unknown"}

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
