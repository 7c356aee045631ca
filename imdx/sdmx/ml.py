"""SDMX-ML 2.1 data messages (structure-specific and generic), written directly.

Building ``sdmx`` (sdmx1) model objects and calling :func:`sdmx.to_xml` takes 0.35 to 0.8 ms per
observation (8 s structure-specific, 17 s generic for the 22,000 observations of ``births``); this
writer produces the same messages 15 to 30 times faster (about 0.5 s). The tests read both back
with sdmx1 and check they give the same data (:func:`imdx.sdmx.data.data_message` keeps the
model-object path).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from imdx.sdmx.structure import AGENCY, AGENCY_ID, VERSION, sdmx_id

NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
    "gen": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic",
    "data": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}


def _value(v) -> str | None:
    """The text of an observation value: integers without '.0', None when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


def _missing(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


@lru_cache(maxsize=1 << 16)
def _pair(key: str, value) -> str:
    """`` key="value"`` (escaped); values repeat a lot (codes, years, units), hence the cache."""
    return "" if _missing(value) else f" {key}={quoteattr(str(value))}"


def _attrs(pairs) -> str:
    return "".join([_pair(k, v) for k, v in pairs])


def write(obs, *, structure_specific: bool, message_id: str, attributes: list[str]) -> bytes:
    """``obs``: an :class:`imdx.sdmx.data.Observations`; ``attributes``: the attribute columns to write."""
    dsd_id = f"DSD_{sdmx_id(obs.flow_id)}"
    at = obs.at_observation
    urn = f"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure={AGENCY_ID}:{dsd_id}({VERSION}):ObsLevelDim:{at}"
    root = "StructureSpecificData" if structure_specific else "GenericData"
    spaces = ["mes", "com", "data", "xsi"] if structure_specific else ["mes", "com", "gen"]
    xmlns = "".join(f' xmlns:{p}="{NS[p]}"' for p in spaces) + (f' xmlns:ns1="{urn}"' if structure_specific else "")
    prepared = datetime.now(UTC).replace(microsecond=0).isoformat()
    namespace = f' namespace="{urn}"' if structure_specific else ""
    out = [
        "<?xml version='1.0' encoding='utf-8'?>\n",
        f"<mes:{root}{xmlns}>\n  <mes:Header>\n    <mes:ID>{escape(message_id)}</mes:ID>\n",
        f"    <mes:Test>false</mes:Test>\n    <mes:Prepared>{prepared}</mes:Prepared>\n",
        f'    <mes:Sender id="{AGENCY_ID}">\n      <com:Name xml:lang="en">{escape(str(AGENCY.name))}</com:Name>\n',
        "    </mes:Sender>\n",
        f'    <mes:Structure structureID="{dsd_id}"{namespace} dimensionAtObservation="{at}">\n',
        (f'      <com:StructureUsage>\n        <Ref agencyID="{AGENCY_ID}" id="{sdmx_id(obs.flow_id)}" '
         f'version="{VERSION}"/>\n'),
        "      </com:StructureUsage>\n    </mes:Structure>\n  </mes:Header>\n",
    ]
    series_dims, obs_dims = obs.series_dims, obs.obs_dims
    frame = obs.frame
    for _source, group in frame.groupby("source", sort=True):
        if structure_specific:
            out.append(f'  <mes:DataSet data:structureRef="{dsd_id}" data:dataScope="DataStructure" '
                       f'data:action="Information" xsi:type="ns1:DataSetType">\n')
        else:
            out.append(f'  <mes:DataSet action="Information" structureRef="{dsd_id}">\n')
        cols = series_dims + obs_dims + ["OBS_VALUE"] + attributes
        group = group.sort_values(series_dims + obs_dims, kind="stable") if series_dims else group
        rows = group[cols].itertuples(index=False, name=None)
        n_series = len(series_dims)
        current = None  # the key of the open series
        indent = "    "
        for rec in rows:
            key = rec[:n_series]
            if n_series and key != current:
                if current is not None:
                    out.append("    </Series>\n" if structure_specific else "    </gen:Series>\n")
                current = key
                if structure_specific:
                    out.append(f"    <Series{_attrs(zip(series_dims, key))}>\n")
                else:
                    values = "".join(f'<gen:Value id="{d}" value={quoteattr(str(v))}/>'
                                     for d, v in zip(series_dims, key))
                    out.append(f"    <gen:Series>\n      <gen:SeriesKey>{values}</gen:SeriesKey>\n")
                indent = "      "
            dims = rec[n_series:n_series + len(obs_dims)]
            value = _value(rec[n_series + len(obs_dims)])
            attrs = list(zip(attributes, rec[n_series + len(obs_dims) + 1:]))
            if structure_specific:
                out.append(f"{indent}<Obs{_attrs(zip(obs_dims, dims))}{_attrs([('OBS_VALUE', value)])}"
                           f"{_attrs(attrs)}/>\n")
                continue
            if len(obs_dims) == 1 and n_series:
                key_xml = f'<gen:ObsDimension value={quoteattr(str(dims[0]))}/>'
            else:
                key_xml = "<gen:ObsKey>" + "".join(f'<gen:Value id="{d}" value={quoteattr(str(v))}/>'
                                                   for d, v in zip(obs_dims, dims)) + "</gen:ObsKey>"
            attr_xml = "".join(f'<gen:Value id="{k}" value={quoteattr(str(v))}/>' for k, v in attrs
                               if not _missing(v))
            attr_xml = f"<gen:Attributes>{attr_xml}</gen:Attributes>" if attr_xml else ""
            out.append(f'{indent}<gen:Obs>{key_xml}<gen:ObsValue value="{value or "NaN"}"/>{attr_xml}</gen:Obs>\n')
        if current is not None:
            out.append("    </Series>\n" if structure_specific else "    </gen:Series>\n")
        out.append("  </mes:DataSet>\n")
    out.append(f"</mes:{root}>\n")
    return "".join(out).encode("utf-8")

