"""Benchmark: what the limits cost. The guarded readers against the same library calls without the checks,
on every real file the load reads (IMDX_MIRROR, default ../shared/data).

* xlsx: ``open_workbook`` + ``rows(sheet)`` for every sheet, against calamine's ``from_path`` +
  ``to_python(skip_empty_area=False)`` (the zip's members checked, each sheet's XML searched for its extent);
* CSV and tab-separated text: ``csvfile.read_csv`` against ``pandas.read_csv`` with the same options
  (one pass over the bytes with numpy before pandas);
* R data: ``rfiles.read_r`` against the same reader on bytes decompressed whole by bz2/gzip (the limits
  decompress a chunk at a time, and check each vector's length).

CPU time of this process (``time.process_time``), the best of ``--repeat`` rounds, so that a busy shared
machine disturbs the figures less than wall time would. Target: the checks cost a few percent.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import os
import time
from pathlib import Path

import pandas as pd

from imdx.sources import registry
from imdx.sources.csvfile import read_csv
from imdx.sources.rfiles import _Reader, read_r
from imdx.sources.xlsx import open_workbook


def files(mirror: Path) -> list[Path]:
    seen = []
    for source in registry().values():
        for spec in source.releases:
            for f in spec.files:
                path = mirror / spec.mirror_folder / f.name
                if path.is_file() and path not in seen:
                    seen.append(path)
    return seen


def csv_options(path: Path) -> dict:
    if path.suffix == ".txt":
        return {"sep": "\t", "quoting": 3, "dtype": str, "keep_default_na": False}
    if path.name.startswith("API_"):
        return {"skiprows": 4, "dtype": str, "keep_default_na": False}
    return {"dtype": str, "keep_default_na": False}


def plain(path: Path) -> None:
    if path.suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    elif path.suffix in (".rda", ".rds"):
        data = path.read_bytes()
        data = bz2.decompress(data) if data[:3] == b"BZh" else gzip.decompress(data) if data[:2] == b"\x1f\x8b" \
            else data
        _Reader(data).objects()
    else:
        pd.read_csv(path, **csv_options(path))


def guarded(path: Path) -> None:
    if path.suffix == ".xlsx":
        with open_workbook(path, "a workbook") as book:
            for name in book.sheet_names:
                book.rows(name)
    elif path.suffix in (".rda", ".rds"):
        read_r(path, "R data")
    else:
        read_csv(path, expected="a table", header_row=5 if path.name.startswith("API_") else 1, **csv_options(path))


def cpu(function, paths: list[Path]) -> float:
    start = time.process_time()
    for path in paths:
        function(path)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mirror", default=os.environ.get("IMDX_MIRROR") or
                        str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    paths = files(Path(args.mirror))
    kinds = {"xlsx": [p for p in paths if p.suffix == ".xlsx"],
             "CSV/text": [p for p in paths if p.suffix in (".csv", ".txt")],
             "R data": [p for p in paths if p.suffix in (".rda", ".rds")]}
    print(f"{len(paths)} files from {args.mirror}; CPU seconds, best of {args.repeat} rounds")
    totals = [0.0, 0.0]
    for kind, group in kinds.items():
        best_plain = best_guarded = float("inf")
        for _ in range(args.repeat):  # interleaved, so that a busy spell hits both alike
            best_plain = min(best_plain, cpu(plain, group))
            best_guarded = min(best_guarded, cpu(guarded, group))
        totals[0] += best_plain
        totals[1] += best_guarded
        print(f"{kind:10} {len(group):3} files   without limits {best_plain:6.2f} s   with limits {best_guarded:6.2f} s"
              f"   ratio {best_guarded / best_plain:5.2f}")
    print(f"{'all':10} {len(paths):3} files   without limits {totals[0]:6.2f} s   with limits {totals[1]:6.2f} s"
          f"   ratio {totals[1] / totals[0]:5.2f}  (target: a few percent)")


if __name__ == "__main__":
    main()
