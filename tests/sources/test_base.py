"""The shared pieces of every source: coded text columns and finish()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imdx.sources.base import coded, finish


def test_coded_gathers_labels_merges_equal_ones_and_keeps_missing_values():
    column = coded(["DEU", None, "DEU", 4], np.array([0, 1, 2, 3, -1, 0], dtype=np.int8))
    assert list(column.categories) == ["DEU", "4"]
    assert column[0] == "DEU" and column[3] == "4" and pd.isna(column[1]) and pd.isna(column[4])
    assert list(column.codes) == [0, -1, 0, 1, -1, 0]


def test_coded_without_labels_is_all_missing():
    column = coded([], np.full(3, -1))
    assert len(column) == 3 and column.isna().all() and len(column.categories) == 0


@pytest.mark.parametrize("text", [pd.Series(["A", None, "B"], dtype="string"), pd.Series(["A", None, "B"])])
def test_finish_makes_text_columns_categoricals_of_strings_without_unused_codes(text):
    frame = pd.DataFrame({"area": pd.Categorical(["DEU", "FRA", None], categories=["DEU", "FRA", "ITA"]),
                          "flow": text, "year": [2020, 2021, 2022], "value": ["1", "2", "3"],
                          "cell_row": [2, 3, 4], "cell_column": pd.Categorical([7, 8, 9])})
    out = finish("remittances", frame)
    assert list(out["area"]) == ["DEU", "FRA"]  # the row without an area is dropped
    assert list(out["area"].cat.categories) == ["DEU", "FRA"]  # ITA, unused, is gone
    assert list(out["cell_column"].cat.categories) == ["7", "8"]  # codes kept as text
    assert list(out["obs_status"]) == ["A", "A"] and out["note"].isna().all()
    assert out["value"].tolist() == [1.0, 2.0] and str(out["year"].dtype) == "int16"
