"""UN M49 codes and UN DESA's location annex: the reference for the area table (no dataflow).

Loading it records the two files as a release, so the area table has provenance like any data.
"""

from __future__ import annotations

from datetime import date

from imdx.codes.build import ANNEX_FILE, M49_FILE
from imdx.sources.base import ReleaseSpec, Source, SourceFile


def _build(paths, ctx):
    return {}  # the area table is built by imdx.codes.build from these same files


SOURCE = Source(
    name="m49",
    title="Standard country or area codes for statistical use (M49), and UN DESA's IMS 2020 location annex",
    publisher="United Nations Statistics Division; UN DESA Population Division",
    homepage="https://unstats.un.org/unsd/methodology/m49/",
    releases=(ReleaseSpec(
        source="m49", key="m49", title="UNSD M49 overview and IMS 2020 aggregates correspondence table",
        edition="2020", published=date(2021, 1, 15), licence="UN terms of use; annex CC BY 3.0 IGO",
        files=(SourceFile(M49_FILE, "https://unstats.un.org/unsd/methodology/m49/overview/",
                          "5acdea84f0191359e0c592e512320c2257b16bb49b4b682ab8e85cd14a194742"),
               SourceFile(ANNEX_FILE, "https://www.un.org/development/desa/pd/sites/www.un.org.development.desa.pd/"
                          "files/undesa_pd_2020_ims_aggregates_correspondence_table.xlsx",
                          "f8cefb646d13154c05d98ffc77f6d23a2a7f02c05fbca3a33d1f519f50202fd3")),
        dataflows=(), build=_build),),
)
