"""Landing the backend tables in bronze: quarantine rules and idempotent reruns."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import read_table, table_path
from journeylake.schemas.sources import BACKEND_ORDERS_SCHEMA, BACKEND_USERS_SCHEMA
from journeylake.stages import RunContext
from journeylake.stages.backend import NEGATIVE_REVENUE, NULL_ID, land_backend

pytestmark = pytest.mark.unit

TS = datetime(2021, 1, 5, 12, 0, 0)


def _context(spark: SparkSession, lake: Path, sample: Path, run_id: str) -> RunContext:
    config = with_overrides(PipelineConfig(), **{"lake.root": str(lake), "input.sample_dir": str(sample)})
    return RunContext(spark=spark, config=config, run_id=run_id, as_of=TS)


def test_backend_rows_are_landed_or_quarantined_and_reruns_change_nothing(spark: SparkSession, tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    orders = [
        (1, 10, "T1", TS, "paid", 12.5, "USD"),
        (2, 10, None, TS, "paid", 0.0, "USD"),  # zero revenue is allowed (a free order)
        (3, 11, "T3", TS, "refunded", -4.0, "USD"),  # negative: quarantined
        (None, 11, "T4", TS, "paid", 5.0, "USD"),  # no id: quarantined
    ]
    spark.createDataFrame(orders, BACKEND_ORDERS_SCHEMA).write.parquet(str(sample / "backend" / "orders"))
    users = [(10, "login-a", None, TS, "US"), (11, None, None, TS, "DE")]
    spark.createDataFrame(users, BACKEND_USERS_SCHEMA).write.parquet(str(sample / "backend" / "users"))
    lake = tmp_path / "lake"

    first = land_backend(_context(spark, lake, sample, "run-1"))
    second = land_backend(_context(spark, lake, sample, "run-2"))

    assert first.rows_in == {"backend.users": 2, "backend.orders": 4}
    # Rows written: the landed rows, and the two bad orders in one quarantine write.
    assert first.rows_out == {"bronze.backend_users": 2, "bronze.backend_orders": 2, "bronze.quarantine": 2}
    assert second.rows_in == first.rows_in
    # The rerun changed nothing.
    assert second.rows_out == {"bronze.backend_users": 0, "bronze.backend_orders": 0, "bronze.quarantine": 0}
    landed = read_table(spark, table_path(lake, "bronze", "backend_orders"))
    assert sorted(r["order_id"] for r in landed.collect()) == [1, 2]
    assert {r["ingest_run_id"] for r in landed.collect()} == {"run-1"}  # the rerun rewrote nothing
    quarantine = read_table(spark, table_path(lake, "bronze", "quarantine")).where(F.col("source") == "backend.orders")
    assert {(r["record_id"], r["reason"]) for r in quarantine.collect()} == {("3", NEGATIVE_REVENUE), (None, NULL_ID)}
