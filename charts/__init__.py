"""Figure builders shared by the presenters (the dashboard and the board pack): each takes aggregated
DataFrames from the metric layer and returns a Plotly figure. No Dash here.

The conventions every builder keeps:

- Hover shows the value with its numerator, denominator and 95% interval (or, for survival, the
  numbers at risk).
- A suppressed cell (hidden by disclosure control; the hover says why) is drawn as suppressed: a hollow
  grey marker or a "suppressed" label, never as a zero and never joined into a line.
- Colours come from the Okabe-Ito palette, which stays distinct under the common colour-vision
  deficiencies; blue and orange say improvement and concern (as in NHS "Making Data Count"), and only
  for a metric with a direction.

Split by chart family: `charts.style` (palette, formats, layout), `charts.spc`, `charts.funnel`
(proportions and case-mix-adjusted ratios), `charts.survival`, `charts.bars`, `charts.comparisons`
(a difference with its interval, crude and adjusted); `charts.export` labels what leaves the app
(images, CSV sidecars).
"""

from __future__ import annotations

from charts.bars import (
    comparison_figure,
    grouped_bar_figure,
    mix_figure,
    proportion_bar_figure,
    trend_lines_figure,
)
from charts.comparisons import difference_figure
from charts.export import (
    DISCLOSURE_NOTE,
    PRODUCT_NAME,
    ExportLabels,
    csv_metadata,
    export_filename,
    export_image,
    export_layout,
    filter_labels,
    labelled_figure,
    rounded_for_csv,
)
from charts.funnel import (
    SIGNIFICANCE_TEXT,
    funnel_figure,
    ratio_funnel_figure,
    significance_colour,
)
from charts.spc import (
    sparkline_figure,
    spc_figure,
)
from charts.style import (
    CATEGORICAL,
    COMMON,
    CONCERN,
    FONT,
    IMPROVEMENT,
    LIMIT,
    NEITHER,
    OKABE_ITO,
    PEER,
    PROFESSIONAL,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    categorical_colour,
    corner_note,
    empty_figure,
    format_count,
    format_value,
    hover_lines,
    is_missing,
    percent_text,
    rgba,
    style,
    suppressed_flags,
    suppressed_marks,
)
from charts.survival import (
    km_figure,
)

__all__ = [
    "CATEGORICAL",
    "DISCLOSURE_NOTE",
    "PRODUCT_NAME",
    "ExportLabels",
    "csv_metadata",
    "export_filename",
    "export_image",
    "export_layout",
    "filter_labels",
    "labelled_figure",
    "rounded_for_csv",
    "COMMON",
    "CONCERN",
    "FONT",
    "IMPROVEMENT",
    "LIMIT",
    "NEITHER",
    "OKABE_ITO",
    "PEER",
    "PROFESSIONAL",
    "SIGNIFICANCE_TEXT",
    "SUPPRESSED",
    "SUPPRESSED_NOTE",
    "categorical_colour",
    "comparison_figure",
    "corner_note",
    "difference_figure",
    "empty_figure",
    "format_count",
    "format_value",
    "funnel_figure",
    "grouped_bar_figure",
    "hover_lines",
    "is_missing",
    "km_figure",
    "mix_figure",
    "percent_text",
    "proportion_bar_figure",
    "ratio_funnel_figure",
    "rgba",
    "significance_colour",
    "sparkline_figure",
    "spc_figure",
    "style",
    "suppressed_flags",
    "suppressed_marks",
    "trend_lines_figure",
]
