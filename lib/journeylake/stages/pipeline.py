"""The end-to-end pipeline: every stage runner in order, under the lake's run lock.

A stage that raises does not crash the run: its exception becomes a failed
:class:`StageResult` (with the message), later stages are skipped, and the run
record in ``meta.runs`` says where it stopped. Rerunning continues from the
lake's state; every stage writes idempotently, so nothing is lost or doubled.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from datetime import UTC, datetime

from pyspark.sql import functions as F

from journeylake import __version__
from journeylake.io.delta import read_table, table_exists, table_path
from journeylake.io.runs import record_stage_runs, run_lock, stage_row
from journeylake.logs import log_stage_summary
from journeylake.stages import (
    RunContext,
    StageResult,
    StageRunner,
    abandonment,
    attribution,
    backend,
    identity,
    ingest,
    journeys,
    publish,
    reconcile,
    rl,
    sample,
    validate,
)

log = logging.getLogger(__name__)

# Ordered; each later stage reads what the earlier ones wrote.
STAGES: list[tuple[str, StageRunner]] = [
    ("sample", sample.run),
    ("ingest", ingest.run),
    ("backend", backend.land_backend),
    ("identity", identity.run),
    ("journeys", journeys.run),
    # Abandonment closes journeys (status abandoned) before attribution reads the statuses.
    ("abandonment", abandonment.run),
    ("attribution", attribution.run),
    ("rl", rl.run),
    ("reconcile", reconcile.run),
    ("validate", validate.run),
    # Optional (bigquery.enabled, off by default); last, so that only validated tables are published.
    ("publish", publish.run),
]

# Stages that never run after a failed stage, even when the caller asks to go on (stop_on_failure=False):
# publishing after a critical expectation failed would ship tables known to be wrong.
REQUIRES_CLEAN_RUN = frozenset({"publish"})

# The stage after which a run without an explicit --as-of adopts the data's "now".
AS_OF_FROM_DATA_AFTER = "ingest"


def _run_stage(name: str, runner: StageRunner, context: RunContext) -> StageResult:
    start = time.perf_counter()
    try:
        result = runner(context)
    except Exception as error:  # a stage failure is reported, not raised: the run record must be written
        log.error("stage %s failed:\n%s", name, traceback.format_exc())
        result = StageResult(stage=name, failed=True, message=f"{type(error).__name__}: {error}")
    result.stage = name
    if not result.seconds:
        result.seconds = round(time.perf_counter() - start, 3)
    return result


# Every timed input that becomes journey activity: the run's "now" must not precede any of it, or an open
# journey would have its last activity after as-of (negative idle time; caught by validation).
ACTIVITY_TIME_COLUMNS = (("events", "event_ts"), ("ad_touchpoints", "touch_ts"))


def _as_of_from_data(context: RunContext) -> RunContext:
    """Move as_of to the latest activity time in bronze (events and ad touches), so reruns of the same input agree."""
    if context.as_of_explicit:
        return context
    latest_times = []
    for table, column in ACTIVITY_TIME_COLUMNS:
        path = table_path(context.lake, "bronze", table)
        if table_exists(context.spark, path):
            row = read_table(context.spark, path).agg(F.max(column).alias("latest")).first()
            if row is not None and row["latest"] is not None:
                latest_times.append(row["latest"])
    if not latest_times:
        return context
    return dataclasses.replace(context, as_of=max(latest_times))


def run_pipeline(
    context: RunContext,
    stages: list[tuple[str, StageRunner]] | None = None,
    stop_on_failure: bool = True,
) -> list[StageResult]:
    results: list[StageResult] = []
    started = time.perf_counter()
    with run_lock(context.lake, context.run_id):
        for name, runner in stages if stages is not None else STAGES:
            failed_before = next((r.stage for r in results if r.failed), None)
            if name in REQUIRES_CLEAN_RUN and failed_before is not None:
                skipped = StageResult(stage=name, message=f"skipped: stage {failed_before} failed")
                skipped.details["skipped"] = f"stage {failed_before} failed"
                results.append(skipped)
                log_stage_summary(skipped)
                continue
            result = _run_stage(name, runner, context)
            results.append(result)
            log_stage_summary(result)  # one key=value line: status, seconds, rows in/out per table
            if name == AS_OF_FROM_DATA_AFTER and not result.failed:
                context = _as_of_from_data(context)
            if result.failed and stop_on_failure:
                break
        _record(context, results, time.perf_counter() - started)
    return results


def _record(context: RunContext, results: list[StageResult], seconds: float) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    failed = next((r for r in results if r.failed), None)
    rows = [
        stage_row(
            context.run_id,
            r.stage,
            context.as_of,
            failed=r.failed,
            message=r.message,
            seconds=r.seconds,
            rows_in=r.rows_in,
            rows_out=r.rows_out,
            details=r.details,
            recorded_at=now,
        )
        for r in results
    ]
    rows.append(
        stage_row(
            context.run_id,
            "pipeline",
            context.as_of,
            failed=failed is not None,
            message=f"failed at {failed.stage}: {failed.message}" if failed else "",
            seconds=seconds,
            rows_in={},
            rows_out={},
            details={"stages": [r.stage for r in results], "journeylake": __version__, "spark": context.spark.version},
            recorded_at=now,
        )
    )
    record_stage_runs(context.spark, context.lake, rows)
