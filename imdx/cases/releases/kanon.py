"""k-anonymised microdata: generalisation then suppression over declared quasi-identifiers.

A quasi-identifier (QI) is a field someone could know about a victim from elsewhere (gender, age,
citizenship, where and when they were identified). After :func:`k_anonymise`, every combination
of QI values in the released file is shared by at least ``k`` records (``k = 11`` by default, as
CTDC used), so no released record can be singled out by those fields alone.

Method (in the spirit of Datafly): QIs are generalised step by step along their hierarchies
(age band -> broad age -> child/adult -> ``*``; year -> 5-year period -> 10-year period -> ``*``;
country -> country or ``OTHER`` when rare -> ``*``; gender -> ``*``), always the QI with the most
distinct values first, until at most ``max_suppression`` of the records sit in classes smaller
than ``k``; those records are then suppressed (removed). A release that would still have to
suppress more than ``max_suppression`` (fewer records than ``k``, say) is refused. The released
rows are shuffled (with a generator derived from the release's secret) so their order says nothing
about when a case was recorded.

Which fields are quasi-identifiers is the dataset's release policy (:mod:`imdx.cases.policy`), not
the requester's choice; any field of :data:`KNOWN_QUASI_IDENTIFIERS` in a release is one.

:func:`verify_k_anonymity` proves the property on any released frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from imdx.cases.errors import ReleaseError
from imdx.cases.schema import IDENTIFYING_FIELDS, RECORD_FIELDS
from imdx.model.report import Issue, Report

DEFAULT_QUASI_IDENTIFIERS = ("gender", "age_band", "citizenship", "country_of_exploitation", "year_of_registration")
ALLOWED_QUASI_IDENTIFIERS = DEFAULT_QUASI_IDENTIFIERS + ("majority_status", "citizenship_region",
                                                         "region_of_exploitation")
#: fields someone may know about a victim from elsewhere: in a release, always quasi-identifiers
KNOWN_QUASI_IDENTIFIERS = ALLOWED_QUASI_IDENTIFIERS + ("registration_period",)
DEFAULT_ATTRIBUTES = ("majority_status", "trafficking_duration", "is_forced_labour", "is_sexual_exploitation",
                      "is_other_exploitation")
#: fields that never go into any release, whatever is asked
NEVER_RELEASED = frozenset(IDENTIFYING_FIELDS) | {"case_reference", "registration_date", "case_id",
                                                  "submission_id", "field_mission", "organisation"}
MISSING = ""
TOP = "*"

_BROAD_AGE = {"0—8": "0—17", "9—17": "0—17", "18—20": "18—29", "21—23": "18—29", "24—26": "18—29",
              "27—29": "18—29", "30—38": "30—47", "39—47": "30—47", "48+": "48+"}


def _age(values: np.ndarray, counts: np.ndarray, level: int, k: int) -> list:
    if level == 1:
        return [_BROAD_AGE.get(v, v) for v in values]
    return [v if v == MISSING else ("0—17" if _BROAD_AGE.get(v) == "0—17" else "18+") for v in values]


def _year(values: np.ndarray, counts: np.ndarray, level: int, k: int) -> list:
    width = 5 if level == 1 else 10
    return [v if v == MISSING else f"{int(v) - int(v) % width}-{int(v) - int(v) % width + width - 1}"
            for v in values]


def _country(values: np.ndarray, counts: np.ndarray, level: int, k: int) -> list:
    return [v if v == MISSING or n >= 10 * k else "OTHER" for v, n in zip(values, counts)]


#: each QI's generalisation steps (level 1, 2, ...); the last level of every QI is ``*``
HIERARCHIES = {"age_band": (_age, _age), "year_of_registration": (_year, _year), "citizenship": (_country,),
               "country_of_exploitation": (_country,)}


class _Column:
    """One QI as integer codes over its distinct values, generalised level by level."""

    def __init__(self, name: str, values: pd.Series, k: int):
        self.name, self.k = name, k
        self.base_codes, self.base_values = _coded(values)
        self.base_counts = np.bincount(self.base_codes, minlength=len(self.base_values))
        self.steps = HIERARCHIES.get(name, ())
        self.top = len(self.steps) + 1
        self.level = 0
        self.codes, self.labels = self.base_codes, self.base_values

    def at(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        if level == 0:
            return self.base_codes, self.base_values
        if level >= self.top:
            labels = [TOP] * len(self.base_values)
        else:
            labels = self.steps[level - 1](self.base_values, self.base_counts, level, self.k)
        lab_codes, lab_values = pd.factorize(np.asarray(labels, dtype=object), use_na_sentinel=False)
        return lab_codes.astype(np.int64)[self.base_codes], np.asarray(lab_values, dtype=object)


@dataclass
class KAnonymisedRelease:
    frame: pd.DataFrame
    quasi_identifiers: tuple[str, ...]
    k: int
    levels: dict[str, int]
    n_input: int
    n_suppressed: int
    suppressed_by_class: dict[str, int] = field(default_factory=dict)

    @property
    def suppression_report(self) -> dict:
        return {"k": self.k, "records_in": self.n_input, "records_released": len(self.frame),
                "records_suppressed": self.n_suppressed,
                "share_suppressed": round(self.n_suppressed / max(self.n_input, 1), 4),
                "generalisation_levels": dict(self.levels),
                "smallest_class": int(_class_sizes(self.frame, self.quasi_identifiers).min()) if len(self.frame)
                else 0}


def _coded(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as integer codes and the text label of each code (``""`` for missing, flags ``1``)."""
    if str(series.dtype) == "boolean":
        return series.fillna(False).to_numpy(dtype=bool).astype(np.int64), np.array([MISSING, "1"], dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    labels = np.array([str(u) for u in uniques] + [MISSING], dtype=object)
    return np.where(codes < 0, len(uniques), codes).astype(np.int64), labels


def _categorical(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    label_codes, categories = pd.factorize(labels)          # the same text under two codes becomes one
    return pd.Categorical.from_codes(label_codes[codes], categories=pd.Index(categories, dtype=object))


def _sizes_from_codes(coded: list[tuple[np.ndarray, int]]) -> np.ndarray:
    key, bound = np.zeros(len(coded[0][0]), dtype=np.int64), 1
    for codes, n in coded:
        if bound * (n + 1) > 2 ** 52:                      # re-number so the key never overflows
            key, uniques = pd.factorize(key)
            key, bound = key.astype(np.int64), len(uniques)
        key, bound = key * (n + 1) + codes, bound * (n + 1)
    key = pd.factorize(key)[0]
    return np.bincount(key)[key] if len(key) else key


def _class_sizes(frame: pd.DataFrame, qis) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros(0, dtype=int)
    coded = []
    for col in qis:
        codes, uniques = pd.factorize(frame[col].to_numpy(dtype=object), use_na_sentinel=False)
        coded.append((codes.astype(np.int64), len(uniques)))
    return _sizes_from_codes(coded)


def check_columns(quasi_identifiers, attributes) -> None:
    bad = [c for c in (*quasi_identifiers, *attributes) if c in NEVER_RELEASED]
    if bad:
        raise ReleaseError(f"{', '.join(bad)} can never be released: remove them from the release parameters")
    unknown = [c for c in (*quasi_identifiers, *attributes) if c not in RECORD_FIELDS]
    if unknown:
        raise ReleaseError(f"{unknown} are not fields of the standard")


def k_anonymise(records: pd.DataFrame, *, k: int = 11,
                quasi_identifiers: tuple[str, ...] = DEFAULT_QUASI_IDENTIFIERS,
                attributes: tuple[str, ...] = DEFAULT_ATTRIBUTES, max_suppression: float = 0.05,
                rng: np.random.Generator | None = None) -> KAnonymisedRelease:
    """Generalise and suppress ``records`` so every QI combination occurs at least ``k`` times."""
    quasi_identifiers = tuple(quasi_identifiers) + tuple(a for a in attributes if a in KNOWN_QUASI_IDENTIFIERS
                                                         and a not in quasi_identifiers)
    attributes = tuple(a for a in attributes if a not in quasi_identifiers)
    check_columns(quasi_identifiers, attributes)
    if not quasi_identifiers or k < 2:
        raise ReleaseError("declare at least one quasi-identifier and k >= 2")
    cols = {q: _Column(q, records[q], k) for q in quasi_identifiers}
    n = len(records)
    small = _sizes_from_codes([(c.codes, len(c.labels)) for c in cols.values()]) < k
    while small.sum() > max_suppression * n and any(c.level < c.top for c in cols.values()):
        best = None
        for col in cols.values():
            if col.level >= col.top:
                continue
            codes, labels = col.at(col.level + 1)
            trial = _sizes_from_codes([(codes, len(labels)) if c is col else (c.codes, len(c.labels))
                                       for c in cols.values()]) < k
            score = (int(trial.sum()), -len(labels))   # fewest suppressed, then most detail kept
            if best is None or score < best[0]:
                best = (score, col, codes, labels, trial)
        _, col, col.codes, col.labels, small = best
        col.level += 1
    if small.sum() > max_suppression * n:
        raise ReleaseError(f"{int(small.sum())} of {n} records would have to be suppressed (more than "
                           f"max_suppression = {max_suppression:g}) even with every quasi-identifier generalised: "
                           f"nothing was released. The dataset is too small for k = {k}.")
    keep = np.flatnonzero(~small)
    keep = keep[(rng or np.random.default_rng()).permutation(len(keep))]   # order says nothing about intake
    columns = {q: _categorical(c.codes[keep], c.labels) for q, c in cols.items()}
    for a in attributes:
        codes, labels = _coded(records[a])
        columns[a] = _categorical(codes[keep], labels)
    released = pd.DataFrame(columns)
    levels = {q: c.level for q, c in cols.items()}
    return KAnonymisedRelease(released, quasi_identifiers, k, levels, len(records), int(small.sum()))


def verify_k_anonymity(frame: pd.DataFrame, quasi_identifiers, k: int) -> Report:
    """An empty report proves every QI combination in ``frame`` occurs at least ``k`` times and no
    identifying field is present; otherwise one ``error`` issue per offending class or column."""
    report = Report()
    for col in frame.columns:
        if col in NEVER_RELEASED:
            report.add(Issue(type="identifying-field-in-release", severity="error", source="cases-release",
                             column=col, message=f"column {col} must never be released"))
    missing = [q for q in quasi_identifiers if q not in frame.columns]
    if missing:
        report.add(Issue(type="quasi-identifier-missing", severity="error", source="cases-release",
                         message=f"quasi-identifiers {missing} are not in the release; cannot verify"))
        return report
    if len(frame) == 0:
        return report
    counts = frame.groupby(list(quasi_identifiers), dropna=False, observed=True).size()
    for n in counts[counts < k]:
        report.add(Issue(type="k-anonymity-violated", severity="error", source="cases-release", n_obs=int(n),
                         message=f"a quasi-identifier combination occurs {n} times (< k = {k})"))
    return report
