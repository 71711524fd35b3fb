"""Shared fixtures: one SparkSession for the whole test run (one JVM start)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from journeylake.spark import get_spark

# The real GA4 sample lives beside the project; a user's clone may not have it.
GA4_SAMPLE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ga4"
requires_ga4_sample = pytest.mark.skipif(
    not GA4_SAMPLE_DIR.is_dir(),
    reason=f"real GA4 sample not found at {GA4_SAMPLE_DIR} (it ships beside the project, not in it)",
)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    warehouse = tmp_path_factory.mktemp("warehouse")
    session = get_spark(
        "journeylake-tests",
        master="local[2]",
        shuffle_partitions=2,
        checkpoint_dir=str(checkpoints),
        driver_memory=os.environ.get("JOURNEYLAKE_TEST_DRIVER_MEMORY", "3g"),
        ui=False,
        extra_conf={
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.default.parallelism": "2",
            # Tests build many tiny frames; broadcast joins avoid pointless shuffles.
            "spark.sql.autoBroadcastJoinThreshold": str(10 * 1024 * 1024),
        },
    )
    yield session
    session.stop()
