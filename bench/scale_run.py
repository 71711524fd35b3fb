"""One benchmark run in a fresh process: the full pipeline over one generated sample, instrumented per stage,
optionally followed by the DuckDB reference and the connected-components comparison. Writes one JSON file.

    .venv/bin/python -m bench.scale_run --scale 0.5 --sample-dir D --lake L --out run.json [--to-date YYYY-MM-DD]
        [--reference] [--cc]

The session is built with the same settings as ``make run`` (``journeylake.cli.make_context``: the project's
factory, default config), plus UI retention limits raised so the REST API still holds every stage at the end
(``spark.ui.retainedJobs/Stages``; they change what the UI remembers, not how anything runs). Each pipeline stage
runs under its own Spark job group, which is how shuffle bytes are attributed to stages.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench import probes, reference
from journeylake import __version__, graph
from journeylake.cli import make_context
from journeylake.config import PipelineConfig, load_config, with_overrides
from journeylake.io.delta import read_table, table_path
from journeylake.sample.writer import read_manifest
from journeylake.spark import get_spark
from journeylake.stages import RunContext, StageResult, StageRunner
from journeylake.stages import sample as sample_stage
from journeylake.stages.pipeline import STAGES, run_pipeline

# Enough for every job and stage of the largest run we make (the defaults, 1000, drop the oldest ones).
UI_RETENTION = "200000"
# The listener bus updates the status store asynchronously: give it a moment before reading the REST API.
LISTENER_DRAIN_SECONDS = 3.0
# Connected-components settings compared on the same identity graph (label -> checkpoint_interval).
CC_VARIANTS: tuple[tuple[str, int], ...] = (
    ("ours: reliable checkpoint every 2nd round", 2),
    ("reliable checkpoint every round", 1),
    ("local checkpoints only", graph.MAX_ROUNDS + 1),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sample-dir", required=True)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--to-date", default="", help="ingest GA4 files dated up to this day only (ISO)")
    parser.add_argument("--reference", action="store_true", help="then time the Spark core and the DuckDB reference")
    parser.add_argument("--cc", action="store_true", help="then compare connected-components settings")
    parser.add_argument(
        "--extras-only",
        action="store_true",
        help="skip the pipeline: run --reference/--cc on the lake a previous run built and add them to --out",
    )
    return parser.parse_args(argv)


def bench_config(args: argparse.Namespace) -> PipelineConfig:
    """The default config (as ``make run``), pointed at this run's lake and sample."""
    lake = Path(args.lake)
    return with_overrides(
        load_config(None),
        **{
            "lake.root": str(lake),
            "input.sample_dir": args.sample_dir,
            "input.sample_seed": args.seed,
            "input.sample_scale": args.scale,
            "ingest.to_date": args.to_date,
            "validation.report_dir": str(lake.parent / f"{lake.name}_expectations"),
        },
    )


def session_like_make_run(config: PipelineConfig) -> SparkSession:
    """The session ``make_context`` would build, with the UI retention raised; make_context then reuses it."""
    return get_spark(
        "journeylake",
        master=None if config.spark.master == "local[*]" else config.spark.master,
        shuffle_partitions=config.spark.shuffle_partitions,
        checkpoint_dir=config.lake.checkpoint_dir or f"{config.lake.root}/_checkpoints",
        driver_memory=config.spark.driver_memory,
        extra_conf={"spark.ui.retainedJobs": UI_RETENTION, "spark.ui.retainedStages": UI_RETENTION},
    )


def instrumented(name: str, runner: StageRunner, pid: int, probes_out: dict[str, dict[str, Any]]) -> StageRunner:
    """``runner`` under job group ``name``, with its driver peak RSS, CPU seconds and load recorded."""

    def run(context: RunContext) -> StageResult:
        context.spark.sparkContext.setJobGroup(name, f"bench stage {name}")
        reset_ok = probes.reset_peak_rss(pid)
        before = probes.ProcessSample.take(pid)
        start = time.perf_counter()
        try:
            return runner(context)
        finally:
            after = probes.ProcessSample.take(pid)
            probes_out[name] = {
                "wall_seconds": round(time.perf_counter() - start, 3),
                "driver_cpu_seconds": round(after.cpu - before.cpu, 2),
                "driver_peak_rss_bytes": probes.peak_rss_bytes(pid) if reset_ok else None,
                "load_before": before.load,
                "load_after": after.load,
            }

    return run


def timed_group(spark: SparkSession, group: str, pid: int, action: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    spark.sparkContext.setJobGroup(group, f"bench {group}")
    before = probes.ProcessSample.take(pid)
    start = time.perf_counter()
    value = action()
    after = probes.ProcessSample.take(pid)
    return value, {
        "wall_seconds": round(time.perf_counter() - start, 3),
        "driver_cpu_seconds": round(after.cpu - before.cpu, 2),
        "load_before": before.load,
        "load_after": after.load,
    }


def run_reference(spark: SparkSession, context: RunContext, work: Path, pid: int, threads: int) -> dict[str, Any]:
    core_dir, spark_out, duck_out = work / "core_input", work / "core_spark", work / "core_duckdb"
    for folder in (core_dir, spark_out, duck_out):
        shutil.rmtree(folder, ignore_errors=True)
    rows, export = timed_group(
        spark, "reference-export", pid, lambda: reference.export_core_input(spark, context.lake, core_dir)
    )
    spark_seconds, spark_probe = timed_group(
        spark,
        "reference-spark",
        pid,
        lambda: reference.run_spark_core(spark, context.config, core_dir, spark_out, context.as_of),
    )
    load_before = probes.load_average()
    cpu_before = _own_cpu_seconds()  # DuckDB runs inside this Python process
    duck_seconds = reference.run_duckdb_core(context.config, core_dir, duck_out, threads)
    duck_probe = {
        "wall_seconds": round(duck_seconds, 3),
        "cpu_seconds": round(_own_cpu_seconds() - cpu_before, 2),
        "load_before": load_before,
        "load_after": probes.load_average(),
    }
    agreement = reference.compare_outputs(spark_out, duck_out)
    return {
        "input": "bronze.events snapshot (Delta read, journeys-stage columns) + silver.identity_map device rows, "
        "exported to Parquet; both engines read those files",
        "input_rows": rows,
        "export": export,
        "spark": {**spark_probe, "wall_seconds": round(spark_seconds, 3)},
        "duckdb": {**duck_probe, "threads": threads, "version": reference.duckdb.__version__},
        "spark_over_duckdb": round(spark_seconds / duck_seconds, 2) if duck_seconds else None,
        "spark_over_duckdb_cpu": round(spark_probe["driver_cpu_seconds"] / duck_probe["cpu_seconds"], 2)
        if duck_probe["cpu_seconds"]
        else None,
        "agreement": agreement,
        "agree": agreement["session_ids_differing"] == 0
        and agreement["journey_ids_differing"] == 0
        and agreement["credit_groups_differing"] == 0,
    }


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _RoundsLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_cc(spark: SparkSession, context: RunContext, pid: int) -> dict[str, Any]:
    """Our connected-components settings against alternatives on the lake's identity graph (all edges, cut ones
    included: the hubs the guards remove are part of the graph the solver would see without them)."""
    edges_table = read_table(spark, table_path(context.lake, "silver", "identity_edges"))
    identity_map = read_table(spark, table_path(context.lake, "silver", "identity_map"))
    edges = edges_table.select(F.col("src_key").alias("src"), F.col("dst_key").alias("dst")).localCheckpoint()
    vertices = (
        edges.select(F.col("src").alias("id"))
        .unionByName(edges.select(F.col("dst").alias("id")))
        .unionByName(identity_map.select(F.col("node_key").alias("id")))
        .distinct()
        .localCheckpoint()
    )
    degree = (
        edges.select(F.col("src").alias("id"))
        .unionByName(edges.select(F.col("dst").alias("id")))
        .groupBy("id")
        .count()
        .agg(F.max("count").alias("max_degree"))
        .first()
    )
    shape = {
        "vertices": vertices.count(),
        "edges": edges.count(),
        "edges_active": edges_table.where(F.col("status") == "active").count(),
        "max_degree": int(degree["max_degree"]) if degree and degree["max_degree"] is not None else 0,
    }
    rounds_log = _RoundsLog()
    graph_logger = logging.getLogger(graph.__name__)
    graph_logger.addHandler(rounds_log)
    graph_logger.setLevel(logging.INFO)
    results: list[dict[str, Any]] = []
    labels: list[DataFrame] = []
    for label, interval in CC_VARIANTS:
        rounds_log.messages.clear()
        labelled, probe = timed_group(
            spark,
            f"cc-interval-{interval}",
            pid,
            lambda interval=interval: graph.connected_components(  # type: ignore[misc]
                vertices, edges, checkpoint_interval=interval, force_native=True
            ).localCheckpoint(eager=True),
        )
        labels.append(labelled)
        converged = [m for m in rounds_log.messages if "converged" in m]
        results.append({"variant": label, "checkpoint_interval": interval, **probe, "log": converged})
    graph_logger.removeHandler(rounds_log)
    components = labels[0].select("component").distinct().count()
    largest = labels[0].groupBy("component").count().agg(F.max("count")).first()
    for result, labelled in zip(results[1:], labels[1:], strict=True):
        result["labels_differing_from_ours"] = (
            labelled.exceptAll(labels[0]).count() + labels[0].exceptAll(labelled).count()
        )
    return {
        "graph": {**shape, "components": components, "largest_component": int(largest[0]) if largest else 0},
        "implementation": "native large-star/small-star (journeylake.graph, force_native=True)",
        "graphframes": "blocked: io.graphframes:graphframes-spark4_2.13 is not obtainable here (Maven Central "
        "returns 404 for the io.graphframes group on this machine), so GraphFrames' connectedComponents "
        "(ours vs its defaults) could not be run",
        "variants": results,
    }


def _guarded(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return action()
    except Exception as error:  # reported in the results instead of losing the run's figures
        logging.getLogger(__name__).exception("benchmark extra failed")
        return {"error": f"{type(error).__name__}: {error}"}


def _extras_only(
    args: argparse.Namespace, spark: SparkSession, context: RunContext, pid: int, rest: probes.SparkRest
) -> int:
    """Add the reference and/or connected-components figures to an existing run's JSON (same lake, new process).

    Used when a run's extras were skipped; as_of is the lake's latest event time, as the pipeline run used."""
    out_path = Path(args.out)
    out: dict[str, Any] = json.loads(out_path.read_text())
    events = read_table(spark, table_path(context.lake, "bronze", "events"))
    latest = events.agg(F.max("event_ts")).first()
    assert latest is not None
    context = dataclasses.replace(context, as_of=latest[0])
    threads = os.cpu_count() or 2
    if args.reference:
        out["reference"] = {
            **_guarded(lambda: run_reference(spark, context, Path(args.lake).parent, pid, threads)),
            "process": "separate process after the pipeline run (extras-only)",
        }
    if args.cc:
        out["cc"] = {**_guarded(lambda: run_cc(spark, context, pid)), "process": "separate process (extras-only)"}
    time.sleep(LISTENER_DRAIN_SECONDS)
    try:
        shuffle = rest.shuffle_by_group()
        out.setdefault("shuffle_by_group", {}).update(
            {k: v for k, v in shuffle.items() if k.startswith(("reference", "cc-"))}
        )
    except OSError as error:
        out["rest_error_extras"] = f"{type(error).__name__}: {error}"
    out_path.write_text(json.dumps(out, indent=2, default=str))
    spark.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = bench_config(args)
    out: dict[str, Any] = {
        "scale": args.scale,
        "seed": args.seed,
        "to_date": args.to_date,
        "journeylake": __version__,
        "started_load": probes.load_average(),
    }

    # The sample is generated before Spark starts (plain Python, not part of the Spark figures).
    generation = sample_stage.generate(args.sample_dir, args.seed, args.scale, reuse=True)
    if generation.failed:
        print(f"sample generation failed: {generation.message}", file=sys.stderr)
        return 1
    manifest = read_manifest(Path(args.sample_dir))
    assert manifest is not None
    out["sample"] = {
        "seconds": generation.seconds,
        "reused": generation.details.get("reused"),
        "ga4_rows": manifest["counts"]["ga4_rows"],
        "date_range": manifest["date_range"],
    }

    spark = session_like_make_run(config)
    context = make_context(config, None, None)
    pid = probes.jvm_pid(spark)
    rest = probes.SparkRest(spark)
    if args.extras_only:
        return _extras_only(args, spark, context, pid, rest)
    out["spark"] = {
        "version": spark.version,
        "master": spark.sparkContext.master,
        "default_parallelism": spark.sparkContext.defaultParallelism,
        "conf": {
            key: spark.conf.get(key, None)
            for key in (
                "spark.sql.shuffle.partitions",
                "spark.sql.adaptive.enabled",
                "spark.driver.memory",
                "spark.databricks.delta.snapshotPartitions",
                "spark.ui.retainedStages",
            )
        },
    }

    stage_probes: dict[str, dict[str, Any]] = {}
    stages = [(name, instrumented(name, runner, pid, stage_probes)) for name, runner in STAGES]
    started = time.perf_counter()
    results = run_pipeline(context, stages)
    # The pipeline's own bookkeeping after the last stage (the meta.runs write) ran under the last stage's group.
    spark.sparkContext.setJobGroup("after-pipeline", "bench bookkeeping")
    out["pipeline_seconds"] = round(time.perf_counter() - started, 3)
    out["failed"] = [r.stage for r in results if r.failed]
    out["stages"] = [
        {
            "stage": r.stage,
            "seconds": r.seconds,
            "failed": r.failed,
            "message": r.message[:300],
            "rows_out": r.rows_out,
            "rows_in": r.rows_in,
            # Scalar details only (e.g. the journeys stage's people_rebuilt): what shows a stage re-solving history.
            "details": {k: v for k, v in r.details.items() if isinstance(v, int | float | str | bool)},
            **stage_probes.get(r.stage, {}),
        }
        for r in results
    ]
    events_table = read_table(spark, table_path(context.lake, "bronze", "events"))
    ingest = next((r for r in results if r.stage == "ingest"), None)
    out["events_ingested"] = int(ingest.rows_out.get("bronze.events", 0)) if ingest else 0
    out["events_in_bronze"] = events_table.count()
    out["as_of"] = str(events_table.agg(F.max("event_ts")).first()[0])  # type: ignore[index]

    threads = os.cpu_count() or 2
    # A failing extra is recorded, not raised: the pipeline figures are written either way. The extras need the
    # tables up to journeys; a failed validation (a finding in itself) does not stop them.
    built = not any(name in out["failed"] for name in ("ingest", "identity", "journeys"))
    if args.reference and built:
        out["reference"] = _guarded(lambda: run_reference(spark, context, Path(args.lake).parent, pid, threads))
    if args.cc and built:
        out["cc"] = _guarded(lambda: run_cc(spark, context, pid))

    time.sleep(LISTENER_DRAIN_SECONDS)
    try:
        out["shuffle_by_group"] = rest.shuffle_by_group()
        out["driver_jvm_peak_memory"] = rest.driver_peak_memory()
    except OSError as error:  # the REST API unreachable: keep the wall times
        out["rest_error"] = f"{type(error).__name__}: {error}"
    out["driver_jvm_peak_rss_bytes_whole_run"] = max(
        (s.get("driver_peak_rss_bytes") or 0 for s in stage_probes.values()), default=0
    )
    # RUSAGE_SELF is this Python driver process (py4j client), not the JVM.
    out["python_driver_maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * probes.KIB
    out["finished_load"] = probes.load_average()
    Path(args.out).write_text(json.dumps(out, indent=2, default=str))
    spark.stop()
    return 1 if out["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
