"""Broken input files through the ingest stage: a clear error naming the file, or every row accounted for.

Rows that are wrong one by one (timestamps in 1970 or 2100, duplicated params, unicode, long strings, a shared
identifier, a bot) are covered end to end in test_reliability.py and rule by rule in tests/unit/test_ingest*.py
(missing and extra columns included). Here: files Spark cannot read with the export schema, and empty days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from ga4_rows import ga4_row, write_ga4_parquet  # tests/ga4_rows.py
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import table_exists, table_path
from journeylake.io.sources import UnreadableInputError
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA
from journeylake.stages import RunContext
from journeylake.stages import ingest as ingest_stage
from journeylake.stages.pipeline import run_pipeline

pytestmark = pytest.mark.integration

AS_OF = datetime(2021, 1, 10)
TS = datetime(2021, 1, 4, 10, 0, 0)
GOOD_FILE, BAD_FILE = "events_20210104.parquet", "events_20210105.parquet"


def context(spark: SparkSession, lake: Path, ga4: Path, run_id: str) -> RunContext:
    config = with_overrides(
        PipelineConfig(),
        **{"lake.root": str(lake), "input.ga4_dir": str(ga4), "ingest.allow_default_pii_salt": True},
    )
    return RunContext(spark=spark, config=config, run_id=run_id, as_of=AS_OF)


def good_rows(prefix: str, count: int) -> list[dict[str, object]]:
    return [ga4_row(f"{prefix}-{i}", TS + timedelta(minutes=i)) for i in range(count)]


@pytest.fixture(scope="module")
def good_file(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ga4_parquet(spark, good_rows("good", 3), tmp_path_factory.mktemp("good") / GOOD_FILE)


def _folder_with(tmp_path: Path, good_file: Path) -> Path:
    ga4 = tmp_path / "ga4"
    ga4.mkdir()
    (ga4 / GOOD_FILE).write_bytes(good_file.read_bytes())
    return ga4


def test_truncated_parquet_stops_ingest_with_the_file_named_and_a_fixed_rerun_reads_everything(
    spark: SparkSession, tmp_path: Path, good_file: Path
) -> None:
    ga4, lake = _folder_with(tmp_path, good_file), tmp_path / "lake"
    bad = write_ga4_parquet(spark, good_rows("late", 2), ga4 / BAD_FILE)
    complete = bad.read_bytes()
    bad.write_bytes(complete[: len(complete) // 2])  # a copy cut short

    [result] = run_pipeline(context(spark, lake, ga4, "run-truncated"), [("ingest", ingest_stage.run)])
    assert result.failed
    assert result.message.startswith(f"UnreadableInputError: cannot read ga4 input file {bad.as_uri()}")
    assert "fix or remove the file and rerun" in result.message and "\n" not in result.message
    # Nothing of the batch was written, not even the good file, and the watermark does not list it.
    for layer, table in (("bronze", "events"), ("bronze", "quarantine"), ("meta", "ingest_files")):
        assert not table_exists(spark, table_path(lake, layer, table)), f"{layer}.{table}"
    runs = spark.read.format("delta").load(table_path(lake, "meta", "runs"))
    assert {r["stage"]: r["status"] for r in runs.collect()} == {"ingest": "failed", "pipeline": "failed"}

    bad.write_bytes(complete)  # the complete file arrives
    [rerun] = run_pipeline(context(spark, lake, ga4, "run-fixed"), [("ingest", ingest_stage.run)])
    assert not rerun.failed, rerun.message
    assert (rerun.details["input_rows"], rerun.details["accepted"]) == (5, 5)
    assert spark.read.format("delta").load(table_path(lake, "bronze", "events")).count() == 5


def test_a_column_of_another_type_is_a_clear_error(spark: SparkSession, tmp_path: Path, good_file: Path) -> None:
    ga4 = _folder_with(tmp_path, good_file)
    # event_timestamp written as text: the export schema says INT64.
    retyped = spark.createDataFrame(
        [("20210105", "1609840800000000", "page_view", "retyped-1")],
        "event_date string, event_timestamp string, event_name string, user_pseudo_id string",
    )
    retyped.coalesce(1).write.parquet(str(tmp_path / "staging"))
    [part] = (tmp_path / "staging").glob("part-*.parquet")
    part.rename(ga4 / BAD_FILE)
    with pytest.raises(UnreadableInputError, match=rf"cannot read ga4 input file \S*{BAD_FILE}: "):
        ingest_stage.run(context(spark, tmp_path / "lake", ga4, "run-retyped"))
    assert not table_exists(spark, table_path(tmp_path / "lake", "bronze", "events"))


def test_empty_days_are_read_as_no_rows_and_remembered(spark: SparkSession, tmp_path: Path, good_file: Path) -> None:
    ga4, lake = _folder_with(tmp_path, good_file), tmp_path / "lake"
    # A day with no events: a Parquet file with the schema and no row, and a zero-byte file (an empty export).
    spark.createDataFrame([], GA4_EXPORT_SCHEMA).coalesce(1).write.parquet(str(tmp_path / "staging"))
    [part] = (tmp_path / "staging").glob("part-*.parquet")
    part.rename(ga4 / "events_20210105.parquet")
    (ga4 / "events_20210106.parquet").write_bytes(b"")

    result = ingest_stage.run(context(spark, lake, ga4, "run-empty"))
    # The zero-byte file is listed and read as no rows; once it is written it has another size and is read again.
    assert (result.details["files_read"], result.details["input_rows"], result.details["accepted"]) == (3, 3, 3)
    watermark = spark.read.format("delta").load(table_path(lake, "meta", "ingest_files"))
    rows_per_day = {Path(r["path"]).name: r["rows"] for r in watermark.collect()}
    assert rows_per_day == {GOOD_FILE: 3, "events_20210105.parquet": 0, "events_20210106.parquet": 0}
    # The next run has nothing new, and reads the zero-byte day once it is written.
    assert ingest_stage.run(context(spark, lake, ga4, "run-again")).message == "nothing new to ingest"
    write_ga4_parquet(spark, good_rows("day6", 2), ga4 / "events_20210106.parquet")
    later = ingest_stage.run(context(spark, lake, ga4, "run-day6"))
    assert (later.details["files_read"], later.details["accepted"]) == (1, 2)
    events = spark.read.format("delta").load(table_path(lake, "bronze", "events"))
    assert events.where(F.col("user_pseudo_id").startswith("day6-")).count() == 2
