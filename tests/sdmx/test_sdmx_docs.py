"""docs/sdmx.md stays true: every example request gets the documented status and media type, and
the SDMX-CSV examples are the server's answers line for line."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdmx.md"
EXAMPLE = re.compile(r"^GET (/sdmx/\S+)\n(?:Accept: ([^\n]+)\n)?\n?(\d{3}) ?(\S*)(.*?)(?=\n```|\nGET )",
                     re.MULTILINE | re.DOTALL)


def examples():
    return EXAMPLE.findall(DOC.read_text("utf-8"))


def test_the_doc_has_examples_of_every_format_and_error():
    found = examples()
    statuses = {int(status) for _, _, status, _, _ in found}
    assert len(found) >= 10 and {200, 400, 404, 406} <= statuses


def test_every_example_is_what_the_server_answers(http):
    for path, accept, status, media, body in examples():
        answer = http.get(path, headers={"accept": accept} if accept else {})
        assert answer.status_code == int(status), path
        if answer.status_code == 200:
            assert answer.headers["content-type"] == media, path
        else:  # the documented envelope; its message as the server words it (up to an elision "...")
            documented = re.search(r'"message":"(.*?)(?:"}}|\.\.\.)', media + body).group(1)
            assert answer.json()["error"]["message"].startswith(documented), path
        if "+csv" in media:
            lines = [line for line in body.strip().splitlines() if line]
            assert answer.text.strip().splitlines() == lines, path
