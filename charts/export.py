"""Labels for exported charts and tables, shared by the dashboard's downloads and the board pack.

A chart that leaves the app (a PNG or SVG download, a figure in the board pack's PDF) carries what a
reader needs to read it without the app: its title and the indicator's definition in one line, the
period as people say it, the active filters (labels, not codes), the data-as-at date, the disclosure
note and the product's name (`ExportLabels`, `labelled_figure`). File names carry the indicator and the
period (`export_filename`: ``retention_12wk_spc_fy2025-26.png``).

A CSV download is the aggregated table behind a chart with rates rounded to 4 decimals and counts as
whole numbers (`rounded_for_csv`); what it shows (title, definition, period, filters, as-at date,
disclosure note, each column) goes in a sidecar in the W3C "CSV on the Web" metadata vocabulary,
``<file>.csv-metadata.json`` (`csv_metadata`), so the CSV itself stays a plain table that any reader
opens as it is.

The presenters compute the strings (period labels and file-name slugs come from
`dashboard.periods`); nothing here imports Dash or the dashboard.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from charts.style import FONT

#: The product's name, as the app's header and every export name it.
PRODUCT_NAME = "ROSC outcomes"

#: What every shared count is, in one sentence (the README's disclosure decisions).
DISCLOSURE_NOTE = (
    "Counts are perturbed (cell-key method): a shown count of 6 or more is within 3 of the true count, "
    "a shown 5 stands for 1 to 8 and a shown 0 for 0 to 7; cells of 1–4 are never shown."
)

#: Rates and other non-count numbers in a CSV download: this many decimals.
CSV_DECIMALS = 4

#: Exported image size (CSS pixels; PNG is drawn at twice this).
EXPORT_WIDTH = 1100
EXPORT_SCALE = 2

_FOOTER_FONT = 10
_LINE_PX = 14  # one footer or subtitle line at these font sizes
_WRAP = 150  # characters per footer line at 1100 px
_TICK_ROOM = 40  # slanted month labels reach about this far below the plot's own bottom margin


@dataclass(frozen=True)
class ExportLabels:
    """What an exported chart says about itself.

    ``period`` is the period as people say it (`dashboard.periods.period_label`), ``filters`` the active
    filters as labels ("Setting: Community"; empty for everyone), ``as_at`` the data-as-at date.
    """

    title: str
    definition: str
    period: str
    as_at: date
    filters: tuple[str, ...] = ()
    disclosure: str = DISCLOSURE_NOTE
    product: str = PRODUCT_NAME
    notes: tuple[str, ...] = field(default=())

    @property
    def filters_text(self) -> str:
        return "; ".join(self.filters) if self.filters else "all people and programmes"

    @property
    def as_at_text(self) -> str:
        return f"data as at {self.as_at.day} {self.as_at:%b %Y}"

    def footer_lines(self) -> list[str]:
        """The lines under an exported chart: period, filters and as-at date; any notes; the disclosure
        note; the product."""
        first = f"{_capitalised(self.period)} · {self.filters_text} · {self.as_at_text}"
        lines = [first, *self.notes, self.disclosure, self.product]
        return [wrapped for line in lines for wrapped in textwrap.wrap(line, _WRAP) or [""]]

    def as_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "definition": self.definition,
            "period": self.period,
            "filters": list(self.filters),
            "data_as_at": self.as_at.isoformat(),
            "disclosure": self.disclosure,
            "product": self.product,
            "notes": list(self.notes),
        }


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def one_line(text: str, limit: int = 160) -> str:
    """A definition as one line: whitespace collapsed, cut at the end of its first sentence when that
    is short enough, else at ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    first = re.match(r"(.+?[.;])(\s|$)", flat)
    if first and len(first.group(1)) <= limit:
        return first.group(1).rstrip(";.") + "."
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def labelled_figure(fig: go.Figure, labels: ExportLabels, *, width: int = EXPORT_WIDTH) -> go.Figure:
    """A copy of ``fig`` carrying ``labels`` as an exported chart shows them: the title, with the
    definition in one line under it, at the top; the period, filters, data-as-at date, notes,
    disclosure note and product name at the foot. Margins and height grow to make room, so the plot
    keeps its size. The figure itself is not changed."""
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    layout = out.layout
    height = int(layout.height or 340)
    margin = layout.margin
    top = int(margin.t if margin.t is not None else 64)
    bottom = int(margin.b if margin.b is not None else 44)
    definition = textwrap.wrap(one_line(labels.definition), _WRAP - 10)
    heading = int(34 + _LINE_PX * len(definition))
    footer = labels.footer_lines()
    # The legend sits above the plot in the house style: keep it below the new heading. Below the plot,
    # room for slanted tick labels (which the plot's own margin may not hold) and then the footer.
    extra_top = heading
    extra_bottom = int(_TICK_ROOM + 12 + _LINE_PX * len(footer))
    total = height + extra_top + extra_bottom
    title_text = f"<b>{_escape(labels.title)}</b>"
    if definition:
        title_text += (
            "<br><span style='font-size:11px;color:#444'>"
            + "<br>".join(_escape(line) for line in definition)
            + "</span>"
        )
    out.update_layout(
        title={
            "text": title_text,
            "x": 0.0,
            "xref": "paper",
            "xanchor": "left",
            "y": 1.0 - 16 / total,
            "yref": "container",
            "yanchor": "top",
            "font": {"size": 15, "family": FONT, "color": "#111"},
        },
        height=total,
        width=width,
        margin={"t": top + extra_top, "b": bottom + extra_bottom},
        paper_bgcolor="white",
    )
    out.add_annotation(
        text="<br>".join(_escape(line) for line in footer),
        xref="paper",
        yref="paper",
        x=0.0,
        y=0.0,
        xanchor="left",
        yanchor="bottom",
        yshift=-(bottom + extra_bottom) + 8,
        align="left",
        showarrow=False,
        font={"size": _FOOTER_FONT, "color": "#333", "family": FONT},
        name="export-labels",
    )
    return out


def _escape(text: str) -> str:
    """Text for Plotly's label markup, which reads ``<`` and ``&`` as HTML."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def export_layout(fig: go.Figure, labels: ExportLabels, *, width: int = EXPORT_WIDTH) -> dict[str, object]:
    """The layout properties `labelled_figure` changes, as plain JSON (title, annotations, margin,
    height, width, background): what the dashboard's PNG and SVG buttons merge into the drawn chart's
    layout before making the image in the browser, so the downloads and the board pack carry the same
    labels."""
    labelled = labelled_figure(fig, labels, width=width).to_plotly_json()["layout"]
    keys = ("title", "annotations", "margin", "height", "width", "paper_bgcolor")
    return {k: labelled[k] for k in keys if k in labelled}


def export_filename(name: str, period_slug: str, extension: str) -> str:
    """``<name>_<period>.<extension>``: the indicator (or chart) and the period in the file name, e.g.
    ``retention_12wk_spc_fy2025-26.png``; anything but letters, digits, ``-``, ``_`` and ``.`` becomes
    ``-``."""

    def clean(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")

    return f"{clean(name)}_{clean(period_slug)}.{extension.lstrip('.')}"


def export_image(
    fig: go.Figure, labels: ExportLabels, fmt: str = "svg", *, width: int = EXPORT_WIDTH
) -> bytes:
    """The labelled chart as PNG, SVG or PDF bytes, drawn by kaleido (Plotly's exporter, in the
    installed Chromium)."""
    import kaleido

    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"an export is png, svg or pdf, not {fmt!r}")
    labelled = labelled_figure(fig, labels, width=width)
    options = {"format": fmt, "width": width, "height": int(labelled.layout.height)}
    if fmt == "png":
        options["scale"] = EXPORT_SCALE
    return kaleido.calc_fig_sync(labelled, opts=options)


# -- tables -------------------------------------------------------------------------------------------


def _is_whole(column: pd.Series) -> bool:
    values = pd.to_numeric(column, errors="coerce").dropna().to_numpy(dtype=float)
    return bool(len(values)) and bool(np.all(np.isfinite(values) & (values == np.round(values))))


#: Columns that hold counts whatever their values look like (a count column can be all missing).
COUNT_COLUMNS = frozenset(
    {
        "numerator",
        "denominator",
        "count",
        "total",
        "n_at_risk",
        "events",
        "censored",
        "contacts",
        "minutes",
        "n",
        "rows",
        "filled",
    }
)


def rounded_for_csv(table: pd.DataFrame) -> pd.DataFrame:
    """A table as a CSV download shows it: counts as whole numbers (nullable integers: a suppressed
    count stays blank) and every other number to `CSV_DECIMALS` decimals. A column is a count when its
    name says so (`COUNT_COLUMNS`) or every value it has is a whole number. Booleans and text are left
    as they are."""
    out = table.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            continue
        if str(name) in COUNT_COLUMNS or _is_whole(column):
            out[name] = pd.to_numeric(column).round().astype("Int64")
        else:
            out[name] = pd.to_numeric(column).astype(float).round(CSV_DECIMALS)
    return out


def csv_metadata(
    csv_name: str, table: pd.DataFrame, labels: ExportLabels, columns: dict[str, str] | None = None
) -> dict[str, object]:
    """The sidecar of a CSV download, in the W3C "CSV on the Web" metadata vocabulary (``url``,
    ``dc:title``, ``dc:description``, ``tableSchema.columns``), which tools that read CSVW find as
    ``<file>.csv-metadata.json`` beside the file: the chart's title and definition, the period, the
    filters, the data-as-at date, the disclosure note, the product and each column (with its
    description where ``columns`` gives one)."""
    described = columns or {}
    schema = [
        {
            "name": str(c),
            "titles": str(c),
            "datatype": _csvw_type(table[c]),
            **({"dc:description": described[str(c)]} if str(c) in described else {}),
        }
        for c in table.columns
    ]
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "url": csv_name,
        "dc:title": labels.title,
        "dc:description": one_line(labels.definition, limit=400),
        "dc:publisher": labels.product,
        "rosc:period": labels.period,
        "rosc:filters": list(labels.filters) or ["all people and programmes"],
        "rosc:data_as_at": labels.as_at.isoformat(),
        "rosc:disclosure": labels.disclosure,
        "rosc:rounding": f"counts as whole numbers; rates and other numbers to {CSV_DECIMALS} decimals",
        "rosc:notes": list(labels.notes),
        "tableSchema": {"columns": schema},
    }


def _csvw_type(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_integer_dtype(column):
        return "integer"
    if pd.api.types.is_numeric_dtype(column):
        return "number"
    return "string"


def filter_labels(
    chosen: dict[str, Sequence[str]], labels: dict[str, dict[str, str]], names: dict[str, str]
) -> tuple[str, ...]:
    """Active filters as an export names them, ``"<Dimension>: <label>"``, from the chosen codes per
    dimension, each dimension's code → label map and the dimensions' own names."""
    out = []
    for dimension, values in chosen.items():
        if values:
            shown = ", ".join(labels.get(dimension, {}).get(v, v) for v in values)
            out.append(f"{names.get(dimension, dimension)}: {shown}")
    return tuple(out)
