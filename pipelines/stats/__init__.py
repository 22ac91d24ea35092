"""Pure statistics for the metric layer: plain data in, plain data out.

Wilson intervals for proportions, Kaplan–Meier survival, funnel-plot limits, XmR charts and disclosure
control. Nothing here touches DuckDB or Dash; see METRICS.md for the definitions implemented.
"""

from pipelines.stats.funnel import (
    HIGH_95,
    HIGH_99_8,
    LOW_95,
    LOW_99_8,
    NOT_SIGNIFICANT,
    SIGNIFICANCE_LABELS,
    funnel_curve,
    funnel_limits,
    funnel_significance,
)
from pipelines.stats.kaplan_meier import (
    KM_COLUMNS,
    kaplan_meier,
    kaplan_meier_from_counts,
    median_survival,
    survival_at,
    survival_from_risk_sets,
)
from pipelines.stats.spc import RULES, SPC_COLUMNS, spc_signal, xmr
from pipelines.stats.suppression import (
    DEFAULT_ROUNDING,
    DEFAULT_THRESHOLD,
    apply_suppression,
    primary_suppress,
    round_to_base,
    suppress_table,
)
from pipelines.stats.wilson import Z95, wilson_interval, z_for_level

__all__ = [
    "DEFAULT_ROUNDING",
    "DEFAULT_THRESHOLD",
    "HIGH_95",
    "HIGH_99_8",
    "KM_COLUMNS",
    "LOW_95",
    "LOW_99_8",
    "NOT_SIGNIFICANT",
    "RULES",
    "SIGNIFICANCE_LABELS",
    "SPC_COLUMNS",
    "Z95",
    "apply_suppression",
    "funnel_curve",
    "funnel_limits",
    "funnel_significance",
    "kaplan_meier",
    "kaplan_meier_from_counts",
    "median_survival",
    "primary_suppress",
    "round_to_base",
    "spc_signal",
    "suppress_table",
    "survival_at",
    "survival_from_risk_sets",
    "wilson_interval",
    "xmr",
    "z_for_level",
]
