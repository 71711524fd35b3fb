"""The run report's output: reads the tables it needs, draws the charts, writes index.html and summary.json.

``journeylake.report`` reduces the tables to small chart data (:class:`~journeylake.report.ReportSection`);
this module turns those sections into one self-contained HTML page: every chart is an inline SVG drawn by
matplotlib (text kept as text, so the numbers are searchable and the page needs no network or fonts from
anywhere), followed by the same numbers as a table. ``summary.json`` holds the sections for machines.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from pyspark.sql import DataFrame, SparkSession

from journeylake.io.delta import read_table, table_exists, table_path
from journeylake.io.lake import exists, is_local, join_uri, local_path, read_text, relative_href
from journeylake.report import (
    ABANDONMENT,
    ATTRIBUTION_SECTION,
    FUNNEL,
    HOURS_TO_CONVERSION,
    IDENTIFIERS_PER_USER,
    IDENTITY,
    JOURNEY_DAYS,
    JOURNEY_LENGTH,
    JOURNEY_TOUCHPOINTS,
    PIPELINE_STAGE,
    RUN,
    SOURCE_TABLES,
    TIME_TO_CONVERSION,
    ReportSection,
)
from journeylake.schemas.attribution import MODELS
from journeylake.schemas.journeys import STATES, STATUSES
from journeylake.schemas.report import UNKNOWN_STATE

INDEX_FILE = "index.html"
SUMMARY_FILE = "summary.json"
EXPECTATIONS_INDEX = "index.html"
EXPECTATIONS_SUMMARY_GLOB = "summary-*.json"

# Chart geometry, in inches at matplotlib's 72 points per inch in SVG.
CHART_WIDTH = 9.0
BAR_ROW_HEIGHT = 0.42
MIN_CHART_HEIGHT = 2.2
FONT_SIZE = 9.0
# One colour per journey status and per attribution model, stable from report to report.
STATUS_COLOURS = {"open": "#4c78a8", "converted": "#54a24b", "timed_out": "#f58518", "abandoned": "#e45756"}
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d")
# Above this many bars in one chart, value labels overlap into noise: the table below the chart has the numbers.
MAX_LABELLED_BARS = 40

_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SVG_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)


# ---- reading ---------------------------------------------------------------------------------------------


def read_report_tables(spark: SparkSession, lake: str) -> dict[str, DataFrame]:
    """The report's source tables that exist in ``lake``, keyed "<layer>.<table>"."""
    tables: dict[str, DataFrame] = {}
    for name in SOURCE_TABLES:
        layer, table = name.split(".", 1)
        path = table_path(lake, layer, table)
        if table_exists(spark, path):
            tables[name] = read_table(spark, path)
    return tables


@dataclass(frozen=True)
class ExpectationReport:
    """Where the Great Expectations report of a run is, and what its JSON summary says."""

    index: str | None  # Data Docs index.html (a path or URI); None when validation has not written one
    summary: str | None  # summary-<run_id>.json of the reported run, else the newest one
    critical_failures: int | None = None
    warnings: int | None = None
    run_id: str | None = None


def find_expectation_report(spark: SparkSession, report_dir: str, run_id: str | None) -> ExpectationReport:
    """The expectation report in ``report_dir`` (a path or URI): the summary of ``run_id`` when there is one,
    else (on a local folder) the newest."""
    index = join_uri(report_dir, EXPECTATIONS_INDEX)
    wanted = join_uri(report_dir, f"summary-{_safe_name(run_id)}.json") if run_id else None
    chosen: str | None = wanted if wanted is not None and exists(spark, wanted) else None
    if chosen is None and is_local(report_dir):
        folder = Path(local_path(report_dir))
        summaries = sorted(folder.glob(EXPECTATIONS_SUMMARY_GLOB), key=lambda p: (p.stat().st_mtime, p.name))
        chosen = str(summaries[-1]) if summaries else None
    document: dict[str, Any] = {}
    if chosen is not None:
        try:
            document = json.loads(read_text(spark, chosen) or "{}")
        except (OSError, ValueError):
            document = {}  # a broken summary still gets its link, without the counts
    return ExpectationReport(
        index=index if exists(spark, index) else None,
        summary=chosen,
        critical_failures=document.get("critical_failures"),
        warnings=document.get("warnings"),
        run_id=document.get("run_id"),
    )


def _safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)


# ---- numbers ---------------------------------------------------------------------------------------------


def fmt_count(value: Any) -> str:
    return f"{int(value):,}"


def fmt_amount(value: Any) -> str:
    return f"{float(value):,.2f}"


def fmt_seconds(value: Any) -> str:
    return f"{float(value):,.1f}"


# ---- charts ----------------------------------------------------------------------------------------------


def _svg(figure: Figure) -> str:
    """The figure as an inline <svg> element (no XML prologue, DOCTYPE or metadata)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _SVG_PROLOGUE.sub("", buffer.getvalue(), count=1)
    return _SVG_METADATA.sub("", svg, count=1).strip()


def _draw(height: float, draw: Callable[[Figure], None]) -> str:
    # Text stays <text> (searchable, no embedded glyph paths); a fixed hash salt keeps the SVG ids stable.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "journeylake", "font.size": FONT_SIZE}):
        figure = Figure(figsize=(CHART_WIDTH, max(MIN_CHART_HEIGHT, height)), layout="constrained")
        draw(figure)
        return _svg(figure)


def _tidy(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)


def horizontal_bars(labels: Sequence[str], values: Sequence[float], value_label: str, fmt: Callable[[Any], str]) -> str:
    """One bar per label, top to bottom, each labelled with its value."""

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        bars = ax.barh(range(len(labels)), values, color=PALETTE[0])
        ax.set_yticks(range(len(labels)), labels=list(labels))
        ax.invert_yaxis()
        ax.bar_label(bars, labels=[fmt(v) for v in values], padding=3)
        ax.set_xlabel(value_label)
        ax.margins(x=0.12)
        _tidy(ax)

    return _draw(BAR_ROW_HEIGHT * len(labels) + 1.0, draw)


def histogram_chart(labels: Sequence[str], counts: Sequence[int], x_label: str, y_label: str) -> str:
    """Vertical bars in bucket order, each labelled with its count."""

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        bars = ax.bar(range(len(labels)), counts, color=PALETTE[0])
        ax.set_xticks(range(len(labels)), labels=list(labels), rotation=30 if len(labels) > 8 else 0)
        ax.bar_label(bars, labels=[fmt_count(c) for c in counts], padding=2)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(y=0.15)
        _tidy(ax)

    return _draw(3.0, draw)


def funnel_chart(section: ReportSection) -> str:
    """Journeys that reached at least each state, stacked by status, each bar labelled with its total."""
    states = _funnel_states(section)
    statuses = _ordered(sorted({str(r["status"]) for r in section.rows}), STATUSES)
    counts = {(str(r["state"]), str(r["status"])): int(r["journeys"]) for r in section.rows}
    totals = [sum(counts.get((state, status), 0) for status in statuses) for state in states]

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        left = [0] * len(states)
        bars = None
        for index, status in enumerate(statuses):
            widths = [counts.get((state, status), 0) for state in states]
            colour = STATUS_COLOURS.get(status, PALETTE[index % len(PALETTE)])
            bars = ax.barh(range(len(states)), widths, left=left, color=colour, label=status)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        if bars is not None:
            ax.bar_label(bars, labels=[fmt_count(t) for t in totals], padding=3)
        ax.set_yticks(range(len(states)), labels=states)
        ax.invert_yaxis()
        ax.set_xlabel("journeys that reached at least this state")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(x=0.1)
        ax.legend(title="status now", loc="lower right", frameon=False)
        _tidy(ax)

    return _draw(BAR_ROW_HEIGHT * len(states) + 1.4, draw)


def attribution_chart(section: ReportSection) -> str:
    """Credited value per channel, one bar per model side by side, each bar labelled with its value."""
    channels, models, values = _attribution_grid(section)

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        width = 0.8 / max(1, len(models))
        for index, model in enumerate(models):
            offsets = [c + (index - (len(models) - 1) / 2) * width for c in range(len(channels))]
            heights = [values.get((channel, model), 0.0) for channel in channels]
            bars = ax.bar(offsets, heights, width=width, label=model, color=PALETTE[index % len(PALETTE)])
            if len(channels) * len(models) <= MAX_LABELLED_BARS:
                ax.bar_label(bars, labels=[fmt_amount(h) for h in heights], rotation=90, fontsize=6, padding=2)
        ax.set_xticks(range(len(channels)), labels=channels, rotation=20, ha="right")
        ax.set_ylabel("credited conversion value")
        ax.margins(y=0.25)
        ax.legend(title="model", ncols=min(4, max(1, len(models))), frameon=False, loc="upper left", fontsize=7)
        _tidy(ax)

    return _draw(4.2, draw)


def abandonment_chart(section: ReportSection) -> str:
    """Abandoned journeys per reason, and their penalty and opportunity cost, side by side."""
    reasons = [str(r["reason"]) for r in section.rows]
    journeys = [int(r["journeys"]) for r in section.rows]
    penalty = [float(r["penalty_amount"]) for r in section.rows]
    opportunity = [float(r["opportunity_cost"]) for r in section.rows]

    def draw(figure: Figure) -> None:
        left, right = figure.subplots(1, 2, sharey=True)
        positions = list(range(len(reasons)))
        bars = left.barh(positions, journeys, color=PALETTE[0])
        left.bar_label(bars, labels=[fmt_count(v) for v in journeys], padding=3)
        left.set_yticks(positions, labels=reasons)
        left.invert_yaxis()
        left.set_xlabel("abandoned journeys")
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.margins(x=0.2)
        height = 0.4
        penalty_bars = right.barh(
            [p - height / 2 for p in positions], penalty, height=height, color=PALETTE[3], label="penalty"
        )
        opportunity_bars = right.barh(
            [p + height / 2 for p in positions], opportunity, height=height, color=PALETTE[1], label="opportunity cost"
        )
        right.bar_label(penalty_bars, labels=[fmt_amount(v) for v in penalty], padding=3, fontsize=7)
        right.bar_label(opportunity_bars, labels=[fmt_amount(v) for v in opportunity], padding=3, fontsize=7)
        right.set_xlabel("amount")
        right.margins(x=0.3)
        right.legend(frameon=False, loc="lower right")
        for ax in (left, right):
            _tidy(ax)

    return _draw(BAR_ROW_HEIGHT * 1.3 * len(reasons) + 1.2, draw)


def _ordered(present: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """``present`` in ``preferred`` order, unknown values after them in sorted order."""
    values = set(present)
    return [v for v in preferred if v in values] + sorted(values - set(preferred))


def _funnel_states(section: ReportSection) -> list[str]:
    states = list(STATES)
    if section.totals.get("unknown_state"):
        states.append(UNKNOWN_STATE)
    return states


def _attribution_grid(section: ReportSection) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    channels = sorted({str(r["channel"]) for r in section.rows})
    models = _ordered({str(r["model"]) for r in section.rows}, MODELS)
    values = {(str(r["channel"]), str(r["model"])): float(r["credited_value"]) for r in section.rows}
    return channels, models, values


def _histogram_rows(section: ReportSection, measure: str) -> list[dict[str, Any]]:
    return [r for r in section.rows if r["measure"] == measure]


# ---- HTML ------------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 980px;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; } .unavailable { color: #a33; } .ok { color: #2a7a2a; } .failed { color: #a33; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
table.data { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
table.data th, table.data td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
table.data th:first-child, table.data td:first-child { text-align: left; }
nav a { margin-right: 1em; }
"""


def _table(element_id: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="data" id="{element_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(key: str, svg: str, caption: str) -> str:
    return f'<figure class="chart" id="chart-{key}">{svg}<figcaption>{html.escape(caption)}</figcaption></figure>'


def _run_html(section: ReportSection) -> str:
    totals = section.totals
    status = str(totals.get("status", ""))
    header = (
        f'<p class="meta">run <code>{html.escape(str(totals.get("run_id", "")))}</code>, as of '
        f'{html.escape(str(totals.get("as_of", "")))}: <span class="{html.escape(status)}">{html.escape(status)}'
        f"</span> in {fmt_seconds(totals.get('seconds', 0.0))} s over {int(totals.get('stages', 0))} stages</p>"
    )
    stages = [r for r in section.rows if r["stage"] != PIPELINE_STAGE]
    chart = horizontal_bars(
        [str(r["stage"]) for r in stages], [float(r["seconds"]) for r in stages], "seconds", fmt_seconds
    )
    table = _table(
        "data-run",
        ["stage", "status", "seconds", "rows in", "rows out", "message"],
        [
            (r["stage"], r["status"], fmt_seconds(r["seconds"]), fmt_count(r["rows_in"]), fmt_count(r["rows_out"]),
             r["message"] or "")
            for r in section.rows
        ],
    )  # fmt: skip
    return header + _figure(RUN, chart, "Seconds per stage") + table


def _funnel_html(section: ReportSection) -> str:
    states = _funnel_states(section)
    statuses = _ordered({str(r["status"]) for r in section.rows}, STATUSES)
    counts = {(str(r["state"]), str(r["status"])): int(r["journeys"]) for r in section.rows}
    reached = dict(section.totals.get("reached", {}))
    reached[UNKNOWN_STATE] = section.totals.get("unknown_state", 0)
    table = _table(
        "data-funnel",
        ["state", *statuses, "all journeys"],
        [(s, *[fmt_count(counts.get((s, st), 0)) for st in statuses], fmt_count(reached.get(s, 0))) for s in states],
    )
    caption = "Journeys that reached at least each state (a converted journey counts in every state), by status"
    return _figure(FUNNEL, funnel_chart(section), caption) + table


def _attribution_html(section: ReportSection) -> str:
    channels, models, values = _attribution_grid(section)
    credited = {(str(r["channel"]), str(r["model"])): float(r["credited_conversions"]) for r in section.rows}
    by_model = section.totals.get("credited_value_by_model", {})
    rows: list[Sequence[Any]] = [(c, *[fmt_amount(values.get((c, m), 0.0)) for m in models]) for c in channels]
    rows.append(("total", *[fmt_amount(by_model.get(m, 0.0)) for m in models]))
    value_table = _table("data-attribution", ["channel", *models], rows)
    conversions_table = _table(
        "data-attribution-conversions",
        ["channel (credited conversions)", *models],
        [(c, *[f"{credited.get((c, m), 0.0):,.3f}" for m in models]) for c in channels],
    )
    caption = "Credited conversion value per channel; every model side by side (included touches only)"
    return _figure(ATTRIBUTION_SECTION, attribution_chart(section), caption) + value_table + conversions_table


def _histogram_html(section: ReportSection, measures: Sequence[tuple[str, str]]) -> str:
    parts = []
    for measure, x_label in measures:
        rows = _histogram_rows(section, measure)
        labels = [str(r["bucket"]) for r in rows]
        counts = [int(r["count"]) for r in rows]
        y_label = "canonical users" if measure == IDENTIFIERS_PER_USER else "journeys"
        chart = histogram_chart(labels, counts, x_label, y_label)
        parts.append(_figure(measure, chart, f"{x_label}: {fmt_count(sum(counts))} {y_label}"))
        parts.append(_table(f"data-{measure}", [x_label, y_label], zip(labels, map(fmt_count, counts), strict=True)))
    return "".join(parts)


def _abandonment_html(section: ReportSection) -> str:
    table = _table(
        "data-abandonment",
        ["reason", "journeys", "penalty", "opportunity cost", "spend"],
        [
            (r["reason"], fmt_count(r["journeys"]), fmt_amount(r["penalty_amount"]),
             fmt_amount(r["opportunity_cost"]), fmt_amount(r["spend"]))
            for r in section.rows
        ],
    )  # fmt: skip
    return _figure(ABANDONMENT, abandonment_chart(section), "Abandoned journeys, penalty and opportunity cost") + table


_HISTOGRAM_MEASURES: Mapping[str, Sequence[tuple[str, str]]] = {
    TIME_TO_CONVERSION: ((HOURS_TO_CONVERSION, "time from journey start to conversion"),),
    JOURNEY_LENGTH: ((JOURNEY_DAYS, "active days (start to last activity)"), (JOURNEY_TOUCHPOINTS, "touchpoints")),
    IDENTITY: ((IDENTIFIERS_PER_USER, "identifiers per canonical user"),),
}


def section_html(section: ReportSection) -> str:
    """One section: its heading, then its chart(s) and table(s), or why it is not available."""
    heading = f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>'
    sources = f'<p class="meta">from {html.escape(", ".join(section.sources))}</p>'
    if not section.available:
        body = f'<p class="unavailable">not available: {html.escape(section.unavailable)}</p>'
    elif not section.rows:
        body = '<p class="meta">no rows yet</p>'
    elif section.key == RUN:
        body = _run_html(section)
    elif section.key == FUNNEL:
        body = _funnel_html(section)
    elif section.key == ATTRIBUTION_SECTION:
        body = _attribution_html(section)
    elif section.key == ABANDONMENT:
        body = _abandonment_html(section)
    else:
        body = _histogram_html(section, _HISTOGRAM_MEASURES[section.key])
    return heading + sources + body + "</section>"


def _expectations_html(report: ExpectationReport, out_dir: str) -> str:
    heading = '<section id="expectations"><h2>Data quality (Great Expectations)</h2>'
    if report.index is None and report.summary is None:
        return (
            heading + '<p class="unavailable">no expectation report yet: run <code>make validate</code></p></section>'
        )
    links = []
    if report.index is not None:
        links.append(
            f'<a href="{html.escape(relative_href(report.index, out_dir))}">expectation report (Data Docs)</a>'
        )
    if report.summary is not None:
        links.append(f'<a href="{html.escape(relative_href(report.summary, out_dir))}">JSON summary</a>')
    counts = ""
    if report.critical_failures is not None:
        state = "failed" if report.critical_failures else "ok"
        counts = (
            f'<p>run <code>{html.escape(str(report.run_id))}</code>: <span class="{state}">'
            f"{fmt_count(report.critical_failures)} critical failures</span>, "
            f"{fmt_count(report.warnings or 0)} warnings</p>"
        )
    return heading + counts + "<p>" + " · ".join(links) + "</p></section>"


def render_html(sections: Sequence[ReportSection], expectations: ExpectationReport, out_dir: str, lake: str) -> str:
    """The whole report page; self-contained (inline SVG and CSS, no scripts, nothing fetched)."""
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    body = "".join(section_html(s) for s in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>journeylake run report</title>'
        f"<style>{_CSS}</style></head><body><h1>journeylake run report</h1>"
        f'<p class="meta">lake <code>{html.escape(lake)}</code></p>'
        f'<nav>{nav}<a href="#expectations">Data quality</a></nav>'
        f"{body}{_expectations_html(expectations, out_dir)}</body></html>\n"
    )


def summary_document(sections: Sequence[ReportSection], expectations: ExpectationReport, lake: str) -> dict[str, Any]:
    """summary.json: every section's chart data, totals and availability, and the expectation counts."""
    return {
        "lake": lake,
        "sections": {
            s.key: {
                "title": s.title,
                "sources": list(s.sources),
                "available": s.available,
                "unavailable": s.unavailable or None,
                "totals": s.totals,
                "rows": list(s.rows),
            }
            for s in sections
        },
        "expectations": {
            "report": str(expectations.index) if expectations.index else None,
            "summary": str(expectations.summary) if expectations.summary else None,
            "run_id": expectations.run_id,
            "critical_failures": expectations.critical_failures,
            "warnings": expectations.warnings,
        },
    }


def write_report(
    folder: Path, sections: Sequence[ReportSection], expectations: ExpectationReport, lake: str, location: str
) -> tuple[Path, Path]:
    """Write index.html and summary.json into the local ``folder`` (created), the page linking as if it lived at
    ``location`` (where the folder is published); return their local paths."""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / INDEX_FILE
    summary = folder / SUMMARY_FILE
    index.write_text(render_html(sections, expectations, location, lake), encoding="utf-8")
    document = summary_document(sections, expectations, lake)
    summary.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return index, summary


def section_frames(summary_path: str | Path) -> dict[str, Any]:
    """The report's chart data as pandas DataFrames, one per available section (for notebooks).

    Reads summary.json (already small: bounded aggregates), so showing it needs no Spark job.
    """
    import pandas as pd  # only notebooks need it

    sections = json.loads(Path(summary_path).read_text())["sections"]
    return {key: pd.DataFrame(section["rows"]) for key, section in sections.items() if section["available"]}
