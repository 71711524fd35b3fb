"""Stage runner: the run report (index.html with charts, and summary.json) from the lake's tables.

Reads whichever of the report's tables exist, reduces each to a bounded aggregate in Spark
(``journeylake.report``), collects only those and draws them (``journeylake.io.report``). A missing table
makes its section "not available", never a failure. The report links the Great Expectations report of the
same run when there is one. Both land under the lake (``<lake>/reports/run`` and
``<lake>/reports/expectations``) unless ``[report].out_dir`` / ``[validation].report_dir`` say otherwise, on
any store the lake is on.
"""

from __future__ import annotations

from journeylake.io.lake import join_uri, local_folder_for, publish_folder, report_location
from journeylake.io.report import INDEX_FILE, SUMMARY_FILE, find_expectation_report, read_report_tables, write_report
from journeylake.report import RUN, build_sections
from journeylake.stages import RunContext, StageResult, timed

STAGE = "report"
RUN_REPORT, EXPECTATIONS_REPORT = "run", "expectations"


def run(context: RunContext) -> StageResult:
    """Write the run report of the lake at ``context.lake`` into ``[report].out_dir`` (default under the lake)."""
    result = StageResult(stage=STAGE)
    with timed(result):
        spark, lake = context.spark, context.lake
        tables = read_report_tables(spark, lake)
        sections = build_sections(tables)
        run_section = next((s for s in sections if s.key == RUN), None)
        reported_run = run_section.totals.get("run_id") if run_section is not None else None
        expectations_dir = report_location(context.config.validation.report_dir, lake, EXPECTATIONS_REPORT)
        expectations = find_expectation_report(spark, expectations_dir, reported_run)
        location = report_location(context.config.report.out_dir, lake, RUN_REPORT)
        with local_folder_for(location, "journeylake-report-") as folder:
            write_report(folder, sections, expectations, lake, location)
            publish_folder(spark, folder, location)

        # What reached the driver: the bounded chart rows, never table rows.
        result.rows_out = {"report.chart_rows": sum(len(s.rows) for s in sections)}
        unavailable = {s.key: s.unavailable for s in sections if not s.available}
        index = join_uri(location, INDEX_FILE)
        result.details = {
            "index": index,
            "summary": join_uri(location, SUMMARY_FILE),
            "reported_run": reported_run,
            "unavailable": unavailable,
            "expectation_report": expectations.index,
        }
        result.message = f"report {index}" + (f"; not available: {', '.join(unavailable)}" if unavailable else "")
    return result
