"""Labelled exports: a chart's PNG/SVG/PDF export carries its title and one-line definition, the period
as `period_label` says it, the filters by label, the data-as-at date, the disclosure note and the
product name (in the figure's annotations, in the text of its SVG, in the text of its PDF); file names
carry the chart and the period; a CSV download has counts as whole numbers and rates to 4 decimals, and
a CSVW sidecar with the same labels."""

from __future__ import annotations

import io
import json
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pypdf
import pytest

import charts
from charts.export import DISCLOSURE_NOTE, PRODUCT_NAME, ExportLabels, labelled_figure, rounded_for_csv
from dashboard import ids
from dashboard.callback_requests import callback_body, find_callback
from dashboard.periods import DataSpan, Period, financial_quarter, financial_year, period_slug

LABELS = ExportLabels(
    title="Retained in treatment at 12 weeks, by month of start",
    definition="Episodes started in the period still open 84 days after the start. Planned exits count.",
    period="Q2 2025-26 (Jul-Sep 2025)",
    as_at=date(2026, 3, 31),
    filters=("Setting: Community", "Programme: Leeds Drug Treatment Service"),
)
EXPECTED = [
    "Retained in treatment at 12 weeks, by month of start",
    "Episodes started in the period still open 84 days after the start.",
    "Q2 2025-26 (Jul-Sep 2025)",
    "Setting: Community; Programme: Leeds Drug Treatment Service",
    "data as at 31 Mar 2026",
    "cells of 1–4 are never shown",
    PRODUCT_NAME,
]


def figure() -> go.Figure:
    frame = pd.DataFrame({"period": ["2025-07", "2025-08", "2025-09"], "value": [0.8, 0.82, 0.79]})
    return charts.trend_lines_figure(frame, "period", None, "")


def flat(text: str) -> str:
    return " ".join(text.replace("&amp;", "&").split())


def test_the_labelled_figure_carries_every_label() -> None:
    labelled = labelled_figure(figure(), LABELS)
    text = flat(labelled.layout.title.text + " " + " ".join(a.text for a in labelled.layout.annotations))
    text = text.replace("<br>", " ").replace("<b>", "").replace("</b>", "")
    for label in EXPECTED:
        assert label in text, label
    assert "Planned exits count" not in text  # the definition in one line: its first sentence
    assert figure().layout.title.text is None  # the figure itself is unchanged


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_the_text_of_an_svg_and_a_pdf_export_holds_every_label(fmt: str) -> None:
    image = charts.export_image(figure(), LABELS, fmt)
    if fmt == "svg":
        import re

        text = flat(" ".join(re.findall(r">([^<]+)<", image.decode("utf-8"))))
    else:
        text = flat(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(image)).pages))
    text = flat(text.replace("\u00a0", " "))
    for label in EXPECTED[:4] + EXPECTED[5:]:
        assert label in text, (fmt, label)
    assert "31 Mar 2026" in text


def test_file_names_carry_the_chart_and_the_period() -> None:
    span = DataSpan.of(date(2023, 1, 1), date(2026, 2, 28))
    assert period_slug(financial_year(2025)) == "fy2025-26"
    assert period_slug(financial_quarter(2025, 2)) == "fy2025-26-q2"
    assert period_slug(Period(*[financial_year(2025).first] * 2)) == "2025-04"
    assert period_slug(span.rolling(12), span) == "12m-to-2026-02"
    assert (
        charts.export_filename("retention_12wk_spc", "fy2025-26", "png") == "retention_12wk_spc_fy2025-26.png"
    )


def test_csv_values_are_rounded_counts_whole() -> None:
    table = pd.DataFrame(
        {
            "programme": ["PG01", "PG02"],
            "numerator": [12.0, None],
            "denominator": [37.0, None],
            "value": [12 / 37, None],
            "ci_low": [0.1893751234, None],
            "t": [28.0, 56.0],
            "suppressed": [False, True],
        }
    )
    out = rounded_for_csv(table)
    assert out["numerator"].tolist()[0] == 12 and pd.isna(out["numerator"].tolist()[1])
    assert str(out["numerator"].dtype) == "Int64" and str(out["t"].dtype) == "Int64"
    assert out["value"].tolist()[0] == 0.3243 and out["ci_low"].tolist()[0] == 0.1894
    assert out.to_csv(index=False).splitlines()[1:] == [
        "PG01,12,37,0.3243,0.1894,28,False",
        "PG02,,,,,56,True",
    ]


@pytest.fixture(scope="module")
def app(warehouse_path):
    from dashboard.app import create_app

    dash_app = create_app(warehouse_path)
    yield dash_app
    dash_app.dashboard_data.close()


def test_the_dashboards_charts_carry_their_export_labels_and_the_csv_its_sidecar(app, state) -> None:
    client = app.server.test_client()
    chart = json.dumps({"chart": "retention_12wk_spc", "type": "chart-graph"}, separators=(",", ":"))
    community = state.with_values(setting=["community"])
    body = callback_body(app, find_callback(app, chart), {f"{ids.FILTER_STATE}.data": community.to_store()})
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    drawn = response.get_json()["response"]
    export = next(v["figure"]["layout"]["meta"]["export"] for v in drawn.values() if "figure" in v)
    assert export["filename"] == "retention_12wk_spc_fy2025-26"
    text = flat(json.dumps(export["layout"], ensure_ascii=False)).replace("\\u00b7", "·")
    for label in (
        "Retained in treatment at 12 weeks, by month of start",
        "Financial year 2025-26 · Setting: Community · data as at 31 Mar 2026",
        DISCLOSURE_NOTE[:60],
        PRODUCT_NAME,
    ):
        assert label in text, label

    # The CSV's sidecar, from the same click.
    def cid(kind: str) -> dict:
        return {"chart": "exit_mix", "type": kind}

    key = find_callback(app, "chart-sidecar")
    sidecar = {
        "output": key,
        "outputs": {"id": cid("chart-sidecar"), "property": "data"},
        "inputs": [{"id": cid("chart-csv"), "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ids.FILTER_STATE, "property": "data", "value": community.to_store()},
            {"id": cid("chart-spec"), "property": "data", "value": {}},
        ],
        "changedPropIds": [json.dumps(cid("chart-csv"), sort_keys=True, separators=(",", ":")) + ".n_clicks"],
    }
    response = client.post("/_dash-update-component", json=sidecar)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    download = next(iter(response.get_json()["response"].values()))["data"]
    assert download["filename"] == "exit_mix_fy2025-26.csv-metadata.json"
    meta = json.loads(download["content"])
    assert meta["url"] == "exit_mix_fy2025-26.csv" and meta["@context"] == "http://www.w3.org/ns/csvw"
    assert meta["rosc:period"] == "financial year 2025-26" and meta["rosc:filters"] == ["Setting: Community"]
    assert meta["rosc:disclosure"] == DISCLOSURE_NOTE and meta["rosc:data_as_at"] == "2026-03-31"
    columns = [c["name"] for c in meta["tableSchema"]["columns"]]
    assert columns[:4] == ["data_as_at", "period_start", "period_end", "filters"] and "count" in columns


def test_a_small_rate_s_axis_ticks_are_told_apart() -> None:
    """A rate near 0.5% (deaths in treatment) has ticks 0.2 points apart: each tick says its own value,
    not '0%' five times (read from the text of the SVG kaleido draws)."""
    import re

    frame = pd.DataFrame({"period": ["2025-07", "2025-08", "2025-09"], "value": [0.004, 0.011, 0.006]})
    svg = charts.export_image(charts.trend_lines_figure(frame, "period", None, ""), LABELS, "svg").decode()
    ticks = re.findall(r'class="ytick"[^>]*>.*?<text[^>]*>([^<]+)</text>', svg)
    assert len(ticks) >= 4 and len(set(ticks)) == len(ticks), ticks
    assert "0.2%" in ticks or "0.4%" in ticks, ticks
    wide = pd.DataFrame({"period": ["2025-07", "2025-08"], "value": [0.25, 0.8]})
    svg = charts.export_image(charts.trend_lines_figure(wide, "period", None, ""), LABELS, "svg").decode()
    assert "20%" in re.findall(r'class="ytick"[^>]*>.*?<text[^>]*>([^<]+)</text>', svg)  # not '20.00%'
