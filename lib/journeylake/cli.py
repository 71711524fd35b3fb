"""Command-line plumbing shared by every job: the common flags and the run context."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime

from journeylake.config import PipelineConfig, load_config, with_overrides
from journeylake.logs import configure_logging
from journeylake.spark import get_spark
from journeylake.stages import RunContext


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", help="TOML config file (default: conf/default.toml)")
    parser.add_argument("--lake", help="lake root folder; overrides [lake].root")
    parser.add_argument("--sample-dir", help="generated sample folder; overrides [input].sample_dir")
    parser.add_argument(
        "--as-of",
        help="the run's 'now' as an ISO timestamp in UTC (default: the latest event time seen); "
        "rerunning with the same value gives the same tables",
    )
    parser.add_argument("--run-id", help="identifier of this run (default: derived from as-of and inputs)")
    return parser


def parse_as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    overrides = {"lake.root": args.lake, "input.sample_dir": getattr(args, "sample_dir", None)}
    return with_overrides(load_config(args.config), **overrides)


def make_context(config: PipelineConfig, as_of: datetime | None, run_id: str | None) -> RunContext:
    """Build the session and the context. Without ``as_of`` the run uses the current UTC time.

    Also routes our logs to stderr as key=value lines (``journeylake.logs``); Spark's stay at WARN.
    """
    configure_logging()
    spark = get_spark(
        "journeylake",
        master=None if config.spark.master == "local[*]" else config.spark.master,
        shuffle_partitions=config.spark.shuffle_partitions,
        checkpoint_dir=config.lake.checkpoint_dir or f"{config.lake.root}/_checkpoints",
        driver_memory=config.spark.driver_memory,
    )
    effective_as_of = as_of or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return RunContext(
        spark=spark,
        config=config,
        run_id=run_id or f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        as_of=effective_as_of,
        as_of_explicit=as_of is not None,
    )
