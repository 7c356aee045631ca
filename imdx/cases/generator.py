"""A seeded generator of realistic, entirely fictitious case records, of any size.

The shares follow the CTDC data as published: the victim-perpetrator synthetic dataset (1 Dec 2022:
55% women among known gender, 7% minors among known majority status, 58% forced labour, 13% sexual
exploitation, about 17% missing on most victim variables) and the codebook's code lists. Countries
have a heavy head (the few corridors that dominate the CTDC data) and a long tail of rare
countries, so that disclosure control has real work to do. Identifying fields are random syllable
names, phone numbers and narratives: they belong to no one.

``generate_cases(n, seed)`` returns records in the same normalised form as
:func:`imdx.cases.validate.validate_records` (flags as nullable booleans, years as ``Int64``);
:func:`as_text` turns them into the text a contributor file would carry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imdx.cases.schema import AGE_BANDS, COUNTRIES, FIELDS, GENDERS, MINOR_AGE_BANDS, TRAFFICKING_DURATIONS

CITIZENSHIP_HEAD = {"PHL": 9, "UKR": 8, "MDA": 6, "IDN": 6, "KHM": 5, "MMR": 5, "BLR": 4, "USA": 8,
                    "MEX": 3, "NGA": 3, "GHA": 2, "BGD": 3, "NPL": 2, "VNM": 3, "ROU": 2, "HTI": 1,
                    "LAO": 2, "THA": 2, "KGZ": 1, "UZB": 2}
EXPLOITATION_HEAD = {"USA": 12, "RUS": 8, "THA": 6, "MYS": 5, "ARE": 4, "SAU": 3, "IDN": 4, "PHL": 4,
                     "UKR": 4, "KAZ": 2, "TUR": 2, "POL": 2, "GBR": 2, "DEU": 1, "IND": 2, "GHA": 2}
ORGANISATIONS = ("IOM", "Polaris", "A21")
SOURCE_OF = {"IOM": "case-management", "Polaris": "hotline", "A21": "assistance-programme"}
_SYLLABLES = ("ka", "ro", "mi", "zan", "tel", "vo", "qui", "dra", "mel", "sun", "ox", "bri", "tha", "lux",
              "ner", "wen", "jo", "pia", "gor", "ye")


def _weighted(head: dict[str, float], tail_share: float, rng: np.random.Generator, n: int) -> np.ndarray:
    tail = [c for c in COUNTRIES if c not in head]
    values = list(head) + tail
    w = np.array(list(head.values()), dtype=float)
    w = np.concatenate([w / w.sum() * (1 - tail_share), np.full(len(tail), tail_share / len(tail))])
    return rng.choice(np.array(values, dtype=object), size=n, p=w)


def _with_missing(values: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    out = values.astype(object)
    out[rng.random(len(out)) < share] = None
    return out


def _flag(p: np.ndarray | float, rng: np.random.Generator, n: int) -> pd.Series:
    return pd.Series(np.where(rng.random(n) < p, True, pd.NA), dtype="boolean")


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    syl = np.array(_SYLLABLES, dtype=object)
    parts = [syl[rng.integers(0, len(syl), size=n)] for _ in range(7)]
    first = (parts[0] + parts[1] + parts[2])
    last = (parts[3] + parts[4] + parts[5] + parts[6])
    ids = rng.integers(0, 36 ** 4, size=n)
    tag = np.array([np.base_repr(int(i), 36).lower().rjust(4, "x") for i in ids], dtype=object)
    return np.array([f"{a.capitalize()} {b.capitalize()}{t}" for a, b, t in zip(first, last, tag)], dtype=object)


def generate_cases(n: int, seed: int = 0, *, organisations: tuple[str, ...] = ORGANISATIONS,
                   identifying: bool = True, first_year: int = 2002, last_year: int = 2022) -> pd.DataFrame:
    """``n`` fictitious case records drawn with ``seed`` (same seed, same records)."""
    rng = np.random.default_rng(seed)
    org = rng.choice(np.array(organisations, dtype=object), size=n, p=_org_weights(len(organisations)))
    years = np.arange(first_year, last_year + 1)
    yw = np.exp((years - first_year) / 6.0)
    year = rng.choice(years, size=n, p=yw / yw.sum())
    day = rng.integers(0, 365, size=n)
    date = (pd.to_datetime(pd.Series(year).astype(str) + "-01-01") + pd.to_timedelta(day, unit="D"))
    date = date.where(date.dt.year == year, pd.to_datetime(pd.Series(year).astype(str) + "-12-31"))
    gender = rng.choice(np.array(GENDERS + (None,), dtype=object), size=n, p=[0.36, 0.45, 0.01, 0.18])
    age_p = np.array([2, 5, 9, 10, 10, 9, 20, 12, 6], dtype=float)
    age = _with_missing(rng.choice(np.array(AGE_BANDS, dtype=object), size=n, p=age_p / age_p.sum()), 0.3, rng)
    majority = np.where(pd.isna(age), rng.choice(np.array(["Adult", "Minor", None], dtype=object), size=n,
                                                 p=[0.75, 0.06, 0.19]),
                        np.where(np.isin(age, MINOR_AGE_BANDS), "Minor", "Adult")).astype(object)
    citizenship = _with_missing(_weighted(CITIZENSHIP_HEAD, 0.08, rng, n), 0.12, rng)
    stays = rng.random(n) < 0.3
    country = np.where(stays & ~pd.isna(citizenship), citizenship, _weighted(EXPLOITATION_HEAD, 0.06, rng, n))
    country = _with_missing(country, 0.1, rng)
    woman = gender == "Woman"
    known_type = rng.random(n) > 0.15
    forced = _flag(np.where(known_type, np.where(woman, 0.45, 0.8), 0), rng, n)
    sexual = _flag(np.where(known_type, np.where(woman, 0.45, 0.05), 0), rng, n)
    other = _flag(np.where(known_type, 0.05, 0), rng, n)
    rec = {
        "organisation": org,
        "field_mission": np.where(org == "IOM", country, None),
        "data_source": np.array([SOURCE_OF.get(o, "case-management") for o in org], dtype=object),
        "case_reference": np.array([f"{o[:3].upper()}-{seed % 1000:03d}-{i:07d}" for i, o in enumerate(org)],
                                   dtype=object),
        "registration_date": date.dt.strftime("%Y-%m-%d").to_numpy(dtype=object),
        "year_of_registration": pd.array(year, dtype="Int64"),
        "registration_period": year.astype(str).astype(object),
        "gender": gender, "age_band": age, "majority_status": majority,
        "citizenship": citizenship, "citizenship_region": np.full(n, None, dtype=object),
        "country_of_exploitation": country, "region_of_exploitation": np.full(n, None, dtype=object),
        "trafficking_duration": _with_missing(rng.choice(np.array(TRAFFICKING_DURATIONS, dtype=object), size=n,
                                                         p=[0.6, 0.25, 0.15]), 0.5, rng),
        "is_forced_labour": forced, "is_sexual_exploitation": sexual, "is_other_exploitation": other,
    }
    for name, p in [("means_debt_bondage_earnings", 0.3), ("means_threats", 0.25), ("means_abuse", 0.3),
                    ("means_false_promises", 0.25), ("means_drugs_alcohol", 0.05),
                    ("means_deny_basic_needs", 0.3), ("means_excessive_work_hours", 0.2),
                    ("means_withhold_documents", 0.2)]:
        rec[name] = _flag(p, rng, n)
    fl, sx = forced.fillna(False).to_numpy(), sexual.fillna(False).to_numpy()
    for name, p in [("labour_agriculture", 0.2), ("labour_construction", 0.2), ("labour_domestic_work", 0.25),
                    ("labour_hospitality", 0.1)]:
        rec[name] = _flag(np.where(fl, p, 0), rng, n)
    rec["sexual_prostitution"] = _flag(np.where(sx, 0.7, 0), rng, n)
    rec["sexual_pornography"] = _flag(np.where(sx, 0.1, 0), rng, n)
    for name, p in [("recruiter_intimate_partner", 0.05), ("recruiter_friend", 0.2), ("recruiter_family", 0.15),
                    ("recruiter_other", 0.3)]:
        rec[name] = _flag(p, rng, n)
    for name, p in [("perpetrator_exploiter", 0.45), ("perpetrator_recruiter_broker", 0.55),
                    ("perpetrator_transaction_process", 0.35), ("perpetrator_control_abuse_kidnap", 0.1)]:
        rec[name] = _flag(p, rng, n)
    rec["perpetrator_gender"] = rng.choice(np.array(["Male", "Female", "Female;Male", None], dtype=object),
                                           size=n, p=[0.46, 0.17, 0.12, 0.25])
    rec["perpetrator_age_band"] = _with_missing(rng.choice(np.array(["0--29", "30--38", "39--47", "48+"],
                                                                    dtype=object), size=n), 0.85, rng)
    rec["perpetrator_citizenship_region"] = np.full(n, None, dtype=object)
    rec["perpetrator_relation"] = _with_missing(rng.choice(np.array(
        ["StrangerUnknownOther", "FriendAcquaintance", "FamilyIntimatePartner"], dtype=object), size=n,
        p=[0.55, 0.35, 0.1]), 0.3, rng)
    rec["perpetrator_paid"] = _with_missing(rng.choice(np.array(["No", "Yes"], dtype=object), size=n,
                                                       p=[0.75, 0.25]), 0.3, rng)
    if identifying:
        names = _names(rng, n)
        rec["victim_name"] = names
        rec["contact"] = np.array([f"+{d:011d}" for d in rng.integers(10**10, 10**11, size=n)], dtype=object)
        rec["narrative"] = np.array([f"{nm} reported being recruited with a promise of work; case notes "
                                     f"#{i}-{seed}." for i, nm in enumerate(names)], dtype=object)
    else:
        for f in ("victim_name", "contact", "narrative"):
            rec[f] = np.full(n, None, dtype=object)
    frame = pd.DataFrame(rec)
    for col in frame.columns:
        if str(frame[col].dtype) not in ("boolean", "Int64"):
            frame[col] = _objects(frame[col])
    return frame[[f.name for f in FIELDS]]


def _objects(s: pd.Series) -> pd.Series:
    return pd.Series([None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in s.tolist()],
                     index=s.index, dtype=object)


def _org_weights(k: int) -> np.ndarray:
    w = np.array([0.6, 0.3, 0.1][:k] + [0.1] * max(0, k - 3), dtype=float)
    return w / w.sum()


def as_text(records: pd.DataFrame) -> pd.DataFrame:
    """Records as the text of a contributor file: flags ``1`` or ``NULL``, missing values ``NULL``."""
    out = pd.DataFrame(index=records.index)
    for col in records.columns:
        s = records[col]
        if str(s.dtype) == "boolean":
            out[col] = np.where(s.fillna(False).to_numpy(dtype=bool), "1", "NULL")
        else:
            out[col] = s.astype(object).map(lambda v: "NULL" if v is None or pd.isna(v) else str(v))
    return out
