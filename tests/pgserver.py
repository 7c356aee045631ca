"""A throwaway PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder, listening
on a free loopback port and a Unix socket in that folder, trusting local connections, stopped and
removed at the end.

Used by the ``pg_url`` fixture (tests/conftest.py) when ``IMDX_TEST_PG`` names no server, and by
``.ci/run`` (``python -m tests.pgserver start DIR`` prints the URL; ``stop DIR``). PostgreSQL's binaries
are Debian's (``apt-get install postgresql``; ``make test`` installs them) or any on the PATH. initdb
refuses to run as root, so as root the server runs as the ``postgres`` user Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def binaries() -> Path:
    """The folder of initdb and pg_ctl: PG_BIN, the newest /usr/lib/postgresql/*/bin, or the PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if found:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL's initdb is missing: apt-get install -y postgresql (make test does), or "
                           "set IMDX_TEST_PG to the URL of a server the tests may create databases on")
    return Path(initdb).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(argv: list[str]) -> list[str]:
    """Run as the postgres user when we are root (initdb and postgres refuse to run as root)."""
    if os.geteuid() != 0:
        return argv
    pwd.getpwnam("postgres")  # KeyError: the postgres user is missing (apt-get install postgresql makes it)
    return ["runuser", "-u", "postgres", "--", *argv]


#: settings of the tests' server: fast and not durable (a crash loses it, which does not matter for a test)
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
                 "shared_buffers": "128MB"}
#: settings of a server that keeps what it commits, as docs/deploy.md suggests for a shared server (sizes for a
#: small machine): the benchmark's
DURABLE_SETTINGS = {"max_connections": "200", "shared_buffers": "512MB", "maintenance_work_mem": "256MB",
                    "max_wal_size": "4GB", "checkpoint_completion_target": "0.9", "effective_cache_size": "2GB"}


def start(folder: Path, settings: dict[str, str] | None = None) -> str:
    """Start a server with its data in ``folder`` (made), with ``settings`` (:data:`TEST_SETTINGS` unless
    given); returns the URL of its database ``postgres``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    bin_ = binaries()
    subprocess.run(_as_owner([str(bin_ / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                              "--encoding=UTF8", "--locale=C.UTF-8", "-N"]), check=True, capture_output=True)
    port = free_port()
    chosen = TEST_SETTINGS if settings is None else settings
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 " + " ".join(
        f"-c {name}={value}" for name, value in chosen.items())
    subprocess.run(_as_owner([str(bin_ / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o",
                              options, "-w", "-t", "60", "start"]), check=True, capture_output=True)
    (folder / "port").write_text(str(port))
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return url
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {folder / 'server.log'}") from None
            time.sleep(0.1)


def stop(folder: Path) -> None:
    """Stop the server of ``folder`` (fast shutdown) and remove its files."""
    folder = Path(folder)
    if (folder / "data" / "postmaster.pid").exists():
        subprocess.run(_as_owner([str(binaries() / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w",
                                  "stop"]), check=False, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "start":
        print(start(where))
    elif command == "stop":
        stop(where)
    else:
        raise SystemExit("usage: python -m tests.pgserver start|stop FOLDER")
