"""Stage runners: the glue that reads tables, calls the pure library, and writes.

Transformation modules (``journeylake.ingest``, ``journeylake.identity``, ...)
never touch storage; ``journeylake.io`` alone knows formats and paths. A stage
runner here combines the two for one pipeline stage and returns a
:class:`StageResult` that the jobs print and ``meta.runs`` records. The thin
scripts in ``jobs/`` parse arguments and call exactly one runner (or, for
``run_pipeline.py``, all of them in order).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig


@dataclass(frozen=True)
class RunContext:
    """What every stage of one run shares."""

    spark: SparkSession
    config: PipelineConfig
    run_id: str
    as_of: datetime  # the run's notion of "now" (UTC), by the rule of data_as_of: reruns agree
    # False when --as-of was not given: the pipeline then moves as_of to the latest
    # activity time in bronze after ingestion, so reruns of the same input agree.
    as_of_explicit: bool = True
    # The stages this run has finished so far (the pipeline adds each one): later stages read what earlier ones
    # reported before the run record is written (validation: this run's ingestion counts).
    completed: tuple[StageResult, ...] = ()

    @property
    def lake(self) -> str:
        return self.config.lake.root

    def result_of(self, stage: str) -> StageResult | None:
        return next((r for r in reversed(self.completed) if r.stage == stage), None)


@dataclass
class StageResult:
    stage: str
    seconds: float = 0.0
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    message: str = ""

    def summary_line(self) -> str:
        outs = ", ".join(f"{t}={n}" for t, n in self.rows_out.items())
        if self.failed:
            return f"[{self.stage}] FAILED in {self.seconds:.1f}s: {self.message}"
        note = f"; {self.message}" if self.message else ""
        return f"[{self.stage}] ok in {self.seconds:.1f}s; rows out: {outs or '-'}{note}"


StageRunner = Callable[[RunContext], StageResult]


@contextmanager
def timed(result: StageResult) -> Iterator[StageResult]:
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = round(time.perf_counter() - start, 3)


# Every timed input that becomes journey activity: the run's "now" must not precede any of it, or an open
# journey would have its last activity after as-of (a negative idle time).
ACTIVITY_TIME_COLUMNS = (("events", "event_ts"), ("ad_touchpoints", "touch_ts"))


def data_as_of(spark: SparkSession, lake: str) -> datetime | None:
    """The one rule for a run's "now" when ``--as-of`` is not given: the latest activity time in the lake's bronze
    tables (web events and ad touches), so that rerunning on the same input gives the same tables, and a stage
    job run on its own judges journeys against the same "now" the pipeline did. None for an empty lake.

    Used by the pipeline (after ingestion), by every single-stage job and by validation.
    """
    from journeylake.io.delta import read_table, table_exists, table_path

    latest: list[datetime] = []
    for table, column in ACTIVITY_TIME_COLUMNS:
        path = table_path(lake, "bronze", table)
        if table_exists(spark, path):
            row = read_table(spark, path).agg(F.max(column).alias("latest")).first()
            if row is not None and row["latest"] is not None:
                latest.append(row["latest"])
    return max(latest) if latest else None
