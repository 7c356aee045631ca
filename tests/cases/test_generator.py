import pandas as pd

from imdx.cases.generator import as_text, generate_cases
from imdx.cases.intake import read_contributor_file
from imdx.cases.schema import FIELDS

from .conftest import CTDC_VP_FILE


def test_same_seed_same_records_other_seed_other_records():
    a, b, c = generate_cases(300, seed=1), generate_cases(300, seed=1), generate_cases(300, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["victim_name"].equals(c["victim_name"])
    assert list(a.columns) == [f.name for f in FIELDS]


def test_any_size():
    assert len(generate_cases(0)) == 0
    assert len(generate_cases(1)) == 1
    assert generate_cases(5000, seed=3)["victim_name"].is_unique


def test_shares_resemble_the_ctdc_synthetic_data():
    ctdc = read_contributor_file(CTDC_VP_FILE)
    generated = generate_cases(50000, seed=4)

    def share(series, value):
        known = series[series.notna() & series.ne("")]
        return (known == value).mean()

    assert abs(share(generated["gender"], "Woman") - share(ctdc["gender"], "Woman")) < 0.06
    assert abs(share(generated["majority_status"], "Minor") - share(ctdc["majority_status"], "Minor")) < 0.05
    forced_ctdc = (ctdc["is_forced_labour"] == "1").mean()
    forced_generated = generated["is_forced_labour"].fillna(False).mean()
    assert abs(forced_ctdc - forced_generated) < 0.08
    assert 0.1 < generated["gender"].isna().mean() < 0.25        # CTDC: 17% missing gender


def test_generated_records_round_trip_through_contributor_text(tmp_path):
    records = generate_cases(200, seed=5)
    path = tmp_path / "g.csv"
    as_text(records).to_csv(path, index=False)
    back = read_contributor_file(path)
    assert back["victim_name"].tolist() == records["victim_name"].tolist()
    assert set(back["is_forced_labour"]) <= {"1", "NULL"}
