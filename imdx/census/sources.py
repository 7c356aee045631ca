"""The person files imdx knows, each declared by a mapping (see :mod:`imdx.census.mapping`).

Each entry says which column holds each variable and maps its published codes, reviewed by hand
against the publisher's code book. Values a mapping deliberately sends to a residual (``_U`` not
known, ``_O`` born abroad but the country not identified) are reported as info issues with their
first line, so a reader of the tables can see them; values a mapping does not list are looked up in
imdx's area table and reported as warnings when that fails too. Nothing is guessed.

``MIRROR_FILES`` names, for the files in ``$IMDX_MIRROR/census_microdata``, the mapping that reads
them (the tests and ``imdx census mappings`` use it).
"""

from __future__ import annotations

#: UCI "Adult": C4.5 files, no header, ", " separators, "|" comment lines (adult.test starts with one)
UCI_ADULT = {
    "id": "uci_adult",
    "title": "UCI Adult (Census Income): extract of the 1994 US Current Population Survey",
    "country": "USA", "year": 1994, "format": "csv",
    "read": {"header": False, "strip": True, "comment": "|",
             "columns": ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
                         "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
                         "hours-per-week", "native-country", "income"]},
    "licence": "CC BY 4.0 (UCI Machine Learning Repository, doi:10.24432/C5XW20)",
    "note": "fnlwgt is a CPS weight to 1994 control totals, not a population count for this extract.",
    "birthplace": {
        "column": "native-country", "systems": ["name"],
        # US Census Bureau: people born in Puerto Rico or the US Island Areas are native-born
        "native": ["PRI", "GUM", "VIR", "ASM", "MNP", "UMI"],
        "codes": {
            "?": "_U", "United-States": "USA", "Puerto-Rico": "PRI", "El-Salvador": "SLV",
            "Dominican-Republic": "DOM", "England": "GBR", "Scotland": "GBR", "Columbia": "COL",
            "Hong": "HKG", "Trinadad&Tobago": "TTO", "Holand-Netherlands": "NLD",
            # an island area of the US, which one is not said: native-born, place not identified
            "Outlying-US(Guam-USVI-etc)": "_O/NAT",
            # "South" is not documented (South Korea? South Africa?); Yugoslavia no longer exists
            "South": "_O", "Yugoslavia": "_O",
        },
    },
    "sex": {"column": "sex", "codes": {"Male": "M", "Female": "F"}},
    "age": {"column": "age"},
    "weight": {"column": "fnlwgt"},
}

#: INDEC Argentina, Encuesta Permanente de Hogares 2016, random samples in the R package eph
EPH_TOYBASE = {
    "id": "eph_toybase_individual",
    "title": "INDEC Encuesta Permanente de Hogares 2016, individual base (random 2,000-person sample)",
    "country": "ARG", "year": 2016, "format": "rda",
    "licence": "INDEC EPH microdata, published for free download; sample shipped in the R package eph (MIT)",
    "note": "A toy sample: weighted totals are not population figures.",
    # CH15 "¿Dónde nació?": 1 this locality, 2 other locality of this province, 3 other province,
    # 4 bordering country, 5 other country, 9 does not know / no answer
    "nativity": {"column": "CH15", "codes": {"1": "NAT", "2": "NAT", "3": "NAT", "4": "FOR", "5": "FOR",
                                              "9": "_U"},
                 "expect": {"4": ["BOL", "BRA", "CHL", "PRY", "URY"]}},
    # CH15_COD: free-text abbreviations in Spanish, any case; provinces for the native-born
    "birthplace": {
        "column": "CH15_COD", "only_foreign": True, "case_insensitive": True,
        "codes": {"": "_U", "BOL": "BOL", "BRA": "BRA", "CHI": "CHL", "PAR": "PRY", "URU": "URY",
                  "PER": "PER", "COL": "COL", "ECU": "ECU", "VEN": "VEN", "MEX": "MEX", "CUB": "CUB",
                  "HAI": "HTI", "ESP": "ESP", "ITA": "ITA", "FRA": "FRA", "ALE": "DEU", "POR": "PRT"},
    },
    "sex": {"column": "CH04", "codes": {"1": "M", "2": "F"}},
    "age": {"column": "CH06", "special": {"-1": 0}},  # -1: under one year
    "region": {"column": "REGION", "codes": {"1": "Gran Buenos Aires", "40": "Noroeste", "41": "Noreste",
                                             "42": "Cuyo", "43": "Pampeana", "44": "Patagonia"}},
    "weight": {"column": "PONDERA"},
}

#: ONS 2011 Census Microdata Teaching File (England and Wales), codes from its variable list
ONS_2011_TEACHING = {
    "id": "ons_2011_teaching",
    "title": "ONS 2011 Census Microdata Teaching File, England and Wales (1% sample of people)",
    "country": "GBR", "year": 2011, "format": "csv",
    "read": {"header": True},
    "licence": "Open Government Licence v1.0 (Office for National Statistics; adapted)",
    "note": "England and Wales only; -9 is 'no code required' (students living away during term-time).",
    "nativity": {"column": "Country of Birth", "codes": {"1": "NAT", "2": "FOR", "-9": "_Z"}},
    "sex": {"column": "Sex", "codes": {"1": "M", "2": "F"}},
    "age": {"column": "Age", "bands": {"1": "Y0T15", "2": "Y16T24", "3": "Y25T34", "4": "Y35T44",
                                       "5": "Y45T54", "6": "Y55T64", "7": "Y65T74", "8": "Y_GE75"}},
    "region": {"column": "Region", "codes": {
        "E12000001": "North East", "E12000002": "North West", "E12000003": "Yorkshire and The Humber",
        "E12000004": "East Midlands", "E12000005": "West Midlands", "E12000006": "East of England",
        "E12000007": "London", "E12000008": "South East", "E12000009": "South West", "W92000004": "Wales"}},
}

#: IPUMS-CPS extracts (fixed width or CSV, each with its DDI codebook beside it: same name, .xml)
IPUMS_CPS = {
    "id": "ipums_cps",
    "title": "IPUMS-CPS extract (Current Population Survey, ASEC)",
    "country": "USA", "year": 2016, "format": "auto",
    "licence": "IPUMS-CPS conditions of use (cite IPUMS; no fees)",
    "note": "The extract must include BPL (or NATIVITY); set year to the extract's survey year.",
    "birthplace": {"column": "BPL", "labels": True, "systems": ["name"],
                   "native": ["PRI", "GUM", "VIR", "ASM", "MNP", "UMI"]},
    # NATIVITY: 0 unknown, 1-4 native-born (by parents' birthplace), 5 foreign-born
    "nativity": {"column": "NATIVITY", "codes": {"0": "_U", "1": "NAT", "2": "NAT", "3": "NAT", "4": "NAT",
                                                  "5": "FOR"}},
    "sex": {"column": "SEX", "codes": {"1": "M", "2": "F", "9": "_U"}},
    "age": {"column": "AGE"},
    "year_of_arrival": {"column": "YRIMMIG", "special": {"0": "_Z"}},
    "region": {"column": "STATEFIP"},
    "weight": {"column": "ASECWT", "decimals": 4, "implied": True},
}

MAPPINGS: dict[str, dict] = {m["id"]: m for m in (UCI_ADULT, EPH_TOYBASE, ONS_2011_TEACHING, IPUMS_CPS)}

#: files of ``$IMDX_MIRROR/census_microdata`` → the mapping that reads them
MIRROR_FILES = {
    "uci_adult/adult.data": "uci_adult",
    "uci_adult/adult.test": "uci_adult",
    "eph_argentina_toybase/toybase_individual_2016_03.rda": "eph_toybase_individual",
    "eph_argentina_toybase/toybase_individual_2016_04.rda": "eph_toybase_individual",
    "ons_2011_teaching_file_subset/2011-census-microdata-small.csv": "ons_2011_teaching",
    "ipums_cps_example/cps_00160.dat.gz": "ipums_cps",
    "ipums_cps_example/cps_00158.csv.gz": "ipums_cps",
}
