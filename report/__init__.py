"""The board pack: a multi-page A4 landscape PDF of one dashboard view for a board or a commissioning
meeting, a presenter beside the dashboard over the same metric layer and the same reads.

- `build_pack(data, state) -> bytes` and `write_pack(data, state, path)`: the PDF of a view (a month, a
  financial-year quarter, a financial year or the rolling 12 months; one value or all of each filter)
  for the person asking; `PackRefused` for any other view.
- `collect_pack`: what the pack holds, before layout (the numbers the tests check).
- `report.sentences`: the plain-English sentence of each indicator, from its statistics.

The pack holds a cover (system, period, data as at, filters, what it covers), the headline indicators
with interval, change on the previous period and SPC signal, one SPC chart per headline, funnel plots
for retention, completion and waiting times, the exit mix and the support mix, a sentence per
indicator, the definitions and the disclosure statement.
"""

from __future__ import annotations

import os
from pathlib import Path

from dashboard.filters import FilterState
from dashboard.queries import DashboardData
from report.pack import PERIOD_SHAPES, BoardPack, PackRefused, check_pack_view, collect_pack


def build_pack(data: DashboardData, state: FilterState) -> bytes:
    """The board pack of the view ``state`` as PDF bytes, for the person asking
    (`dashboard.auth.current_scope`). `PackRefused` for a view the dashboard does not answer."""
    from report.render import render_pack

    return render_pack(collect_pack(data, state))


def write_pack(data: DashboardData, state: FilterState, path: str | os.PathLike[str]) -> Path:
    """`build_pack` written to ``path`` (written whole, or not at all)."""
    target = Path(path)
    pdf = build_pack(data, state)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(pdf)
    partial.replace(target)
    return target


__all__ = [
    "PERIOD_SHAPES",
    "BoardPack",
    "PackRefused",
    "build_pack",
    "check_pack_view",
    "collect_pack",
    "write_pack",
]
