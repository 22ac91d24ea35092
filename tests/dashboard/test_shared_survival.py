"""`shared_survival`: an analyst's own per-time counts give the survival table a shared output shows, by the
same rules; checked against the metric layer's own shared table of time_in_treatment (the same records)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipelines.metrics import compute_metric, shared_survival


@pytest.mark.parametrize("by", [[], ["setting"]])
def test_shared_survival_of_a_metrics_counts_is_the_metrics_shared_table(warehouse_path, by) -> None:
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        exact = compute_metric(
            con, "time_in_treatment", "2024-04-01", "2025-03-31", by=by or None, suppress=False, keys=True
        )
        shared = compute_metric(con, "time_in_treatment", "2024-04-01", "2025-03-31", by=by or None)
    counts = exact[[*by, "t", "events", "censored", "events_key", "censored_key"]]
    ours = shared_survival(counts, by)
    assert len(ours) > 5 and ours["n_at_risk"].notna().any()
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True)[shared.columns], shared.reset_index(drop=True), check_dtype=False
    )


def test_shared_survival_refuses_counts_without_their_keys() -> None:
    with pytest.raises(ValueError, match="events_key"):
        shared_survival(pd.DataFrame({"t": [1], "events": [1], "censored": [0]}))
