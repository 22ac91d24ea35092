"""The board pack laid out as an A4 landscape PDF: HTML and CSS typeset by WeasyPrint, with every chart
as an SVG drawn by kaleido (Plotly's exporter, in the installed Chromium), so the charts' text stays
text in the PDF.

Why this route: WeasyPrint is a maintained typesetter of HTML and CSS for print, called in-process
from Python (page size, margins, running footers with page numbers, table headers repeated on each
sheet, page breaks); it needs only Pango from the system (Debian's Chromium already pulls it in), and
it keeps SVG text as text, so a chart's labels can be searched and copied. kaleido is already how the
product exports Plotly charts. Typst (its PyPI package bundles the compiler) would typeset faster, but
the pack would then be written in a second markup language beside the HTML the product already writes.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from html import escape

import plotly.graph_objects as go

from charts.export import DISCLOSURE_NOTE, EXPORT_WIDTH, PRODUCT_NAME, labelled_figure
from report.pack import BoardPack, FigureSection, FunnelSection, HeadlineSection

#: kaleido starts one Chromium per call: one pack at a time per process keeps the machine's two cores
#: for the app's other requests.
_RENDER_LOCK = threading.Lock()

SIGNAL_WORDS = {
    "improving": "special cause: improving",
    "concerning": "special cause: concerning",
    "special_cause": "special cause",
    "common_cause": "common cause variation",
}

DISCLOSURE_STATEMENT = (
    f"{DISCLOSURE_NOTE} Each count is perturbed by a key made from the records behind it, so the same "
    "people always get the same noise however they are asked for. Rates and intervals are computed from "
    "the perturbed counts. A cell whose perturbed complement is 1–4 is shown as suppressed, never as "
    "zero, and its reason is given; whether a cell is hidden depends on its own perturbed counts only, so "
    "it is hidden or shown alike on every page. Means and medians are shown only for 10 or more records. "
    "Intervals are 95% Wilson intervals; SPC charts are XmR charts with NHS Making Data Count rules (a "
    "special cause is a point outside the process limits, a run of 7 on one side of the mean, a trend of "
    "7, or two of three near a limit); funnel limits are 95% and 99.8% around the system value, the "
    "headline of the same view (around the pooled value of the programmes shown only where that headline "
    "is suppressed, and then said so)."
)

CSS = """
@page { size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
  @bottom-left { content: var(--footer); font-size: 8pt; color: #555; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8pt; color: #555; } }
html { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 22pt; margin: 0 0 4mm 0; }
h2 { font-size: 14pt; margin: 0 0 2mm 0; }
h3 { font-size: 11pt; margin: 3mm 0 1mm 0; }
section { break-before: page; }
section.cover { break-before: auto; padding-top: 30mm; }
.cover .period { font-size: 18pt; margin: 4mm 0; }
.cover dl { font-size: 11pt; } .cover dt { font-weight: bold; margin-top: 2mm; } .cover dd { margin: 0; }
p.sentence { font-size: 11pt; margin: 1mm 0 2mm 0; }
.figure img { width: 100%; height: auto; max-height: 150mm; object-fit: contain; }
.figure.small img { max-height: 125mm; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
th, td { border-bottom: 0.4pt solid #bbb; padding: 1.2mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
td.num { text-align: right; white-space: nowrap; }
.muted { color: #555; } .suppressed { font-style: italic; color: #666; }
ul.sentences li { margin-bottom: 1.5mm; font-size: 10pt; }
dl.definitions dt { font-weight: bold; margin-top: 2mm; } dl.definitions dd { margin: 0 0 1mm 0; }
"""


def figure_images(figures: list[go.Figure], fmt: str = "svg") -> list[bytes]:
    """Each figure drawn by kaleido in one Chromium tab, in order. One tab, not several: on two shared
    cores a second tab costs a second of start-up and draws no faster (measured: 14 charts of the sample
    in 6.4 s with one tab, 7.2 s with two, 9.0 s with three, at a load average of 7)."""
    import kaleido

    async def draw() -> list[bytes]:
        async with kaleido.Kaleido(n=1, mathjax=False) as k:
            jobs = [
                k.calc_fig(
                    f,
                    opts={
                        "format": fmt,
                        "width": int(f.layout.width or EXPORT_WIDTH),
                        "height": int(f.layout.height or 400),
                    },
                )
                for f in figures
            ]
            return list(await asyncio.gather(*jobs))

    with _RENDER_LOCK:
        return asyncio.run(draw())


def _svg(image: bytes) -> str:
    """An SVG as an image element. As an image, not inlined: WeasyPrint then does not match the page's
    CSS against every node of every chart (a third of the time of a pack)."""
    return f"<img alt='' src='data:image/svg+xml;base64,{base64.b64encode(image).decode('ascii')}'>"


def _count(value: object) -> str:
    from charts.style import format_count

    return format_count(value)


def _cover(pack: BoardPack) -> str:
    filters = "; ".join(pack.filters) if pack.filters else "none: all people and programmes"
    return f"""
<section class="cover">
  <div class="muted">{escape(PRODUCT_NAME)} · board pack</div>
  <h1>{escape(pack.system)}</h1>
  <div class="period">{escape(pack.period[:1].upper() + pack.period[1:])}</div>
  <dl>
    <dt>Period</dt><dd>{escape(pack.period)} ({pack.state.start.isoformat()} to {pack.state.end})</dd>
    <dt>Data as at</dt><dd>{pack.as_at.day} {pack.as_at:%B %Y} ({pack.as_at.isoformat()})</dd>
    <dt>Filters</dt><dd>{escape(filters)}</dd>
    <dt>Covers</dt><dd>{escape(pack.scope)}</dd>
    <dt>Disclosure control</dt><dd>{escape(DISCLOSURE_NOTE)}</dd>
  </dl>
</section>"""


def _summary(pack: BoardPack) -> str:
    rows = []
    for h in pack.headlines:
        s = h.summary
        value_class = "num suppressed" if s.value in ("suppressed", "not yet") else "num"
        rows.append(
            "<tr>"
            f"<td>{escape(s.label)}</td>"
            f"<td class='{value_class}'>{escape(s.value)}</td>"
            f"<td class='num'>{escape(s.interval.replace('95% CI ', ''))}</td>"
            f"<td class='num'>{escape(s.counts if ' of ' in s.counts else '')}</td>"
            f"<td>{escape(s.change)}</td>"
            f"<td>{escape(SIGNAL_WORDS.get(s.signal, s.signal))}</td>"
            f"<td class='muted'>{escape(_note(s))}</td>"
            "</tr>"
        )
    sentences = "".join(f"<li>{escape(h.sentence)}</li>" for h in pack.headlines)
    return f"""
<section>
  <h2>Headline indicators, {escape(pack.period)}</h2>
  <table>
    <thead><tr><th>Indicator</th><th>Value</th><th>95% interval</th><th>Numerator of denominator</th>
    <th>Change on the previous period</th><th>SPC signal (latest month)</th><th>Note</th></tr></thead>
    <tbody>{"".join(rows)}</tbody>
  </table>
  <h3>In a sentence each</h3>
  <ul class="sentences">{sentences}</ul>
</section>"""


def _note(summary: object) -> str:
    note = getattr(summary, "period_note", "")
    reason = getattr(summary, "suppressed_reason", "")
    cohort = getattr(summary, "cohort_note", "")
    england = getattr(summary, "benchmark", "")
    parts = [note or (f"suppressed: {reason}" if reason else ""), cohort, england]
    return "; ".join(part for part in parts if part)


def _headline(h: HeadlineSection, svg: str) -> str:
    return f"""
<section>
  <h2>{escape(h.summary.label)}</h2>
  <p class="sentence">{escape(h.sentence)}</p>
  <div class="figure">{svg}</div>
</section>"""


def _funnel(f: FunnelSection, svg: str) -> str:
    rows = []
    from charts.funnel import SIGNIFICANCE_TEXT
    from charts.style import format_value

    for _, r in f.table.iterrows():
        name = escape(str(r["programme_name"]))
        if bool(r["suppressed"]):
            rows.append(
                f"<tr><td>{name}</td><td class='num suppressed' colspan='3'>suppressed</td><td></td></tr>"
            )
            continue
        if r["value"] != r["value"]:  # nobody in the cohort: no rate, not a hidden one
            rows.append(
                f"<tr><td>{name}</td>"
                f"<td class='num'>{_count(r['numerator'])} of {_count(r['denominator'])}</td>"
                "<td class='num muted' colspan='2'>no one in the cohort</td><td></td></tr>"
            )
            continue
        rows.append(
            "<tr>"
            f"<td>{name}</td>"
            f"<td class='num'>{_count(r['numerator'])} of {_count(r['denominator'])}</td>"
            f"<td class='num'>{format_value(r['value'], 'proportion')}</td>"
            f"<td class='num'>{format_value(r['ci_low'], 'proportion')} to "
            f"{format_value(r['ci_high'], 'proportion')}</td>"
            f"<td>{escape(SIGNIFICANCE_TEXT.get(r['significance'], 'n/a'))}</td>"
            "</tr>"
        )
    return f"""
<section>
  <h2>Programmes compared: {escape(f.label)}</h2>
  <p class="sentence">{escape(f.sentence)}</p>
  <div class="figure small">{svg}</div>
</section>
<section>
  <h3>{escape(f.label)}, by programme</h3>
  <table>
    <thead><tr><th>Programme</th><th>Numerator of denominator</th><th>Value</th><th>95% interval</th>
    <th>Against the funnel limits</th></tr></thead>
    <tbody>{"".join(rows)}</tbody>
  </table>
</section>"""


def _figure(section: FigureSection, svg: str) -> str:
    note = f"<p class='muted'>{escape(section.note)}</p>" if section.note else ""
    return f"""
<section>
  <h2>{escape(section.title)}</h2>
  {note}
  <div class="figure small">{svg}</div>
</section>"""


def _definitions(pack: BoardPack) -> str:
    items = "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in pack.definitions)
    return f"""
<section>
  <h2>Definitions</h2>
  <dl class="definitions">{items}</dl>
  <h2>Disclosure control</h2>
  <p>{escape(DISCLOSURE_STATEMENT)}</p>
</section>"""


def pack_html(pack: BoardPack, svgs: list[str]) -> str:
    """The pack as one HTML document, with the charts' SVGs (in the order of `pack_figures`) inlined."""
    images = iter(svgs)
    parts = [_cover(pack), _summary(pack)]
    parts.extend(_headline(h, next(images)) for h in pack.headlines)
    parts.extend(_funnel(f, next(images)) for f in pack.funnels)
    parts.extend(_figure(m, next(images)) for m in pack.mixes)
    parts.append(_definitions(pack))
    footer = f"{PRODUCT_NAME} · board pack · {pack.period} · data as at {pack.as_at.isoformat()}"
    css = CSS.replace("var(--footer)", _css_string(footer))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(PRODUCT_NAME)} board pack, {escape(pack.period)}</title><style>{css}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal."""
    return '"' + "".join(c if c.isalnum() or c in " ·-,.:()" else f"\\{ord(c):x} " for c in text) + '"'


def pack_figures(pack: BoardPack) -> list[go.Figure]:
    """Every chart of the pack with its export labels, in the order the pack shows them."""
    sections = [*pack.headlines, *pack.funnels, *pack.mixes]
    return [labelled_figure(s.figure, s.labels) for s in sections]


def render_pack(pack: BoardPack) -> bytes:
    """The pack as PDF bytes."""
    import weasyprint

    svgs = [_svg(image) for image in figure_images(pack_figures(pack))]
    html = pack_html(pack, svgs)
    return weasyprint.HTML(string=html).write_pdf()
