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
``ims2024-origin-destination-gdidata``        2024     migrant_stock (destination x origin x sex,
                                                       1990-2024; totals derived, see ``gdidata``)
``ims2015-by-age``                            2015     migrant_stock (destination x sex x age, 1990)
``ims2017-by-age-shares``                     2017     migrant_stock_age_share (1990-2017)
============================================  =======  ==========================================

Published dates: the 2020 edition was released on 15 January 2021 (UN DESA's "International Migrant
Stock 2020" launch, with the International Migration 2020 Highlights); the 2019 edition on 17 September
2019 (UN DESA press release of that day); the 2015 revision in December 2015 (its workbooks say
"December 2015"; the 1st stands for the month); the 2024 edition in January 2025 (the gdidata copy was
made on 5 February 2025; the 1st stands for the month), the 2017 revision on 18 December 2017. A derived
table has the date of the edition it derives from, and its own download location (the repository commit
it was taken from: see PROVENANCE.md).
"""

from __future__ import annotations

from datetime import date

from imdx.checks.tolerance import Tolerance
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile
from imdx.sources.undesa_ims import bilateral, by_age, gdidata, notes, totals

NAME = "undesa_ims"
CC_BY = "CC BY 3.0 IGO (Copyright © {year} by United Nations, made available under a Creative Commons license)"

FILE_2020 = "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx"
FILE_2019 = "undesa_pd_2019_migrant_stock_total_dataset.xlsx"
FILE_2015 = "UN_MigrantStockByOriginAndDestination_2015_Table16only.xlsx"
FILE_2019_CSV = "derived/UN_MigrantStockByOriginAndDestination_2019_clean.csv"
FILE_2020_RDA = "derived/ims2020_stock_destination_origin_sex_gdiviz.rda"
FILE_2024_RDA = "derived/ims2024_stock_destination_origin_sex_gdidata.rda"
FILE_AGE_2015 = "UN_MigrantStockByAge_2015.csv"

_DESA = "https://www.un.org/development/desa/pd/sites/www.un.org.development.desa.pd/files/"
_DESA_2019 = "https://www.un.org/en/development/desa/population/migration/data/estimates2/data/"
_GITHUB = "https://raw.githubusercontent.com/"

TOTAL_FLOWS = ("migrant_stock", "population", "migrant_stock_share", "female_migrant_share",
               "migrant_stock_growth", "refugee_stock", "refugee_stock_share", "refugee_stock_growth")


def _aliases(ctx: LoadContext) -> None:
    if ctx.areas.resolve("OOO", ("gdidata",)).code is None:
        ctx.areas.load_sidecar(NAME)


def _build_totals(file: str, layout: totals.Layout):
    def build(paths, ctx: LoadContext):
        _aliases(ctx)
        raw = totals.read_workbook(paths[file], layout)
        tables = totals.harmonise_workbook(raw, ctx, file=file, layout=layout)
        ctx.notes.update(notes.read_notes(paths[file], "Notes" if layout is totals.LAYOUT_2020 else "NOTES"))
        return tables
    return build


def _build_2015(paths, ctx: LoadContext):
    _aliases(ctx)
    ctx.dataflow = "migrant_stock"
    raw = bilateral.read_matrix_2015(paths[FILE_2015])
    table = bilateral.harmonise_matrix_2015(raw, ctx, file=FILE_2015)
    ctx.notes.update(notes.read_notes(paths[FILE_2015], "NOTES"))
    return {"migrant_stock": table}


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


def _build_gdidata(paths, ctx: LoadContext):
    _aliases(ctx)
    ctx.dataflow = "migrant_stock"
    return {"migrant_stock": gdidata.harmonise(gdidata.read_rda(paths[FILE_2024_RDA]), ctx, file=FILE_2024_RDA)}


def _build_age_2015(paths, ctx: LoadContext):
    _aliases(ctx)
    ctx.dataflow = "migrant_stock"
    return {"migrant_stock": by_age.harmonise_2015(by_age.read_table_2015(paths[FILE_AGE_2015]), ctx,
                                                   file=FILE_AGE_2015)}


def _build_age_shares(paths, ctx: LoadContext):
    _aliases(ctx)
    ctx.dataflow = "migrant_stock_age_share"
    frames = {sex: by_age.read_shares(paths[name], encoding) for sex, (name, encoding) in by_age.SHARE_FILES.items()}
    return {"migrant_stock_age_share": by_age.harmonise_shares(frames, ctx)}


_DV = _GITHUB + "lauraCuccurullo/DVProject/{commit}/data/{name}"
_SHARE_COMMITS = {"UN_MigrantStockByAge_2017.csv": ("f6322bbe8dbde5f1a7905e2be695b9c6357b444f",
                                                    "d14479134d72c8910dbd536b97feeb7f1ac5c203988a0c186a705b43b674f0cf"),
                  "UN_MigrantStockByAge_2017Female.csv": (
                      "97185550909ce8b9dea9c27b46d524968704e5db",
                      "0c2e595774fb1facf4d1c1ae1b0fee4c61e57de99b52dcee0cbfa70ba61b81e4"),
                  "UN_MigrantStockByAge_2017Male.csv": (
                      "97185550909ce8b9dea9c27b46d524968704e5db",
                      "effa68f77726759e9792c2c1b973d27050f339e25baf9fd56b6ca3215055db08")}


def _share_files() -> tuple[SourceFile, ...]:
    out = []
    for name, _ in by_age.SHARE_FILES.values():
        base = name.rsplit("/", 1)[1]
        commit, sha = _SHARE_COMMITS[base]
        out.append(SourceFile(name, _DV.format(commit=commit, name=base), sha))
    return tuple(out)


SOURCE = Source(
    name=NAME,
    title="International Migrant Stock",
    publisher="United Nations, Department of Economic and Social Affairs, Population Division",
    homepage="https://www.un.org/development/desa/pd/content/international-migrant-stock",
    # migrants are counted to the person, and UN DESA's totals are the sums of its rows (the World's 2020
    # stock is the countries' sum exactly); the population (Table 2) is published in thousands
    tolerance=Tolerance.exact(),
    # (the shares by age are percentages with one decimal: rounded)
    tolerances=(("population", Tolerance.rounded()), ("migrant_stock_age_share", Tolerance.rounded())),
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
        ReleaseSpec(
            source=NAME, key="ims2024-origin-destination-gdidata", edition="2024", published=date(2025, 1, 1),
            title="International Migrant Stock 2024: destination x origin x sex, 1990-2024, long form derived by "
                  "IOM's gdidata package (undesa_stocks); totals derived by imdx from the published cells",
            licence="CC BY 3.0 IGO (UN data); the gdidata package that reshaped it is MIT",
            files=(SourceFile(FILE_2024_RDA, _GITHUB + "iom/gdidata/d6262efc4052c0720eb8bfc866eece9dc705641b/"
                              "data/undesa_stocks.rda",
                              "80e7d03931728f4bed908e7397f887a48e8661703967f5eafc1ed1e3d70cc40c"),),
            dataflows=("migrant_stock",), build=_build_gdidata),
        ReleaseSpec(
            source=NAME, key="ims2015-by-age", edition="2015", published=date(2015, 12, 1),
            title="Trends in International Migrant Stock: Migrants by Age and Sex (POP/DB/MIG/Stock/Rev.2015), "
                  "Table 1 (1990), as the uploader's CSV of that sheet",
            licence="Copyright © 2015 by United Nations. All rights reserved",
            files=(SourceFile(FILE_AGE_2015, _GITHUB + "brian-cuny/migrantdata/"
                              "b1f9a591f72c540bd77bcdae19c7b13e6c408a18/UN_MigrantStockByAge_2015.csv",
                              "b9626b6525f42276352a0120bd12f2ded9cc77a2d4bd6d2ebeeb7bdc0cc6eaf0"),),
            dataflows=("migrant_stock",), build=_build_age_2015),
        ReleaseSpec(
            source=NAME, key="ims2017-by-age-shares", edition="2017", published=date(2017, 12, 18),
            title="International Migrant Stock: The 2017 Revision, percentage distribution of the migrant stock by "
                  "age, 1990-2017 (long form derived by a visualisation project; names only)",
            licence="UN DESA 2017 revision: all rights reserved; the deriving repository states no licence",
            files=_share_files(), dataflows=("migrant_stock_age_share",), build=_build_age_shares),
    ),
)
