"""A published release as tidy observations, for the store to register as dataflow ``trafficking_victims``.

:func:`observation_tables` reads a release folder (its ``release.json`` and data files) and returns one
long table, one row per published number:

=====================  ==========================================================================
column                 meaning
=====================  ==========================================================================
``dataflow``           always ``trafficking_victims``
``release_id``         the release the number comes from (traceability)
``release_kind``       ``dp-aggregates``, ``k-anonymised`` or ``synthetic``
``table``              the published table (``victims_by_country_year``, ... or ``microdata``)
``country``            country of exploitation, ISO 3166-1 alpha-3; ``OTHER`` (rare countries
                       grouped by k-anonymisation); ``*`` (fully generalised); ``_U`` unknown;
                       ``_T`` all countries (the table is not broken down by country)
``citizenship``        victim's citizenship, same codes as ``country``
``year``               year of registration (``2019``), or a period after generalisation
                       (``2015-2019``); ``_U``, ``_T`` as above
``sex``                ``Man``, ``Woman``, ``Trans/Transgender/NonConforming`` (the codebook's
                       gender); ``_U``, ``_T``
``age_band``           codebook age band (``18—20``...) or a generalised band (``18—29``,
                       ``0—17``, ``18+``); ``_U``, ``_T``
``exploitation_type``  ``forced_labour``, ``sexual_exploitation``, ``other_exploitation``,
                       ``multiple``; ``_U``, ``_T``
``value``              number of victims (integer)
``obs_status``         ``E`` (estimate: DP noise or synthetic data) or ``A`` (count of released
                       k-anonymised records, which excludes the suppressed ones)
``epsilon``            privacy loss of the whole release (0 for k-anonymised)
=====================  ==========================================================================

Microdata releases (k-anonymised, synthetic) are counted over every dimension they carry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from imdx.cases.releases.dp import UNKNOWN

TOTAL = "_T"
DIMENSIONS = ("country", "citizenship", "year", "sex", "age_band", "exploitation_type")
COLUMNS = ("dataflow", "release_id", "release_kind", "table", *DIMENSIONS, "value", "obs_status", "epsilon")
_MICRODATA_NAMES = {"country_of_exploitation": "country", "year_of_registration": "year", "gender": "sex"}


def _exploitation(frame: pd.DataFrame) -> pd.Series:
    cols = ("is_forced_labour", "is_sexual_exploitation", "is_other_exploitation")
    if not all(c in frame.columns for c in cols):
        return pd.Series(TOTAL, index=frame.index)
    flags = frame[list(cols)].astype(str).eq("1")
    kinds = pd.Series(UNKNOWN, index=frame.index, dtype=object)
    for col, kind in zip(cols, ("forced_labour", "sexual_exploitation", "other_exploitation")):
        kinds[flags[col]] = kind
    kinds[flags.sum(axis=1) > 1] = "multiple"
    return kinds


def observation_tables(release_folder: Path | str) -> pd.DataFrame:
    """Tidy observations of the release in ``release_folder`` (columns documented in the module)."""
    folder = Path(release_folder)
    manifest = json.loads((folder / "release.json").read_text())
    kind, parts = manifest["kind"], []
    for name in manifest["files"]:
        data = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
        if kind == "dp-aggregates":
            table = data.assign(value=data["value"].astype(int))
            status = "E"
        else:
            data = data.rename(columns=_MICRODATA_NAMES)
            if "exploitation_type" not in data.columns:
                data["exploitation_type"] = _exploitation(data)
            dims = [d for d in DIMENSIONS if d in data.columns]
            data[dims] = data[dims].replace({"": UNKNOWN})
            table = data.groupby(dims, dropna=False).size().rename("value").reset_index()
            status = "E" if kind == "synthetic" else "A"
        for d in DIMENSIONS:
            if d not in table.columns:
                table[d] = TOTAL
        table["dataflow"], table["release_id"], table["release_kind"] = ("trafficking_victims",
                                                                         manifest["release_id"], kind)
        table["table"] = name.removesuffix(".csv")
        table["obs_status"], table["epsilon"] = status, float(manifest.get("epsilon") or 0.0)
        parts.append(table[list(COLUMNS)])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
