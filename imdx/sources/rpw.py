"""World Bank Remittance Prices Worldwide (RPW): the cost of sending US$ 200 and 500 by corridor and quarter.

**A derived, unweighted subset.** The mirror holds ``derived/rpw_filtered.csv``, made by a thesis repository from
the RPW dataset (2016 Q2 - 2025 Q1): only the 300 corridors touching about 47 chosen countries, and for each
corridor and quarter the **unweighted mean** over the RPW records (one per provider and product) of the total
cost and of the exchange-rate margin. The World Bank's published averages are weighted differently: these
means do not reproduce them, and imdx never tests them against those headlines. The release title, the
dataflow's description and every observation's ``definition`` say so.

Layout: ``period,source_code,source_name,destination_code,destination_name,corridor,avg_cost_pct_200usd,
avg_cost_pct_500usd,avg_fx_margin_200usd,avg_fx_margin_500usd,num_providers``. ``period`` is RPW's ``2016_2Q``
(year, quarter: parsed, it does not sort as text); codes are ISO3 except ``KSV`` for Kosovo; values are
percent of the amount sent. Into ``remittance_costs`` (sender, receiver, amount, cost, quarter, year); the
number of records averaged is in ``note``. Negative costs (14, from negative FX margins in RPW) and the
one cost above 100 % (TUR->BGR 2025 Q1) are kept and reported.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.checks.tolerance import Tolerance
from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile
from imdx.sources.csvfile import read_csv

FILE = "derived/rpw_filtered.csv"
COLUMNS = ["period", "source_code", "source_name", "destination_code", "destination_name", "corridor",
           "avg_cost_pct_200usd", "avg_cost_pct_500usd", "avg_fx_margin_200usd", "avg_fx_margin_500usd",
           "num_providers"]
MEASURES = {"avg_cost_pct_200usd": ("USD200", "TOTAL"), "avg_cost_pct_500usd": ("USD500", "TOTAL"),
            "avg_fx_margin_200usd": ("USD200", "FX_MARGIN"), "avg_fx_margin_500usd": ("USD500", "FX_MARGIN")}
DEFINITION = "unweighted mean over RPW records (providers x products) of a derived corridor subset; not the WB average"
SYSTEMS = ("rpw", "iso3", "code")


def read_table(path: Path) -> pd.DataFrame:
    """The table as published (every cell text), checked: the header, periods, numbers; ``line`` = CSV line."""
    frame = read_csv(path, expected=f"a UTF-8 CSV with the columns {COLUMNS}", dtype=str, keep_default_na=False,
                     encoding="utf-8")
    if list(frame.columns) != COLUMNS:
        raise SourceFileError(str(path), f"the header is {list(frame.columns)}", row=1, expected=",".join(COLUMNS))
    frame.insert(0, "line", np.arange(len(frame)) + 2)
    checks = [("period", r"(19|20)\d\d_[1-4]Q", "a quarter such as 2016_2Q"),
              ("num_providers", r"\d+", "a count of records")] + [
        (c, r"-?\d+(\.\d+)?([eE][-+]?\d+)?", "a percentage") for c in MEASURES]
    for column, pattern, expected in checks:
        bad = ~frame[column].str.fullmatch(pattern)
        if bad.any():
            row = frame[bad].iloc[0]
            raise SourceFileError(str(path), f"{column} is {row[column]!r}", row=int(row["line"]), column=column,
                                  expected=expected)
    return frame


def harmonise(raw: pd.DataFrame, ctx: LoadContext) -> pd.DataFrame:
    ctx.dataflow = "remittance_costs"
    ctx.areas.load_sidecar("rpw")
    sender = ctx.map_areas(raw["source_code"], SYSTEMS, file=FILE, column="source_code", rows=raw["line"])
    receiver = ctx.map_areas(raw["destination_code"], SYSTEMS, file=FILE, column="destination_code", rows=raw["line"])
    year = raw["period"].str[:4].astype(int)
    quarter = "Q" + raw["period"].str[5]
    parts = []
    for column, (amount, cost) in MEASURES.items():
        parts.append(pd.DataFrame({
            "sender": sender, "receiver": receiver, "amount": amount, "cost": cost, "quarter": quarter, "year": year,
            "value": raw[column].astype(float), "obs_status": "A", "definition": DEFINITION,
            "note": raw["num_providers"] + " RPW records averaged", "cell_file": FILE, "cell_sheet": None,
            "cell_row": raw["line"], "cell_column": column}))
    out = pd.concat(parts, ignore_index=True)
    total = out["cost"] == "TOTAL"
    for label, bad in (("negative", total & (out["value"] < 0)), ("above 100 %", total & (out["value"] > 100))):
        if bad.any():
            first = out[bad].iloc[0]
            ctx.issue("implausible-value", f"{int(bad.sum())} total costs are {label} (e.g. {first['sender']}->"
                      f"{first['receiver']} {first['year']} {first['quarter']}: {first['value']:.2f} %); kept as "
                      "published (negative exchange-rate margins and rare extreme offers in RPW)", severity="info",
                      file=FILE, row=int(first["cell_row"]), column=first["cell_column"], n_obs=int(bad.sum()))
    return out


def _build(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    return {"remittance_costs": harmonise(read_table(paths[FILE]), ctx)}


SOURCE = Source(
    name="rpw",
    title="Remittance Prices Worldwide (derived corridor subset)",
    publisher="The World Bank (RPW); corridor means derived by a thesis repository",
    homepage="https://remittanceprices.worldbank.org",
    tolerance=Tolerance.rounded(),  # averages of percentages, not counts: nothing adds up to a total
    releases=(ReleaseSpec(
        source="rpw", key="rpw-derived-2025q1", edition="2025 Q1 (derived, unweighted subset)",
        published=date(2026, 2, 17),
        title="Remittance Prices Worldwide, 2016 Q2 - 2025 Q1: DERIVED unweighted corridor-quarter means for 300 "
              "corridors touching 47 countries (not the World Bank's published averages)",
        licence="RPW: CC BY 4.0 (cite 'The World Bank, Remittance Prices Worldwide'); the deriving repository states "
                "no licence",
        files=(SourceFile(FILE, "https://raw.githubusercontent.com/jonsmirl/thesis/"
                                "72e30fb9cd9a8716043fb01e62bec0762deb6538/thesis_data/rpw_filtered.csv",
                          "ab3d7a716c750ebb232e1313adef94c8ba56ae25e235fd81e8c9bb865fce12c1"),),
        dataflows=("remittance_costs",), build=_build),),
)
