"""`rosc report`: the board pack of one dashboard view as a PDF. Its text (pypdf) holds every headline,
the period and the data-as-at date; every "x of y" it prints is a count of 0 or 5 and more beside a
denominator of 0 or 5 and more; its numbers are `DashboardData`'s for the same view (the Overview's
tiles and the Programmes page's funnel table); a view of another shape is refused with exit 2."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

from dashboard import auth
from dashboard.headlines import HEADLINE_METRICS, tile_summary
from dashboard.periods import DataSpan, period_label
from dashboard.queries import DashboardData
from pipelines.cli import main
from report.pack import PACK_FUNNELS

pytestmark = pytest.mark.slow


def pdf_pages(path: Path) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    return [page.extract_text() for page in reader.pages]


@pytest.fixture(scope="module")
def pack(warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("pack") / "pack.pdf"
    started = time.perf_counter()
    result = CliRunner().invoke(
        main,
        ["report", "--db", str(warehouse_path), "--from", "2025-04", "--to", "2026-03", "--out", str(out)],
    )
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    pages = pdf_pages(out)
    print(f"board pack of 800 people: {len(pages)} pages in {seconds:.1f} s")
    return {"pages": pages, "text": "\n".join(pages), "path": out}


def test_the_pack_holds_every_headline_the_period_and_the_as_at_date(
    pack: dict, data: DashboardData, state
) -> None:
    text = pack["text"]
    span = DataSpan.of(*data.dates())
    assert period_label(state.period, span) == "financial year 2025-26"
    assert "Financial year 2025-26" in pack["pages"][0]  # the cover
    assert f"Data as at {data.as_of().day} {data.as_of():%B %Y}" in pack["pages"][0].replace("\n", " ")
    assert data.as_of().isoformat() in pack["pages"][0]
    for metric in HEADLINE_METRICS:
        assert data.metric_info(metric).label in text, metric
    for heading in ("Headline indicators", "Programmes compared", "How episodes ended", "Definitions"):
        assert heading in text
    assert "cells of 1–4 are never shown" in text.replace("\n", " ")
    flat = " ".join(text.split())
    for chart_text in ("by month: XmR chart", "process limits", "denominator (log scale)"):
        assert chart_text in flat, chart_text  # the charts' own text stays text (SVG, not a picture)


def test_no_count_of_1_to_4_appears_beside_its_denominator(pack: dict) -> None:
    pairs = re.findall(r"(?<!page )\b(\d[\d,]*) of (\d[\d,]*)", pack["text"])
    assert len(pairs) > 50  # the headline table and three funnel tables
    small = [
        (x, y)
        for x, y in pairs
        if int(x.replace(",", "")) in range(1, 5) or int(y.replace(",", "")) in range(1, 5)
    ]
    assert small == []
    # Numbers next to a count label in the tables and sentences: "n: 3" or "3 people" would be one.
    labelled = re.findall(r"\b(\d+) (?:people|episodes|contacts|discharges)\b", pack["text"])
    assert [n for n in labelled if int(n) in range(1, 5)] == []


def test_the_numbers_are_the_dashboards_for_the_same_view(pack: dict, data: DashboardData, state) -> None:
    text = " ".join(pack["text"].split())
    for metric in HEADLINE_METRICS:
        summary, _, _ = tile_summary(data, metric, state)
        assert summary.value in text, (metric, summary.value)
        if summary.interval:
            assert summary.interval.replace("95% CI ", "") in text, (metric, summary.interval)
        if " of " in summary.counts:
            assert summary.counts in text, (metric, summary.counts)
        assert summary.change in text, (metric, summary.change)
        if summary.benchmark:  # England where its definition matches or is close (issue 13)
            assert summary.benchmark in text, (metric, summary.benchmark)
        if summary.cohort_note:
            assert summary.cohort_note in text, (metric, summary.cohort_note)
    assert any(tile_summary(data, m, state)[0].benchmark for m in HEADLINE_METRICS)
    # Peer support and outcomes, landmark comparison, labelled observational (issue 13).
    assert "Peer support and outcomes: landmark comparison, crude and adjusted" in text
    with auth.purpose(auth.FUNNEL):
        for metric in PACK_FUNNELS:
            table = data.metric_for(metric, state, by=["programme"])
            shown = table[~table["suppressed"].astype(bool)]
            assert len(shown) > 5
            for row in shown.itertuples():
                assert f"{int(row.numerator):,} of {int(row.denominator):,}" in text, (metric, row.programme)


def test_a_period_of_another_shape_is_refused_with_exit_2(warehouse_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "pack.pdf"
    base = ["report", "--db", str(warehouse_path), "--out", str(out)]
    five_months = runner.invoke(main, [*base, "--from", "2025-04", "--to", "2025-08"])
    assert five_months.exit_code == 2
    message = " ".join(five_months.output.split())
    assert "Apr 2025 to Aug 2025 is not a period the dashboard answers" in message
    assert "a month, a financial-year quarter (Q1 April–June … Q4 January–March), a financial year" in message
    two = runner.invoke(main, [*base, "--programme", "PG01", "--programme", "PG02"])
    assert two.exit_code == 2 and "--programme given more than once" in two.output
    outside = runner.invoke(main, [*base, "--from", "2030-04", "--to", "2031-03"])
    assert outside.exit_code == 2 and "is outside the data" in outside.output
    unknown = runner.invoke(main, [*base, "--setting", "moon"])
    assert unknown.exit_code == 2 and "'moon' is not a setting of this warehouse" in unknown.output
    assert not out.exists()
