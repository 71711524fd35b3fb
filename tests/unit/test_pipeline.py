"""The pipeline runner: run lock, failing stages, run records."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import read_table, table_path
from journeylake.io.runs import LOCK_FILE, RunLockedError, break_lock, run_lock
from journeylake.stages import RunContext, StageResult
from journeylake.stages.pipeline import run_pipeline

pytestmark = pytest.mark.unit

AS_OF = datetime(2021, 1, 31, 0, 0, 0)


def _context(spark: SparkSession, lake: Path, run_id: str = "r1") -> RunContext:
    config = with_overrides(PipelineConfig(), **{"lake.root": str(lake)})
    return RunContext(spark=spark, config=config, run_id=run_id, as_of=AS_OF)


def test_second_run_on_a_locked_lake_fails_with_the_holder_named(spark: SparkSession, tmp_path: Path) -> None:
    with (
        run_lock(spark, str(tmp_path), "first"),
        pytest.raises(RunLockedError, match="locked by run first"),
        run_lock(spark, str(tmp_path), "second"),
    ):
        pass
    assert not (tmp_path / LOCK_FILE).exists()


def test_lock_of_a_dead_process_is_taken_over(spark: SparkSession, tmp_path: Path) -> None:
    # pid 2**22 + 1 is above the default pid_max, so no live process has it.
    (tmp_path / LOCK_FILE).write_text(json.dumps({"run_id": "crashed", "pid": 2**22 + 1, "host": _host()}))
    with run_lock(spark, str(tmp_path), "rerun"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["run_id"] == "rerun"
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_older_than_its_ttl_is_taken_over_even_from_another_host(spark: SparkSession, tmp_path: Path) -> None:
    # A holder on another machine cannot be checked for life: only its age says it is gone.
    holder = {"run_id": "elsewhere", "pid": 1, "host": "another-host", "started_at": "2020-01-01T00:00:00"}
    (tmp_path / LOCK_FILE).write_text(json.dumps(holder))
    with pytest.raises(RunLockedError, match="locked by run elsewhere"), run_lock(spark, str(tmp_path), "r", 10**6):
        pass
    with run_lock(spark, str(tmp_path), "after-ttl", ttl_hours=24.0):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["run_id"] == "after-ttl"


def test_unlock_removes_a_lock_whose_holder_is_gone_and_keeps_a_live_one(spark: SparkSession, tmp_path: Path) -> None:
    lake = str(tmp_path)
    (tmp_path / LOCK_FILE).write_text(json.dumps({"run_id": "crashed", "pid": 2**22 + 1, "host": _host()}))
    message, removed = break_lock(spark, lake)
    assert removed and "removed the run lock" in message and "crashed" in message
    assert not (tmp_path / LOCK_FILE).exists()
    with run_lock(spark, lake, "alive"):
        message, removed = break_lock(spark, lake)
        assert not removed and "still running" in message
        assert (tmp_path / LOCK_FILE).exists()
    assert break_lock(spark, lake) == (f"lake {lake} is not locked", True)


def _host() -> str:
    import socket

    return socket.gethostname()


def test_failing_stage_stops_the_run_and_is_recorded(spark: SparkSession, tmp_path: Path) -> None:
    calls: list[str] = []

    def ok_stage(context: RunContext) -> StageResult:
        calls.append("ok")
        return StageResult(stage="ok", rows_out={"gold.things": 3})

    def broken_stage(context: RunContext) -> StageResult:
        raise ValueError("bad input")

    def never_stage(context: RunContext) -> StageResult:
        calls.append("never")
        return StageResult(stage="never")

    results = run_pipeline(
        _context(spark, tmp_path),
        stages=[("first", ok_stage), ("second", broken_stage), ("third", never_stage)],
    )

    assert [(r.stage, r.failed) for r in results] == [("first", False), ("second", True)]
    assert results[1].message == "ValueError: bad input"
    assert calls == ["ok"]
    runs = {r["stage"]: r for r in read_table(spark, table_path(tmp_path, "meta", "runs")).collect()}
    assert set(runs) == {"first", "second", "pipeline"}
    assert runs["first"]["rows_out"] == {"gold.things": 3}
    assert runs["second"]["status"] == "failed"
    assert runs["pipeline"]["message"] == "failed at second: ValueError: bad input"
    assert not (tmp_path / LOCK_FILE).exists()


def test_as_of_from_data_is_the_latest_event_or_ad_touch(spark: SparkSession, tmp_path: Path) -> None:
    from journeylake.stages.pipeline import with_data_as_of as _as_of_from_data

    context = dataclasses.replace(_context(spark, tmp_path), as_of_explicit=False)
    assert _as_of_from_data(context).as_of == AS_OF  # nothing ingested: unchanged
    events = spark.createDataFrame([(datetime(2021, 1, 5, 10),), (datetime(2021, 1, 4),)], "event_ts timestamp")
    events.write.format("delta").save(table_path(tmp_path, "bronze", "events"))
    assert _as_of_from_data(context).as_of == datetime(2021, 1, 5, 10)
    # An ad touch after the last site event is journey activity too: as-of must not precede it.
    touches = spark.createDataFrame([(datetime(2021, 1, 5, 11, 30),), (None,)], "touch_ts timestamp")
    touches.write.format("delta").save(table_path(tmp_path, "bronze", "ad_touchpoints"))
    assert _as_of_from_data(context).as_of == datetime(2021, 1, 5, 11, 30)
    explicit = dataclasses.replace(context, as_of_explicit=True)
    assert _as_of_from_data(explicit).as_of == AS_OF
