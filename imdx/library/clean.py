"""Cleaning of bibliographic metadata as the sources give it: names, years, DOIs, languages, text.

Each function takes what a file holds (any type, possibly ``NaN`` or ``"nan"``) and returns a clean
value or ``None``; nothing here raises on bad data (the readers report what was dropped).
"""

from __future__ import annotations

import math
import re
import unicodedata

from nameparser import HumanName

_MISSING = {"", "nan", "none", "null", "n/a", "na", "not specified", "not available", "not applicable", "unknown",
            "-", "--"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACE = re.compile(r"\s+")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_ORG_WORDS = re.compile(
    r"\b(ltd|inc|llc|gmbh|s\.?a\.?s?|consult\w*|research|evaluation|evalution|group|agency|foundation|alliance|"
    r"university|universidad|institut\w*|centre|center|office|iom|unhcr|undp|unicef|ilo|oim|parc|ppmi|associates|"
    r"partners|company|network|international|services|team|unit|division|department|ministry|government|"
    r"profesionales|programme|program|secretariat|steering|seefar|stoos|owl|artival|frontline|encompass|credi|"
    r"madexpertise|upendo|gavi|insight|development|analytics|solutions)\b", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*(?:;|,|\band\b|\bet\b|\by\b|&)\s*")

#: ISO 639-1 codes of the language names the sources use (English names, and a few native ones)
LANGUAGES = {
    "english": "en", "spanish": "es", "español": "es", "espanol": "es", "castellano": "es", "french": "fr",
    "français": "fr", "francais": "fr", "portuguese": "pt", "português": "pt", "arabic": "ar", "russian": "ru",
    "chinese": "zh", "german": "de", "deutsch": "de", "italian": "it", "dutch": "nl", "indonesian": "id",
    "turkish": "tr", "ukrainian": "uk", "japanese": "ja", "korean": "ko", "persian": "fa", "farsi": "fa",
    "swahili": "sw", "thai": "th", "vietnamese": "vi", "bengali": "bn", "hindi": "hi", "urdu": "ur", "greek": "el",
    "polish": "pl", "romanian": "ro", "serbian": "sr", "croatian": "hr", "albanian": "sq", "amharic": "am",
    "somali": "so", "tigrinya": "ti", "hausa": "ha", "nepali": "ne", "burmese": "my", "khmer": "km", "lao": "lo",
    "tagalog": "tl", "filipino": "tl", "georgian": "ka", "armenian": "hy", "azerbaijani": "az", "kazakh": "kk",
    "kyrgyz": "ky", "tajik": "tg", "uzbek": "uz", "mongolian": "mn", "pashto": "ps", "dari": "fa", "swedish": "sv",
    "norwegian": "no", "danish": "da", "finnish": "fi", "czech": "cs", "slovak": "sk", "hungarian": "hu",
    "bulgarian": "bg", "macedonian": "mk", "bosnian": "bs", "slovenian": "sl", "hebrew": "he", "malay": "ms",
}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French", "pt": "Portuguese", "ar": "Arabic",
                  "ru": "Russian", "zh": "Chinese", "de": "German", "it": "Italian", "nl": "Dutch",
                  "id": "Indonesian"}


def missing(value) -> bool:
    """True for None, NaN, and the texts sources write for "no value" ("nan", "Not specified", ...)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and value.strip().casefold() in _MISSING:
        return True
    return isinstance(value, list | tuple) and not value


def text(value, limit: int | None = None) -> str | None:
    """One line of text: control characters removed, Unicode NFC, spaces collapsed, cut at ``limit``."""
    if missing(value):
        return None
    out = _SPACE.sub(" ", _CONTROL.sub("", unicodedata.normalize("NFC", str(value)))).strip()
    if limit is not None and len(out) > limit:
        out = out[:limit].rstrip() + "…"
    return out or None


def body_text(value, limit: int) -> str | None:
    """Long text (abstracts, extracted full text): paragraphs kept, control characters removed, cut at ``limit``."""
    if missing(value):
        return None
    out = _CONTROL.sub("", unicodedata.normalize("NFC", str(value)))
    out = re.sub(r"[ \t\r\f\v]+", " ", out)
    out = re.sub(r"\n\s*\n+", "\n\n", out).strip()
    return out[:limit] or None


def title(value, limit: int = 1000) -> str | None:
    """A title as a person would write it: shouting titles (all capitals) in sentence-preserving title case
    are kept as published, only typography is cleaned."""
    out = text(value, limit)
    if out is None:
        return None
    return out.strip(" .;,").strip() or None


def year(value) -> int | None:
    """A four-digit year from a number, a date or a text ("2019", "2019-05-01", "May 2019", 2019.0)."""
    if missing(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = int(value)
        return value if 1500 <= value <= 2100 else None
    found = _YEAR.search(str(value))
    return int(found.group(1)) if found else None


def date(value) -> str | None:
    """An ISO date (``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``) from the common written forms, or None."""
    if missing(value):
        return None
    raw = str(value).strip()
    m = re.fullmatch(r"(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?(?:[T ].*)?", raw)
    if m:
        y, mo, d = m.group(1), m.group(2), m.group(3)
        if mo and not 1 <= int(mo) <= 12:
            return y
        if d and not 1 <= int(d) <= 31:
            return f"{y}-{int(mo):02d}"
        return "-".join([y] + [f"{int(p):02d}" for p in (mo, d) if p])
    y = year(raw)
    return str(y) if y else None


def doi(value) -> str | None:
    """A DOI in its canonical form (``10.xxxx/...``, lower case), from a DOI, a doi: text or a doi.org URL."""
    if missing(value):
        return None
    found = _DOI.search(str(value).replace("%2F", "/").replace("%2f", "/"))
    if not found:
        return None
    return found.group(1).rstrip(".,;)]}").lower()


def url(value) -> str | None:
    if missing(value):
        return None
    raw = str(value).strip()
    return raw if re.match(r"https?://[^\s]+$", raw) and len(raw) <= 2000 else None


def language(value) -> list[str]:
    """ISO 639-1 codes from language names or codes ("English, Spanish", "en", "fre", "es-ES")."""
    if missing(value):
        return []
    out = []
    for part in re.split(r"\s*(?:[,;/]|\band\b)\s*", str(value)):
        key = part.strip().casefold()
        if not key:
            continue
        code = LANGUAGES.get(key)
        if code is None and re.fullmatch(r"[a-z]{2}(?:[-_][a-z]{2,4})?", key):
            code = key[:2]
        if code is None and len(key) == 3:
            code = {"eng": "en", "spa": "es", "fre": "fr", "fra": "fr", "por": "pt", "ara": "ar", "rus": "ru",
                    "chi": "zh", "zho": "zh", "ger": "de", "deu": "de", "ita": "it", "dut": "nl", "nld": "nl"}.get(key)
        if code and code not in out:
            out.append(code)
    return out


def detect_language(sample: str | None) -> str | None:
    """The language of a text (ISO 639-1) by py3langid, for documents that do not say; None when unsure."""
    if not sample or len(sample) < 40:
        return None
    import py3langid

    code, score = py3langid.classify(sample[:5000])
    return code if score > 0.5 or len(sample) > 400 else None


def split_list(value) -> list[str]:
    """Items of a comma-separated list whose items may hold commas themselves: inside parentheses, or
    before a word in lower case ("Migration policy - dialogue, consultations etc and ...")."""
    if missing(value):
        return []
    if isinstance(value, list | tuple):
        return [t for v in value for t in split_list(v)]
    parts, depth, current = [], 0, []
    for ch in str(value):
        depth += (ch == "(") - (ch == ")")
        if ch in ",;" and depth <= 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    out: list[str] = []
    for part in (text(p) for p in parts):
        if part is None or missing(part):
            continue
        if out and not part[0].isupper() and not part[0].isdigit():
            out[-1] = f"{out[-1]}, {part}"
        elif part not in out:
            out.append(part)
    return out


def _is_organisation(name: str) -> bool:
    return bool(_ORG_WORDS.search(name)) or (name.isupper() and len(name.split()) <= 3 and " " not in name.strip())


def person(name: str) -> dict | None:
    """A CSL name ``{"family", "given"}`` from one person's name as written ("Dr. Jane Doe", "DOE, Jane",
    "Célestin SIKUBE TAKAMGNO"); ``{"literal": ...}`` for an organisation."""
    name = text(name, 200)
    if not name:
        return None
    name = name.strip(" .,;")
    if _is_organisation(name):
        return {"literal": name}
    if "," in name:
        family, _, given = name.partition(",")
        return _name(family.strip(), given.strip())
    words = name.split()
    capitals = [w for w in words if w.isupper() and len(w) > 1 and w.isalpha()]
    if capitals and len(capitals) < len(words):  # the French convention: the family name in capitals
        family = " ".join(w for w in words if w in capitals)
        given = " ".join(w for w in words if w not in capitals)
        return _name(family, given)
    parsed = HumanName(name)
    if not parsed.last:
        return {"literal": name}
    given = " ".join(p for p in (parsed.first, parsed.middle) if p)
    family = " ".join(p for p in (parsed.last, parsed.suffix) if p)
    return _name(family, given)


def _name(family: str, given: str) -> dict:
    def tidy(part: str) -> str:
        part = re.sub(r"^(dr|prof|mr|mrs|ms)\.?\s+", "", part.strip(), flags=re.IGNORECASE)
        return part.title() if part.isupper() and len(part) > 2 else part

    family, given = tidy(family), tidy(given)
    if not family:
        return {"literal": given}
    return {"family": family, "given": given} if given else {"family": family}


def people(value) -> list[dict]:
    """CSL names from an author field: a list, or one text naming several people or an organisation."""
    if missing(value):
        return []
    if isinstance(value, list | tuple):
        return [p for v in value for p in people(v)]
    if isinstance(value, dict):
        clean = {k: text(v, 200) for k, v in value.items() if k in ("family", "given", "literal") and text(v, 200)}
        return [clean] if clean else []
    raw = text(value, 2000) or ""
    if _is_organisation(raw) and not re.search(r",\s*(?:dr\.?\s)?[A-Z][a-z]+\s+[A-Z]", raw):
        return [{"literal": raw.strip(" .")}]
    if raw.count(",") == 1 and " and " not in raw and not re.search(r"\s(y|et|&)\s", raw):
        family, given = (p.strip() for p in raw.split(","))
        initials = any(re.fullmatch(r"[A-Z]\.(-?[A-Z]\.)*", w) for w in given.split())
        if len(family.split()) <= 3 and len(given.split()) <= 3 and (family.isupper() or len(given.split()) == 1
                                                                     or initials):
            return [_name(family, given)]  # "ABOU MRAD, Nisreen": one person, family name first
    parts = [p for p in _NAME_SPLIT.split(raw) if p and p.strip(" .")]
    return [n for n in (person(p) for p in parts) if n]


def name_text(name: dict) -> str:
    if "literal" in name:
        return name["literal"]
    return " ".join(p for p in (name.get("given"), name.get("family")) if p)


def fold(value: str) -> str:
    """Lower case without accents or punctuation: the key two spellings of one title share."""
    folded = unicodedata.normalize("NFKD", value)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return _SPACE.sub(" ", re.sub(r"[^\w]+", " ", folded)).strip()
