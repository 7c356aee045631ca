"""SDMX 2.1 structures for imdx's dataflows, as ``sdmx`` (sdmx1) model objects.

Every dataflow of a store (imdx's own and those SDMX imports brought) becomes, under agency
``IMDX``, version ``1.0``:

* a ``DataflowDefinition`` whose id is the dataflow id in upper case (``MIGRANT_STOCK``);
* a ``DataStructureDefinition`` ``DSD_<FLOW>``: one ``Dimension`` per imdx dimension (upper case:
  ``DESTINATION``, ``ORIGIN``, ``SEX``, ``AGE``), the ``TimeDimension`` ``TIME_PERIOD`` (imdx's
  ``year``), the ``PrimaryMeasure`` ``OBS_VALUE`` and the observation-level attributes
  ``OBS_STATUS``, ``UNIT``, ``DEFINITION``, ``NOTE`` and ``SOURCE`` (the imdx source: two sources
  may publish a value for one key, e.g. population from WPP and from WDI); and, for a dataflow with
  measures beside the value (estimates' ``lower`` and ``upper``), one numeric observation-level
  attribute per measure: ``LOWER_BOUND`` and ``UPPER_BOUND``, the bounds of the value's interval
  (the names the SDG global DSD uses for them; SDMX's cross-domain concepts have none: ``OBS_CONF``
  is confidentiality), conditional, so that a value without an interval carries neither;
* code lists: ``CL_AREA`` (the store's area table: ISO3 codes for countries, M49 codes for regions,
  ...), ``CL_SEX``, ``CL_AGE``, ``CL_POPULATION_TYPE`` and the other imdx code lists, ``CL_OBS_STATUS``,
  ``CL_DEFINITION``; and, for dimensions whose codes are kept as published (``free``), a code list
  ``CL_<FLOW>_<DIM>`` of the codes found in the store;
* one concept scheme ``CS_IMDX`` holding every concept used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from sdmx.model import common
from sdmx.model import v21 as m

from imdx.model import codelists as cl
from imdx.model.dataflows import Dataflow
from imdx.store.base import Store

AGENCY_ID = "IMDX"
VERSION = "1.0"
AGENCY = m.Agency(id=AGENCY_ID, name="imdx: International Migration Data eXchange")

#: imdx code lists published as SDMX code lists (name in imdx.model.codelists → (SDMX id, name))
CODELISTS = {
    "SEX": ("CL_SEX", "Sex"), "AGE": ("CL_AGE", "Age group"),
    "POPULATION_TYPE": ("CL_POPULATION_TYPE", "UNHCR population type"),
    "REMITTANCE_FLOW": ("CL_REMITTANCE_FLOW", "Direction of remittances"),
    "COUNT_UNIT": ("CL_COUNT_UNIT", "Persons or cases"),
    "ASYLUM_DECISION": ("CL_ASYLUM_DECISION", "Decision on an asylum application"),
    "REPORTER": ("CL_REPORTER", "Who reported a flow (origin or destination country)"),
    "MIGRANT_CRITERION": ("CL_MIGRANT_CRITERION", "How the reporting country defines a migrant"),
    "FLOW_COVERAGE": ("CL_FLOW_COVERAGE", "Whom a reported flow covers"),
    "EXPLOITATION": ("CL_EXPLOITATION", "Form of exploitation of detected trafficking victims"),
    "REMITTANCE_AMOUNT": ("CL_REMITTANCE_AMOUNT", "Amount sent (remittance costs)"),
    "REMITTANCE_COST": ("CL_REMITTANCE_COST", "Component of the cost of sending remittances"),
    "OBS_STATUS": ("CL_OBS_STATUS", "Observation status"),
    "STOCK_DEFINITION": ("CL_DEFINITION", "Definition of the migrant stock (UN DESA type of data)"),
}
ATTRIBUTE_CONCEPTS = {
    "OBS_STATUS": "Observation status", "UNIT": "Unit of measure",
    "DEFINITION": "Definition used for the observation", "NOTE": "Footnote marks and notes as published",
    "SOURCE": "imdx source (data provider) the value comes from: wpp, undesa_ims, wdi, sdmx, ...",
}
#: a dataflow's measures (numeric columns beside ``value``) as observation attributes: imdx name → (SDMX id, name)
MEASURE_ATTRIBUTES = {
    "lower": ("LOWER_BOUND", "Lower bound of the interval around the value (its level is in the definition)"),
    "upper": ("UPPER_BOUND", "Upper bound of the interval around the value (its level is in the definition)"),
}
_ID = re.compile(r"[A-Za-z0-9_@$\-]+")
MAX_FREE_CODES = 5000


def sdmx_id(flow_id: str) -> str:
    return flow_id.upper()


def dim_id(name: str) -> str:
    return "TIME_PERIOD" if name == "year" else name.upper()


def measure_attributes(flow: Dataflow) -> dict[str, str]:
    """SDMX attribute id → imdx measure column, for the measures ``flow`` stores beside its value."""
    return {MEASURE_ATTRIBUTES.get(name, (name.upper(),))[0]: name for name in flow.measures}


def _maintained(cls, id, name, **kw):
    return cls(id=id, name=name, maintainer=AGENCY, version=VERSION, is_final=True, **kw)


def codelist(id: str, name: str, codes: dict[str, str]) -> m.Codelist:
    result = _maintained(m.Codelist, id, name)
    for code, label in codes.items():
        result.append(m.Code(id=code, name=label if isinstance(label, str) and label else code))
    return result


@dataclass
class Structures:
    """The SDMX structures of every dataflow a store answers for; built lazily, per flow."""

    store: Store

    @cached_property
    def flow_ids(self) -> dict[str, str]:
        """SDMX dataflow id → imdx dataflow id."""
        return {sdmx_id(f): f for f in self.store.dataflow_ids()}

    def imdx_id(self, flow: str) -> str | None:
        return self.flow_ids.get(flow.upper())

    @cached_property
    def area_codelist(self) -> m.Codelist:
        areas = self.store.areas()
        codes = {} if areas is None else {r.code: r.name for r in areas.table().itertuples() if _ID.fullmatch(r.code)}
        return codelist("CL_AREA", "Countries, areas and aggregates (imdx area codes: ISO 3166 alpha-3 for "
                        "countries, UN M49 codes for regions)", codes)

    @cached_property
    def fixed_codelists(self) -> dict[str, m.Codelist]:
        return {sid: codelist(sid, name, getattr(cl, key)) for key, (sid, name) in CODELISTS.items()}

    def codelists(self) -> list[m.Codelist]:
        lists = {cl.id: cl for cl in [self.area_codelist, *self.fixed_codelists.values()]}
        for flow_id in self.store.dataflow_ids():
            for cl_ in self.flow_codelists(flow_id):
                lists.setdefault(cl_.id, cl_)
        return list(lists.values())

    def codelist(self, id: str) -> m.Codelist | None:
        for c in self.codelists():
            if c.id == id.upper():
                return c
        return None

    # -- per dataflow -------------------------------------------------------------------------
    def flow(self, flow_id: str) -> Dataflow:
        return self.store.dataflow(flow_id)

    def free_codelist(self, flow_id: str, dim: str) -> m.Codelist | None:
        codes = [c for c in self.store.distinct(flow_id, dim) if c is not None]  # none: nothing stored
        if not codes or len(codes) > MAX_FREE_CODES or not all(_ID.fullmatch(str(c)) for c in codes):
            return None  # published codes that are not valid SDMX ids: the dimension is left uncoded
        return codelist(f"CL_{sdmx_id(flow_id)}_{dim.upper()}", f"{dim} (codes as published)",
                        {str(c): str(c) for c in codes})

    def dimension_codelist(self, flow_id: str, dim) -> m.Codelist | None:
        if dim.is_area:
            return self.area_codelist
        if dim.codelist == "free":
            return self._free(flow_id, dim.name)
        sid = CODELISTS.get(dim.codelist, (None,))[0]
        return self.fixed_codelists.get(sid)

    def _free(self, flow_id, dim):
        key = (flow_id, dim)
        cache = self.__dict__.setdefault("_free_cache", {})
        if key not in cache:
            cache[key] = self.free_codelist(flow_id, dim)
        return cache[key]

    def flow_codelists(self, flow_id: str) -> list[m.Codelist]:
        flow = self.flow(flow_id)
        out = [c for d in flow.dimensions if (c := self.dimension_codelist(flow_id, d)) is not None]
        out.append(self.fixed_codelists["CL_OBS_STATUS"])
        if flow.definitions:
            out.append(self.definition_codelist(flow))
        return list({c.id: c for c in out}.values())

    def definition_codelist(self, flow: Dataflow) -> m.Codelist:
        if flow.definitions == cl.STOCK_DEFINITION:
            return self.fixed_codelists["CL_DEFINITION"]
        return codelist(f"CL_{sdmx_id(flow.id)}_DEFINITION", f"Definitions used in {flow.id}", flow.definitions)

    @cached_property
    def concept_scheme(self) -> m.ConceptScheme:
        cs = _maintained(m.ConceptScheme, "CS_IMDX", "imdx concepts")
        seen, measures = {}, {}
        for flow_id in self.store.dataflow_ids():
            flow = self.flow(flow_id)
            for d in flow.dimensions:
                seen.setdefault(dim_id(d.name), d.description)
            for sid, name in measure_attributes(flow).items():
                measures.setdefault(sid, MEASURE_ATTRIBUTES.get(name, (sid, f"{name} (a measure beside the value)"))[1])
        seen.update({"TIME_PERIOD": "Time period (year)", "OBS_VALUE": "Observation value"})
        seen.update(ATTRIBUTE_CONCEPTS)
        seen.update(measures)
        for cid, name in seen.items():
            cs.append(m.Concept(id=cid, name=name))
        return cs

    def _concept(self, cid: str) -> m.Concept:
        return self.concept_scheme.get(cid)

    def dsd(self, flow_id: str) -> m.DataStructureDefinition:
        cache = self.__dict__.setdefault("_dsd_cache", {})
        if flow_id in cache:
            return cache[flow_id]
        flow = self.flow(flow_id)
        dsd = _maintained(m.DataStructureDefinition, f"DSD_{sdmx_id(flow.id)}", flow.name,
                          description=flow.description)
        for order, d in enumerate(flow.dimensions):
            codes = self.dimension_codelist(flow_id, d)
            rep = common.Representation(enumerated=codes) if codes is not None else \
                common.Representation(non_enumerated=[common.Facet(value_type=common.FacetValueType.string)])
            dsd.dimensions.append(m.Dimension(id=dim_id(d.name), order=order, local_representation=rep,
                                              concept_identity=self._concept(dim_id(d.name))))
        dsd.dimensions.append(m.TimeDimension(
            id="TIME_PERIOD", order=len(flow.dimensions), concept_identity=self._concept("TIME_PERIOD"),
            local_representation=common.Representation(
                non_enumerated=[common.Facet(value_type=common.FacetValueType.observationalTimePeriod)])))
        dsd.measures.append(m.PrimaryMeasure(id="OBS_VALUE", concept_identity=self._concept("OBS_VALUE")))
        obs_rel = m.PrimaryMeasureRelationship()
        coded = {"OBS_STATUS": self.fixed_codelists["CL_OBS_STATUS"],
                 "DEFINITION": self.definition_codelist(flow) if flow.definitions else None}
        for aid in ATTRIBUTE_CONCEPTS:
            codes = coded.get(aid)
            rep = common.Representation(enumerated=codes) if codes is not None else \
                common.Representation(non_enumerated=[common.Facet(value_type=common.FacetValueType.string)])
            dsd.attributes.append(m.DataAttribute(
                id=aid, related_to=obs_rel, concept_identity=self._concept(aid), local_representation=rep,
                usage_status=m.UsageStatus.mandatory if aid == "OBS_STATUS" else m.UsageStatus.conditional))
        for aid in measure_attributes(flow):  # numbers beside the value: LOWER_BOUND, UPPER_BOUND
            dsd.attributes.append(m.DataAttribute(
                id=aid, related_to=obs_rel, concept_identity=self._concept(aid), usage_status=m.UsageStatus.conditional,
                local_representation=common.Representation(
                    non_enumerated=[common.Facet(value_type=common.FacetValueType.double)])))
        cache[flow_id] = dsd
        return dsd

    def dataflow(self, flow_id: str) -> m.DataflowDefinition:
        flow = self.flow(flow_id)
        return _maintained(m.DataflowDefinition, sdmx_id(flow.id), flow.name, description=flow.description,
                           structure=self.dsd(flow_id))
