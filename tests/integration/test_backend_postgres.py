"""The backend over a real PostgreSQL: start a throwaway server, COPY the backend in, read it over JDBC."""

from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from journeylake.config import BackendConfig
from journeylake.io.backend import BackendConfigError, read_backend
from journeylake.io.postgres import LocalPostgres, load_backend_csv

pytestmark = pytest.mark.integration

PASSWORD_ENV = "JOURNEYLAKE_TEST_DB_PASSWORD"
ORDERS = [
    {
        "order_id": i,
        "user_id": 100 + i % 7,
        "ga_transaction_id": f"T{i:04d}" if i % 5 else "",
        "order_ts": f"2021-01-{1 + i % 28:02d} 10:00:00",
        "status": "paid",
        "revenue": round(10 + i * 1.25, 2),
        "currency": "USD",
    }
    for i in range(1, 41)
]


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def loaded(postgres: tuple[LocalPostgres, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    server, password = postgres
    csv_dir = tmp_path_factory.mktemp("backend_csv")
    _write_csv(csv_dir / "orders.csv", ORDERS)
    _write_csv(
        csv_dir / "users.csv",
        [
            {
                "user_id": 100 + u,
                "login_id": f"login-{u}",
                "email_sha256": "",
                "created_at": "2020-12-01 00:00:00",
                "country": "US",
            }
            for u in range(7)
        ],
    )
    _write_csv(
        csv_dir / "order_items.csv",
        [
            {"order_item_id": i, "order_id": 1 + i % 40, "item_id": f"SKU{i}", "quantity": 1, "price": 9.5}
            for i in range(1, 61)
        ],
    )
    return load_backend_csv(server, password, csv_dir)


def test_copy_loads_every_row(loaded: dict[str, int]) -> None:
    assert loaded == {"users": 7, "orders": 40, "order_items": 60}


def test_jdbc_read_is_partitioned_and_complete(
    spark: SparkSession, postgres: tuple[LocalPostgres, str], loaded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, password = postgres
    monkeypatch.setenv(PASSWORD_ENV, password)
    config = BackendConfig(jdbc_url=server.jdbc_url, user=server.user, password_env=PASSWORD_ENV, num_partitions=3)
    frames = read_backend(spark, config, sample_dir="unused")

    orders = frames["orders"]
    assert orders.rdd.getNumPartitions() == 3
    got = {r["order_id"]: (r["ga_transaction_id"], r["revenue"], r["order_ts"]) for r in orders.collect()}
    expected = {
        o["order_id"]: (o["ga_transaction_id"] or None, o["revenue"], datetime.fromisoformat(str(o["order_ts"])))
        for o in ORDERS
    }
    assert got == expected
    assert frames["users"].count() == 7
    assert frames["order_items"].count() == 60


def test_missing_password_variable_is_a_clear_error(spark: SparkSession, postgres: tuple[LocalPostgres, str]) -> None:
    server, _ = postgres
    os.environ.pop("JOURNEYLAKE_UNSET_PASSWORD", None)
    config = BackendConfig(jdbc_url=server.jdbc_url, user=server.user, password_env="JOURNEYLAKE_UNSET_PASSWORD")
    with pytest.raises(BackendConfigError, match="JOURNEYLAKE_UNSET_PASSWORD"):
        read_backend(spark, config, sample_dir="unused")
