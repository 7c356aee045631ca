"""The portal's front-end libraries: installed from npm at build time, served by imdx itself.

``python -m imdx.portal.assets`` (or ``sh imdx/portal/build_assets.sh``) runs ``npm install`` of the
pinned packages below in a scratch folder and copies the few files the portal serves into
``imdx/portal/static/vendor/`` (gitignored). Nothing is fetched by a browser from anywhere but the
imdx server: no CDN.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from imdx.errors import ImdxError

VENDOR = Path(__file__).parent / "static" / "vendor"

#: npm package → pinned version
PACKAGES = {"vega": "6.4.0", "vega-lite": "6.5.0", "vega-embed": "7.3.0", "world-atlas": "2.0.2",
            "topojson-client": "3.1.0", "axe-core": "4.14.1"}

#: file in node_modules → file served under /static/vendor/
FILES = {
    "vega/build/vega.min.js": "vega.min.js",
    "vega-lite/build/vega-lite.min.js": "vega-lite.min.js",
    "vega-embed/build/vega-embed.min.js": "vega-embed.min.js",
    "world-atlas/countries-110m.json": "countries-110m.json",
    "world-atlas/LICENSE": "LICENSE-world-atlas.txt",
    "topojson-client/dist/topojson-client.min.js": "topojson-client.min.js",
    "axe-core/axe.min.js": "axe.min.js",  # used by the accessibility tests only; never linked from a page
    "vega/LICENSE": "LICENSE-vega.txt",
    "vega-lite/LICENSE": "LICENSE-vega-lite.txt",
    "vega-embed/LICENSE": "LICENSE-vega-embed.txt",
}


class AssetsMissing(ImdxError):
    pass


def missing(dest: Path = VENDOR) -> list[str]:
    """The vendor files not built yet."""
    return [name for name in FILES.values() if not (dest / name).is_file()]


def require(dest: Path = VENDOR) -> None:
    gone = missing(dest)
    if gone:
        raise AssetsMissing(f"the portal's front-end libraries are not built ({', '.join(gone)} missing): run "
                            "`sh imdx/portal/build_assets.sh` (needs node and npm; installs from npm)")


def build(dest: Path = VENDOR, *, force: bool = False) -> Path:
    """Install the pinned packages from npm and copy the served files into ``dest``."""
    manifest = dest / "manifest.json"
    if not force and not missing(dest) and manifest.is_file() and \
            json.loads(manifest.read_text()).get("packages") == PACKAGES:
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise ImdxError("npm is not installed: install Node.js (apt-get install -y nodejs npm), then run "
                        "`sh imdx/portal/build_assets.sh` again")
    with tempfile.TemporaryDirectory(prefix="imdx-assets-") as tmp:
        (Path(tmp) / "package.json").write_text(json.dumps({"name": "imdx-portal-assets", "private": True}))
        specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact",
                               *specs], cwd=tmp, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ImdxError(f"npm install failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        dest.mkdir(parents=True, exist_ok=True)
        for src, name in FILES.items():
            shutil.copyfile(Path(tmp) / "node_modules" / src, dest / name)
    manifest.write_text(json.dumps({"packages": PACKAGES, "files": FILES}, indent=1))
    return dest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=VENDOR)
    parser.add_argument("--force", action="store_true", help="reinstall even when the files are present")
    args = parser.parse_args(argv)
    path = build(args.dest, force=args.force)
    print(f"portal assets in {path}: {', '.join(sorted(FILES.values()))}")


if __name__ == "__main__":
    main()
