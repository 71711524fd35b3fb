"""The whole pipeline on a real multi-process Spark standalone cluster equals a local run.

A master and two single-core workers are started on 127.0.0.1 from the installed
pyspark; the pipeline is spark-submitted to them with the wheel a user installs
(``--py-files``) and the Maven-resolved jars (``--jars``). Code that only works in
one JVM (driver-side state, closures over unserializable objects, local-only
paths) fails here. The cluster processes are stopped at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import build_wheel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake.spark import jar_paths

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.long]

PROJECT = Path(__file__).resolve().parents[2]
PYSPARK_HOME = Path(__import__("pyspark").__file__).parent
AS_OF = "2021-02-05T00:00:00"
STARTUP_TIMEOUT_S = 90
# Columns that name the run that wrote a row, or when: they differ between any two runs by design.
RUN_COLUMNS = {"ingest_run_id", "ingested_at", "updated_run_id", "run_id", "recorded_at", "first_run_id"}
TABLES = [
    ("bronze", "events"),
    ("bronze", "quarantine"),
    ("silver", "identity_map"),
    ("silver", "sessions"),
    ("gold", "user_journeys"),
    ("gold", "journey_touchpoints"),
    ("gold", "journey_state_transitions"),
    ("gold", "users"),
    ("gold", "attribution"),
    ("gold", "reconciliation"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} process exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} not up within {STARTUP_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    work = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "SPARK_HOME": str(PYSPARK_HOME),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    spark_class = str(PYSPARK_HOME / "bin" / "spark-class")
    port, ui = _free_port(), _free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        master_log = work / "master.log"
        master = subprocess.Popen(
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            stdout=master_log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        processes.append(master)
        _wait_http(f"http://127.0.0.1:{ui}", master, master_log)
        for index in range(2):
            worker_ui = _free_port()
            log = work / f"worker{index}.log"
            worker = subprocess.Popen(
                [
                    spark_class,
                    "org.apache.spark.deploy.worker.Worker",
                    f"spark://127.0.0.1:{port}",
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "1",
                    "--memory",
                    "2g",
                    "--webui-port",
                    str(worker_ui),
                    "--work-dir",
                    str(work / f"worker{index}"),
                ],
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            processes.append(worker)
            _wait_http(f"http://127.0.0.1:{worker_ui}", worker, log)
        yield f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}"
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _config(tmp: Path, sample_dir: Path) -> Path:
    config = tmp / "tiny.toml"
    config.write_text(f'[input]\nsample_dir = "{sample_dir}"\nsample_scale = 0.05\n[validation]\nenabled = false\n')
    return config


def _comparable(frame: DataFrame) -> DataFrame:
    kept = [c for c in frame.columns if c not in RUN_COLUMNS]
    return frame.select(
        *[F.col(c).cast("string") if dict(frame.dtypes)[c].startswith("map") else F.col(c) for c in kept]
    )


def test_cluster_run_equals_local_run(spark: SparkSession, cluster: tuple[str, str], tmp_path: Path) -> None:
    master_url, master_ui = cluster
    sample = tmp_path / "sample"
    config = _config(tmp_path, sample)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(PYSPARK_HOME)}
    local = subprocess.run(
        [
            sys.executable,
            "jobs/run_pipeline.py",
            "--config",
            str(config),
            "--lake",
            str(tmp_path / "local"),
            "--as-of",
            AS_OF,
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]

    submitted = subprocess.run(
        [
            str(PYSPARK_HOME / "bin" / "spark-submit"),
            "--master",
            master_url,
            "--deploy-mode",
            "client",
            "--py-files",
            str(build_wheel(tmp_path / "dist")),
            "--jars",
            ",".join(jar_paths()),
            "--conf",
            "spark.executor.memory=1500m",
            "--conf",
            "spark.sql.shuffle.partitions=4",
            str(PROJECT / "jobs" / "run_pipeline.py"),
            "--config",
            str(config),
            "--lake",
            str(tmp_path / "cluster"),
            "--as-of",
            AS_OF,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert submitted.returncode == 0, submitted.stdout[-3000:] + submitted.stderr[-3000:]
    # The master saw the application finish: the work really ran on the cluster's executors.
    with urllib.request.urlopen(f"{master_ui}/json/", timeout=10) as response:
        state = json.loads(response.read())
    assert [app["name"] for app in state["completedapps"]] == ["journeylake"]

    for layer, table in TABLES:
        left = _comparable(spark.read.format("delta").load(str(tmp_path / "local" / layer / table)))
        right = _comparable(spark.read.format("delta").load(str(tmp_path / "cluster" / layer / table)))
        assert left.count() == right.count(), f"{layer}.{table}: row counts differ"
        assert left.exceptAll(right).count() == 0, f"{layer}.{table}: local rows missing from the cluster run"
        assert right.exceptAll(left).count() == 0, f"{layer}.{table}: cluster rows missing from the local run"
