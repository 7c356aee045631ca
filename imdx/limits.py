"""Limits on what a reader trusts in a file, as data: each has a name, an environment variable, a
default and a help text, like :mod:`imdx.config`'s settings.

A published file says how big it is in many ways (a zip member's declared size, a sheet's used
range, an R vector's length, a CSV header's columns) and a hostile or broken file lies. Every reader
checks those sizes against :class:`Limits` *before* it allocates what they imply, and refuses past a
limit with a :class:`LimitError` that names the file, the limit and how to raise it. A load keeps the
store as it was and goes on with the other releases.

The limits in force are set by whoever starts the work (:func:`using`, called by :func:`imdx.load.load`
and the SDMX import with :attr:`imdx.config.Settings.limits`); a reader asks :func:`current`. Nothing is
read at import: :func:`from_env` reads the environment when :func:`imdx.config.settings` is called.

``max_memory`` is the ceiling of a whole load: the loading process and each worker process may take
an equal share (:meth:`Limits.per_process`). Readers refuse a file whose checked sizes imply more
than that share, and the readers that cannot be checked beforehand (pyreadr and rdata on R data the
fast reader does not know, calamine on an irregular sheet) run in a child process whose address space
is capped at the share (:func:`in_child`): one that needs more, or aborts, ends only the child. A
load's worker processes cap their own address space at their share too (:func:`cap_memory`): an
allocation past it fails with MemoryError, and only that release fails.
"""

from __future__ import annotations

import bz2
import contextvars
import lzma
import multiprocessing
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from imdx.errors import ConfigError, SourceFileError

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
#: below this many bytes unpacked, ``max_ratio`` is not checked (small files compress very well)
RATIO_GRACE = 64 * MiB


@dataclass(frozen=True)
class Limit:
    name: str
    env: str
    unit: str  # "bytes" (accepts 512M, 2G), or a count
    help: str


LIMITS = [
    Limit("max_file", "IMDX_MAX_FILE", "bytes", "The largest file a load reads or downloads."),
    Limit("max_unpacked", "IMDX_MAX_UNPACKED", "bytes",
          "The most a compressed file may expand to: gzip, bzip2 or xz R data, a zip archive's member, "
          "all the members of an xlsx workbook together."),
    Limit("max_ratio", "IMDX_MAX_RATIO", "times",
          "How many times its compressed size a file or member may expand (checked past 64 MiB unpacked; "
          "published files expand 3 to 90 times)."),
    Limit("max_rows", "IMDX_MAX_ROWS", "rows", "The most rows of one sheet, CSV table or R data frame."),
    Limit("max_columns", "IMDX_MAX_COLUMNS", "columns",
          "The most columns of one sheet, CSV table or R data frame."),
    Limit("max_cells", "IMDX_MAX_CELLS", "cells",
          "The most cells (rows x columns, as declared or as used) of one sheet, CSV table or R data frame."),
    Limit("max_text", "IMDX_MAX_TEXT", "bytes",
          "The longest text: one cell or string, one line of a CSV file."),
    Limit("max_memory", "IMDX_MAX_MEMORY", "bytes",
          "The memory a whole load may take (default: half the machine's memory), shared equally by the "
          "loading process and its workers; a file that needs more than a share is refused."),
]


@dataclass(frozen=True)
class Limits:
    """The limits in force (defaults fit a 2-core, 24 GB machine)."""

    max_file: int = 2 * GiB
    max_unpacked: int = 1 * GiB
    max_ratio: int = 100
    max_rows: int = 20_000_000
    max_columns: int = 16_384  # as wide as Excel
    max_cells: int = 50_000_000
    max_text: int = 1 * MiB
    max_memory: int = 12 * GiB
    #: how many processes share ``max_memory`` (the loading process and its workers)
    processes: int = 1

    @property
    def per_process(self) -> int:
        return self.max_memory // max(1, self.processes)

    def shared_by(self, processes: int) -> Limits:
        return replace(self, processes=max(1, processes))


_CURRENT: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("imdx_limits", default=None)


def current() -> Limits:
    """The limits in force here (the defaults when no one set any)."""
    return _CURRENT.get() or Limits()


@contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def activate(limits: Limits) -> None:
    """Set the limits for the rest of this process (a worker process of a load)."""
    _CURRENT.set(limits)


# -- reading the settings --------------------------------------------------------------------
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]?)(i?b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": 1 << 40}


def parse(limit: Limit, text: str) -> int:
    """A limit's value from text: a whole number (1e8 too), or for bytes also 512M, 2G, 1.5GiB."""
    match = _SIZE.fullmatch(str(text).replace("_", "").replace(",", ""))
    if match is None or (match[2] and limit.unit != "bytes"):
        example = "a size such as 2G or 512M" if limit.unit == "bytes" else "a whole number"
        raise ConfigError(f"{limit.env} (limit {limit.name}) must be {example}, not {text!r}")
    value = int(float(match[1]) * _UNITS[match[2].lower()])
    if value < 1:
        raise ConfigError(f"{limit.env} (limit {limit.name}) must be 1 or more, not {text!r}")
    return value


def from_env(env: Mapping[str, str], overrides: Mapping[str, object] | None = None) -> Limits:
    """The limits from the environment (``IMDX_MAX_*``) and ``overrides`` ({name: value}, e.g. from
    ``imdx load --limit max_cells=1e8``), over the defaults."""
    overrides = dict(overrides or {})
    by_name = {limit.name: limit for limit in LIMITS}
    unknown = [name for name in overrides if name not in by_name]
    if unknown:
        raise ConfigError(f"unknown limit {unknown[0]!r}; the limits are {', '.join(by_name)}")
    values: dict[str, int] = {"max_memory": default_memory()}
    for limit in LIMITS:
        text = overrides.get(limit.name)
        text = env.get(limit.env) if text is None else text
        if text not in (None, ""):
            values[limit.name] = parse(limit, str(text))
    return Limits(**values)


def default_memory() -> int:
    """Half the machine's memory (12 GiB on a 24 GB machine), or 12 GiB where it cannot be known."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return Limits.max_memory


def size(n: float) -> str:
    """Bytes as a person reads them: 1.5 GiB, 640 KiB, 12 bytes."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{int(n):,} bytes"


def amount(name: str, n: float) -> str:
    limit = next(limit for limit in LIMITS if limit.name == name)
    return size(n) if limit.unit == "bytes" else f"{int(n):,} {limit.unit}"


# -- refusing --------------------------------------------------------------------------------
class LimitError(SourceFileError):
    """A file is bigger than a limit allows: the message names the file, what was found, the limit,
    and how to raise it."""

    def __init__(self, file: str, what: str, found: float, name: str, *, allowed: int | None = None,
                 sheet: str | None = None, row: int | None = None, column: str | None = None, note: str = ""):
        limits = current()
        allowed = getattr(limits, name) if allowed is None else allowed
        self.limit, self.found, self.allowed, self.what, self.note = name, found, allowed, what, note
        env = next(limit.env for limit in LIMITS if limit.name == name)
        raise_to = max(int(found) + 1, allowed * 2) if name != "max_memory" else int(found) * limits.processes + 1
        shown, limit = amount(name, found), amount(name, allowed)
        if shown == limit:  # rounded alike: say the exact figures
            shown, limit = f"{shown} ({int(found):,} bytes)", f"{limit}, {int(allowed):,} bytes"
        problem = f"{what} is {shown}, more than the limit {name} allows ({limit}{note})"
        hint = (f"If the file is genuine, raise the limit ({env}={_plain(name, raise_to)} in the environment, "
                f"or `imdx load --limit {name}={_plain(name, raise_to)}`) and load again. Nothing of this "
                "release was stored; the store was left as it was.")
        super().__init__(file, problem, sheet=sheet, row=row, column=column, hint=hint)


    def about(self, file: str) -> LimitError:
        """The same refusal, naming the file otherwise (the published name of a file being downloaded)."""
        return LimitError(file, self.what, self.found, self.limit, allowed=self.allowed, sheet=self.sheet,
                          row=self.row, column=self.column, note=self.note)


def _plain(name: str, n: int) -> str:
    unit = next(limit.unit for limit in LIMITS if limit.name == name)
    if unit != "bytes":
        return str(n)
    for suffix, scale in (("G", GiB), ("M", MiB), ("K", KiB)):
        if n >= scale:
            return f"{-(-n // scale)}{suffix}"
    return str(n)


def check(file: str, what: str, found: float, name: str, **where) -> None:
    """Raise :class:`LimitError` when ``found`` is over the limit ``name``."""
    if found > getattr(current(), name):
        raise LimitError(file, what, found, name, **where)


def check_memory(file: str, what: str, needed: float, **where) -> None:
    """Raise when reading needs more than this process's share of ``max_memory``."""
    limits = current()
    if needed > limits.per_process:
        share = f" for the whole load, {size(limits.per_process)} for each of its {limits.processes} processes" \
            if limits.processes > 1 else ""
        raise LimitError(file, f"the memory {what} needs (about {size(needed)})", needed, "max_memory",
                         allowed=limits.per_process, note=share, **where)


def check_file(path: Path, name: str | None = None) -> int:
    """The size of the file at ``path``, refused past ``max_file``."""
    n = Path(path).stat().st_size
    check(name or str(path), "the file's size", n, "max_file")
    return n


def read_bytes(path: Path, name: str | None = None) -> bytes:
    """The bytes of a file no bigger than ``max_file``."""
    check_file(path, name)
    return Path(path).read_bytes()


# -- unpacking -------------------------------------------------------------------------------
def unpack(data: bytes, file: str) -> bytes | bytearray:
    """``data`` decompressed when it is gzip, bzip2 or xz (else as it is), stopped and refused as soon as
    it passes ``max_unpacked`` or, past 64 MiB, ``max_ratio`` times the compressed bytes read so far: a
    bomb costs at most about that much memory, never what it would expand to."""
    if data[:3] == b"BZh":
        make, kind = bz2.BZ2Decompressor, "bzip2"
    elif data[:2] == b"\x1f\x8b":
        make, kind = (lambda: zlib.decompressobj(wbits=31)), "gzip"
    elif data[:6] == b"\xfd7zXZ\x00":
        make, kind = lzma.LZMADecompressor, "xz"
    else:
        return data
    limits, end = current(), _content_end(data)
    out, fed, engine, pending = bytearray(), 0, make(), b""
    while True:
        if engine.eof:  # a file may hold several streams one after the other (then perhaps zero padding)
            pending = engine.unused_data  # what follows the stream, of the input given so far
            if fed - len(pending) >= end:
                return out
            engine = make()
        if not pending and (kind == "gzip" or engine.needs_input):
            if fed >= len(data):
                if kind != "gzip" or not _more(engine, out, limits, file, len(data), fed):
                    raise EOFError(f"the {kind} data is cut short")
                continue
            pending = data[fed:fed + _CHUNK_IN]
            fed += len(pending)
        out += engine.decompress(pending, min(_STEP_OUT, limits.max_unpacked + 1 - len(out)))
        pending = engine.unconsumed_tail if kind == "gzip" else b""
        _check_unpacked(file, kind, len(out), fed - len(pending))


_CHUNK_IN, _STEP_OUT = 1 << 20, 16 << 20


def _more(engine, out: bytearray, limits: Limits, file: str, packed: int, fed: int) -> bool:
    """Output zlib still holds after the last input; whether there was any."""
    more = engine.decompress(b"", min(_STEP_OUT, limits.max_unpacked + 1 - len(out)))
    out += more
    _check_unpacked(file, "gzip", len(out), fed)
    return bool(more)


def _content_end(data: bytes) -> int:
    """Where the data ends once trailing zero bytes (padding after the last stream) are left out."""
    end = len(data)
    while end > 0:
        start = max(0, end - 65_536)
        block = data[start:end].rstrip(b"\x00")
        if block:
            return start + len(block)
        end = start
    return 0


def _check_unpacked(file: str, kind: str, unpacked: int, packed: int) -> None:
    limits = current()
    if unpacked > limits.max_unpacked:
        raise LimitError(file, f"the {kind} data unpacked (unpacking stopped there)", unpacked, "max_unpacked")
    if unpacked > RATIO_GRACE and unpacked > limits.max_ratio * max(packed, 1):
        raise LimitError(file, f"the {kind} data's expansion ({size(unpacked)} from its first {size(packed)}, "
                         "where unpacking stopped)", unpacked / max(packed, 1), "max_ratio")


# -- a reader that cannot be checked beforehand, in a child process --------------------------
_FORK = sys.platform.startswith("linux")


def in_child(function: Callable, *args, file: str, what: str):
    """``function(*args)`` run in a forked child process whose address space may grow by at most this
    process's share of ``max_memory``; its result (or exception) comes back. When the child runs out of
    that memory or dies (a native reader that aborts), a :class:`SourceFileError` names the file and
    this process lives on. Where processes cannot be forked, ``function`` runs here."""
    if not _FORK:
        return function(*args)
    limits = current()
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run_child, args=(send, function, args, limits), daemon=True)
    child.start()
    send.close()
    try:
        ok, value = receive.recv()
    except EOFError:
        child.join()
        code = child.exitcode
        raise LimitError(file, f"the memory {what} needed (it stopped, exit code {code}, when it asked for more "
                         f"than {size(limits.per_process)})", limits.per_process + 1, "max_memory",
                         allowed=limits.per_process) from None
    finally:
        receive.close()
    child.join()
    if not ok:
        if isinstance(value, MemoryError):
            raise LimitError(file, f"the memory {what} needed", limits.per_process + 1, "max_memory",
                             allowed=limits.per_process) from None
        raise value
    return value


def cap_memory(share: int) -> None:
    """Let this process's address space grow by at most ``share`` bytes from now (Linux): past it an
    allocation fails (Python raises MemoryError) instead of taking the machine's memory."""
    if not sys.platform.startswith("linux"):
        return
    import resource

    with open("/proc/self/statm") as fh:
        in_use = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = in_use + share
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _run_child(send, function: Callable, args: tuple, limits: Limits) -> None:
    import faulthandler

    activate(limits)
    faulthandler.disable()  # an abort here is expected, and said by the parent, not with a native backtrace
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)  # nor with calamine's "memory allocation of … failed" and Rust backtrace
    try:
        cap_memory(limits.per_process)
        try:
            result = (True, function(*args))
        except BaseException as err:  # noqa: BLE001 -- sent back whole, raised in the parent
            result = (False, err)
        send.send(result)
    finally:
        send.close()
        os._exit(0)
