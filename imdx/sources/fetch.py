"""Getting a release's files: from the mirror folder when one is set, else from the publisher.

Every file is hashed (sha256); a known checksum that does not match is refused, so a changed or
truncated download never reaches the store silently.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from imdx.errors import SourceUnavailableError
from imdx.sources.base import ReleaseSpec, SourceFile
from imdx.store.base import FileRecord


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_release(spec: ReleaseSpec, *, mirror: Path | None, cache: Path,
                  timeout: float = 60.0) -> tuple[dict[str, Path], list[FileRecord]]:
    paths, records = {}, []
    for file in spec.files:
        path, origin = _locate(spec.source, file, mirror=mirror, cache=cache, timeout=timeout)
        paths[file.name] = path
        records.append(FileRecord(name=file.name, url=file.url, sha256=sha256_of(path), size=path.stat().st_size,
                                  retrieved_from=origin, retrieved_at=datetime.now(timezone.utc).replace(tzinfo=None)))
    return paths, records


def _locate(source: str, file: SourceFile, *, mirror, cache, timeout) -> tuple[Path, str]:
    if mirror is not None:
        path = mirror / source / file.name
        if path.is_file():
            return path, str(path)
        raise SourceUnavailableError(
            f"{file.name} of {source} is not in the mirror folder {mirror} (looked for {path}). Put the file "
            f"published at {file.url} there, or unset IMDX_MIRROR to download it.")
    target = cache / source / file.name
    if target.is_file():
        return target, str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(file.url, timeout=timeout) as answer, open(partial, "wb") as out:
            shutil.copyfileobj(answer, out)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise SourceUnavailableError(
            f"could not download {file.name} of {source} from {file.url} ({err}). Set IMDX_MIRROR to a folder "
            "holding the publishers' files to load offline.") from err
    partial.replace(target)
    return target, file.url
