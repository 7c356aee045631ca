"""The de Beer et al. (2010) mirror method on the real pairs reported by both sides.

``reported_flows`` holds, for every corridor a country reports, the report of the origin (emigrants,
``reporter`` ``origin``) beside the report of the destination (immigrants, ``reporter`` ``destination``).
:func:`harmonise_year` takes one year's country-to-country pairs of one definition (criterion and coverage),
estimates one correction factor per country and side (:func:`imdx.methods.mirror.harmonise_mirror_flows`,
the reference country's factors fixed at 1; de Beer et al. used Sweden) and returns the harmonised flows with
an interval: the factors re-estimated on bootstrap resamples of the pairs reported by both sides
(``replicates``), the 90 % percentile interval widened to contain the estimate
(:func:`imdx.methods.uncertainty.covering_interval`). :func:`store_harmonised` writes them as a release of
``harmonised_flows``; :func:`report` compares them with each reporter.

**Which corridors can be harmonised.** Only pairs of countries: today the EU-27 pairs 2010-2019 (MigMod,
release ``migmod-eu27-pairs``; Eurostat emigration by next and immigration by previous residence). The UN DESA
2015 flows and OECD's A.1/A.2 tables give each country's *totals* (immigrants from all countries, emigrants to
all countries): the other side of "country X -> everywhere" is reported by no one, so they cannot be
harmonised; :func:`totals_side_by_side` shows where two publishers report the same total instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from imdx.errors import ImdxError
from imdx.estimates import SOURCE
from imdx.ingest import ingest
from imdx.methods import MethodInputError
from imdx.methods.mirror import MirrorResult, harmonise_mirror_flows
from imdx.methods.uncertainty import LEVEL, covering_interval
from imdx.model.report import Issue, Report
from imdx.store.base import FileRecord, ReleaseRecord, Store

REFERENCE = "SWE"  # de Beer et al. (2010) used Sweden
METHOD = "de_beer_2010"
DATAFLOW = "harmonised_flows"
REPLICATES = 50


class MirrorError(ImdxError):
    """No pair reported by both sides: nothing to harmonise."""


def reported_pairs(store: Store, *, criterion: str = "RES", coverage: str = "_T") -> pd.DataFrame:
    """Country-to-country reports of ``reported_flows`` (both reporters) of one definition: origin, destination,
    reporter, year, value, note, source, release_id."""
    frame = store.select("reported_flows", {"criterion": [criterion], "coverage": [coverage], "sex": ["_T"]}
                         ).to_pandas()
    frame = frame[(frame["origin"] != "_T") & (frame["destination"] != "_T") & frame["value"].notna()]
    return frame[["origin", "destination", "reporter", "year", "value", "note", "source", "release_id"]]


@dataclass(frozen=True)
class Harmonised:
    year: int
    countries: tuple[str, ...]
    result: MirrorResult
    lower: np.ndarray
    upper: np.ndarray
    replicates: int
    dropped: tuple[str, ...]  # countries without a pair reported by both sides (factors not identified)

    def frame(self) -> pd.DataFrame:
        """One row per harmonised corridor: both reports, both corrected values, the estimate and its interval."""
        out = self.result.side_by_side(self.countries)
        i, j = np.nonzero(~np.isnan(self.result.harmonised))
        return out.assign(year=self.year, lower=self.lower[i, j], upper=self.upper[i, j],
                          sending_factor=self.result.sending_factors[i],
                          receiving_factor=self.result.receiving_factors[j])


def _identified(pairs: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Countries whose both factors can be estimated (each is origin and destination of a pair reported by both
    sides), dropping the others until every remaining one qualifies."""
    wide = pairs.pivot_table(index=["origin", "destination"], columns="reporter", values="value", aggfunc="first")
    both = wide.dropna(subset=[c for c in ("origin", "destination") if c in wide.columns]) if {
        "origin", "destination"} <= set(wide.columns) else wide.iloc[0:0]
    keep = sorted(set(pairs["origin"]) | set(pairs["destination"]))
    while True:
        sub = both[both.index.get_level_values(0).isin(keep) & both.index.get_level_values(1).isin(keep)]
        ok = set(sub.index.get_level_values(0)) & set(sub.index.get_level_values(1))
        drop = [c for c in keep if c not in ok]
        if not drop:
            return keep, sorted((set(pairs["origin"]) | set(pairs["destination"])) - set(keep))
        keep = [c for c in keep if c in ok]


def harmonise_year(pairs: pd.DataFrame, year: int, *, reference: str = REFERENCE, replicates: int = REPLICATES,
                   level: float = LEVEL, seed: int = 1) -> Harmonised:
    """Harmonise one year's pairs (see the module docstring)."""
    year_pairs = pairs[pairs["year"] == year]
    countries, dropped = _identified(year_pairs)
    if len(countries) < 2:
        raise MirrorError(f"{year}: no two countries report pairs of each other from both sides; nothing to harmonise")
    ref = reference if reference in countries else max(
        countries, key=lambda c: int(((year_pairs["origin"] == c) | (year_pairs["destination"] == c)).sum()))
    n, pos = len(countries), {c: k for k, c in enumerate(countries)}
    tables = {side: np.full((n, n), np.nan) for side in ("origin", "destination")}
    for row in year_pairs.itertuples(index=False):
        if row.origin in pos and row.destination in pos and row.origin != row.destination:
            tables[row.reporter][pos[row.origin], pos[row.destination]] = row.value
    em, im = tables["origin"], tables["destination"]
    result = harmonise_mirror_flows(em, im, reference=pos[ref])
    both = np.argwhere(~np.isnan(em) & ~np.isnan(im))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(replicates):
        pick = both[rng.integers(0, len(both), len(both))]
        mask = np.zeros((n, n), dtype=bool)
        mask[pick[:, 0], pick[:, 1]] = True
        e2, i2 = np.where(mask, em, np.nan), np.where(mask, im, np.nan)
        try:
            boot = harmonise_mirror_flows(e2, i2, reference=pos[ref])
        except MethodInputError:  # a resample that leaves a country without a pair: not identified, skipped
            continue
        ec = em * boot.sending_factors[:, None]
        ic = im * boot.receiving_factors[None, :]
        draws.append(np.where(np.isnan(ec), ic, np.where(np.isnan(ic), ec, (ec + ic) / 2)))
    point = result.harmonised
    if len(draws) >= 2:
        lower, upper = covering_interval(point, np.stack(draws), level)
    else:
        lower, upper = np.full((n, n), np.nan), np.full((n, n), np.nan)
    return Harmonised(year, tuple(countries), result, lower, upper, len(draws), tuple(dropped))


def harmonise_all(store: Store, *, years: list[int] | None = None, replicates: int = REPLICATES,
                  reference: str = REFERENCE) -> tuple[list[Harmonised], Report, pd.DataFrame]:
    """Every year with pairs reported by both sides; the report says which years or countries could not be."""
    pairs = reported_pairs(store)
    if pairs.empty:
        raise MirrorError("the store has no country-to-country reported_flows; load them first with "
                          "`imdx load eurostat` (the MigMod EU-27 pairs)")
    report, out = Report(), []
    for year in sorted(set(pairs["year"])) if years is None else years:
        try:
            h = harmonise_year(pairs, int(year), reference=reference, replicates=replicates)
        except (MirrorError, MethodInputError) as err:
            report.add(Issue("not-harmonised", f"{year}: {err}", severity="warning", source=SOURCE, dataflow=DATAFLOW))
            continue
        if h.dropped:
            report.add(Issue("not-harmonised", f"{year}: {', '.join(h.dropped)} report no pair that the other side "
                             "reports too, so their correction factors cannot be estimated; their corridors are left "
                             "out", severity="info", source=SOURCE, dataflow=DATAFLOW, n_obs=len(h.dropped)))
        out.append(h)
    return out, report, pairs


def to_frame(harmonised: list[Harmonised], replicates: int) -> pd.DataFrame:
    rows = []
    for h in harmonised:
        f = h.frame()
        note = ("reported by origin " + f["sender_reported"].map(_num) + " (x " + f["sending_factor"].round(3).astype(
            str) + "), by destination " + f["receiver_reported"].map(_num) + " (x " + f["receiving_factor"].round(
            3).astype(str) + f"); reference {h.countries[h.result.reference]}")
        rows.append(pd.DataFrame({
            "origin": f["origin"], "destination": f["destination"], "method": METHOD, "year": h.year,
            "value": f["harmonised"], "lower": f["lower"], "upper": f["upper"], "obs_status": "E",
            "definition": f"de Beer et al. (2010) correction factors, least squares over the pairs reported by both "
                          f"sides; harmonised = mean of the corrected reports; {LEVEL:.0%} bootstrap interval over "
                          f"those pairs ({replicates} resamples), widened to contain the estimate",
            "note": note, "cell_file": None, "cell_sheet": None, "cell_row": pd.NA, "cell_column": None}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _ratio(a: pd.Series, b: pd.Series) -> float:
    return round(float(np.nanmedian((a / b.where(b > 0)).to_numpy(float))), 3)


def _num(v) -> str:
    return "-" if pd.isna(v) else f"{v:,.0f}"


def store_harmonised(store: Store, harmonised: list[Harmonised], pairs: pd.DataFrame, report: Report,
                     replicates: int, *, today: date | None = None) -> int | None:
    """Write one ``imdx-estimates`` release of ``harmonised_flows`` through :func:`imdx.ingest.ingest` (the
    checks run on it like on any release); None when the same is stored already. Its files are the input
    releases (name ``release:<source>/<key>``, checksum = the release's fingerprint), as for
    :func:`imdx.estimates.run.store_estimates`."""
    if not harmonised:
        raise MirrorError("nothing was harmonised (see the report)")
    today = today or date.today()
    loaded = store.releases().set_index("release_id")
    used = sorted({int(r) for r in pairs["release_id"]})
    fingerprints = {r: str(loaded.loc[r, "fingerprint"]) for r in used}
    files = [FileRecord(name=f"release:{loaded.loc[r, 'source']}/{loaded.loc[r, 'key']}",
                        url=f"imdx-store://release/{r}", sha256=fingerprints[r], size=int(loaded.loc[r, "n_obs"] or 0),
                        retrieved_from="store", retrieved_at=pd.Timestamp(loaded.loc[r, "loaded_at"]).to_pydatetime()
                        if pd.notna(loaded.loc[r, "loaded_at"]) else datetime.now()) for r in used]
    spec = {"years": [h.year for h in harmonised], "replicates": replicates, "inputs": sorted(fingerprints.values()),
            "reference": sorted({h.countries[h.result.reference] for h in harmonised})}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    years = [h.year for h in harmonised]
    record = ReleaseRecord(source=SOURCE, key=f"mirror-{key}", edition=today.isoformat(), published=today,
                           title=f"Flows harmonised from both reports (de Beer et al. 2010), {min(years)}-{max(years)}",
                           licence="Estimates by imdx from the reported flows named in the files (cite them and the "
                                   "method)", files=files)
    if store.has_release(record):
        return None
    return ingest(store, record, {DATAFLOW: to_frame(harmonised, replicates)}, report=report)


def totals_side_by_side(store: Store) -> pd.DataFrame:
    """Totals reported by two publishers for the same country, side and year (UN DESA and OECD): the only
    cross-check the UN and OECD tables allow (they have no pairs)."""
    frame = store.select("reported_flows", {}).to_pandas()
    frame = frame[((frame["origin"] == "_T") | (frame["destination"] == "_T")) & frame["value"].notna()]
    frame = frame.assign(country=np.where(frame["origin"] == "_T", frame["destination"], frame["origin"]))
    keys = ["country", "reporter", "coverage", "year"]
    wide = frame.pivot_table(index=keys, columns=["source", "criterion"], values="value", aggfunc="first")
    wide.columns = [f"{a}:{b}" for a, b in wide.columns]
    return wide[wide.notna().sum(axis=1) >= 2].reset_index()


def report(harmonised: list[Harmonised], issues: Report, totals: pd.DataFrame) -> str:
    """Markdown: per year the countries, pairs and factors; the harmonised flows against each reporter; the
    UN/OECD totals side by side."""
    from imdx.estimates.markdown import table as md

    lines = ["# Mirror flows (de Beer et al. 2010) on the pairs reported by both sides", "",
             ("Each country's emigration reports (as origin) and immigration reports (as destination) are scaled by "
              "one factor per country and side, estimated over the pairs both sides report (reference country: "
              "factors 1); a harmonised flow is the mean of the corrected reports. Source: the EU-27 pairs 2010-2019 "
              "(Eurostat via MigMod, `reported_flows`)."), ""]
    rows = []
    for h in harmonised:
        f = h.frame()
        both = f.dropna(subset=["sender_reported", "receiver_reported"])
        rows.append({"year": h.year, "countries": len(h.countries), "pairs both sides": len(both),
                     "corridors harmonised": len(f),
                     "harmonised / sender (median)": _ratio(both["harmonised"], both["sender_reported"]),
                     "harmonised / receiver (median)": _ratio(both["harmonised"], both["receiver_reported"]),
                     "bootstrap resamples": h.replicates, "left out": ", ".join(h.dropped) or "-"})
    lines += ["## Years", "", md(pd.DataFrame(rows)), ""]
    if harmonised:
        last = harmonised[-1]
        factors = pd.DataFrame({"country": last.countries, "sending factor": last.result.sending_factors.round(3),
                                "receiving factor": last.result.receiving_factors.round(3)})
        lines += [f"## Correction factors, {last.year}", "",
                  "A factor above 1: that side's reports are scaled up (under-counting relative to the reference).", "",
                  md(factors), ""]
    lines += ["## UN DESA and OECD: totals only", "",
              ("The UN DESA 2015 flows and OECD's IMO tables give each country's immigrants from, and emigrants to, "
               "all countries together: the other side of such a total is reported by no one, so these corridors "
               "cannot be harmonised. Where both publishers report the same total, here they are side by side:"), "",
              md(totals.head(40)) if len(totals) else "(none)", ""]
    if len(issues):
        lines += ["## Not harmonised", ""] + [f"* {i.message}" for i in issues] + [""]
    return "\n".join(lines)
