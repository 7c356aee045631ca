"""UN DESA International Migrant Stock: each edition (and each derived table of one) its own release.

============================================  =======  ==========================================
release key                                   edition  dataflows
============================================  =======  ==========================================
``ims2020-destination``                       2020     migrant_stock (destination x sex, origin
                                                       ``_T``), population, migrant_stock_share,
                                                       female_migrant_share, migrant_stock_growth,
                                                       refugee_stock, refugee_stock_share,
                                                       refugee_stock_growth (Tables 1-6)
``ims2020-origin-destination-gdiviz``         2020     migrant_stock (destination x origin x sex)
``ims2019-total``                             2019     the same eight dataflows as 2020 (Tables 1-6)
``ims2019-origin-destination-clean``          2019     migrant_stock (destination x origin)
``ims2015-origin-destination``                2015     migrant_stock (destination x origin, 2015)
============================================  =======  ==========================================

Published dates: the 2020 edition was released on 15 January 2021 (UN DESA's "International Migrant
Stock 2020" launch, with the International Migration 2020 Highlights); the 2019 edition on 17 September
2019 (UN DESA press release of that day); the 2015 revision in December 2015 (its workbooks say
"December 2015"; the 1st stands for the month). A derived table has the date of the edition it derives
from, and its own download location (the repository commit it was taken from: see PROVENANCE.md).
"""

from __future__ import annotations

from datetime import date

from imdx.checks.tolerance import Tolerance
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile
from imdx.sources.undesa_ims import bilateral, totals

NAME = "undesa_ims"
CC_BY = "CC BY 3.0 IGO (Copyright © {year} by United Nations, made available under a Creative Commons license)"

FILE_2020 = "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx"
FILE_2019 = "undesa_pd_2019_migrant_stock_total_dataset.xlsx"
FILE_2015 = "UN_MigrantStockByOriginAndDestination_2015_Table16only.xlsx"
FILE_2019_CSV = "derived/UN_MigrantStockByOriginAndDestination_2019_clean.csv"
FILE_2020_RDA = "derived/ims2020_stock_destination_origin_sex_gdiviz.rda"

_DESA = "https://www.un.org/development/desa/pd/sites/www.un.org.development.desa.pd/files/"
_DESA_2019 = "https://www.un.org/en/development/desa/population/migration/data/estimates2/data/"
_GITHUB = "https://raw.githubusercontent.com/"

TOTAL_FLOWS = ("migrant_stock", "population", "migrant_stock_share", "female_migrant_share",
               "migrant_stock_growth", "refugee_stock", "refugee_stock_share", "refugee_stock_growth")


def _aliases(ctx: LoadContext) -> None:
    if ctx.areas.resolve("CHA", ("gdiviz",)).code is None:
        ctx.areas.load_sidecar(NAME)


def _build_totals(file: str, layout: totals.Layout):
    def build(paths, ctx: LoadContext):
        _aliases(ctx)
        raw = totals.read_workbook(paths[file], layout)
        return totals.harmonise_workbook(raw, ctx, file=file, layout=layout)
    return build


def _build_2015(paths, ctx: LoadContext):
    _aliases(ctx)
    ctx.dataflow = "migrant_stock"
    raw = bilateral.read_matrix_2015(paths[FILE_2015])
    return {"migrant_stock": bilateral.harmonise_matrix_2015(raw, ctx, file=FILE_2015)}


def _build_2019_csv(paths, ctx: LoadContext):
    _aliases(ctx)
    ctx.dataflow = "migrant_stock"
    raw = bilateral.read_bilateral_2019_csv(paths[FILE_2019_CSV])
    return {"migrant_stock": bilateral.harmonise_bilateral_2019(raw, ctx, file=FILE_2019_CSV)}


def _build_gdiviz(paths, ctx: LoadContext):
    _aliases(ctx)
    ctx.dataflow = "migrant_stock"
    raw = bilateral.read_gdiviz_rda(paths[FILE_2020_RDA])
    return {"migrant_stock": bilateral.harmonise_gdiviz(raw, ctx, file=FILE_2020_RDA)}


SOURCE = Source(
    name=NAME,
    title="International Migrant Stock",
    publisher="United Nations, Department of Economic and Social Affairs, Population Division",
    homepage="https://www.un.org/development/desa/pd/content/international-migrant-stock",
    # migrants are counted to the person, and UN DESA's totals are the sums of its rows (the World's 2020
    # stock is the countries' sum exactly); the population (Table 2) is published in thousands
    tolerance=Tolerance.exact(), tolerances=(("population", Tolerance.rounded()),),
    releases=(
        ReleaseSpec(
            source=NAME, key="ims2020-destination", edition="2020", published=date(2021, 1, 15),
            title="International Migrant Stock 2020: Destination (POP/DB/MIG/Stock/Rev.2020), Tables 1-6",
            licence=CC_BY.format(year=2020),
            files=(SourceFile(FILE_2020, _DESA + FILE_2020,
                              "c2bae98812a1f68b1d7f57a8d3d11903b85522d664f319dfe87daa30f653fd5b"),),
            dataflows=TOTAL_FLOWS, build=_build_totals(FILE_2020, totals.LAYOUT_2020)),
        ReleaseSpec(
            source=NAME, key="ims2020-origin-destination-gdiviz", edition="2020", published=date(2021, 1, 15),
            title="International Migrant Stock 2020: destination x origin x sex, long form derived by IOM's "
                  "gdiviz package from undesa_pd_2020_ims_stock_by_sex_destination_and_origin.xlsx",
            licence="CC BY 3.0 IGO (UN data); the gdiviz package that reshaped it is MIT",
            files=(SourceFile(FILE_2020_RDA, _GITHUB + "ksreyes/gdiviz/1a9f94903bedf4a18d46929f211b88a21b052a4a/"
                              "data/stocks.rda",
                              "36c4228aba75e5a7351e956b54e27e57ab1592412957b9bc1453255211ddce21"),),
            dataflows=("migrant_stock",), build=_build_gdiviz),
        ReleaseSpec(
            source=NAME, key="ims2019-total", edition="2019", published=date(2019, 9, 17),
            title="International Migrant Stock 2019 (POP/DB/MIG/Stock/Rev.2019), totals, Tables 1-6",
            licence=CC_BY.format(year=2019),
            files=(SourceFile(FILE_2019, _DESA_2019 + "UN_MigrantStockTotal_2019.xlsx",
                              "6e44a1f4c750248b7721a6f32afa75477c2c22420bed26053e1bfe58f4a63062"),),
            dataflows=TOTAL_FLOWS, build=_build_totals(FILE_2019, totals.LAYOUT_2019)),
        ReleaseSpec(
            source=NAME, key="ims2019-origin-destination-clean", edition="2019", published=date(2019, 9, 17),
            title="International Migrant Stock 2019: destination x origin, both sexes, as a CSV cleaned by the "
                  "authors of guyabel/stepladderChapter from UN_MigrantStockByOriginAndDestination_2019.xlsx",
            licence="CC BY 3.0 IGO (UN data); the derived CSV states no licence",
            files=(SourceFile(FILE_2019_CSV, _GITHUB + "guyabel/stepladderChapter/"
                              "dfa46c6512b0242bd3c82b822ed21a06eb2d7fcf/archive/"
                              "UN_MigrantStockByOriginAndDestination_2019_clean.csv",
                              "5aa066f9666b2cabac0347fc2e2794ef99767fc36aa44cc12de82c32d40e4cda"),),
            dataflows=("migrant_stock",), build=_build_2019_csv),
        ReleaseSpec(
            source=NAME, key="ims2015-origin-destination", edition="2015", published=date(2015, 12, 1),
            title="Trends in International Migrant Stock: Migrants by Destination and Origin "
                  "(POP/DB/MIG/Stock/Rev.2015), Table 16 (2015, both sexes)",
            licence="Copyright © 2015 by United Nations. All rights reserved",
            # the publisher's workbook holds Tables 1-18; the mirror's copy was trimmed to Table 16 by its
            # uploader (hence its name and checksum). Only Table 16 is read, from either.
            files=(SourceFile(FILE_2015, _DESA_2019 + "UN_MigrantStockByOriginAndDestination_2015.xlsx",
                              "f657eaad7cae76ef874907fae58c373e9530e33cd68170e1bc8d14bd4b194ad1"),),
            dataflows=("migrant_stock",), build=_build_2015),
    ),
)
