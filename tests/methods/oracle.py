"""Read the migest oracle files from the shared folder (never copied into the repository).

The shared folder is ``$IMDX_SHARED`` or, by default, the ``shared`` folder beside the repository
(``/work/shared`` for ``/work/main``).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def shared_dir() -> Path:
    env = os.environ.get("IMDX_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared"


ORACLE = shared_dir() / "oracles" / "migest"


if not ORACLE.is_dir():
    # fail, never skip: a skipped oracle test proves nothing in CI. Raised while the test module is
    # collected, so pytest reports it as an error with this message and exits non-zero.
    pytest.fail(f"the migest oracle folder {ORACLE} is missing: the oracle tests compare imdx with migest's "
                "saved outputs. Set IMDX_SHARED to the shared folder that holds oracles/migest (default: the "
                "'shared' folder beside the repository).", pytrace=False)

#: kept for the test modules that set ``pytestmark = needs_oracle`` (no marks: the check above already
#: ran at import, and fails instead of skipping)
needs_oracle: list = []


@cache
def matrix(prefix: str, name: str, folder: str = "inputs") -> np.ndarray:
    """A square CSV (first column = row labels) as a float array, in the file's own order."""
    suffix = ".csv" if folder == "inputs" else ".csv.gz"
    path = ORACLE / folder / f"{prefix}_{name}{suffix}"
    df = pd.read_csv(path, index_col=0)
    assert list(df.index.astype(str)) == list(df.columns.astype(str)), f"{path}: row and column labels differ"
    return df.to_numpy(dtype=float)


@cache
def labels(prefix: str) -> tuple[str, ...]:
    return tuple(pd.read_csv(ORACLE / "inputs" / f"{prefix}_stock_start.csv", index_col=0).columns.astype(str))


@cache
def vital(prefix: str) -> pd.DataFrame:
    v = pd.read_csv(ORACLE / "inputs" / f"{prefix}_vital.csv").set_index("region")
    assert tuple(v.index.astype(str)) == labels(prefix)
    return v


def output_matrix(prefix: str, case: str, positional: bool = False) -> np.ndarray:
    """An orig x dest (or pob x por) oracle matrix, reordered to the input region order
    (``positional``: the file has no region names, only positions 1..n)."""
    df = pd.read_csv(ORACLE / "outputs" / f"{prefix}_{case}.csv.gz", index_col=0)
    if positional:
        assert list(df.columns.astype(str)) == [str(i + 1) for i in range(len(df))]
        return df.to_numpy(dtype=float)
    lab = list(labels(prefix))
    return df.loc[lab, lab].to_numpy(dtype=float)


def output_array3(prefix: str, case: str, suffix: str = "flow3d", extra_orig: tuple[str, ...] = (),
                  extra_dest: tuple[str, ...] = ()) -> np.ndarray:
    """A long-form 3-D oracle (non-zero cells only) as a dense array in input order; ``extra_*``
    labels are appended after the regions on the first / second axis (e.g. ``("birth", "outside")``)."""
    df = pd.read_csv(ORACLE / "outputs" / f"{prefix}_{case}_{suffix}.csv.gz")
    lab = list(labels(prefix))
    ax_i = {name: i for i, name in enumerate(lab + list(extra_orig))}
    ax_j = {name: i for i, name in enumerate(lab + list(extra_dest))}
    pob = {name: i for i, name in enumerate(lab)}
    cols = df.columns
    n = len(lab)
    out = np.zeros((n + len(extra_orig), n + len(extra_dest), n))
    i = df[cols[0]].astype(str).map(ax_i).to_numpy()
    j = df[cols[1]].astype(str).map(ax_j).to_numpy()
    k = df[cols[2]].astype(str).map(pob).to_numpy()
    out[i, j, k] = df["value"].to_numpy(dtype=float)
    return out


@cache
def timings() -> pd.DataFrame:
    frames = [pd.read_csv(ORACLE / "outputs" / f) .assign(prefix=f.split("_")[0])
              for f in ("n050_timings.csv", "n050_timings_extra.csv", "real_timings.csv")]
    return pd.concat(frames, ignore_index=True)


def distance_seed(prefix: str = "n050") -> np.ndarray:
    """``seed_m = 1 / (dist + 0.05)`` as in the oracle calls (diagonal 20)."""
    return 1.0 / (matrix(prefix, "distance") + 0.05)
