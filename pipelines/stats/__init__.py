"""Pure statistics for the metric layer: plain data in, plain data out.

Wilson intervals for proportions, Kaplan–Meier survival, funnel-plot limits, XmR charts, disclosure
control (suppression and cell-key perturbation), and (v2) case-mix models: the crude and adjusted
comparison of outcomes with and without an exposure (peer support) and indirect standardisation of
programmes with Poisson funnel limits. Nothing here touches DuckDB or Dash; see docs/metrics.md for the
definitions implemented.
"""

from pipelines.stats.case_mix import (
    CASE_MIX_COVARIATES,
    DEFAULT_MIN_EVENTS_PER_PARAMETER,
    FAILURE_CODES,
    LogisticFit,
    ModelFailure,
    fit_logistic,
)
from pipelines.stats.exposure_comparison import (
    ESTIMATE_COLUMNS,
    PEER_DOSE_BANDS,
    SHARE_COLUMNS,
    DifferenceEstimate,
    adjusted_difference,
    compare_by_exposure,
    crude_difference,
    dose_band,
    newcombe_difference_interval,
    outcome_shares_by_group,
)
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
from pipelines.stats.indirect_standardisation import (
    STANDARDISATION_COLUMNS,
    IndirectStandardisation,
    indirect_standardisation,
    poisson_count_interval,
    ratio_funnel_curve,
    ratio_funnel_limits,
    ratio_funnel_significance,
    standardise,
    standardised_ratio_interval,
)
from pipelines.stats.kaplan_meier import (
    KM_COLUMNS,
    kaplan_meier,
    kaplan_meier_from_counts,
    median_survival,
    survival_at,
    survival_from_risk_sets,
)
from pipelines.stats.perturbation import (
    RECORD_KEYS,
    perturb,
    possible_true_counts,
    ptable,
)
from pipelines.stats.spc import RULES, SPC_COLUMNS, spc_signal, xmr
from pipelines.stats.suppression import (
    DEFAULT_THRESHOLD,
    apply_suppression,
    primary_suppress,
    suppress_table,
)
from pipelines.stats.wilson import Z95, wilson_interval, z_for_level

__all__ = [
    "CASE_MIX_COVARIATES",
    "DEFAULT_MIN_EVENTS_PER_PARAMETER",
    "DEFAULT_THRESHOLD",
    "ESTIMATE_COLUMNS",
    "FAILURE_CODES",
    "HIGH_95",
    "HIGH_99_8",
    "KM_COLUMNS",
    "LOW_95",
    "LOW_99_8",
    "NOT_SIGNIFICANT",
    "PEER_DOSE_BANDS",
    "RECORD_KEYS",
    "RULES",
    "SHARE_COLUMNS",
    "SIGNIFICANCE_LABELS",
    "SPC_COLUMNS",
    "STANDARDISATION_COLUMNS",
    "Z95",
    "DifferenceEstimate",
    "IndirectStandardisation",
    "LogisticFit",
    "ModelFailure",
    "adjusted_difference",
    "apply_suppression",
    "compare_by_exposure",
    "crude_difference",
    "dose_band",
    "fit_logistic",
    "funnel_curve",
    "funnel_limits",
    "funnel_significance",
    "indirect_standardisation",
    "kaplan_meier",
    "kaplan_meier_from_counts",
    "median_survival",
    "newcombe_difference_interval",
    "outcome_shares_by_group",
    "perturb",
    "possible_true_counts",
    "poisson_count_interval",
    "primary_suppress",
    "ptable",
    "ratio_funnel_curve",
    "ratio_funnel_limits",
    "ratio_funnel_significance",
    "spc_signal",
    "standardise",
    "standardised_ratio_interval",
    "suppress_table",
    "survival_at",
    "survival_from_risk_sets",
    "wilson_interval",
    "xmr",
    "z_for_level",
]
