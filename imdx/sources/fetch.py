"""Getting a release's files: from the mirror folder, or from the publisher with a safety net.

Order, for each file of a release:

1. **Mirror (offline mode).** When a mirror folder is set (``IMDX_MIRROR`` / ``--mirror``) and holds
   the file (``<mirror>/<source>/<name>``), it is used as is.
2. **Cache.** Downloads are kept by checksum (content-addressed) under ``<cache>/objects/``; when the
   bytes with the checksum the source declares are there, no download happens.
3. **Publisher.** Downloaded with httpx: connect and read timeouts, retries with exponential backoff
   on 5xx, 429, timeouts, dropped connections and truncated bodies (fewer bytes than
   Content-Length), a bounded number of times. 404/403/410 are not retried.
4. **Fallback.** When the publisher cannot be reached or refuses, the file is taken from the
   fallback folder (``fallback=`` or ``IMDX_FALLBACK_MIRROR``; the mirror folder when one is set), or
   else from the last vintage in the cache, and that is said: a warning is logged and the file's
   record says ``retrieved_from="fallback:<path> (publisher failed: <reason>)"``.

A publisher that answers a web page (``text/html``) for a file that is not one has given a landing
page, not the file: that is not retried and falls back. A publisher that answers a ZIP archive for a
file that is not one (the World Bank's ``?downloadformat=csv``) has packed the file: it is the
member of that name; one download serves every file of a release that comes from the same URL.

Bytes that differ from the declared checksum are stored as a **new vintage** beside the old ones
(the load records a ``file-changed`` issue); cached bytes are never overwritten. The files of a
release are laid out for the reader as ``<cache>/files/<source>/<name>`` (links to the objects).

Limits (:mod:`imdx.limits`): a download stops, and is refused, past ``max_file`` bytes (at once when
the publisher's Content-Length says more); a ZIP member is taken only within ``max_unpacked`` and
``max_ratio``. The bytes are never kept in memory whole.

Publishers' URLs can be rewritten, for tests or a proxy: ``url_map`` (a dict official URL → URL, or
a base URL string) or the environment variable ``IMDX_PUBLISHER_BASE``; with a base,
``https://host/path`` becomes ``<base>/host/path``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from imdx import limits
from imdx.errors import SourceUnavailableError
from imdx.sources.base import ReleaseSpec, SourceFile
from imdx.store.base import FileRecord

log = logging.getLogger("imdx.fetch")
USER_AGENT = "imdx (International Migration Data eXchange; https://github.com/imdx)"
PERMANENT = {401, 403, 404, 410, 451}


@dataclass(frozen=True)
class Policy:
    """How hard to try: attempts = 1 + retries; the wait doubles from ``backoff`` up to ``max_backoff``."""

    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


class DownloadError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publisher_url(url: str, url_map: Mapping[str, str] | str | None = None) -> str:
    """The URL to download ``url`` from: as published, or rewritten by ``url_map``/``IMDX_PUBLISHER_BASE``."""
    if url_map is None:
        url_map = os.environ.get("IMDX_PUBLISHER_BASE") or None
    if url_map is None:
        return url
    if isinstance(url_map, str):
        parts = urlsplit(url)
        rest = parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{url_map.rstrip('/')}/{parts.netloc}{rest}"
    return url_map.get(url, url)


# -- the content-addressed cache -------------------------------------------------------------
class Cache:
    """``objects/<sha[:2]>/<sha>``: bytes by checksum; ``vintages/<source>/<name>.json``: every
    vintage seen of a file (sha256, size, url, retrieved_at); ``files/<source>/<name>``: the current
    vintage under its published name (a hard link or copy of the object)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def object(self, sha: str) -> Path:
        return self.root / "objects" / sha[:2] / sha

    def has(self, sha: str | None) -> bool:
        return bool(sha) and self.object(sha).is_file()

    def vintages(self, source: str, name: str) -> list[dict]:
        path = self.root / "vintages" / source / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else []

    def add_vintage(self, source: str, name: str, sha: str, size: int, url: str) -> None:
        path = self.root / "vintages" / source / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        items = [v for v in self.vintages(source, name) if v["sha256"] != sha]
        items.append({"sha256": sha, "size": size, "url": url,
                      "retrieved_at": datetime.now(UTC).isoformat(timespec="seconds")})
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(items, indent=1))
        tmp.replace(path)

    def put(self, part: Path, sha: str) -> Path:
        target = self.object(sha)
        if target.is_file():
            part.unlink(missing_ok=True)  # same bytes already kept
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            part.replace(target)
        return target

    def view(self, source: str, name: str, sha: str) -> Path:
        """``files/<source>/<name>`` pointing at the object ``sha`` (replaced atomically)."""
        path = self.root / "files" / source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size == self.object(sha).stat().st_size and sha256_of(path) == sha:
            return path
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            os.link(self.object(sha), tmp)
        except OSError:
            shutil.copyfile(self.object(sha), tmp)
        tmp.replace(path)
        return path

    def adopt(self, path: Path, sha: str) -> None:
        """Keep a copy of a local file (e.g. from a fallback folder) as the object ``sha``."""
        if not self.has(sha):
            part = self.partial()
            shutil.copyfile(path, part)
            self.put(part, sha)

    def partial(self) -> Path:
        path = self.root / "tmp" / f"{uuid.uuid4().hex}.part"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


# -- downloading -----------------------------------------------------------------------------
def _get_once(client, url: str, part: Path, *, html_ok: bool = False) -> tuple[str, int]:
    import httpx

    digest, received = hashlib.sha256(), 0
    try:
        with client.stream("GET", url) as answer:
            if answer.status_code in PERMANENT:
                raise DownloadError(f"HTTP {answer.status_code} from {url}", permanent=True)
            if answer.status_code != 200:
                raise DownloadError(f"HTTP {answer.status_code} from {url}")
            if not html_ok and answer.headers.get("content-type", "").startswith("text/html"):
                raise DownloadError(f"{url} answered with a web page (text/html), not the file: it is a landing page "
                                    "where a person clicks to download", permanent=True)
            expected = answer.headers.get("content-length")
            cap = limits.current().max_file
            if expected is not None and expected.isdigit():
                limits.check(url, "the download (its Content-Length)", int(expected), "max_file")
            with open(part, "wb") as out:
                for block in answer.iter_bytes(1 << 16):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    if received > cap:
                        limits.check(url, f"the download (stopped at {limits.size(received)})", received, "max_file")
            if expected is not None and answer.headers.get("content-encoding") in (None, "identity") \
                    and int(expected) != received:
                raise DownloadError(f"truncated download from {url}: {received} of {expected} bytes")
    except httpx.TimeoutException as err:
        raise DownloadError(f"timed out ({type(err).__name__}) fetching {url}") from err
    except httpx.RemoteProtocolError as err:  # h11 checks Content-Length too: a body cut short lands here
        raise DownloadError(f"truncated download from {url} ({err})") from err
    except httpx.ConnectError as err:
        # a host name that does not resolve means no network (or a wrong URL): waiting will not help
        unknown_host = isinstance(err.__cause__ or err.__context__, socket.gaierror) or "Name or service" in str(err)
        raise DownloadError(f"{type(err).__name__} fetching {url}: {err}", permanent=unknown_host) from err
    except httpx.HTTPError as err:
        raise DownloadError(f"{type(err).__name__} fetching {url}: {err}") from err
    return digest.hexdigest(), received


def download_to_cache(url: str, cache: Cache, *, policy: Policy = Policy(), client=None,
                      sleep: Callable[[float], None] = time.sleep, html_ok: bool = True) -> tuple[str, int]:
    """Download ``url`` into the cache; returns (sha256, size). Retries transient failures with
    exponential backoff; raises :class:`DownloadError` when it gives up."""
    import httpx

    own = client is None
    if own:
        client = httpx.Client(timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
                              follow_redirects=True, headers={"User-Agent": USER_AGENT})
    try:
        last: DownloadError | None = None
        for attempt in range(policy.retries + 1):
            part = cache.partial()
            try:
                sha, size = _get_once(client, url, part, html_ok=html_ok)
                cache.put(part, sha)
                return sha, size
            except limits.LimitError:
                part.unlink(missing_ok=True)
                raise
            except DownloadError as err:
                part.unlink(missing_ok=True)
                last = err
                if err.permanent or attempt == policy.retries:
                    break
                wait = min(policy.max_backoff, policy.backoff * 2 ** attempt) * (0.8 + 0.4 * random.random())
                log.info("%s; trying again in %.1fs (attempt %d of %d)", err.reason, wait, attempt + 2,
                         policy.retries + 1)
                sleep(wait)
        tries = "" if last.permanent else f" after {policy.retries + 1} attempts"
        raise DownloadError(f"{last.reason}{tries}", permanent=last.permanent)
    finally:
        if own:
            client.close()


def download(url: str, *, cache: Path, policy: Policy = Policy(), url_map=None) -> Path:
    """Download one URL (e.g. an SDMX message) into a content-addressed cache; returns the file's path."""
    store = Cache(cache)
    try:
        sha, _ = download_to_cache(publisher_url(url, url_map), store, policy=policy)
    except DownloadError as err:
        raise SourceUnavailableError(f"could not download {url}: {err.reason}") from err
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "download"
    return store.view("urls", f"{sha[:12]}-{name}", sha)


# -- a release's files -----------------------------------------------------------------------
def _fallback_folder(fallback: Path | None, mirror: Path | None) -> Path | None:
    if fallback is not None:
        return Path(fallback)
    env = os.environ.get("IMDX_FALLBACK_MIRROR")
    return Path(env) if env else mirror


def fetch_file(source: str, file: SourceFile, *, mirror: Path | None, cache: Path, policy: Policy = Policy(),
               url_map=None, fallback: Path | None = None, refresh: bool = False, client=None,
               sleep: Callable[[float], None] = time.sleep, seen: dict | None = None) -> tuple[Path, str]:
    """One file: its local path and where it came from (see the module docstring for the order)."""
    if mirror is not None:
        path = Path(mirror) / source / file.name
        if path.is_file():
            return path, str(path)
    store = Cache(cache)
    if not refresh:
        if store.has(file.sha256):
            return store.view(source, file.name, file.sha256), f"cache:{store.object(file.sha256)} (sha256 verified)"
        known = store.vintages(source, file.name)
        if file.sha256 is None and known and store.has(known[-1]["sha256"]):
            sha = known[-1]["sha256"]
            return (store.view(source, file.name, sha),
                    f"cache:{store.object(sha)} (downloaded {known[-1]['retrieved_at']})")
    url = publisher_url(file.url, url_map)
    seen = {} if seen is None else seen
    origin = file.url
    try:
        if url not in seen:  # several files of a release can come from one download (a ZIP archive)
            seen[url] = download_to_cache(url, store, policy=policy, client=client, sleep=sleep,
                                          html_ok=file.name.lower().endswith((".html", ".htm")))
        sha, size = seen[url]
        if _is_zip(store.object(sha)) and not file.name.lower().endswith(".zip"):
            packed = _zip_member(store, sha, file.name)
            if packed is not None:  # else a zip-based format itself (xlsx, ods, ...)
                sha, size, member = packed
                origin = f"{file.url} (member {member} of the ZIP archive)"
    except DownloadError as err:
        return _fall_back(source, file, store, _fallback_folder(fallback, mirror), err.reason)
    except limits.LimitError as err:  # too big: refused, never replaced by a fallback copy
        raise err.about(f"{source}/{file.name} (downloaded from {url})") from None
    previous = [v["sha256"] for v in store.vintages(source, file.name)]
    store.add_vintage(source, file.name, sha, size, file.url)
    if file.sha256 and sha != file.sha256:
        kept = f"; the previous bytes are kept in {store.object(file.sha256)}" if store.has(file.sha256) else ""
        log.warning("%s of %s: the publisher's bytes changed (sha256 %s…, known %s…): kept as a new vintage%s",
                    file.name, source, sha[:12], file.sha256[:12], kept)
    elif previous and sha not in previous:
        log.warning("%s of %s: a new vintage (sha256 %s…) beside %d earlier one(s)", file.name, source, sha[:12],
                    len(previous))
    return store.view(source, file.name, sha), origin



def public_origin(retrieved_from: str | None) -> str | None:
    """Where a file was read from, as a server shows it to the public: a publisher's URL as it is, anything read
    from this machine (the mirror, the cache, a fallback copy) without its path, which is the server's business."""
    if not retrieved_from or retrieved_from.startswith(("https://", "http://")) or retrieved_from == "store":
        return retrieved_from
    reason = retrieved_from[retrieved_from.index(" ("):] if " (" in retrieved_from else ""
    if retrieved_from.startswith("cache:"):
        return "the download cache" + reason
    if retrieved_from.startswith("fallback:"):
        return "a fallback copy" + reason
    return "a local mirror of the publisher's files"

def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _zip_member(store: Cache, sha: str, name: str) -> tuple[str, int, str] | None:
    """When the publisher answered a ZIP archive holding a member of the file's name (the World Bank's
    ``?downloadformat=csv``), that member, kept in the cache by its own checksum; else None."""
    import zipfile

    with zipfile.ZipFile(store.object(sha)) as archive:
        members = [m for m in archive.infolist() if Path(m.filename).name == Path(name).name]
        if not members:
            return None
        member = members[0]
        what = f"member {member.filename} of the ZIP archive, unpacked"
        limits.check(name, what, member.file_size, "max_unpacked")
        if member.file_size > limits.RATIO_GRACE:
            limits.check(name, what + f" ({limits.size(member.file_size)} from {limits.size(member.compress_size)})",
                         member.file_size / max(member.compress_size, 1), "max_ratio")
        members = [member.filename]
        part = store.partial()
        digest = hashlib.sha256()
        with archive.open(members[0]) as src, open(part, "wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
    member_sha = digest.hexdigest()
    store.put(part, member_sha)
    return member_sha, store.object(member_sha).stat().st_size, members[0]


def _fall_back(source: str, file: SourceFile, store: Cache, folder: Path | None, reason: str) -> tuple[Path, str]:
    if folder is not None and (Path(folder) / source / file.name).is_file():
        path = Path(folder) / source / file.name
        log.warning("publisher unreachable for %s of %s (%s): using the mirror copy %s", file.name, source, reason,
                    path)
        return path, f"fallback:{path} (publisher failed: {reason})"
    known = store.vintages(source, file.name)
    for vintage in reversed(known):
        if store.has(vintage["sha256"]):
            sha = vintage["sha256"]
            log.warning("publisher unreachable for %s of %s (%s): using the cached vintage of %s", file.name, source,
                        reason, vintage["retrieved_at"])
            return (store.view(source, file.name, sha),
                    f"fallback:cache:{store.object(sha)} (publisher failed: {reason})")
    where = ""
    if folder is not None:
        where = (f" It is not in the mirror folder {folder} either (looked for {Path(folder) / source / file.name}) "
                 "nor in the cache.")
    else:
        where = " It is not in the cache either."
    raise SourceUnavailableError(
        f"could not download {file.name} of {source} from {file.url} ({reason}).{where} Put the published file "
        "there, or set IMDX_MIRROR (or IMDX_FALLBACK_MIRROR) to a folder holding the publishers' files to load "
        "offline.")


def fetch_release(spec: ReleaseSpec, *, mirror: Path | None, cache: Path, timeout: float = 60.0,
                  url_map=None, fallback: Path | None = None, policy: Policy | None = None,
                  refresh: bool = False) -> tuple[dict[str, Path], list[FileRecord]]:
    """The files of a release (name → local path) and their records (checksum, size, where from)."""
    policy = policy or Policy(read_timeout=timeout)
    paths, records, seen = {}, [], {}
    for file in spec.files:
        path, origin = fetch_file(spec.mirror_folder, file, mirror=mirror, cache=cache, policy=policy, url_map=url_map,
                                  fallback=fallback, refresh=refresh, seen=seen)
        paths[file.name] = path
        records.append(FileRecord(name=file.name, url=file.url, sha256=sha256_of(path), size=path.stat().st_size,
                                  retrieved_from=origin, retrieved_at=datetime.now(UTC).replace(tzinfo=None)))
    folders = {_folder(path, name) for name, path in paths.items()}
    if len(folders) > 1:  # files from different places (mirror, fallback, cache): side by side for the reader
        store = Cache(cache)
        for record in records:
            store.adopt(paths[record.name], record.sha256)
            paths[record.name] = store.view(spec.mirror_folder, record.name, record.sha256)
    return paths, records


def _folder(path: Path, name: str) -> Path:
    """The folder a file of published name ``name`` (which may hold '/') sits in: path minus name."""
    return Path(path).parents[len(Path(name).parts) - 1]


def mirror_release(spec: ReleaseSpec, target: Path, *, cache: Path, policy: Policy | None = None, url_map=None,
                   fallback: Path | None = None, refresh: bool = True) -> list[tuple[str, str, str]]:
    """Copy the files of a release, fetched from the publisher, into ``target/<source>/<name>`` (the
    layout ``IMDX_MIRROR`` reads). Returns (name, status, detail) per file; status ``ok``, ``fallback``
    or ``failed``. Copies are written atomically; a file already there with other bytes is replaced
    only by a complete, verified download."""
    out, seen = [], {}
    for file in spec.files:
        try:
            path, origin = fetch_file(spec.mirror_folder, file, mirror=None, cache=cache, policy=policy or Policy(),
                                      url_map=url_map, fallback=fallback, refresh=refresh, seen=seen)
        except SourceUnavailableError as err:
            out.append((file.name, "failed", str(err)))
            continue
        dest = Path(target) / spec.mirror_folder / file.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not (dest.is_file() and dest.resolve() == Path(path).resolve()):
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
            shutil.copyfile(path, tmp)
            tmp.replace(dest)
        sha = sha256_of(dest)
        status = "fallback" if origin.startswith("fallback:") else "ok"
        changed = f" (differs from the known sha256 {file.sha256[:12]}…)" if file.sha256 and sha != file.sha256 else ""
        out.append((file.name, status, f"{origin} sha256:{sha[:12]}…{changed}"))
    return out
