"""docs/api.md stays true: every route is documented, and every request it shows gets the status it shows."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _examples():
    lines = DOC.read_text("utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("$ curl") or "If-None-Match" in line:
            continue
        url = re.findall(r"'([^']*)'", line)[-1]
        method = "POST" if "-X POST" in line else "GET"
        status = 200
        if i + 1 < len(lines) and (m := re.match(r"# HTTP (\d{3})", lines[i + 1])):
            status = int(m.group(1))
        yield method, url.replace("http://localhost:8000", ""), status


def test_every_route_is_documented(app_routes):
    text = DOC.read_text("utf-8")
    for path, methods in app_routes:
        if path.startswith("/api/v1/data/") and "{" not in path:
            continue  # one route per dataflow: documented as /api/v1/data/{dataflow}
        assert any(f"`{method} {path}" in text for method in ["GET", *methods]), path


def test_documented_requests_answer_as_shown(http):
    examples = list(_examples())
    assert len(examples) >= 15
    for method, url, status in examples:
        r = http.request(method, url)
        assert r.status_code == status, (url, r.text[:300])


def test_every_limit_is_documented():
    from imdx.api.limits import documented

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    for variable, default, _ in documented():
        assert f"| `{variable}` | {default:,} |" in text, variable
