"""Reconciliation end to end against the generator's truth, with the backend read from PostgreSQL.

The generated backend is COPYed into a real PostgreSQL, landed in bronze over
JDBC, the generated GA4 export is ingested, and every transaction's match status
must equal the status the generator planted.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import read_table, table_path
from journeylake.io.postgres import LocalPostgres, load_backend_csv
from journeylake.reconciliation import BACKEND_ONLY_PREFIX, MATCHED
from journeylake.sample import SampleParams, generate_world
from journeylake.stages import RunContext, ingest, reconcile
from journeylake.stages.backend import land_backend

pytestmark = pytest.mark.integration

PASSWORD_ENV = "JOURNEYLAKE_TEST_TRUTH_DB_PASSWORD"
SCALE = 0.05


def test_statuses_and_match_rate_equal_the_generator_truth(
    spark: SparkSession, postgres: tuple[LocalPostgres, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = tmp_path / "sample"
    generate_world(sample, SampleParams(seed=7, scale=SCALE))
    shared, password = postgres
    server = LocalPostgres(data_dir=shared.data_dir, port=shared.port, user=shared.user, database="truth")
    server.start(password)  # the server is up: this only creates the database
    loaded = load_backend_csv(server, password, sample / "backend_csv")
    monkeypatch.setenv(PASSWORD_ENV, password)
    config = with_overrides(
        PipelineConfig(),
        **{
            "lake.root": str(tmp_path / "lake"),
            "input.sample_dir": str(sample),
            "backend.jdbc_url": server.jdbc_url,
            "backend.user": server.user,
            "backend.password_env": PASSWORD_ENV,
        },
    )
    context = RunContext(spark=spark, config=config, run_id="truth-run", as_of=datetime(2021, 3, 1))

    landed = land_backend(context)
    assert landed.details["source"] == "jdbc"
    assert landed.rows_in["backend.orders"] == loaded["orders"]
    assert not ingest.run(context).failed
    result = reconcile.run(context)
    assert not result.failed, result.message

    truth = pq.read_table(sample / "truth" / "orders.parquet").to_pylist()
    expected = {
        row["ga_transaction_id"] or f"{BACKEND_ONLY_PREFIX}{row['order_id']}": row["truth_status"] for row in truth
    }
    got = {
        row["transaction_id"]: row["match_status"]
        for row in read_table(spark, table_path(tmp_path / "lake", "gold", "reconciliation")).collect()
    }
    assert got == expected
    matched = sum(1 for status in expected.values() if status == MATCHED)
    assert result.details["match_rate"] == round(matched / len(expected), 4)
