"""Shared fixtures: one SparkSession for the whole test run (one JVM start)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from journeylake.io.postgres import LocalPostgres
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[LocalPostgres, str]]:
    """A throwaway PostgreSQL (its own data directory and port) and its password."""
    # As root the server runs as the postgres user, which must be able to enter its folder.
    root = Path(tempfile.mkdtemp(prefix="journeylake-pg-"))
    root.chmod(0o755)
    server = LocalPostgres(data_dir=root / "data", port=free_port())
    password = secrets.token_urlsafe(16)
    server.start(password)
    try:
        yield server, password
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
