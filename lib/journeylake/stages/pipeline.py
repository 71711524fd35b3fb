"""The end-to-end pipeline: every stage runner in order, under the lake's run lock.

A stage that raises does not crash the run: its exception becomes a failed
:class:`StageResult` (with the message), later stages are skipped, and the run
record in ``meta.runs`` says where it stopped. Rerunning continues from the
lake's state; every stage writes idempotently, so nothing is lost or doubled.

"Now": ingestion judges future timestamps against ``--as-of`` or the wall clock;
after it, a run without ``--as-of`` takes the latest activity time in bronze
(:func:`journeylake.stages.data_as_of`), the same rule every single-stage job and
validation use, so the stage jobs run one after another give the tables one
pipeline run gives.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from datetime import UTC, datetime

from journeylake import __version__
from journeylake.io.runs import record_stage_runs, run_lock, stage_row
from journeylake.logs import log_stage_start, log_stage_summary
from journeylake.stages import (
    RunContext,
    StageResult,
    StageRunner,
    abandonment,
    attribution,
    backend,
    data_as_of,
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
    # Abandonment sets the statuses (abandoned as of now) that attribution and RL read.
    ("abandonment", abandonment.run),
    ("attribution", attribution.run),
    ("rl", rl.run),
    ("reconcile", reconcile.run),
    ("validate", validate.run),
    # Optional (bigquery.enabled, off by default); last, so that only validated tables are published.
    ("publish", publish.run),
]
STAGE_NAMES = [name for name, _ in STAGES]

# Stages that never run after a failed stage, even when the caller asks to go on (stop_on_failure=False):
# publishing after a critical expectation failed would ship tables known to be wrong.
REQUIRES_CLEAN_RUN = frozenset({"publish"})

# The stage after which a run without an explicit --as-of adopts the data's "now".
AS_OF_FROM_DATA_AFTER = "ingest"


def stage_runner(name: str) -> StageRunner:
    """The runner of the stage called ``name`` (as in :data:`STAGES`)."""
    return dict(STAGES)[name]


def _run_stage(name: str, runner: StageRunner, context: RunContext) -> StageResult:
    start = time.perf_counter()
    log_stage_start(name)
    context.spark.sparkContext.setJobGroup(name, f"journeylake stage {name}", interruptOnCancel=True)
    try:
        result = runner(context)
    except Exception as error:  # a stage failure is reported, not raised: the run record must be written
        log.error("stage %s failed:\n%s", name, traceback.format_exc())
        result = StageResult(stage=name, failed=True, message=f"{type(error).__name__}: {error}")
    finally:
        context.spark.sparkContext.setJobGroup("journeylake", "journeylake bookkeeping")
    result.stage = name
    if not result.seconds:
        result.seconds = round(time.perf_counter() - start, 3)
    return result


def with_data_as_of(context: RunContext) -> RunContext:
    """``context`` with "now" moved to the lake's latest activity (unless --as-of was given)."""
    if context.as_of_explicit:
        return context
    latest = data_as_of(context.spark, context.lake)
    return context if latest is None else dataclasses.replace(context, as_of=latest)


def run_pipeline(
    context: RunContext,
    stages: list[tuple[str, StageRunner]] | None = None,
    stop_on_failure: bool = True,
    report: bool = False,
) -> list[StageResult]:
    """Run ``stages`` (default: all) under the lake's run lock and record them in ``meta.runs``.

    With ``report``, the run report is written last (after the record, so it shows this run) and its result
    is the last element.
    """
    results: list[StageResult] = []
    started = time.perf_counter()
    with run_lock(context.spark, context.lake, context.run_id, context.config.lake.lock_ttl_hours):
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
            context = dataclasses.replace(context, completed=(*context.completed, result))
            if name == AS_OF_FROM_DATA_AFTER and not result.failed:
                context = with_data_as_of(context)
            if result.failed and stop_on_failure:
                break
        _record(context, results, time.perf_counter() - started)
        if report:
            from journeylake.stages.report import run as write_report

            written = _run_stage("report", write_report, context)
            log_stage_summary(written)
            results.append(written)
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


def run_table(results: list[StageResult]) -> str:
    """The end-of-run table: stage, status, seconds, rows in and rows out."""
    header = ("stage", "status", "seconds", "rows in", "rows out")
    lines = [
        (
            r.stage,
            "FAILED" if r.failed else ("skipped" if r.details.get("skipped") else "ok"),
            f"{r.seconds:.1f}",
            f"{sum(r.rows_in.values()):,}",
            f"{sum(r.rows_out.values()):,}",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        return "  ".join(cells)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *[fmt(line) for line in lines]])


def print_run_table(results: list[StageResult]) -> None:
    print(run_table(results), flush=True)
