"""The metric layer: every metric of docs/metrics.md, defined once, for notebooks, the CLI and the dashboard.

Entry points: `compute_metric` (a metric for a period, broken down and filtered, with intervals and
disclosure control; ``adjust=True`` compares programmes on case mix), `metric_series` (month by month,
for XmR charts), `compute_mix` (a count metric's distribution over a category, e.g. how episodes ended),
`available_metrics` and `describe_metric`. Peer support and outcomes on a landmark cohort, crude and
case-mix-adjusted, with dose and timing: `compare_peer_support`, `peer_support_dose`,
`peer_support_timing` (`pipelines.metrics.comparisons`).
``Warehouse.metric(...)`` is `compute_metric` on an open warehouse. A metric with parameters of its
definition (relapse_tests, time_to_relapse: grace_weeks, run_length, window_weeks) takes them as
``parameters={"grace_weeks": 2}``, checked by `resolve_parameters` against what the metric declares.
"""

from pipelines.metrics.adjustment import ADJUSTABLE_METRICS, ADJUSTMENT_COLUMNS
from pipelines.metrics.api import (
    CONVENTIONS,
    available_metrics,
    compute_metric,
    compute_mix,
    describe_metric,
    extract_as_of,
    extract_dates,
    labelled_counts,
    metric_catalogue,
    metric_series,
    metric_sql,
    missing_tables,
    shared_survival,
    warehouse_contents,
)
from pipelines.metrics.comparisons import (
    COMPARISON_COLUMNS,
    LANDMARK_DAYS,
    LANDMARKS,
    PEER_SUPPORT_METRICS,
    TIMING_GROUPS,
    compare_peer_support,
    peer_support_dose,
    peer_support_records,
    peer_support_timing,
)
from pipelines.metrics.labels import CODE_LABELS, all_labels, code_label, dimension_labels, with_names
from pipelines.metrics.registry import (
    DIMENSIONS,
    METRICS,
    PEER_SUPPORT_VALUES,
    Metric,
    MetricParameter,
    get_metric,
    resolve_parameters,
)

__all__ = [
    "ADJUSTABLE_METRICS",
    "ADJUSTMENT_COLUMNS",
    "CODE_LABELS",
    "COMPARISON_COLUMNS",
    "CONVENTIONS",
    "DIMENSIONS",
    "LANDMARKS",
    "LANDMARK_DAYS",
    "METRICS",
    "PEER_SUPPORT_METRICS",
    "PEER_SUPPORT_VALUES",
    "TIMING_GROUPS",
    "Metric",
    "MetricParameter",
    "all_labels",
    "available_metrics",
    "code_label",
    "compare_peer_support",
    "compute_metric",
    "compute_mix",
    "describe_metric",
    "dimension_labels",
    "extract_as_of",
    "extract_dates",
    "get_metric",
    "labelled_counts",
    "metric_catalogue",
    "metric_series",
    "metric_sql",
    "missing_tables",
    "peer_support_dose",
    "peer_support_records",
    "peer_support_timing",
    "resolve_parameters",
    "shared_survival",
    "warehouse_contents",
    "with_names",
]
