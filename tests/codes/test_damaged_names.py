"""Names damaged before publication (a character lost as U+FFFD, as in UNODC GLOTIP) resolve only when one
area fits; the real alias files resolve to areas that exist."""

from __future__ import annotations

import io
from importlib import resources

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def glotip_areas(areas):
    copy = areas.copy()
    copy.load_sidecar("unodc_glotip")
    return copy


@pytest.mark.parametrize(("damaged", "code"), [
    ("Per\ufffd", "PER"), ("C\ufffdte d\ufffdIvoire", "CIV"), ("C\ufffdTE D'IVOIRE", "CIV"), ("Hait\ufffd", "HTI"),
    ("M\ufffdXICO", "MEX"), ("T\ufffdrkiye", "TUR"), ("Espa\ufffda", "ESP"),  # España, a GLOTIP alias
    ("Rep\ufffdblica Dominicana", "DOM"), ("Salvadore\ufffdos", "SLV")])
def test_one_lost_character_per_gap_resolves_when_one_area_fits(glotip_areas, damaged, code):
    assert glotip_areas.resolve(damaged).code == code
    assert glotip_areas.resolve(damaged.replace("\ufffd", "\ufffd\ufffd")).code is None  # one character per gap


@pytest.mark.parametrize("damaged", [
    "\ufffd\ufffd", "\ufffd", "Personnes de nationalit\ufffd \ufffdtrang\ufffdre", "3 nig\ufffdriens et 1 tunisien"])
def test_what_fits_no_area_is_not_resolved(glotip_areas, damaged):
    assert glotip_areas.resolve(damaged).code is None


def test_two_areas_that_fit_are_never_chosen_between(glotip_areas):
    assert glotip_areas.resolve("Ira\ufffd").code is None  # Iran and Iraq both fit
    assert glotip_areas.resolve("Ni\ufffder\ufffda").code == "NGA"  # only Nigeria
    assert glotip_areas.resolve("Per\ufffd", ("code", "iso3")).code is None  # names only


def test_the_glotip_aliases_name_existing_areas(areas):
    text = resources.files("imdx.codes").joinpath("aliases", "unodc_glotip.csv").read_text("utf-8")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, comment="#")
    assert len(table) > 300 and not sorted(set(table["code"]) - set(areas.frame.index))
