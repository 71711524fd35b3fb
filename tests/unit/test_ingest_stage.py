"""The ingest stage end to end on tiny files: accounting, absent sources, watermark, reruns, late events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import read_table, table_path
from journeylake.schemas.ga4 import GA4_EXPORT_SCHEMA
from journeylake.schemas.sources import AD_TOUCHPOINTS_SCHEMA
from journeylake.stages import RunContext
from journeylake.stages.ingest import accounting_line, run

pytestmark = pytest.mark.unit

AS_OF = datetime(2021, 2, 1)


def micros(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp() * 1_000_000)


def event(device: str, ts: datetime | None, name: str = "page_view", **fields: Any) -> dict[str, Any]:
    return {
        "event_timestamp": micros(ts) if ts else None,
        "event_name": name,
        "user_pseudo_id": device,
        "event_params": [
            {"key": "ga_session_id", "value": {"int_value": 1}},
            {"key": "email", "value": {"string_value": f"{device}@mail.example"}},
        ],
        **fields,
    }


def write_ga4(spark: SparkSession, folder: Path, day: str, rows: list[dict[str, Any]]) -> None:
    lines = spark.createDataFrame([(json.dumps(r),) for r in rows], "line string")
    frame = lines.select(F.from_json("line", GA4_EXPORT_SCHEMA).alias("r")).select("r.*")
    frame.coalesce(1).write.mode("overwrite").parquet(str(folder / "ga4" / f"events_{day}.parquet"))


def context(spark: SparkSession, lake: Path, sample: Path) -> RunContext:
    config = with_overrides(PipelineConfig(), **{"lake.root": str(lake), "input.sample_dir": str(sample)})
    return RunContext(spark=spark, config=config, run_id=f"run-{datetime.now(UTC):%H%M%S%f}", as_of=AS_OF)


def test_ingest_stage_accounts_for_every_row_and_reruns_change_nothing(spark: SparkSession, tmp_path: Path) -> None:
    sample, lake = tmp_path / "sample", tmp_path / "lake"
    day1 = datetime(2020, 12, 19, 10)
    first = event("dev-1", day1)
    write_ga4(spark, sample, "20201219", [first, first, event("dev-2", day1), event("dev-3", None)])
    ts = datetime(2020, 12, 19, 9)
    touches = [
        ("t1", ts, "click", "Paid Search", "google", "cpc", "c1", "dev-1", "g1", 0.5, "USD"),
        ("t2", ts, "click", "Paid Search", "google", "cpc", "c1", "dev-2", "g2", -1.0, "USD"),
    ]
    spark.createDataFrame(touches, AD_TOUCHPOINTS_SCHEMA).coalesce(1).write.parquet(
        str(sample / "ad_touchpoints" / "part-0.parquet")
    )

    result = run(context(spark, lake, sample))
    d = result.details
    assert (d["input_rows"], d["accepted"], d["duplicates_removed"], d["quarantined"]) == (6, 3, 1, 2)
    assert d["quarantined_by_reason"] == {"negative_cost": 1, "null_timestamp": 1}
    assert d["sources"]["ga4"]["inserted"] == 2 and d["sources"]["ad_touchpoints"]["inserted"] == 1
    assert d["absent_sources"] == ["ad_cost_daily", "competitor_exposures"]
    assert accounting_line(result).startswith("input_rows=6 accepted=3 duplicates_removed=1 quarantined=2")
    events_path = table_path(lake, "bronze", "events")
    assert sorted(r["user_pseudo_id"] for r in read_table(spark, events_path).collect()) == ["dev-1", "dev-2"]
    quarantine = read_table(spark, table_path(lake, "bronze", "quarantine")).collect()
    assert sorted((r["source"], r["reason"]) for r in quarantine) == [
        ("ad_touchpoints", "negative_cost"),
        ("ga4", "null_timestamp"),
    ]
    everything = json.dumps([r.asDict() for r in quarantine + read_table(spark, events_path).collect()], default=str)
    assert "mail.example" not in everything  # raw e-mails reach no table
    version = spark.sql(f"DESCRIBE HISTORY delta.`{events_path}`").agg(F.max("version")).first()[0]  # type: ignore[index]

    # Same files again: the watermark reads nothing, nothing changes.
    again = run(context(spark, lake, sample))
    assert again.details["files_read"] == 0 and again.details["input_rows"] == 0

    # A later file: one late event for an earlier day, and a copy of a row bronze already has.
    late = event("dev-4", datetime(2020, 12, 17, 23, 30))
    write_ga4(spark, sample, "20201220", [late, first])
    third = run(context(spark, lake, sample))
    assert third.details["files_read"] == 1
    assert third.details["sources"]["ga4"]["accepted"] == 2 and third.details["sources"]["ga4"]["inserted"] == 1
    by_device = {r["user_pseudo_id"]: r for r in read_table(spark, events_path).collect()}
    assert sorted(by_device) == ["dev-1", "dev-2", "dev-4"]
    assert str(by_device["dev-4"]["event_date"]) == "2020-12-17"
    assert "/events_20201219.parquet/" in by_device["dev-1"]["source_file"]  # the first sighting is kept
    history = spark.sql(f"DESCRIBE HISTORY delta.`{events_path}`").where(F.col("version") > version).collect()
    assert [r["operationMetrics"]["numTargetRowsInserted"] for r in history] == ["1"]
    files = read_table(spark, table_path(lake, "meta", "ingest_files")).collect()
    # Spark wrote each "file" as a folder of part files: the watermark holds the part files.
    assert sorted((Path(r["path"]).parent.name, r["rows"]) for r in files) == [
        ("events_20201219.parquet", 4),
        ("events_20201220.parquet", 2),
        ("part-0.parquet", 2),
    ]
