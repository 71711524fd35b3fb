"""Stage runner: the run report (reports/run/index.html with charts, and summary.json) from the lake's tables.

Reads whichever of the report's tables exist, reduces each to a bounded aggregate in Spark
(``journeylake.report``), collects only those and draws them (``journeylake.io.report``). A missing table
makes its section "not available", never a failure. The report links the Great Expectations report of the
same run (``[validation].report_dir``) when there is one.
"""

from __future__ import annotations

from pathlib import Path

from journeylake.io.report import find_expectation_report, read_report_tables, resolve_dir, write_report
from journeylake.report import RUN, build_sections
from journeylake.stages import RunContext, StageResult, timed

STAGE = "report"


def run(context: RunContext) -> StageResult:
    """Write the run report of the lake at ``context.lake`` into ``[report].out_dir``."""
    result = StageResult(stage=STAGE)
    with timed(result):
        tables = read_report_tables(context.spark, context.lake)
        sections = build_sections(tables)
        run_section = next((s for s in sections if s.key == RUN), None)
        reported_run = run_section.totals.get("run_id") if run_section is not None else None
        expectations = find_expectation_report(resolve_dir(context.config.validation.report_dir), reported_run)
        out_dir = Path(context.config.report.out_dir)
        index, summary = write_report(out_dir, sections, expectations, context.lake)

        # What reached the driver: the bounded chart rows, never table rows.
        result.rows_out = {"report.chart_rows": sum(len(s.rows) for s in sections)}
        unavailable = {s.key: s.unavailable for s in sections if not s.available}
        result.details = {
            "index": str(index),
            "summary": str(summary),
            "reported_run": reported_run,
            "unavailable": unavailable,
            "expectation_report": str(expectations.index) if expectations.index else None,
        }
        result.message = f"report {index}" + (f"; not available: {', '.join(unavailable)}" if unavailable else "")
    return result
