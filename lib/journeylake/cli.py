"""The ``journeylake`` command and the ``jobs/*.py`` scripts: one registry of commands, two ways in.

Every command is a :class:`Command`: the flags it adds to the common ones and ``run(spark, args)``, which does
the work and returns the exit code. ``journeylake <command> [flags]`` (declared in ``[project.scripts]``, so an
installed user needs no source tree) and ``jobs/<script>.py [flags]`` (what ``spark-submit``, Databricks and
Dataproc run) both parse with :func:`parse_args` and run with :func:`run_command`, in the shape of the
dataproc-templates: ``parse_args(argv)`` then ``run(spark, args)``. Building a parser never starts Spark.

Exit codes: 0 success, 1 a stage or a critical expectation failed, 2 the run did not start (the lake is locked
by another run, or the command line or config is wrong).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from journeylake.config import PipelineConfig, load_config, with_overrides

if TYPE_CHECKING:  # pyspark is imported only by commands that run Spark: --help and the CSV tools stay light
    from pyspark.sql import SparkSession

    from journeylake.stages import RunContext, StageResult

EXIT_OK, EXIT_FAILED, EXIT_NOT_STARTED = 0, 1, 2
EMULATOR_GCS_ROOT_ENV = "BQEMU_GCS_LOCAL_ROOT"

log = logging.getLogger(__name__)


# ---- common flags, config and context ------------------------------------------------------------------------


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (default: the packaged conf/default.toml)")
    parser.add_argument("--lake", help="lake root: a folder or a URI (gs://, s3a://, abfss://, dbfs:/); [lake].root")
    parser.add_argument("--sample-dir", help="generated sample folder; overrides [input].sample_dir")
    parser.add_argument(
        "--as-of",
        help="the run's 'now' as an ISO timestamp in UTC (default: the latest event or ad touch in bronze); "
        "rerunning with the same value gives the same tables",
    )
    parser.add_argument("--run-id", help="identifier of this run (default: a new one, run-<UTC time>-<random>)")


def parse_as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def config_from_args(args: argparse.Namespace, **overrides: object) -> PipelineConfig:
    """The config file with the common flags and ``overrides`` (dotted keys, None ignored) applied."""
    common = {"lake.root": getattr(args, "lake", None), "input.sample_dir": getattr(args, "sample_dir", None)}
    return with_overrides(load_config(getattr(args, "config", None)), **common, **overrides)


def session_for(config: PipelineConfig) -> SparkSession:
    """The Spark session of a command: the platform's when there is one, else a local one sized by ``[spark]``."""
    from journeylake.spark import get_spark  # the session factory imports pyspark's JVM side lazily

    return get_spark(
        "journeylake",
        master=None if config.spark.master == "local[*]" else config.spark.master,
        shuffle_partitions=config.spark.shuffle_partitions,
        checkpoint_dir=config.lake.checkpoint_dir or None,
        driver_memory=config.spark.driver_memory,
        extra_conf={str(k): str(v) for k, v in config.spark.conf},
    )


def new_run_id() -> str:
    return f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def make_context(
    config: PipelineConfig,
    as_of: datetime | None = None,
    run_id: str | None = None,
    *,
    spark: SparkSession | None = None,
    as_of_from_data: bool = True,
) -> RunContext:
    """The context of one run. Its "now" follows the one rule of :func:`journeylake.stages.data_as_of`: the
    explicit ``as_of``, else the latest activity in the lake's bronze tables (with ``as_of_from_data``), else the
    current UTC time (an empty lake, or ingestion before anything is in bronze).

    Also routes our logs to stderr as key=value lines carrying the run id (``journeylake.logs``).
    """
    from journeylake.logs import configure_logging, set_run_id
    from journeylake.stages import RunContext, data_as_of

    configure_logging()
    session = spark or session_for(config)
    identifier = run_id or new_run_id()
    set_run_id(identifier)
    jvm = getattr(session.sparkContext, "_jvm", None)
    if jvm is not None:  # Spark's own log lines carry it too (conf/log4j2.properties reads this property)
        jvm.java.lang.System.setProperty("journeylake.run_id", identifier)
    explicit = as_of is not None
    effective = as_of
    if effective is None and as_of_from_data:
        effective = data_as_of(session, config.lake.root)
    if effective is None:
        effective = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return RunContext(spark=session, config=config, run_id=identifier, as_of=effective, as_of_explicit=explicit)


def _context(
    spark: SparkSession | None, args: argparse.Namespace, config: PipelineConfig, **kwargs: object
) -> RunContext:
    return make_context(config, parse_as_of(args.as_of), args.run_id, spark=spark, **kwargs)  # type: ignore[arg-type]


def _log(result: StageResult) -> None:
    from journeylake.logs import log_stage_summary

    log_stage_summary(result)


def _finish(result: StageResult) -> int:
    """Print the stage's one-line summary (stdout) and, when it failed, why (stderr); the exit code."""
    print(result.summary_line())
    if result.failed:
        print(f"{result.stage} FAILED: {result.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# ---- the commands --------------------------------------------------------------------------------------------

Runner = Callable[["SparkSession | None", argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    name: str
    script: str  # the jobs/ script that runs it
    summary: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Runner
    spark: bool = True  # False: runs without a Spark session (generators, local servers, CSV tools)
    common_flags: bool = True


def _no_flags(parser: argparse.ArgumentParser) -> None:
    del parser


def _stage_command(name: str, script: str, summary: str, stage: str) -> Command:
    """A command that runs one pipeline stage on the lake, with the as-of of :func:`make_context`."""

    def run(spark: SparkSession | None, args: argparse.Namespace) -> int:
        from journeylake.stages.pipeline import stage_runner

        context = _context(spark, args, config_from_args(args))
        result = stage_runner(stage)(context)
        result.stage = stage
        _log(result)
        if stage in ("identity", "journeys", "reconcile"):
            print(json.dumps(result.details, sort_keys=True, default=str))
        return _finish(result)

    return Command(name, script, summary, _no_flags, run)


# -- run (the whole pipeline)


def _configure_run(parser: argparse.ArgumentParser) -> None:
    from journeylake.stages.pipeline import STAGE_NAMES

    parser.add_argument("--ga4", help="folder or URI of GA4 export files (Parquet or NDJSON) to ingest")
    parser.add_argument("--sample-seed", type=int, help="seed of the generated sample; [input].sample_seed")
    parser.add_argument("--sample-scale", type=float, help="size of the generated sample; [input].sample_scale")
    parser.add_argument("--jdbc-url", help="PostgreSQL JDBC URL of the backend orders database; [backend].jdbc_url")
    parser.add_argument("--until", choices=STAGE_NAMES, help="stop after this stage (default: run every stage)")
    parser.add_argument("--no-report", action="store_true", help="do not write the run report at the end")


def _run_pipeline(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.io.runs import RunLockedError
    from journeylake.stages.pipeline import STAGE_NAMES, STAGES, print_run_table, run_pipeline

    config = config_from_args(
        args,
        **{
            "input.ga4_dir": args.ga4,
            "input.sample_seed": args.sample_seed,
            "input.sample_scale": args.sample_scale,
            "backend.jdbc_url": args.jdbc_url,
        },
    )
    # "Now" before ingestion is the wall clock (or --as-of); the pipeline moves it to the data after ingestion.
    context = _context(spark, args, config, as_of_from_data=False)
    stages = STAGES[: STAGE_NAMES.index(args.until) + 1] if args.until else STAGES
    try:
        results = run_pipeline(context, stages, report=config.report.enabled and not args.no_report)
    except RunLockedError as error:  # another run holds the lake: nothing was read or written
        print(f"pipeline NOT started: {error}", file=sys.stderr)
        return EXIT_NOT_STARTED
    print_run_table(results)
    failed = [r for r in results if r.failed]
    if failed:
        print(f"pipeline FAILED at stage {failed[0].stage}: {failed[0].message}", file=sys.stderr)
        return EXIT_FAILED
    seconds = sum(r.seconds for r in results)
    print(f"pipeline ok: run {context.run_id}, {seconds:.1f}s, lake {context.lake}")
    report = next((r for r in results if r.stage == "report"), None)
    if report is not None:
        print(f"run report: {report.details['index']}")
    return EXIT_OK


# -- sample


def _configure_sample(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output folder (default: [input].sample_dir)")
    parser.add_argument("--seed", type=int, help="random seed (default: [input].sample_seed)")
    parser.add_argument("--scale", type=float, help="1.0 is about 3,000 persons (default: [input].sample_scale)")


def _sample(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.stages.sample import generate

    inputs = config_from_args(args).input
    result = generate(
        args.out or inputs.sample_dir,
        inputs.sample_seed if args.seed is None else args.seed,
        inputs.sample_scale if args.scale is None else args.scale,
        reuse=False,
    )
    print(f"{result.summary_line()}; out={result.details.get('out_dir', args.out)}")
    return EXIT_FAILED if result.failed else EXIT_OK


# -- ingest


def _configure_ingest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ga4", help="folder of GA4 export files (Parquet or NDJSON), or bigquery:project.dataset.t")
    parser.add_argument("--from-date", help="first export day to re-read (YYYY-MM-DD)")
    parser.add_argument("--to-date", help="last export day to re-read (YYYY-MM-DD)")


def _ingest(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.stages.ingest import accounting_line
    from journeylake.stages.ingest import run as ingest

    config = config_from_args(
        args, **{"input.ga4_dir": args.ga4, "ingest.from_date": args.from_date, "ingest.to_date": args.to_date}
    )
    # Ingestion judges future timestamps against the wall clock (or --as-of), not against what bronze holds.
    context = _context(spark, args, config, as_of_from_data=False)
    result = ingest(context)
    _log(result)
    code = _finish(result)
    if not result.failed:
        print(f"[ingest] {accounting_line(result)}")
    return code


# -- reconcile (lands the backend first when a JDBC URL is given)


def _configure_reconcile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jdbc-url", help="PostgreSQL JDBC URL of the backend; lands it first ([backend].jdbc_url)")
    parser.add_argument("--db-user", help="backend database user; overrides [backend].user")


def _reconcile(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.stages import reconcile
    from journeylake.stages.backend import land_backend

    config = config_from_args(args, **{"backend.jdbc_url": args.jdbc_url, "backend.user": args.db_user})
    context = _context(spark, args, config)
    if config.backend.jdbc_url:
        landed = land_backend(context)
        _log(landed)
        if _finish(landed) != EXIT_OK:
            return EXIT_FAILED
    result = reconcile.run(context)
    _log(result)
    print(json.dumps(result.details, sort_keys=True, default=str))
    return _finish(result)


def _configure_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jdbc-url", help="PostgreSQL JDBC URL of the backend; overrides [backend].jdbc_url")
    parser.add_argument("--db-user", help="backend database user; overrides [backend].user")


def _backend(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.stages.backend import land_backend

    config = config_from_args(args, **{"backend.jdbc_url": args.jdbc_url, "backend.user": args.db_user})
    result = land_backend(_context(spark, args, config))
    _log(result)
    return _finish(result)


# -- validate


def _configure_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report-dir", help="where Data Docs and the JSON summary go; [validation].report_dir")


def _validate(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.stages.validate import run as validate

    config = config_from_args(args, **{"validation.report_dir": args.report_dir})
    result = validate(_context(spark, args, config))
    _log(result)
    if "report" in result.details:
        print(f"expectation report: {result.details['report']}")
        print(f"summary: {result.details['summary']}")
    for warning in result.details.get("warnings", []):
        print(f"warning: {warning}")
    return _finish(result)


# -- report


def _configure_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", help="where index.html and summary.json go; overrides [report].out_dir")
    parser.add_argument(
        "--expectations-dir", help="the expectation report to link (validate --report-dir); [validation].report_dir"
    )


def _report(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.stages.report import run as write_report

    config = config_from_args(args, **{"report.out_dir": args.out_dir, "validation.report_dir": args.expectations_dir})
    result = write_report(_context(spark, args, config))
    _log(result)
    code = _finish(result)
    if code == EXIT_OK:
        print(f"run report: {result.details['index']}")
    return code


# -- publish


def _configure_publish(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", help="BigQuery project id; overrides [bigquery].project")
    parser.add_argument("--dataset", help="BigQuery dataset, created if missing; overrides [bigquery].dataset")
    parser.add_argument("--staging-uri", help="gs://bucket/prefix for the staged Parquet; [bigquery].staging_uri")
    parser.add_argument("--api-endpoint", help="BigQuery API endpoint override, e.g. http://127.0.0.1:9050 (emulator)")
    parser.add_argument("--tables", help="comma-separated tables to publish (default: all found in the lake)")


def _publish(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.stages.publish import run as publish

    local_root = os.environ.get(EMULATOR_GCS_ROOT_ENV) if args.api_endpoint else None
    config = config_from_args(
        args,
        **{
            "bigquery.enabled": True,
            "bigquery.project": args.project,
            "bigquery.dataset": args.dataset,
            "bigquery.staging_uri": args.staging_uri,
            "bigquery.api_endpoint": args.api_endpoint,
            "bigquery.staging_local_root": os.path.abspath(local_root) if local_root else None,
            "bigquery.tables": tuple(t.strip() for t in args.tables.split(",")) if args.tables else None,
        },
    )
    result = publish(_context(spark, args, config))
    for table, detail in result.details.get("published", {}).items():
        changed = "replaced" if detail["changed_rows"] is None else f"{detail['changed_rows']} rows changed"
        print(f"  {table}: {result.rows_out.get(table, 0)} rows ({detail['mode']}: {changed})")
    skipped = result.details.get("skipped")
    if skipped:
        print(f"not in the lake (skipped): {', '.join(skipped) if isinstance(skipped, list) else skipped}")
    _log(result)
    return _finish(result)


# -- identity quality


def _configure_identity_quality(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truth", help="truth folder of the sample (default: <[input].sample_dir>/truth)")


def _identity_quality(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.identity import score_identity_pairs
    from journeylake.io.delta import read_table, table_exists, table_path
    from journeylake.io.lake import join_uri
    from journeylake.io.truth import read_truth_devices

    config = config_from_args(args)
    context = _context(spark, args, config)
    map_path = table_path(context.lake, "silver", "identity_map")
    if not table_exists(context.spark, map_path):
        print(f"silver.identity_map not found at {map_path}: run the identity stage first", file=sys.stderr)
        return EXIT_FAILED
    truth_dir = args.truth or join_uri(config.input.sample_dir, "truth")
    score = score_identity_pairs(read_truth_devices(context.spark, truth_dir), read_table(context.spark, map_path))
    print(
        f"pairs predicted={score.predicted_pairs} true={score.true_pairs} "
        f"truth(linkable)={score.truth_pairs} found={score.true_linkable_pairs} "
        f"truth(all devices)={score.all_truth_pairs} found={score.all_found_pairs}"
    )
    print(score.line())
    return EXIT_OK


# -- unlock


def _configure_unlock(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="remove the lock even if its holder looks alive")


def _unlock(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.io.runs import break_lock

    config = config_from_args(args)
    session = spark or session_for(config)
    message, removed = break_lock(session, config.lake.root, force=args.force)
    print(message, file=sys.stdout if removed else sys.stderr)
    return EXIT_OK if removed else EXIT_FAILED


# -- attribute-paths (no Spark)


def _configure_attribute_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="CSV of aggregated paths")
    parser.add_argument("--output", required=True, help="CSV to write, one row per channel")
    parser.add_argument("--sep", default=";", help="column separator of input and output (default ';')")
    parser.add_argument("--path-sep", default=">", help="channel separator inside a path (default '>')")
    parser.add_argument("--order", type=int, default=1, help="Markov chain order (default 1)")


def _attribute_paths(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.io.paths_csv import read_paths, write_result
    from journeylake.markov import attribute_paths

    try:
        records = read_paths(Path(args.input), args.sep, args.path_sep)
        rows = attribute_paths(records, order=args.order)
    except (OSError, ValueError) as error:
        print(f"attribute_paths: {error}", file=sys.stderr)
        return EXIT_NOT_STARTED
    write_result(rows, Path(args.output), args.sep)
    print(f"attribute_paths: {len(records)} paths, {len(rows)} channels -> {args.output}")
    return EXIT_OK


# -- local servers for development (no Spark)


def _configure_postgres(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "load"])
    parser.add_argument("--data-dir", default=".pgdata/data", help="server data directory (git-ignored)")
    parser.add_argument("--port", type=int, default=55432)
    parser.add_argument("--sample-dir", default="data/sample", help="generated sample (backend_csv/ inside)")


def _postgres(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.config import BackendConfig
    from journeylake.io.postgres import LocalPostgres, PostgresError, load_backend_csv

    server = LocalPostgres(data_dir=Path(args.data_dir).resolve(), port=args.port)
    password_env = BackendConfig().password_env
    try:
        if args.action == "stop":
            server.stop()
            print(f"stopped PostgreSQL in {server.data_dir}")
            return EXIT_OK
        password = os.environ.get(password_env)
        if not password:
            print(f"error: set {password_env} to the password to use", file=sys.stderr)
            return EXIT_NOT_STARTED
        if args.action == "start":
            # As root the server runs as the postgres user, which must be able to enter its folder.
            server.data_dir.parent.mkdir(parents=True, exist_ok=True)
            server.data_dir.parent.chmod(0o755)
            server.start(password)
            print(f"PostgreSQL running: {server.jdbc_url} (user {server.user}, log {server.log_file})")
        else:
            counts = load_backend_csv(server, password, Path(args.sample_dir) / "backend_csv")
            print("loaded " + ", ".join(f"{table}={rows}" for table, rows in counts.items()))
    except PostgresError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _configure_bq_emulator(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=9050, help="REST port")
    parser.add_argument("--grpc-port", type=int, default=9060, help="Storage API gRPC port")
    parser.add_argument("--gcs-root", default=".bqemu-gcs", help="local folder standing in for gs://")
    parser.add_argument("--state-dir", default=".bqemu", help="where the pid/endpoint file and the log go")
    parser.add_argument("--project", default="test-project")


def _bq_emulator(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.io import bq_emulator

    if args.action == "start":
        return bq_emulator.start(args.port, args.grpc_port, args.gcs_root, args.state_dir, args.project)
    return bq_emulator.stop(args.state_dir)


# -- docs (no Spark)


def _configure_docs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="docs/tables.md", help="where to write the data dictionary")


def _docs(spark: SparkSession | None, args: argparse.Namespace) -> int:
    from journeylake.docs import data_dictionary

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(data_dictionary())
    print(f"data dictionary: {out}")
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("run", "run_pipeline.py", "run every stage in order (the daily run)", _configure_run, _run_pipeline),
        Command("sample", "generate_sample.py", "generate the sample world", _configure_sample, _sample, spark=False),
        Command("ingest", "ingest.py", "ingest GA4 and the other sources into bronze", _configure_ingest, _ingest),
        Command("backend", "land_backend.py", "land the backend tables in bronze", _configure_backend, _backend),
        _stage_command("identity", "resolve_identity.py", "resolve cross-device identity", "identity"),
        _stage_command("journeys", "build_journeys.py", "build sessions, journeys, transitions, users", "journeys"),
        _stage_command("abandonment", "detect_abandonment.py", "abandonment, funnels, competitors", "abandonment"),
        _stage_command("attribution", "attribute.py", "attribute conversions with every model", "attribution"),
        _stage_command("rl", "export_rl.py", "export RL transitions and recommendations", "rl"),
        Command(
            "reconcile", "reconcile.py", "reconcile GA4 purchases with backend orders", _configure_reconcile, _reconcile
        ),
        Command(
            "validate", "validate.py", "validate every table with Great Expectations", _configure_validate, _validate
        ),
        Command("report", "report.py", "write the run report", _configure_report, _report),
        Command("publish", "publish_bigquery.py", "publish the gold tables to BigQuery", _configure_publish, _publish),
        Command(
            "identity-quality",
            "identity_quality.py",
            "score identity against the sample truth",
            _configure_identity_quality,
            _identity_quality,
        ),
        Command("unlock", "unlock.py", "break a run lock left by a killed run", _configure_unlock, _unlock),
        Command(
            "attribute-paths",
            "attribute_paths.py",
            "attribute a ChannelAttribution paths CSV (no Spark)",
            _configure_attribute_paths,
            _attribute_paths,
            spark=False,
            common_flags=False,
        ),
        Command(
            "postgres",
            "backend_postgres.py",
            "start, stop or load a local PostgreSQL backend",
            _configure_postgres,
            _postgres,
            spark=False,
            common_flags=False,
        ),
        Command(
            "bq-emulator",
            "bq_emulator.py",
            "start or stop a local BigQuery emulator",
            _configure_bq_emulator,
            _bq_emulator,
            spark=False,
            common_flags=False,
        ),
        Command(
            "docs",
            "make_docs.py",
            "write the data dictionary docs/tables.md from the catalog",
            _configure_docs,
            _docs,
            spark=False,
            common_flags=False,
        ),
    )
}


def build_parser(name: str, description: str | None = None, prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of one command (common flags first); builds no session."""
    command = COMMANDS[name]
    parser = argparse.ArgumentParser(
        prog=prog, description=description or command.summary, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if command.common_flags:
        add_common_flags(parser)
    command.configure(parser)
    return parser


def parse_args(name: str, argv: Sequence[str] | None = None, description: str | None = None) -> argparse.Namespace:
    args = build_parser(name, description).parse_args(argv)
    args.command = name
    return args


def run_command(name: str, spark: SparkSession | None, args: argparse.Namespace) -> int:
    """Run a parsed command; a bad config or flag value is a one-line error and exit code 2, not a traceback."""
    command = COMMANDS[name]
    if command.spark and spark is None:
        try:
            spark = session_for(config_from_args(args)) if command.common_flags else None
        except (ValueError, FileNotFoundError) as error:
            print(f"journeylake {name}: {error}", file=sys.stderr)
            return EXIT_NOT_STARTED
    try:
        return command.run(spark, args)
    except (ValueError, FileNotFoundError) as error:
        if not _is_usage_error(error):
            raise
        print(f"journeylake {name}: {error}", file=sys.stderr)
        return EXIT_NOT_STARTED


def _is_usage_error(error: Exception) -> bool:
    from journeylake.config import ConfigError

    return isinstance(error, ConfigError)


def job(name: str, description: str | None = None) -> tuple[Callable[..., argparse.Namespace], Runner]:
    """``(parse_args(argv=None), run(spark, args))`` of a ``jobs/<script>.py`` (its docstring as the help text).

    ``run(None, args)`` builds the session itself (the platform's, under spark-submit or on Databricks).
    """

    def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
        return parse_args(name, argv, description)

    def run(spark: SparkSession | None, args: argparse.Namespace) -> int:
        return run_command(name, spark, args)

    return parse, run


def main(argv: Sequence[str] | None = None) -> int:
    """The ``journeylake`` console command: ``journeylake <command> [flags]``."""
    parser = argparse.ArgumentParser(
        prog="journeylake",
        description="Customer-journey analytics on Delta Lake: run the pipeline or one of its stages.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        child = sub.add_parser(command.name, help=command.summary, description=command.summary)
        if command.common_flags:
            add_common_flags(child)
        command.configure(child)
    args = parser.parse_args(argv)
    return run_command(args.command, None, args)


if __name__ == "__main__":
    sys.exit(main())
