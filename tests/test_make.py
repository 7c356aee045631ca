"""`make test` and `make run` install the Debian packages the tests need themselves (issue 13: on a fresh
machine `make test` failed 26 browser tests because only .ci/run installed Chromium). Run here on a
machine where apt-get, sudo and id are stand-ins that record what they are asked: nothing is installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _fake_machine(tmp_path: Path, uid: int, with_sudo: bool = True) -> tuple[Path, Path]:
    """A PATH holding only what `make system` may call, apt-get, sudo and id recording their calls."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    record = f'#!/bin/sh\necho "$(basename "$0") $*" >> {log}\n'
    (bin_dir / "apt-get").write_text(record)
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if with_sudo:
        (bin_dir / "sudo").write_text(record + 'exec "$@"\n')
    for tool in ("env", "basename"):
        (bin_dir / tool).symlink_to(f"/usr/bin/{tool}")
    for script in bin_dir.iterdir():
        if not script.is_symlink():
            script.chmod(0o755)
    return bin_dir, log


def _make(bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/make", "-C", str(REPO), "--no-print-directory", *args], capture_output=True,
                          text=True, timeout=60, check=False, env={"PATH": str(bin_dir), "HOME": os.environ["HOME"]})


@pytest.mark.parametrize("uid", [0, 1000])
def test_a_fresh_machine_gets_chromium_its_driver_nodejs_java_and_postgresql(tmp_path, uid):
    bin_dir, log = _fake_machine(tmp_path, uid)
    done = _make(bin_dir, "system")
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert [c for c in calls if c.startswith("apt-get")] == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends chromium chromium-driver nodejs npm default-jre-headless "
        "postgresql"]
    through_sudo = [c for c in calls if c.startswith("sudo")]
    assert len(through_sudo) == (2 if uid else 0)
    assert all(c.startswith("sudo env DEBIAN_FRONTEND=noninteractive apt-get ") for c in through_sudo)


def test_without_root_or_sudo_it_says_what_to_do(tmp_path):
    bin_dir, log = _fake_machine(tmp_path, 1000, with_sudo=False)
    done = _make(bin_dir, "system")
    assert done.returncode != 0 and "run it as root, or install sudo" in done.stderr
    assert not log.exists()


def test_nothing_is_installed_when_the_commands_are_there(tmp_path):
    bin_dir, log = _fake_machine(tmp_path, 0)
    for command in ("chromium", "chromedriver", "node", "npm", "java", "pg_ctlcluster"):
        (bin_dir / command).symlink_to("/bin/true")
    assert _make(bin_dir, "system").returncode == 0 and not log.exists()


def test_the_two_commands_and_ci_use_the_one_target():
    plan = subprocess.run(["make", "-C", str(REPO), "-n", "test", "run"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert plan.count("apt-get install") == 1 and plan.index("apt-get install") < plan.index("pip install")
    ci = (REPO / ".ci" / "run").read_text()
    assert "apt-get" not in ci and ci.rstrip().endswith("make test")


def test_make_java_installs_java_alone(tmp_path):
    bin_dir, log = _fake_machine(tmp_path, 0)
    (bin_dir / "make").symlink_to("/usr/bin/make")  # the target calls make again
    done = _make(bin_dir, "java")
    assert done.returncode == 0, done.stderr
    assert [c for c in log.read_text().splitlines() if c.startswith("apt-get install")] == [
        "apt-get install -y -qq --no-install-recommends default-jre-headless"]
