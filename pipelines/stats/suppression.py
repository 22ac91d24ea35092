"""Disclosure control for shared outputs: primary and secondary suppression of small counts.

docs/metrics.md, "Disclosure control": any count between 1 and 4 (a numerator, a denominator, or denominator
− numerator) is suppressed in every shared output, a suppressed cell shows as suppressed (never as 0),
and where a table shows totals enough further cells are suppressed that no hidden cell can be worked
out from the rest. The threshold is a setting; a threshold of 1 or less turns suppression off.

The functions return masks and never drop rows: `primary_suppress` marks the small counts,
`suppress_table` adds the secondary (complementary) suppressions a table with totals needs, and
`apply_suppression` blanks the marked cells. Differencing two outputs is stopped by the cell-key
perturbation of every shown count (`pipelines.stats.perturbation`), applied before these rules, which
then see only perturbed counts; rounding to 5, which did this job before issue 16, protected one pair
of views but not many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

DEFAULT_THRESHOLD = 5
"""Counts from 1 to DEFAULT_THRESHOLD − 1 are suppressed."""


def _is_small(counts: np.ndarray, threshold: int | None) -> np.ndarray:
    if threshold is None or threshold <= 1:
        return np.zeros(counts.shape, dtype=bool)
    return (counts >= 1) & (counts <= threshold - 1)


def primary_suppress(
    numerators: npt.ArrayLike,
    denominators: npt.ArrayLike | None = None,
    threshold: int | None = DEFAULT_THRESHOLD,
) -> np.ndarray:
    """Primary suppression: mark each cell where a count is between 1 and ``threshold − 1``.

    A cell is suppressed when its numerator, its denominator or its complement (denominator −
    numerator) is in 1 … threshold − 1 (1–4 by default). Zero is never suppressed, nor is anything when
    ``threshold`` is None or ≤ 1. Pass ``denominators=None`` for plain counts. Missing counts are not
    marked (they are not shown anyway). Returns a boolean array the shape of the inputs.

    This is the small-number rule of the NHS Digital / ONS disclosure-control guidance for health
    statistics, as set out in docs/metrics.md.
    """
    x = np.asarray(numerators, dtype=float)
    small = _is_small(x, threshold)
    if denominators is not None:
        n = np.asarray(denominators, dtype=float)
        small = small | _is_small(n, threshold) | _is_small(n - x, threshold)
    return np.asarray(small, dtype=bool)


@dataclass
class _TableGraph:
    """A table with totals as a graph: each shown number is an edge between the two lines it sits in.

    The table is extended with its margins (row totals, column totals, grand total) and every entry is
    signed (+ for cells and the grand total, − for row and column totals) so that every line sums to
    zero. Lines whose total is shown are constrained nodes; lines without one all merge into a single
    unconstrained node. Hidden entries are the unknowns of the line equations, and a change to them that
    keeps every constrained line's sum is a circulation on this graph.
    """

    row_node: np.ndarray
    col_node: np.ndarray
    sign: np.ndarray
    values: np.ndarray  # entries × quantities, the true counts
    size: np.ndarray  # ordering for choosing complementary cells
    constrained: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Plain Python lists: the searches below index single entries, which numpy makes slow.
        rows, cols = self.row_node.tolist(), self.col_node.tolist()
        positive = (self.values > 0).T.tolist()
        rising = (self.sign > 0).tolist()
        self._arcs: list[list[tuple[tuple[int, int], ...]]] = [
            [
                ((u, w), (w, u)) if pos else (((u, w),) if up else ((w, u),))
                for u, w, pos, up in zip(rows, cols, column, rising, strict=True)
            ]
            for column in positive
        ]

    def arcs(self, entry: int, quantity: int) -> list[tuple[int, int]]:
        """Directions an entry's count can move in: an arc row→col raises its signed value."""
        # A zero count can only rise, which moves the signed value in the direction of its sign.
        return list(self._arcs[quantity][entry])

    def hidden_arcs(self, quantity: int, hidden: Sequence[int]) -> dict[int, dict[int, int]]:
        """Every arc of the hidden entries for one quantity, as node → {node: number of such arcs}."""
        adjacency: dict[int, dict[int, int]] = {}
        arcs = self._arcs[quantity]
        for entry in hidden:
            for a, b in arcs[entry]:
                targets = adjacency.setdefault(a, {})
                targets[b] = targets.get(b, 0) + 1
        return adjacency

    def add_arcs(self, adjacency: dict[int, dict[int, int]], entry: int, quantity: int, step: int) -> None:
        """Add (step 1) or take away (step −1) one entry's arcs in an adjacency from `hidden_arcs`."""
        for a, b in self._arcs[quantity][entry]:
            targets = adjacency.setdefault(a, {})
            targets[b] = targets.get(b, 0) + step

    def pinned_in(self, entry: int, quantity: int, adjacency: dict[int, dict[int, int]]) -> bool:
        """`is_determined` for a hidden entry, given the hidden entries' arcs (its own included)."""
        own = self._arcs[quantity][entry]
        for a, b in own:
            if a == b or _reaches(adjacency, b, a, own):
                return False
        return True

    def is_determined(self, entry: int, quantity: int, hidden: np.ndarray) -> bool:
        """True when the hidden entry's count is pinned to one value by the visible entries and totals.

        It is not pinned exactly when some feasible change moves it, i.e. when one of its arcs lies on
        a directed cycle of hidden entries' arcs (conformal decomposition of circulations: a feasible
        change is a sum of feasible cycles, and zero counts only allow arcs that raise them).
        """
        others = [other for other in np.flatnonzero(hidden).tolist() if other != entry]
        adjacency = self.hidden_arcs(quantity, [*others, entry])
        return self.pinned_in(entry, quantity, adjacency)


def _reaches(
    adjacency: dict[int, dict[int, int]], start: int, goal: int, skip: tuple[tuple[int, int], ...] = ()
) -> bool:
    """Whether a path leads from start to goal, not counting one copy of each arc in ``skip``."""
    seen = {start}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for nxt, copies in adjacency.get(node, {}).items():
            if copies <= 0 or (copies == 1 and (node, nxt) in skip):
                continue
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return False


def _is_total(column: pd.Series, total_label: object) -> pd.Series:
    if total_label is None:
        return column.isna()
    return column.isna() | (column == total_label)


def _labels(column: pd.Series, is_total: np.ndarray) -> np.ndarray:
    """The column's categories as objects (what the totals hold does not matter)."""
    if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
        return column.to_numpy(dtype=object)
    # Other dtypes compare as they do once the totals are blanked (e.g. integers become floats).
    return column.where(~is_total, None).astype(object).to_numpy()


def _build_graph(
    df: pd.DataFrame,
    quantities: np.ndarray,
    size: np.ndarray,
    group_cols: Sequence[str],
    total_label: object,
    implied_totals: bool,
) -> _TableGraph:
    totals = [_is_total(df[column], total_label).to_numpy(dtype=bool) for column in group_cols]
    labels = [_labels(df[column], total) for column, total in zip(group_cols, totals, strict=True)]
    return _graph_from_labels(group_cols, labels, totals, quantities, size, implied_totals)


def _graph_from_labels(
    group_cols: Sequence[str],
    labels: Sequence[np.ndarray],
    totals: Sequence[np.ndarray],
    quantities: np.ndarray,
    size: np.ndarray,
    implied_totals: bool,
) -> _TableGraph:
    free = 0
    rows = len(quantities)
    if len(group_cols) == 1:
        is_total = totals[0]
        if is_total.sum() > 1:
            raise ValueError("a one-way table has at most one total row")
        categories = labels[0][~is_total].tolist()
        if len(set(categories)) != len(categories):
            raise ValueError(f"duplicate categories in {group_cols[0]!r}")
        line = 1
        constrained = {line} if (is_total.any() or implied_totals) else set()
        row_node = np.full(rows, line if constrained else free)
        col_node = np.full(rows, free)
        sign = np.where(is_total, -1, 1)
        return _TableGraph(row_node, col_node, sign, quantities, size, constrained)

    first, second = group_cols
    first_total, second_total = totals
    first_total_list, second_total_list = first_total.tolist(), second_total.tolist()
    first_keys = [None if t else k for t, k in zip(first_total_list, labels[0].tolist(), strict=True)]
    second_keys = [None if t else k for t, k in zip(second_total_list, labels[1].tolist(), strict=True)]
    if len(set(zip(first_keys, second_keys, strict=True))) != rows:
        raise ValueError(f"duplicate ({first}, {second}) combinations")
    row_labels = dict.fromkeys(k for t, k in zip(first_total_list, first_keys, strict=True) if not t)
    col_labels = dict.fromkeys(k for t, k in zip(second_total_list, second_keys, strict=True) if not t)
    # Node ids: 0 is the merged unconstrained node; rows and the column-totals line, then columns and
    # the row-totals line.
    row_ids = {label: 1 + i for i, label in enumerate(row_labels)}
    margin_row = 1 + len(row_labels)
    col_ids = {label: margin_row + 1 + j for j, label in enumerate(col_labels)}
    margin_col = margin_row + 1 + len(col_labels)

    row_node = np.array(
        [margin_row if t else row_ids[k] for t, k in zip(first_total_list, first_keys, strict=True)],
        dtype=np.int64,
    )
    col_node = np.array(
        [margin_col if t else col_ids[k] for t, k in zip(second_total_list, second_keys, strict=True)],
        dtype=np.int64,
    )
    sign = np.where(first_total ^ second_total, -1, 1)

    # A line is constrained when its total is shown: as a row of the table, or implied.
    if implied_totals:
        constrained = set(range(1, margin_col + 1))
    else:
        constrained = set(row_node[second_total & ~first_total].tolist())
        constrained |= set(col_node[first_total & ~second_total].tolist())
        if (first_total & second_total).any():
            constrained |= {margin_row, margin_col}
    row_node = np.where(np.isin(row_node, list(constrained)), row_node, free)
    col_node = np.where(np.isin(col_node, list(constrained)), col_node, free)
    return _TableGraph(row_node, col_node, sign, quantities, size, constrained)


def suppress_table(
    df: pd.DataFrame,
    count_cols: Sequence[str],
    group_cols: Sequence[str],
    *,
    pairs: Sequence[tuple[str, str]] = (),
    threshold: int | None = DEFAULT_THRESHOLD,
    total_label: object = None,
    implied_totals: bool = True,
    size_col: str | None = None,
) -> pd.Series:
    """Primary plus secondary suppression for a one- or two-way table of counts with totals.

    ``df`` has one row per shown entry: categories of ``group_cols`` (one column for a breakdown with a
    total, two for e.g. programme × quarter with row and column margins) and the counts in
    ``count_cols``. Total rows are those whose group value is missing (as DuckDB's ``ROLLUP`` or
    ``GROUPING SETS`` produce) or equal to ``total_label``: for two-way tables, a row total has the
    second group missing, a column total the first, the grand total both. With ``implied_totals`` (the
    default, the safe choice) a line whose total row is absent is treated as if that total were shown
    elsewhere (a headline figure). ``pairs`` lists (numerator, denominator) columns whose complement
    denominator − numerator is also a count. A suppressed row hides all its counts.

    Rule (the usual cell-suppression method of official statistics, cf. the ONS and NHS Digital
    disclosure-control guidance):

    1. Primary: suppress each row (cells and totals alike) with a count or complement in
       1 … threshold − 1 (`primary_suppress`).
    2. Secondary, repeated until nothing changes: in every line (row or column of the table with its
       total) holding exactly one suppressed entry, also suppress the smallest non-zero unsuppressed
       entry of that line by ``size_col`` (default the last of ``count_cols``), then confirm that
       every positive count of every suppressed entry can still take more than one value given the
       visible entries and totals; where one cannot (for example a hidden cell that links two
       otherwise separate groups of hidden cells, which the line-by-line rule misses), suppress the
       smallest further entry that frees it.

    The check in step 2 is exact for the line equations with non-negative counts (each count column
    and each complement is a separate set of equations, and numerator ≤ denominator is exactly
    complement ≥ 0): a hidden count is pinned iff no circulation of hidden entries can move it. A zero
    count pinned at zero is allowed, as zero is not disclosive. If the table offers no entry that can
    protect a cell (e.g. a one-row breakdown whose total is shown elsewhere), the cell stays suppressed
    and the total must not be shown either.

    Returns a boolean Series ``suppressed`` aligned with ``df``; rows are never dropped.
    """
    if len(group_cols) not in (1, 2):
        raise ValueError("suppress_table handles one- and two-way tables")
    columns = list(count_cols)
    for numerator, denominator in pairs:
        if numerator not in df or denominator not in df:
            raise ValueError(f"pair ({numerator!r}, {denominator!r}) is not in the table")
    counts = df[columns].to_numpy(dtype=float)
    complements = [df[d].to_numpy(dtype=float) - df[n].to_numpy(dtype=float) for n, d in pairs]
    quantities = _quantities(counts, complements)
    hidden = np.asarray(_is_small(quantities, threshold).any(axis=1), dtype=bool)
    if threshold is None or threshold <= 1 or len(df) == 0:
        return pd.Series(hidden, index=df.index, name="suppressed")

    size = df[size_col or columns[-1]].to_numpy(dtype=float)
    graph = _build_graph(df, quantities, size, group_cols, total_label, implied_totals)
    return pd.Series(_secondary(graph, hidden), index=df.index, name="suppressed")


def _quantities(counts: np.ndarray, complements: Sequence[np.ndarray]) -> np.ndarray:
    quantities = np.column_stack([counts, *complements]) if complements else counts
    if np.isnan(quantities).any():
        raise ValueError("suppression needs every count; found a missing value")
    if (quantities < 0).any():
        raise ValueError("counts and complements must be non-negative")
    return quantities


def suppress_labelled(
    counts: np.ndarray,
    complements: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    group_cols: Sequence[str],
    threshold: int | None = DEFAULT_THRESHOLD,
    size: np.ndarray | None = None,
) -> np.ndarray:
    """`suppress_table` on arrays, for callers that already hold them (the metric layer).

    ``counts`` is rows × count columns (floats), ``complements`` the denominator − numerator arrays of
    the pairs, ``labels`` one object array of categories per group column (names in ``group_cols``, for
    messages), a missing label marking a total; totals are implied and ``size`` defaults to the last
    count column. Returns the boolean mask ``suppress_table`` gives for the same table.
    """
    if len(labels) not in (1, 2):
        raise ValueError("suppress_table handles one- and two-way tables")
    quantities = _quantities(counts, complements)
    hidden = np.asarray(_is_small(quantities, threshold).any(axis=1), dtype=bool)
    if threshold is None or threshold <= 1 or len(quantities) == 0:
        return hidden
    totals = [pd.isna(column) for column in labels]
    size = counts[:, -1] if size is None else size
    graph = _graph_from_labels(group_cols, labels, totals, quantities, size, True)
    return _secondary(graph, hidden)


def _secondary(graph: _TableGraph, hidden: np.ndarray) -> np.ndarray:
    """Step 2 of `suppress_table`: add complementary suppressions to ``hidden`` (in place) and return it."""
    size = graph.size
    order = np.lexsort((np.arange(len(size)), size, size == 0)).tolist()  # non-zero first, then smallest
    lines = {
        node: [entry for entry in order if in_line[entry]]
        for node in sorted(graph.constrained)
        for in_line in [((graph.row_node == node) | (graph.col_node == node)).tolist()]
    }
    unresolvable: set[tuple[int, int]] = set()
    free: set[tuple[int, int]] = set()  # hidden counts known to be free; they stay free as more is hidden

    while True:
        if _complete_lines(lines, hidden):
            continue
        pinned = _first_pinned(graph, hidden, unresolvable, free)
        if pinned is None:
            break
        entry, quantity = pinned
        addition = _freeing_entry(graph, hidden, order, entry, quantity)
        if addition is None:
            unresolvable.add(pinned)
        else:
            hidden[addition] = True
    return hidden


def _complete_lines(lines: dict[int, list[int]], hidden: np.ndarray) -> bool:
    """Apply the line rule once: a line with one hidden entry gets its smallest visible one hidden.

    ``lines`` maps each constrained line to its entries, smallest first.
    """
    changed = False
    for members in lines.values():
        if sum(bool(hidden[entry]) for entry in members) != 1:
            continue
        for candidate in members:
            if not hidden[candidate]:
                hidden[candidate] = True
                changed = True
                break
    return changed


def _first_pinned(
    graph: _TableGraph,
    hidden: np.ndarray,
    unresolvable: set[tuple[int, int]],
    free: set[tuple[int, int]],
) -> tuple[int, int] | None:
    """The first hidden (entry, quantity) with a positive count that `is_determined`, skipping those in
    ``unresolvable``; the ones found free are added to ``free`` (valid while entries are only added)."""
    entries = np.flatnonzero(hidden).tolist()
    positive = (graph.values[entries] > 0).tolist()
    adjacency: dict[int, dict[int, dict[int, int]]] = {}
    for entry, counts in zip(entries, positive, strict=True):
        for quantity, is_positive in enumerate(counts):
            key = (entry, quantity)
            if not is_positive or key in unresolvable or key in free:
                continue
            if quantity not in adjacency:
                adjacency[quantity] = graph.hidden_arcs(quantity, entries)
            if graph.pinned_in(entry, quantity, adjacency[quantity]):
                return key
            free.add(key)
    return None


def _freeing_entry(
    graph: _TableGraph, hidden: np.ndarray, order: list[int], entry: int, quantity: int
) -> int | None:
    """The visible entry to suppress next so that ``entry`` is no longer pinned.

    Prefers, in turn: the smallest non-zero entry that frees it on its own; the smallest non-zero
    entry in one of its lines (a step towards a freeing cycle); the smallest non-zero entry anywhere;
    any zero entry that frees it. Zero entries come last because a hidden zero protects little.
    """
    visible = [c for c in order if not hidden[c]]
    non_zero = [c for c in visible if graph.size[c] > 0]
    adjacency = graph.hidden_arcs(quantity, np.flatnonzero(hidden).tolist())

    def frees(candidate: int) -> bool:
        graph.add_arcs(adjacency, candidate, quantity, 1)
        pinned = graph.pinned_in(entry, quantity, adjacency)
        graph.add_arcs(adjacency, candidate, quantity, -1)
        return not pinned

    for candidate in non_zero:
        if frees(candidate):
            return candidate
    lines = {int(graph.row_node[entry]), int(graph.col_node[entry])} & graph.constrained
    for candidate in non_zero:
        if {int(graph.row_node[candidate]), int(graph.col_node[candidate])} & lines:
            return candidate
    if non_zero:
        return non_zero[0]
    return next((c for c in visible if frees(c)), None)


def apply_suppression(
    df: pd.DataFrame, mask: npt.ArrayLike | pd.Series, value_cols: Sequence[str]
) -> pd.DataFrame:
    """Blank the suppressed rows' values and flag them.

    Returns a copy of ``df`` where ``value_cols`` are missing (NaN, never 0) on rows where ``mask`` is
    true, and a boolean ``suppressed`` column that is true there (combined with any existing
    ``suppressed`` column, so suppression is never undone). Integer columns become float to hold NaN.
    """
    if isinstance(mask, pd.Series):
        flags = mask.reindex(df.index).to_numpy(dtype=bool, na_value=False)
    else:
        flags = np.asarray(mask, dtype=bool).reshape(-1)
    if len(flags) != len(df):
        raise ValueError("mask and table have different lengths")
    out = df.copy()
    for column in value_cols:
        values = out[column]
        if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            values = values.astype(float)
        out[column] = values.where(~flags)
    previous = out["suppressed"].to_numpy(dtype=bool) if "suppressed" in out else np.zeros(len(out), bool)
    out["suppressed"] = previous | flags
    return out
