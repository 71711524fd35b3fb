"""Stage runner: validate every table in the lake that has a suite, publish Data Docs and a JSON summary.

A critical failure fails the stage (the pipeline stops before publishing) with a
message naming the first failing table and expectation; warnings are reported in
the details and the summary, and the run continues. Tables not written yet are
listed as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from journeylake.config import PipelineConfig
from journeylake.io.delta import read_table, table_exists, table_path
from journeylake.io.expectations import (
    ExpectationRunner,
    SuiteFile,
    TableValidation,
    load_suite_files,
    parameters_of,
    read_previous_version,
    suites_folder,
    summary_document,
    write_summary,
)
from journeylake.io.lake import is_local, join_uri, local_folder_for, publish_folder, report_location
from journeylake.stages import RunContext, StageResult, timed
from journeylake.validate import (
    IDENTITY_MAP,
    IDENTITY_MERGES,
    MERGE_NEW_CANONICAL,
    MERGE_OLD_CANONICAL,
    META_RUNS,
    build_validation_frames,
    expectation_parameters,
    ingest_input_rows_total,
    parameter_name_for_rows,
)

STAGE = "validate"
EXPECTATIONS_REPORT = "expectations"
EMPTY_MERGES_SCHEMA = T.StructType(
    [
        T.StructField(MERGE_OLD_CANONICAL, T.LongType(), True),
        T.StructField(MERGE_NEW_CANONICAL, T.LongType(), True),
    ]
)
MAX_FAILURES_IN_DETAILS = 20


def _path_of(lake: str, name: str) -> str:
    layer, table = name.split(".", 1)
    return table_path(lake, layer, table)


@dataclass
class LakeValidation:
    validations: list[TableValidation]
    skipped_tables: list[str]
    row_counts: dict[str, int]


def validate_tables(
    runner: ExpectationRunner,
    suites: dict[str, SuiteFile],
    tables: dict[str, DataFrame],
    *,
    config: PipelineConfig,
    as_of: datetime,
    previous_identity_map: DataFrame | None,
    run_name: str,
    current_ingest_rows: int = 0,
) -> LakeValidation:
    """Validate the frames in ``tables`` ("<layer>.<table>" -> rows) against their suites.

    Suites without a table are registered (so the Data Docs index lists them) and
    reported as skipped. ``tables`` may also hold inputs without a suite of their own
    (silver.identity_merges).
    """
    # Only tables a bound refers to are counted: GX counts the validated tables itself.
    referenced = {p for suite in suites.values() for e in suite.expectations for p in parameters_of(e)}
    row_counts = {name: df.count() for name, df in tables.items() if parameter_name_for_rows(name) in referenced}
    # Judged against what the lake holds: every recorded ingestion, plus this run's (not recorded until the
    # run ends), so a lake built by many daily runs is bounded by all of their input.
    input_total = None
    if META_RUNS in tables:
        total_row = ingest_input_rows_total(tables[META_RUNS]).first()
        input_total = None if total_row is None else total_row["input_rows_total"]
    if current_ingest_rows:
        input_total = (input_total or 0) + current_ingest_rows
    parameters = expectation_parameters(row_counts, config, input_total)
    frames = build_validation_frames(tables, as_of=as_of, previous_identity_map=previous_identity_map)

    validations: list[TableValidation] = []
    skipped_tables: list[str] = []
    for name, suite in suites.items():
        if name not in frames:
            skipped_tables.append(name)
            runner.add_suite(suite)
            continue
        frame = frames[name]  # GX persists the batch frame itself (its Spark datasource), so it is computed once
        try:
            validations.append(runner.validate(suite, frame, parameters, run_name=run_name))
        finally:
            frame.unpersist()  # GX never releases it
    return LakeValidation(validations, skipped_tables, row_counts)


def _ingested_rows(context: RunContext) -> int:
    """Input rows of this run's ingestion, when it ran in this pipeline run (not recorded in meta.runs yet)."""
    ingested = context.result_of("ingest")
    return int(ingested.details.get("input_rows", 0)) if ingested is not None and not ingested.failed else 0


def run(context: RunContext) -> StageResult:
    """Validate the lake at ``context.lake``; write Data Docs and ``summary-<run_id>.json`` to the report dir."""
    result = StageResult(stage=STAGE)
    with timed(result):
        settings = context.config.validation
        if not settings.enabled:
            result.details["skipped"] = "validation.enabled is false"
            return result
        suites = load_suite_files(suites_folder(settings.suites_dir))
        spark = context.spark

        tables: dict[str, DataFrame] = {}
        for name in [*suites, IDENTITY_MERGES]:
            path = _path_of(context.lake, name)
            if table_exists(spark, path):
                tables[name] = read_table(spark, path)
        previous_map = None
        if IDENTITY_MAP in tables:
            previous_map = read_previous_version(spark, _path_of(context.lake, IDENTITY_MAP))
            if previous_map is not None and IDENTITY_MERGES not in tables:
                # No merges recorded yet: any canonical id change is then unexplained.
                tables[IDENTITY_MERGES] = spark.createDataFrame([], EMPTY_MERGES_SCHEMA)
        as_of = context.as_of  # the run's "now" (journeylake.stages.data_as_of), the one the stages used

        location = report_location(settings.report_dir, context.lake, EXPECTATIONS_REPORT)
        with local_folder_for(location, "journeylake-expectations-") as folder:
            runner = ExpectationRunner(folder)
            outcome = validate_tables(
                runner,
                suites,
                tables,
                config=context.config,
                as_of=as_of,
                previous_identity_map=previous_map,
                run_name=context.run_id,
                current_ingest_rows=_ingested_rows(context),
            )
            built = runner.build_docs()
            index = built if is_local(location) else join_uri(location, built.name)
            summary = summary_document(context.run_id, as_of, index, outcome.validations, outcome.skipped_tables)
            written = write_summary(runner.report_dir, context.run_id, summary)
            summary_path = written if is_local(location) else join_uri(location, written.name)
            publish_folder(spark, folder, location)

        result.rows_in = outcome.row_counts
        critical = [o for v in outcome.validations for o in v.critical_failures]
        warnings = [o for v in outcome.validations for o in v.warnings]
        result.details.update(
            {
                "report": str(index),
                "summary": str(summary_path),
                "as_of": as_of.isoformat(),
                "validated_tables": [v.table for v in outcome.validations],
                "skipped_tables": outcome.skipped_tables,
                "critical_failures": [o.label() for o in critical][:MAX_FAILURES_IN_DETAILS],
                "warnings": [o.label() for o in warnings][:MAX_FAILURES_IN_DETAILS],
                "skipped_expectations": sum(len(v.skipped) for v in outcome.validations),
            }
        )
        if critical:
            first = critical[0]
            more = f" (+{len(critical) - 1} more)" if len(critical) > 1 else ""
            result.failed = True
            result.message = (
                f"critical expectation failed: {first.table}: {first.expectation_type} ({first.column or 'table'})"
                f"{more}; report {index}"
            )
    return result
