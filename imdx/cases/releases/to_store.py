"""Publishing an approved *public* release into the statistics store as dataflow ``trafficking_victims``,
so the API and the portal show it like any other statistics.

Only a data protection officer may do this, only for a published release whose audience is
``public``; the numbers are those of the release files, never recomputed from case records.
Rows whose year was generalised to a period (``2015-2019``) or withheld are not stored (the
store's time dimension is a year); an info issue says how many, and the release files keep them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from imdx.cases.errors import ReleaseError
from imdx.cases.releases.observations import observation_tables
from imdx.ingest import ingest
from imdx.model.report import Issue, Report
from imdx.sources.base import LoadContext, finish
from imdx.sources.fetch import sha256_of
from imdx.store.base import FileRecord, ReleaseRecord

FLOW = "trafficking_victims"
#: codes of the release files that are not countries
SPECIAL = {"OTHER": "_O", "*": "_O", "_U": "_U", "_T": "_T"}


def store_release(svc, principal, release_id: str, store) -> int:
    """Write the public release ``release_id`` of the case database into ``store``; returns its id there."""
    from imdx.cases.releases.publish import approvable, release_info

    approvable(svc, principal, release_id)  # the owning organisation's DPO only; refusals audited
    info = release_info(svc, principal, release_id)
    if info["status"] != "published" or info["audience"] != "public":
        raise ReleaseError(f"release {release_id} is {info['status']} for audience {info['audience']!r}: only a "
                           "published release for the public can go into the statistics store")
    folder = Path(svc.settings.release_dir) / release_id
    manifest = json.loads((folder / "release.json").read_text())
    areas = store.areas().copy()  # the store's is shared: the release's names are added to a copy
    observations, report = release_observations(folder, areas)
    files = [FileRecord(name=name, url=f"imdx-cases://releases/{release_id}/{name}", sha256=sha256_of(folder / name),
                        size=(folder / name).stat().st_size, retrieved_from=str(folder / name),
                        retrieved_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
             for name in ["release.json", *manifest["files"]]]
    approved = svc.store.query("SELECT approved_at FROM releases WHERE release_id = ?", [release_id])[0][0]
    published = approved.date() if approved else dt.date.today()
    record = ReleaseRecord(source="cases", key=f"release-{release_id}", title=f"Case database {info['kind']} release",
                           edition=release_id, published=published,
                           licence="published aggregate statistics; see docs/cases.md", files=files)
    if store.has_release(record):
        raise ReleaseError(f"release {release_id} is in the store already")
    store_id = ingest(store, record, {FLOW: observations}, report=report, areas=areas)
    svc.audit.record(principal.username, "release:store", release_id, "ok")
    return store_id


def release_observations(folder: Path, areas) -> tuple[pd.DataFrame, Report]:
    """The release's numbers in the observation model, and the report of what could not be stored."""
    obs = observation_tables(folder)
    report = Report()
    years = pd.to_numeric(obs["year"], errors="coerce")
    skipped = obs[years.isna()]
    if len(skipped):
        report.add(Issue("year-not-stored", f"{len(skipped)} numbers of the release have a generalised or withheld "
                         "year and were not stored (the release files keep them)", severity="info",
                         source="cases", dataflow=FLOW, n_obs=len(skipped)))
    obs = obs[years.notna()].assign(year=years[years.notna()].astype(int))
    ctx = LoadContext(areas=areas, report=report, source="cases", dataflow=FLOW)
    frame = pd.DataFrame({"year": obs["year"], "sex": obs["sex"], "age_band": obs["age_band"],
                          "exploitation_type": obs["exploitation_type"], "release_kind": obs["release_kind"],
                          "table": obs["table"], "value": obs["value"].astype(float),
                          "obs_status": obs["obs_status"], "note": "epsilon " + obs["epsilon"].astype(str),
                          "cell_file": obs["table"] + ".csv"})
    for dim in ("country", "citizenship"):
        raw = obs[dim].astype(str)
        special = raw.map(SPECIAL)
        mapped = ctx.map_areas(raw.where(special.isna()), ("iso3", "code"), file="release files", column=dim)
        frame[dim] = special.fillna(mapped)
    return finish(FLOW, frame), report
