"""Name normalisation: how two spellings of one place are recognised as the same key.

``normalise("  Côte d’Ivoire* ")`` and ``normalise("Cote d'Ivoire")`` both give ``"cote d'ivoire"``.
Only typography is removed (accents, case, curly quotes, footnote marks, spacing); words are kept,
so "Korea, Rep." and "Republic of Korea" stay different and need an alias.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "–": "-", "—": "-", "\u00a0": " "})
_FOOTNOTE = re.compile(r"(\s*[*†]+|\s*\(\d+\)|\s*\([a-z]\))+$")
_SPACE = re.compile(r"\s+")


def normalise(name: object) -> str:
    if name is None:
        return ""
    text = str(name).translate(_QUOTES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _FOOTNOTE.sub("", text.strip())
    return _SPACE.sub(" ", text).strip().casefold()


def strip_footnote(name: str) -> tuple[str, str | None]:
    """Split a published name into the name and its footnote mark: ``"Spain*"`` -> ``("Spain", "*")``."""
    text = str(name).rstrip()
    match = _FOOTNOTE.search(text)
    if not match or match.start() == 0:
        return text.strip(), None
    return text[: match.start()].strip(), match.group(0).strip()
