"""Every flows-from-stocks method on the stored inputs, stored as one release of ``estimated_flows``.

Method codes (the ``method`` dimension) and what they run (``imdx.methods.flows_from_stocks``):

========================================== ===================================================================
``stock_differencing_drop``                 ``stock_differencing(decrease="zero")`` (Bertoli & Fernandez-Huertas
                                            Moraga 2015)
``stock_differencing_reverse``              ``stock_differencing(decrease="return")`` (Beine & Parsons 2015)
``migration_rates_dennett``                 ``migration_rates(method="dennett", total_flow=M)`` (Dennett 2016);
                                            ``M`` is stated in the options: given, or else the world total of
                                            ``demographic_accounting_closed`` for the same period and sex
``rogers_von_rabenau``                      ``migration_rates(method="rogers_von_rabenau")``; regions whose row or
                                            column of the start table is all zero are left out (singular)
``demographic_accounting_closed``           ``demographic_accounting()``: closed, stayer assumption (Abel & Sander
                                            2014)
``demographic_accounting_open``             ``demographic_accounting(birthplace_totals="open")`` (Abel 2013)
``demographic_accounting_closed_no_stayer`` ``demographic_accounting(stayer_assumption=False)``
``pseudo_bayesian``                         ``azose_raftery()`` (Azose & Raftery 2019): minimum migration smoothed
                                            towards independence, prior weight 0.10 (**the default method**;
                                            where it differs from the paper: docs/methods.md)
========================================== ===================================================================

:data:`MIGEST` says which function of the R package migest each code reproduces (:data:`DEFAULT_METHOD` has
none: migest has only its two ingredients).

**Intervals.** Every estimate carries ``lower`` and ``upper`` for each flow: a 90 % interval from
:func:`imdx.methods.uncertainty.perturbation_interval`, the method re-run on ``replicates`` sets of inputs
perturbed within their stated precision (:attr:`FlowInputs.stock_cv`, births and deaths 2 %): the
percentile interval widened to contain the point estimate; for ``pseudo_bayesian`` it also spans the
smoothing's own range (prior weights 0.065-0.135).
Dennett's total is held at its point value in the replicates. ``replicates=0`` skips the intervals (NaN).

**Rounding.** Cells below half a person are what fitting leaves where there is no flow: they are not stored,
and each estimate's note says how many there were and what they summed to.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from imdx.errors import ImdxError
from imdx.estimates import SOURCE, regions
from imdx.estimates.inputs import PERIODS, SEX_RATIO_AT_BIRTH, SEXES, FlowInputs, StoreInputs
from imdx.ingest import ingest
from imdx.methods import flows_from_stocks as ffs
from imdx.methods.azose_raftery import PRIOR_WEIGHT, PRIOR_WEIGHT_RANGE, azose_raftery, flow_types
from imdx.methods.uncertainty import LEVEL, InputPrecision, perturbation_interval
from imdx.model.report import Issue, Report
from imdx.store.base import FileRecord, ReleaseRecord, Store

DATAFLOW = "estimated_flows"
ACCOUNTING = ("demographic_accounting_closed", "demographic_accounting_open",
              "demographic_accounting_closed_no_stayer", "pseudo_bayesian")
METHODS = ("stock_differencing_drop", "stock_differencing_reverse", "migration_rates_dennett",
           "rogers_von_rabenau") + ACCOUNTING
#: methods that use births and deaths (Dennett too, when its total comes from the closed account)
NEEDS_VITALS = set(ACCOUNTING)
#: the method ``imdx estimate flows`` runs when none is named: it has the least cell error on flows known by
#: construction (docs/methods.md) and totals in line with Azose & Raftery's published ones
DEFAULT_METHOD = "pseudo_bayesian"
#: the migest (R) call each method code reproduces (the oracle tests compare them)
MIGEST = {
    "stock_differencing_drop": 'ffs_diff(decrease = "zero")',
    "stock_differencing_reverse": 'ffs_diff(decrease = "return")',
    "migration_rates_dennett": 'ffs_rates(method = "dennett", M = total_flow)',
    "rogers_von_rabenau": 'ffs_rates(method = "rogers-von-rabenau")',
    "demographic_accounting_closed": "ffs_demo() (defaults: closed, stayer assumption)",
    "demographic_accounting_open": 'ffs_demo(match_birthplace_tot_method = "open")',
    "demographic_accounting_closed_no_stayer": "ffs_demo(stayer_assumption = FALSE)",
    "pseudo_bayesian": "none: 0.9 * ffs_demo() + 0.1 * ffs_demo(stayer_assumption = FALSE), per birthplace",
}
REPLICATES = 20
ROUND_BELOW = 0.5  # persons: a cell below this is a fitting remainder, not a flow
LICENCE = ("Estimates by imdx from UN DESA International Migrant Stock 2020 and UN WPP 2024 (both CC BY 3.0 IGO); "
           "cite the inputs and the method")


class EstimateError(ImdxError):
    """An estimate cannot be made as asked (missing births/deaths not allowed, unknown method)."""


@dataclass(frozen=True)
class Estimate:
    """One method's origin x destination flows for one period and sex, with what made them."""

    method: str
    start: int
    end: int
    sex: str
    regions: tuple[str, ...]
    od: np.ndarray  # origin (residence at start) x destination (residence at end), diagonal 0; NaN = not estimated
    options: dict[str, Any]
    notes: tuple[str, ...]
    inputs: tuple[str, ...]
    result: Any = None  # the FlowEstimate / FlowTable of imdx.methods (inputs filled)
    lower: np.ndarray | None = None  # the interval of every cell (NaN: not computed)
    upper: np.ndarray | None = None
    interval: str = "none"  # how the interval was made, for the definition

    @property
    def total(self) -> float:
        return float(np.nansum(self.od))

    def definition(self) -> str:
        opts = ", ".join(f"{k}={_plain(v)}" for k, v in sorted(self.options.items())
                         if k not in ("weights", "od_lower", "od_upper"))
        return f"{self.method}: {opts}; interval: {self.interval}"

    def note(self) -> str:
        return f"period {self.start}-{self.end}; " + "; ".join(self.notes) + "; inputs: " + ", ".join(self.inputs)


def _plain(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.0f}"
    return str(v)


_INDICES = re.compile(r"regions \[([\d, ]+)\]")


def _named(note: str, regions: tuple[str, ...]) -> str:
    """A method note with region indices replaced by their codes."""
    return _INDICES.sub(lambda m: "regions " + ", ".join(regions[int(i)] for i in m.group(1).split(",")), note)


def _check_vitals(inp: FlowInputs, method: str, allow_missing_vitals: bool) -> None:
    missing = inp.missing_vitals
    if missing and not allow_missing_vitals:
        why = "WPP 2024 has no births or deaths for them"
        shown = ", ".join(missing[:12]) + (" ..." if len(missing) > 12 else "")
        raise EstimateError(f"{method} {inp.period} sex {inp.sex}: births/deaths are missing for {len(missing)} "
                            f"area(s) ({shown}): {why}. Pass allow_missing_vitals (CLI --allow-missing-vitals) to run "
                            "with them taken as 0; the estimate then records it.")


def _accounting(inp: FlowInputs, method: str, allow: bool):
    _check_vitals(inp, method, allow)
    # the option as it acted: True only where births/deaths were missing and taken as 0
    kw = {"allow_missing_vitals": allow and bool(inp.missing_vitals)}
    if method == "demographic_accounting_closed":
        return ffs.demographic_accounting(inp.stock_start, inp.stock_end, inp.births, inp.deaths, **kw)
    if method == "demographic_accounting_open":
        return ffs.demographic_accounting(inp.stock_start, inp.stock_end, inp.births, inp.deaths,
                                          birthplace_totals="open", **kw)
    return ffs.demographic_accounting(inp.stock_start, inp.stock_end, inp.births, inp.deaths,
                                      stayer_assumption=False, **kw)


def _rogers(inp: FlowInputs) -> tuple[np.ndarray, Any, list[str]]:
    s0, s1 = inp.stock_start.copy(), inp.stock_end.copy()
    keep = np.ones(len(inp.regions), bool)
    while True:
        sub = s0[np.ix_(keep, keep)]
        bad = (sub.sum(axis=0) == 0) | (sub.sum(axis=1) == 0)
        if not bad.any():
            break
        keep[np.flatnonzero(keep)[bad]] = False
    notes = []
    if not keep.all():
        notes.append("left out (all-zero row or column, singular): "
                     + ", ".join(r for r, k in zip(inp.regions, keep) if not k))
    res = ffs.migration_rates(s0[np.ix_(keep, keep)], s1[np.ix_(keep, keep)], method="rogers_von_rabenau")
    od = np.full(s0.shape, np.nan)
    od[np.ix_(keep, keep)] = res.flows
    notes.append("flows can be negative (the transition matrix is not constrained)")
    return od, res, notes


def estimate(inp: FlowInputs, method: str, *, allow_missing_vitals: bool = False,
             total_flow: float | None = None, replicates: int = REPLICATES, level: float = LEVEL, seed: int = 1,
             _closed: Estimate | None = None) -> Estimate:
    """Run one method on one period's inputs (see the module docstring for the codes), with the interval of
    every flow from ``replicates`` perturbed runs (0: no interval)."""
    if method not in METHODS:
        raise EstimateError(f"unknown method {method!r}; methods: {', '.join(METHODS)}")
    notes: list[str] = []
    if method.startswith("stock_differencing"):
        res = ffs.stock_differencing(inp.stock_start, inp.stock_end,
                                     decrease="zero" if method.endswith("drop") else "return")
        od, options = res.flows, dict(res.options)
        notes.append("births and deaths not used")
    elif method == "migration_rates_dennett":
        if total_flow is None:
            closed = _closed or estimate(inp, "demographic_accounting_closed",
                                         allow_missing_vitals=allow_missing_vitals, replicates=0)
            total_flow, source = closed.total, "world total of demographic_accounting_closed, same period and sex"
        else:
            source = "given"
        res = ffs.migration_rates(inp.stock_start, total_flow=total_flow, method="dennett")
        od, options = res.flows, {**res.options, "total_flow_from": source}
    elif method == "rogers_von_rabenau":
        od, res, notes = _rogers(inp)
        options = dict(res.options)
    elif method == "pseudo_bayesian":
        _check_vitals(inp, method, allow_missing_vitals)
        res = azose_raftery(inp.stock_start, inp.stock_end, inp.births, inp.deaths,
                            allow_missing_vitals=allow_missing_vitals and bool(inp.missing_vitals))
        od = res.od
        options = {k: v for k, v in res.options.items() if k != "tol"}
        notes += [_named(n, inp.regions) for n in res.notes]
    else:
        res = _accounting(inp, method, allow_missing_vitals)
        od = res.od
        options = {k: v for k, v in res.options.items() if k != "tol"}
        if "weights" in options:
            w = np.asarray(options["weights"], float)
            options["weight_min"], options["weight_median"] = float(w.min()), float(np.median(w))
        notes += [_named(n, inp.regions) for n in res.notes]
        if inp.missing_vitals:
            notes.append(f"births/deaths missing for {len(inp.missing_vitals)} area(s), taken as 0: "
                         f"{', '.join(inp.missing_vitals[:20])}"
                         + (f" and {len(inp.missing_vitals) - 20} more" if len(inp.missing_vitals) > 20 else ""))
    if method in ACCOUNTING:
        notes.append(_who_moves(res))
    notes += [n for n in inp.notes if not (method not in NEEDS_VITALS and n.startswith(("births", "births and")))]
    if inp.sex != "_T" and (method in NEEDS_VITALS or method == "migration_rates_dennett"):
        options["vitals_by_sex"] = (f"assumed: births x sex ratio at birth {SEX_RATIO_AT_BIRTH}, deaths like the "
                                    "population by sex")
    lower, upper, how = _interval(inp, method, od, options, replicates, level, seed, allow_missing_vitals)
    small = np.isfinite(od) & (np.abs(od) < ROUND_BELOW) & (od != 0) & ~np.eye(len(od), dtype=bool)
    if small.any():
        notes.append(f"rounded away: {int(small.sum())} cells below {ROUND_BELOW} person (sum {od[small].sum():.3g} "
                     "persons) left by the fitting; not stored")
    provenance = inp.provenance
    if hasattr(res, "inputs"):
        res = replace(res, inputs=provenance)
    return Estimate(method, inp.start, inp.end, inp.sex, inp.regions, od, options, tuple(notes), provenance, res,
                    lower, upper, how)


def _who_moves(res) -> str:
    """The world's moves split as Azose & Raftery do: born in the origin (outward), in the destination (return),
    elsewhere (transit)."""
    parts = {name: float(od.sum()) for name, od in flow_types(res).items()}
    total = sum(parts.values())
    if total <= 0:
        return "who moves: no moves"
    return "who moves: " + ", ".join(f"{name} {value / total:.0%}" for name, value in parts.items()) + (
        " (born in the origin, in the destination, elsewhere; Azose & Raftery 2019)")


def _interval(inp: FlowInputs, method: str, od: np.ndarray, options: dict, replicates: int, level: float,
              seed: int, allow: bool) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """The interval of every cell: the method re-run on perturbed inputs (and, for the pseudo-Bayes estimate,
    the range of its smoothing), centred on the point estimate."""
    if replicates <= 0:
        return None, None, "none"
    cv = inp.stock_cv if inp.stock_cv is not None else 0.05
    precision = InputPrecision(cv, 0.02)
    allow = allow and bool(inp.missing_vitals)
    keep = np.isfinite(od).all(axis=1) & np.isfinite(od).all(axis=0)  # Rogers-von Rabenau may leave regions out
    idx = np.ix_(keep, keep)

    def sub(x):
        return None if x is None else np.asarray(x)[keep]

    def run(a, b, bb, dd):
        if method.startswith("stock_differencing"):
            return ffs.stock_differencing(a, b, decrease="zero" if method.endswith("drop") else "return").flows
        if method == "migration_rates_dennett":
            return ffs.migration_rates(a, total_flow=options["total_flow"], method="dennett").flows
        if method == "rogers_von_rabenau":
            return ffs.migration_rates(a, b, method="rogers_von_rabenau").flows
        if method == "pseudo_bayesian":
            return azose_raftery(a, b, bb, dd, bounds=None, allow_missing_vitals=allow).od
        kw = {"allow_missing_vitals": allow}
        if method == "demographic_accounting_open":
            kw["birthplace_totals"] = "open"
        if method == "demographic_accounting_closed_no_stayer":
            kw["stayer_assumption"] = False
        return ffs.demographic_accounting(a, b, bb, dd, **kw).od

    cv_kept = np.asarray(precision.stock_cv) if np.ndim(precision.stock_cv) == 0 else np.asarray(cv)[keep]
    result = perturbation_interval(run, inp.stock_start[idx], inp.stock_end[idx], sub(inp.births), sub(inp.deaths),
                                   InputPrecision(cv_kept, 0.02), replicates=replicates, seed=seed, level=level,
                                   point=od[idx])
    lower, upper = np.full(od.shape, np.nan), np.full(od.shape, np.nan)
    lower[idx], upper[idx] = result.lower, result.upper
    how = (f"{level:.0%} input perturbation ({replicates} replicates, seed {seed}; stocks CV 5% or 25% if imputed, "
           f"births/deaths CV 2%; percentiles, widened to contain the estimate)")
    if method == "pseudo_bayesian" and "od_lower" in options:
        lower, upper = np.minimum(lower, options["od_lower"]), np.maximum(upper, options["od_upper"])
        how += (f", widened to the smoothing range (prior weight {PRIOR_WEIGHT_RANGE[0]}-{PRIOR_WEIGHT_RANGE[1]} "
                f"around {PRIOR_WEIGHT})")
    if method == "migration_rates_dennett":
        how += ", the world total held at its point value"
    return lower, upper, how


def run_all(source: StoreInputs | Store, *, methods: Iterable[str] = METHODS,
            periods: Iterable[tuple[int, int]] = PERIODS, sexes: Iterable[str] = SEXES,
            allow_missing_vitals: bool = False, total_flow: float | None = None,
            progress: Callable[[str], None] | None = None, keep_results: bool = False,
            replicates: int = REPLICATES, level: float = LEVEL) -> list[Estimate]:
    """Every method for every period and sex (by default: 8 methods x 6 periods x 3 sexes). The
    method result objects (``Estimate.result``; the pseudo-Bayesian one holds an n^3 array) are
    dropped unless ``keep_results``."""
    inputs = source if isinstance(source, StoreInputs) else StoreInputs(source)
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise EstimateError(f"unknown method(s) {unknown}; methods: {', '.join(METHODS)}")
    sexes, periods = list(sexes), list(periods)
    needs = [m for m in methods if m in NEEDS_VITALS or (m == "migration_rates_dennett" and total_flow is None)]
    if needs and not allow_missing_vitals:  # refuse before any work, not after hours of it
        for sex in sexes:
            for start, end in periods:
                _check_vitals(inputs.flow_inputs(start, end, sex), needs[0], False)
    out = []
    for sex in sexes:
        for start, end in periods:
            inp = inputs.flow_inputs(start, end, sex)
            closed = None
            for method in sorted(methods, key=lambda m: m != "demographic_accounting_closed"):
                if progress:
                    progress(f"{method} {start}-{end} {sex}")
                est = estimate(inp, method, allow_missing_vitals=allow_missing_vitals, total_flow=total_flow,
                               replicates=replicates, level=level, _closed=closed)
                if method == "demographic_accounting_closed":
                    closed = est
                out.append(est if keep_results else replace(est, result=None))
    return out


def to_frame(estimates: Iterable[Estimate]) -> pd.DataFrame:
    """The observations of ``estimated_flows``: one row per off-diagonal cell of at least half a person (in
    absolute value: Rogers-von Rabenau flows can be negative), with its interval ``lower``/``upper``
    (categorical columns: millions of rows share a few hundred codes and a few hundred texts)."""
    estimates = list(estimates)
    codes = sorted({r for e in estimates for r in e.regions})
    pos = {c: i for i, c in enumerate(codes)}
    cols: dict[str, list] = {k: [] for k in ("o", "d", "e", "v", "lo", "hi")}
    for n, est in enumerate(estimates):
        od = np.nan_to_num(est.od)
        np.fill_diagonal(od, 0.0)
        i, j = np.nonzero(np.abs(od) >= ROUND_BELOW)
        remap = np.array([pos[r] for r in est.regions])
        cols["o"].append(remap[i])
        cols["d"].append(remap[j])
        cols["e"].append(np.full(len(i), n))
        cols["v"].append(od[i, j])
        nan = np.full(len(i), np.nan)
        cols["lo"].append(est.lower[i, j] if est.lower is not None else nan)
        cols["hi"].append(est.upper[i, j] if est.upper is not None else nan)

    def cat(c):
        return np.concatenate(c) if c else np.array([], dtype=int)
    o, d, e, v, lo, hi = (cat(cols[k]) for k in ("o", "d", "e", "v", "lo", "hi"))

    def per_estimate(values: list[str]) -> pd.Categorical:
        levels = sorted(set(values))
        index = {x: k for k, x in enumerate(levels)}
        return pd.Categorical.from_codes(np.array([index[x] for x in values], dtype=np.int32)[e]
                                         if len(values) else np.array([], dtype=np.int32), levels)

    frame = pd.DataFrame({
        "origin": pd.Categorical.from_codes(o, codes), "destination": pd.Categorical.from_codes(d, codes),
        "sex": per_estimate([x.sex for x in estimates]), "method": per_estimate([x.method for x in estimates]),
        "period_start": per_estimate([str(x.start) for x in estimates]),
        "year": np.array([x.end for x in estimates], dtype=np.int16)[e] if estimates else np.array([], np.int16),
        "value": v.astype("float64"), "lower": lo.astype("float64"), "upper": hi.astype("float64"),
        "obs_status": pd.Categorical.from_codes(np.zeros(len(v), dtype=np.int8), ["E"]),
        "definition": per_estimate([x.definition() for x in estimates]),
        "note": per_estimate([x.note() for x in estimates])})
    for col in ("cell_file", "cell_sheet", "cell_column"):
        frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame["cell_row"] = pd.Series(pd.NA, index=frame.index, dtype="Int32")
    return frame


def _key(estimates: list[Estimate], releases) -> str:
    spec = {"dataflows": [DATAFLOW, regions.DATAFLOW], "methods": sorted({e.method for e in estimates}),
            "runs": sorted({(e.method, e.start, e.end, e.sex, e.definition()) for e in estimates}),
            "inputs": sorted(f"{r.source}/{r.key}:{r.fingerprint}" for r in releases)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _report(estimates: list[Estimate], inputs: StoreInputs) -> Report:
    report, seen = Report(), set()
    for est in estimates:
        inp = inputs.flow_inputs(est.start, est.end, est.sex)
        for issue in inp.issues:
            if (issue.type, issue.message) not in seen:
                seen.add((issue.type, issue.message))
                report.add(replace(issue, source=SOURCE))  # an issue of this release, about an input
        for note in est.notes:
            if note.startswith(("births/deaths missing", "left out", "births missing", "deaths missing",
                                "negative native", "more births", "rounded away")):
                report.add(Issue("estimate-adjustment", f"{est.method} {est.start}-{est.end} sex {est.sex}: {note}",
                                 severity="info", source=SOURCE, dataflow=DATAFLOW, n_obs=1))
    return report


def store_estimates(store: Store, estimates: list[Estimate], inputs: StoreInputs | None = None,
                    *, today: date | None = None) -> int | None:
    """Write the estimates as ONE release of ``imdx-estimates`` (``estimated_flows``); returns its id, or
    None when the same estimates (same methods, options and input releases) are stored already.

    The release's key is ``flows-<hash>`` of the methods, their options and the input releases'
    fingerprints; its edition and publication date are today's date; its files are the input
    releases (name ``release:<source>/<key>``, checksum = the release's fingerprint)."""
    if not estimates:
        raise EstimateError("no estimates to store")
    inputs = inputs or StoreInputs(store)
    today = today or date.today()
    releases = {r.release_id: r for e in estimates for r in inputs.flow_inputs(e.start, e.end, e.sex).releases}
    loaded = inputs.release_table.set_index("release_id")
    files = [FileRecord(name=f"release:{r.source}/{r.key}", url=f"imdx-store://release/{r.release_id}",
                        sha256=r.fingerprint, size=int(loaded.loc[r.release_id, "n_obs"] or 0),
                        retrieved_from="store",
                        retrieved_at=pd.Timestamp(loaded.loc[r.release_id, "loaded_at"]).to_pydatetime()
                        if pd.notna(loaded.loc[r.release_id, "loaded_at"]) else datetime.now())
             for r in releases.values()]
    methods = sorted({e.method for e in estimates})
    periods = sorted({(e.start, e.end) for e in estimates})
    sexes = sorted({e.sex for e in estimates})
    title = (f"Flows estimated from UN DESA IMS 2020 stocks and WPP 2024 births/deaths: {len(methods)} method(s) "
             f"({', '.join(methods)}), periods {', '.join(f'{a}-{b}' for a, b in periods)}, sex {', '.join(sexes)}")
    record = ReleaseRecord(source=SOURCE, key=f"flows-{_key(estimates, releases.values())}", title=title,
                           edition=today.isoformat(), published=today, licence=LICENCE, files=files)
    if store.has_release(record):
        return None
    observations = {DATAFLOW: to_frame(estimates),
                    regions.DATAFLOW: regions.regional_frame(estimates, store.areas(), ROUND_BELOW)}
    return ingest(store, record, observations, report=_report(estimates, inputs))
