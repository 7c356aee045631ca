#!/bin/sh
# Install the portal's front-end libraries from npm (pinned versions) and copy the files it serves
# into imdx/portal/static/vendor/ (gitignored). No CDN: imdx serves every script, style and map itself.
# Usage: sh imdx/portal/build_assets.sh   (needs node and npm; idempotent; same as `python -m imdx.portal.assets`)
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "${PYTHON:-python3}" -m imdx.portal.assets --dest "$HERE/static/vendor" "$@"
