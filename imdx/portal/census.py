"""The census section of a country profile: the tables of ``foreign_born_population`` tabulated from
person records (``imdx census tabulate``), laid out by :mod:`imdx.census.present`."""

from __future__ import annotations

from urllib.parse import urlencode

from imdx.census.present import FLOW, tables_for
from imdx.portal.data import Num, Reader

SOURCE = "census"


def census_section(reader: Reader, code: str) -> dict:
    """``{"loaded", "samples", "download"}``; each table cell carries a :class:`Num` (the weighted count,
    with the check that reproduces it) and its unweighted base."""
    if not reader.has(FLOW):
        return {"loaded": False, "samples": []}
    frame = reader.current(FLOW, {"area": code}, source=SOURCE)
    if frame.empty:
        return {"loaded": True, "samples": []}
    names = reader.names()
    for dim in ("birthplace", "citizenship"):
        frame[f"{dim}_name"] = frame[dim].map(names)
    samples = tables_for(frame)
    for s in samples:
        for table in s["tables"]:
            for row in table["rows"]:
                for cell in row["cells"]:
                    filters = {**cell["key"], "area": code, "sample": s["sample"], "year": str(s["year"]),
                               "measure": "PERSONS"}
                    cell["num"] = Num(cell["persons"], "persons", {"flow": FLOW, "source": SOURCE, "filters": filters,
                                                                   "agg": "one"},
                                      status="L" if cell["suppressed"] else None)
    return {"loaded": True, "samples": samples,
            "download": f"/api/v1/census/{code}?{urlencode({'format': 'csv'})}"}
