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

from journeylake.config import PipelineConfig


@dataclass(frozen=True)
class RunContext:
    """What every stage of one run shares."""

    spark: SparkSession
    config: PipelineConfig
    run_id: str
    as_of: datetime  # the run's notion of "now" (UTC); never the wall clock, so reruns agree
    # False when --as-of was not given: the pipeline then moves as_of to the latest
    # event time in bronze after ingestion, so reruns of the same input agree.
    as_of_explicit: bool = True

    @property
    def lake(self) -> str:
        return self.config.lake.root


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
