"""Ingest two days of the real GA4 sample: every raw row accounted for, and a second ingest changes nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import GA4_SAMPLE_DIR, requires_ga4_sample
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import read_table, table_path
from journeylake.stages import RunContext
from journeylake.stages.ingest import run

pytestmark = [pytest.mark.integration, requires_ga4_sample]

DAYS = ("20201219", "20201220")
AS_OF = datetime(2021, 2, 1)  # after the sample: nothing is "in the future"


def raw_rows() -> dict[str, int]:
    """Rows per file from the Parquet footers, independent of Spark."""
    return {day: pq.ParquetFile(GA4_SAMPLE_DIR / f"events_{day}.parquet").metadata.num_rows for day in DAYS}


def test_two_real_days_are_fully_accounted_for_and_reingest_is_a_no_op(spark: SparkSession, tmp_path: Path) -> None:
    config = with_overrides(
        PipelineConfig(),
        **{
            "lake.root": str(tmp_path / "lake"),
            "input.ga4_dir": str(GA4_SAMPLE_DIR),
            # The two days only, read in place (never copied).
            "ingest.from_date": "2020-12-19",
            "ingest.to_date": "2020-12-20",
            "ingest.allow_default_pii_salt": True,
        },
    )
    expected = raw_rows()
    first = run(RunContext(spark=spark, config=config, run_id="real-1", as_of=AS_OF))
    d = first.details
    assert d["files_read"] == len(DAYS)
    assert d["input_rows"] == sum(expected.values())
    assert d["input_rows"] == d["accepted"] + d["duplicates_removed"] + d["quarantined"]

    events_path = table_path(config.lake.root, "bronze", "events")
    events = read_table(spark, events_path)
    ids_after_first = {r["event_id"] for r in events.select("event_id").collect()}
    assert len(ids_after_first) == events.count() == d["accepted"] == d["sources"]["ga4"]["inserted"]
    files = read_table(spark, table_path(config.lake.root, "meta", "ingest_files")).collect()
    assert {Path(r["path"]).name: r["rows"] for r in files} == {
        f"events_{day}.parquet": n for day, n in expected.items()
    }
    # The real export's session ids need the device: ga_session_id alone is shared by different devices.
    sessions = events.agg(
        F.countDistinct("ga_session_id").alias("ga"), F.countDistinct("source_session_id").alias("src")
    ).first()
    assert sessions is not None and sessions["src"] > sessions["ga"]
    version = spark.sql(f"DESCRIBE HISTORY delta.`{events_path}`").agg(F.max("version")).first()[0]  # type: ignore[index]

    second = run(RunContext(spark=spark, config=config, run_id="real-2", as_of=AS_OF))
    assert {k: second.details[k] for k in ("input_rows", "accepted", "duplicates_removed", "quarantined")} == {
        k: d[k] for k in ("input_rows", "accepted", "duplicates_removed", "quarantined")
    }
    assert second.details["sources"]["ga4"]["inserted"] == 0
    ids_after_second = {r["event_id"] for r in read_table(spark, events_path).select("event_id").collect()}
    assert ids_after_second == ids_after_first
    later = spark.sql(f"DESCRIBE HISTORY delta.`{events_path}`").where(F.col("version") > version).collect()
    assert [r["operationMetrics"].get("numTargetRowsInserted", "0") for r in later] in ([], ["0"])
