"""Area names as their publishers write them today, former names as aliases, regions for the areas UN
statistics show, and a search that puts exact names and common abbreviations first."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def built(areas):
    return areas


@pytest.mark.parametrize(("code", "name", "former"), [("TUR", "Türkiye", "Turkey"),
                                                     ("CIV", "Côte d'Ivoire", "Côte d’Ivoire"),
                                                     ("BES", "Bonaire, Sint Eustatius and Saba", None)])
def test_names_today_with_former_names_as_aliases(built, code, name, former):
    assert built.name(code) == name
    assert built.resolve(name).code == code
    if former:
        assert built.resolve(former).code == code
    assert "  " not in built.name(code)


def test_every_name_in_the_sidecar_is_applied(built):
    from imdx.codes.build import names_today

    table = names_today()
    assert len(table) >= 3
    for row in table.itertuples(index=False):
        assert built.name(row.code) == row.name
        assert built.resolve(row.former).code == row.code


def test_areas_un_statistics_show_have_a_region(built):
    frame = built.frame
    for code, region, subregion in (("CHI", "150", "154"), ("TWN", "142", "030"), ("XKX", "150", "039")):
        assert (frame.at[code, "region"], frame.at[code, "subregion"]) == (region, subregion)
    # SDG regions are area codes of the table (UN DESA's 947 is M49 202, Sub-Saharan Africa)
    sdg = {v for v in frame.loc[frame["kind"] == "country", "sdg_region"] if isinstance(v, str)}
    assert sdg and sdg <= set(frame.index)
    assert frame.at["CIV", "sdg_region"] == "202" and frame.at["AUS", "sdg_region"] == "053"


@pytest.mark.parametrize(("query", "first"), [("UK", "GBR"), ("uk", "GBR"), ("USA", "USA"), ("UAE", "ARE"),
                                              ("DRC", "COD"), ("Congo", "COG"), ("Germany", "DEU"),
                                              ("Turkey", "TUR"), ("Ivory Coast", "CIV"), ("Niger", "NER")])
def test_search_puts_exact_names_and_abbreviations_first(built, query, first):
    hits = list(built.search(query, limit=10)["code"])
    assert hits and hits[0] == first, hits


def test_search_ranks_names_that_start_with_the_text_before_the_rest(built):
    hits = list(built.search("ger", limit=10)["code"])
    assert hits[0] == "DEU"  # Germany before Algeria (whose alias "Algérie" merely contains it)
    assert built.search("", limit=5).empty
