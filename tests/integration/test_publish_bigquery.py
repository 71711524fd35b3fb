"""Publishing to BigQuery, end to end against the local emulator (bqemulator).

The emulator runs as a subprocess on 127.0.0.1 with BQEMU_GCS_LOCAL_ROOT, so the
publisher takes the production path: Spark stages Parquet for gs://..., a load job
reads the gs:// URI, a MERGE moves the rows into the target.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from publish_contracts import CONTRACT_SCHEMAS  # tests/publish_contracts.py
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from journeylake.config import BigQueryConfig, PipelineConfig
from journeylake.io.bigquery import BigQueryPublisher, BigQueryTarget
from journeylake.io.delta import overwrite_table, read_table, table_path
from journeylake.publish import PUBLISHED_TABLES, PublishError
from journeylake.stages import RunContext, StageResult
from journeylake.stages.publish import run

pytestmark = pytest.mark.integration

# Skip (never pass) when the emulator is not installed; `make setup` installs it with the dev extras.
pytest.importorskip("bqemulator", reason="bqemulator is not installed: run `make setup` (dev extras)")

PROJECT = "test-project"
BUCKET_URI = "gs://journeylake-staging/runs"
STARTUP_TIMEOUT_SECONDS = 60.0
AS_OF = dt.datetime(2024, 3, 1)


@dataclass(frozen=True)
class Emulator:
    endpoint: str
    gcs_root: Path
    client: bigquery.Client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    gcs_root = tmp_path_factory.mktemp("bqemu-gcs")
    log_path = tmp_path_factory.mktemp("bqemu-log") / "emulator.log"
    rest_port, grpc_port = _free_port(), _free_port()
    endpoint = f"http://127.0.0.1:{rest_port}"
    binary = shutil.which("bqemulator", path=str(Path(sys.executable).parent)) or shutil.which("bqemulator")
    assert binary, "the bqemulator package is installed but its command is not on PATH"
    command = [
        binary,
        "start",
        "--rest-host",
        "127.0.0.1",
        "--rest-port",
        str(rest_port),
        "--grpc-host",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--project",
        PROJECT,
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env={**os.environ, "BQEMU_GCS_LOCAL_ROOT": str(gcs_root)}, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _healthy(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"bqemulator did not start (is `make setup` done?):\n{tail}")
            time.sleep(0.3)
        client = bigquery.Client(
            project=PROJECT, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=endpoint)
        )
        yield Emulator(endpoint, gcs_root, client)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# ---- a tiny lake ------------------------------------------------------------------------------------------

STEP = T.StructType([T.StructField("channel", T.StringType()), T.StructField("cost", T.DoubleType())])
JOURNEYS = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("start_ts", T.TimestampType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("spend", T.DecimalType(12, 2), True),
        T.StructField("channels", T.ArrayType(T.StringType()), True),
        T.StructField("steps", T.ArrayType(STEP), True),
        T.StructField("last_touch", STEP, True),
        T.StructField("attrs", T.MapType(T.StringType(), T.LongType()), True),
    ]
)
SESSIONS = T.StructType(
    [
        T.StructField("session_id", T.StringType(), False),
        T.StructField("user_pseudo_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("session_start_ts", T.TimestampType(), False),
        T.StructField("session_end_ts", T.TimestampType(), False),
        T.StructField("event_count", T.IntegerType(), False),
        T.StructField("channel", T.StringType(), True),
        T.StructField("session_date", T.DateType(), False),
    ]
)
FUNNEL = T.StructType(
    [
        T.StructField("funnel_date", T.DateType(), False),
        T.StructField("channel", T.StringType(), True),
        T.StructField("step", T.StringType(), False),
        T.StructField("entered", T.LongType(), False),
    ]
)


def _ts(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2024, 2, day, hour)


PAID_EMAIL = [("paid", 0.5), ("email", None)]
JOURNEY_ROWS = [
    ("j1", 1, _ts(1, 9), "open", Decimal("1.50"), ["paid", "email"], PAID_EMAIL, ("email", 0.0), {"a": 1}),
    ("j2", 2, _ts(1, 23), "converted", Decimal("0.00"), [], [], None, {}),
    ("j3", 2, _ts(5, 0), "open", None, None, None, None, None),
    ("j4", 3, _ts(9, 12), "timed_out", Decimal("12345678.99"), ["direct"], [("direct", 1.25)], None, {"b": 2, "c": 3}),
]
SESSION_ROWS = [
    ("s1", "d1", 1, _ts(1, 9), _ts(1, 10), 5, "paid", _ts(1).date()),
    ("s2", "d2", 2, _ts(1, 23), _ts(2, 0), 1, None, _ts(1).date()),  # across midnight: dated by its start
    ("s3", "d2", 2, _ts(5, 0), _ts(5, 0), 2, "organic", _ts(5).date()),
]


def _context(spark: SparkSession, lake: Path, emulator: Emulator, dataset: str, run_id: str, **bq: Any) -> RunContext:
    bigquery_config = BigQueryConfig(
        enabled=True,
        project=PROJECT,
        dataset=dataset,
        location="US",
        staging_uri=BUCKET_URI,
        api_endpoint=emulator.endpoint,
        staging_local_root=str(emulator.gcs_root),
        **bq,
    )
    config = replace(PipelineConfig(), bigquery=bigquery_config)
    config = replace(config, lake=replace(config.lake, root=str(lake)))
    return RunContext(spark=spark, config=config, run_id=run_id, as_of=AS_OF)


def _publish(spark: SparkSession, lake: Path, emulator: Emulator, dataset: str, run_id: str, **bq: Any) -> StageResult:
    result = run(_context(spark, lake, emulator, dataset, run_id, **bq))
    assert not result.failed, result.message
    return result


# ---- comparing Delta with BigQuery --------------------------------------------------------------------------


def _normal(value: Any) -> Any:
    """One representation for both sides: BigQuery has no NULL arrays, returns UTC-aware times, NUMERIC scale 9."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value else "0"
    return value


def _delta_rows(spark: SparkSession, lake: Path, layer: str, table: str) -> list[dict[str, Any]]:
    schema = read_table(spark, table_path(lake, layer, table)).schema
    repeated = {f.name for f in schema.fields if isinstance(f.dataType, T.ArrayType | T.MapType)}
    rows = []
    for row in read_table(spark, table_path(lake, layer, table)).collect():
        record = row.asDict(recursive=True)
        for name in repeated:
            value = record[name]
            if isinstance(value, dict):  # a map is published as its key/value entries, in no particular order
                value = sorted(({"key": k, "value": v} for k, v in value.items()), key=json.dumps)
            record[name] = value or []  # BigQuery has no NULL arrays
        rows.append(_normal(record))
    return rows


def _bigquery_rows(emulator: Emulator, dataset: str, table: str) -> list[dict[str, Any]]:
    query = emulator.client.query(f"SELECT * FROM `{PROJECT}.{dataset}.{table}`")
    rows = []
    for row in query.result():
        record = dict(row.items())
        for name, value in record.items():
            if isinstance(value, list) and value and isinstance(value[0], dict) and "key" in value[0]:
                record[name] = sorted(value, key=json.dumps)
        rows.append(_normal(record))
    return rows


def _checksum(rows: list[dict[str, Any]]) -> str:
    canonical = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()


def _assert_bigquery_equals_delta(
    spark: SparkSession, lake: Path, emulator: Emulator, dataset: str, layer: str, table: str, keys: Sequence[str]
) -> str:
    delta = _delta_rows(spark, lake, layer, table)
    published = _bigquery_rows(emulator, dataset, table)
    assert len(published) == len(delta), table

    def key(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(json.dumps(row[k], default=str) for k in keys)  # null key parts sort too

    assert sorted(key(r) for r in published) == sorted(key(r) for r in delta), table
    by_key = {key(r): r for r in delta}
    for row in published:
        # Columns in BigQuery that Delta does not have would fail here too.
        assert row == by_key[key(row)], table
    assert _checksum(published) == _checksum(delta)
    return _checksum(published)


def _write_lake(spark: SparkSession, lake: Path, journeys: DataFrame | None, sessions: DataFrame | None) -> None:
    if journeys is not None:
        overwrite_table(journeys, table_path(lake, "gold", "user_journeys"))
    if sessions is not None:
        overwrite_table(sessions, table_path(lake, "silver", "sessions"))


def _staged_files(emulator: Emulator) -> list[Path]:
    return [p for p in emulator.gcs_root.rglob("*") if p.is_file()]


# ---- tests ------------------------------------------------------------------------------------------------


def test_publish_rerun_and_update_keep_bigquery_equal_to_delta(
    spark: SparkSession, emulator: Emulator, tmp_path: Path
) -> None:
    lake, dataset = tmp_path / "lake", "journeys_it"
    _write_lake(
        spark, lake, spark.createDataFrame(JOURNEY_ROWS, JOURNEYS), spark.createDataFrame(SESSION_ROWS, SESSIONS)
    )

    first = _publish(spark, lake, emulator, dataset, "run-1")
    assert first.rows_out == {"sessions": 3, "user_journeys": 4}
    assert "gold.users" in first.details["skipped"] and "gold.attribution" in first.details["skipped"]
    journeys_sum = _assert_bigquery_equals_delta(
        spark, lake, emulator, dataset, "gold", "user_journeys", ["journey_id"]
    )
    sessions_sum = _assert_bigquery_equals_delta(spark, lake, emulator, dataset, "silver", "sessions", ["session_id"])

    journeys_table = emulator.client.get_table(f"{PROJECT}.{dataset}.user_journeys")
    assert journeys_table.time_partitioning.field == "start_ts"
    assert journeys_table.time_partitioning.type_ == bigquery.TimePartitioningType.DAY
    assert journeys_table.clustering_fields == ["canonical_user_id", "status"]
    sessions_table = emulator.client.get_table(f"{PROJECT}.{dataset}.sessions")
    assert sessions_table.time_partitioning.field == "session_date"
    assert sessions_table.clustering_fields == ["canonical_user_id", "channel"]
    types = {f.name: (f.field_type, f.mode) for f in journeys_table.schema}
    # Delta stores every column as nullable, so nothing is REQUIRED here.
    assert types["spend"] == ("NUMERIC", "NULLABLE") and types["journey_id"] == ("STRING", "NULLABLE")
    assert types["steps"] == ("RECORD", "REPEATED") and types["attrs"] == ("RECORD", "REPEATED")
    # Staging objects and tables are gone after success.
    assert _staged_files(emulator) == []
    assert sorted(t.table_id for t in emulator.client.list_tables(f"{PROJECT}.{dataset}")) == [
        "sessions",
        "user_journeys",
    ]

    # The same run again: nothing changes.
    again = _publish(spark, lake, emulator, dataset, "run-1")
    assert {t: d["changed_rows"] for t, d in again.details["published"].items()} == {
        "sessions": 0,
        "user_journeys": 0,
    }
    assert _checksum(_bigquery_rows(emulator, dataset, "user_journeys")) == journeys_sum
    assert _checksum(_bigquery_rows(emulator, dataset, "sessions")) == sessions_sum

    # A rebuild: j1 converts, j3 is gone (rebuilt as j5 under the surviving id), and a new column appears.
    rebuilt = [
        (*JOURNEY_ROWS[0][:3], "converted", *JOURNEY_ROWS[0][4:], "merged into 1"),
        (*JOURNEY_ROWS[1], None),
        (*JOURNEY_ROWS[3], None),
        ("j5", 2, _ts(20, 8), "open", Decimal("3.10"), ["paid"], [("paid", 3.1)], ("paid", 3.1), {"z": 9}, None),
    ]
    rebuilt_schema = T.StructType([*JOURNEYS.fields, T.StructField("note", T.StringType(), True)])
    _write_lake(spark, lake, spark.createDataFrame(rebuilt, rebuilt_schema), None)

    updated = _publish(spark, lake, emulator, dataset, "run-2", tables=("user_journeys",))
    detail = updated.details["published"]["user_journeys"]
    assert detail["added_columns"] == ["note"]
    assert detail["changed_rows"] == 3  # j1 updated, j3 deleted, j5 inserted
    assert updated.rows_out == {"user_journeys": 4}
    _assert_bigquery_equals_delta(spark, lake, emulator, dataset, "gold", "user_journeys", ["journey_id"])
    assert [f.name for f in emulator.client.get_table(f"{PROJECT}.{dataset}.user_journeys").schema][-1] == "note"
    assert _checksum(_bigquery_rows(emulator, dataset, "sessions")) == sessions_sum
    assert _staged_files(emulator) == []


def test_truncate_tables_are_replaced_in_full(spark: SparkSession, emulator: Emulator, tmp_path: Path) -> None:
    lake, dataset = tmp_path / "lake", "funnel_it"
    day = dt.date(2024, 2, 1)
    keys = ["funnel_date", "channel", "step"]
    path = table_path(lake, "gold", "funnel_daily")
    overwrite_table(spark.createDataFrame([(day, "paid", "view", 10), (day, "email", "view", 3)], FUNNEL), path)
    first = _publish(spark, lake, emulator, dataset, "run-1", tables=("funnel_daily",))
    assert first.details["published"]["funnel_daily"]["mode"] == "truncate"
    _assert_bigquery_equals_delta(spark, lake, emulator, dataset, "gold", "funnel_daily", keys)

    # One row fewer, one changed, and a null channel: truncate loads need no MERGE key, so a null part is fine.
    overwrite_table(spark.createDataFrame([(day, "paid", "view", 11), (day, None, "view", 1)], FUNNEL), path)
    _publish(spark, lake, emulator, dataset, "run-2", tables=("funnel_daily",))
    assert sorted(r["entered"] for r in _bigquery_rows(emulator, dataset, "funnel_daily")) == [1, 11]
    _assert_bigquery_equals_delta(spark, lake, emulator, dataset, "gold", "funnel_daily", keys)
    table = emulator.client.get_table(f"{PROJECT}.{dataset}.funnel_daily")
    assert (table.time_partitioning.field, table.clustering_fields) == ("funnel_date", ["channel", "step"])


def test_duplicate_keys_fail_before_anything_is_loaded(spark: SparkSession, emulator: Emulator, tmp_path: Path) -> None:
    lake, dataset = tmp_path / "lake", "dupes_it"
    sessions = spark.createDataFrame(SESSION_ROWS, SESSIONS)
    _write_lake(spark, lake, None, sessions)
    _publish(spark, lake, emulator, dataset, "run-1", tables=("sessions",))
    before = _checksum(_bigquery_rows(emulator, dataset, "sessions"))

    duplicated = [*SESSION_ROWS, ("s2", "d9", 9, _ts(9), _ts(9), 1, "paid", _ts(9).date())]
    _write_lake(spark, lake, None, spark.createDataFrame(duplicated, SESSIONS))
    result = run(_context(spark, lake, emulator, dataset, "run-2", tables=("sessions",)))

    assert result.failed
    assert result.message.startswith("silver.sessions: duplicate key (session_id='s2', 2 rows)")
    assert _checksum(_bigquery_rows(emulator, dataset, "sessions")) == before
    assert not any("run-2" in str(p) for p in _staged_files(emulator))  # nothing was even staged


def test_schema_change_bigquery_cannot_apply_is_a_clear_error(
    spark: SparkSession, emulator: Emulator, tmp_path: Path
) -> None:
    lake, dataset = tmp_path / "lake", "typechange_it"
    _write_lake(spark, lake, None, spark.createDataFrame(SESSION_ROWS, SESSIONS))
    _publish(spark, lake, emulator, dataset, "run-1", tables=("sessions",))

    as_text = [(*r[:5], str(r[5]), *r[6:]) for r in SESSION_ROWS]
    text_schema = T.StructType(
        [T.StructField("event_count", T.StringType()) if f.name == "event_count" else f for f in SESSIONS]
    )
    _write_lake(spark, lake, None, spark.createDataFrame(as_text, text_schema))
    result = run(_context(spark, lake, emulator, dataset, "run-2", tables=("sessions",)))

    assert result.failed
    assert "column event_count changed type from INT64 to STRING" in result.message
    assert emulator.client.get_table(f"{PROJECT}.{dataset}.sessions").schema[5].field_type in ("INT64", "INTEGER")


def test_unwritable_staging_location_and_missing_staged_files_are_clear_errors(
    spark: SparkSession, emulator: Emulator, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    target = BigQueryTarget(PROJECT, "errors_it", "US", BUCKET_URI, emulator.endpoint, str(not_a_folder))
    publisher = BigQueryPublisher(target, "run-1", client=emulator.client)
    with pytest.raises(PublishError, match=r"cannot write staging Parquet to gs://journeylake-staging/runs/x"):
        publisher.stage_parquet(spark.createDataFrame([(1,)], "id long"), f"{BUCKET_URI}/x")

    publisher.ensure_dataset()
    emulator.client.create_table(bigquery.Table(f"{PROJECT}.errors_it.t", schema=[bigquery.SchemaField("id", "INT64")]))
    with pytest.raises(PublishError, match=r"loading gs://no-such-bucket/x/\*\.parquet.*no staged files"):
        publisher._load("gs://no-such-bucket/x", f"{PROJECT}.errors_it.t", [bigquery.SchemaField("id", "INT64")], None)


# ---- every registered table, with the schema its stage writes ----------------------------------------------

ROWS_PER_TABLE = 3
NULL_ROW = 2  # in this row every nullable column that is not a key is null
BASE_TS = dt.datetime(2024, 2, 1, 12, 30, 15, 123456)  # microseconds survive the trip


def _value(data_type: T.DataType, name: str, i: int) -> Any:
    """A deterministic value of ``data_type`` for row ``i``: distinct per row, so every key is unique."""
    if isinstance(data_type, T.StringType):
        return f"{name}-{i}"
    if isinstance(data_type, T.IntegralType):
        return i + 1
    if isinstance(data_type, T.FractionalType) and not isinstance(data_type, T.DecimalType):
        return i + 0.25
    if isinstance(data_type, T.DecimalType):
        return Decimal(i) + Decimal(1).scaleb(-data_type.scale)
    if isinstance(data_type, T.BooleanType):
        return i % 2 == 0
    if isinstance(data_type, T.DateType):
        return BASE_TS.date() + dt.timedelta(days=i)
    if isinstance(data_type, T.TimestampType):
        return BASE_TS + dt.timedelta(days=i, hours=i)
    if isinstance(data_type, T.ArrayType):
        return [_value(data_type.elementType, name, i + n) for n in range(i)]  # row 0 has an empty array
    if isinstance(data_type, T.StructType):
        return tuple(_value(f.dataType, f.name, i) for f in data_type.fields)
    raise AssertionError(f"no test value for {name}: {data_type.simpleString()}")


def _contract_rows(schema: T.StructType, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    return [
        tuple(
            None if i == NULL_ROW and f.nullable and f.name not in keys else _value(f.dataType, f.name, i)
            for f in schema.fields
        )
        for i in range(ROWS_PER_TABLE)
    ]


def test_every_registered_table_publishes_partitioned_clustered_and_idempotently(
    spark: SparkSession, emulator: Emulator, tmp_path: Path
) -> None:
    lake, dataset = tmp_path / "lake", "contracts_it"
    for name, schema in CONTRACT_SCHEMAS.items():
        spec = PUBLISHED_TABLES[name]
        rows = _contract_rows(schema, spec.keys)
        overwrite_table(spark.createDataFrame(rows, schema), table_path(lake, spec.layer, name))

    first = _publish(spark, lake, emulator, dataset, "run-1")
    assert first.details["skipped"] == []
    assert first.rows_out == dict.fromkeys(PUBLISHED_TABLES, ROWS_PER_TABLE)
    checksums = {}
    for name, spec in PUBLISHED_TABLES.items():
        checksums[name] = _assert_bigquery_equals_delta(spark, lake, emulator, dataset, spec.layer, name, spec.keys)
        table = emulator.client.get_table(f"{PROJECT}.{dataset}.{name}")
        assert [f.name for f in table.schema] == CONTRACT_SCHEMAS[name].names, name
        if spec.partition is None:
            assert table.time_partitioning is None, name
        else:
            assert table.time_partitioning.field == spec.partition, name
            assert table.time_partitioning.type_ == bigquery.TimePartitioningType.DAY, name
        assert table.clustering_fields == list(spec.clustering), name
    assert _staged_files(emulator) == []

    again = _publish(spark, lake, emulator, dataset, "run-1")
    changed = {t: d["changed_rows"] for t, d in again.details["published"].items()}
    merged = {name for name, spec in PUBLISHED_TABLES.items() if spec.mode == "merge"}
    assert {t: c for t, c in changed.items() if t in merged} == dict.fromkeys(merged, 0)
    for name in PUBLISHED_TABLES:
        assert _checksum(_bigquery_rows(emulator, dataset, name)) == checksums[name], name


# ---- the job -------------------------------------------------------------------------------------------------

JOB_SCRIPT = Path(__file__).resolve().parents[2] / "jobs" / "publish_bigquery.py"


def _load_job() -> Any:
    """jobs/publish_bigquery.py is a script, not a package module: load it from its file."""
    spec = importlib.util.spec_from_file_location("jobs_publish_bigquery", JOB_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publish_job_flags_reach_the_emulator_and_bad_names_fail_in_one_line(
    spark: SparkSession,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = tmp_path / "lake"
    _write_lake(spark, lake, None, spark.createDataFrame(SESSION_ROWS, SESSIONS))
    monkeypatch.setenv("BQEMU_GCS_LOCAL_ROOT", str(emulator.gcs_root))
    job = _load_job()
    flags = [
        "--lake",
        str(lake),
        "--project",
        PROJECT,
        "--staging-uri",
        BUCKET_URI,
        "--api-endpoint",
        emulator.endpoint,
    ]
    checkpoint_dir = spark.sparkContext.getCheckpointDir()
    try:
        assert job.run(spark, job.parse_args([*flags, "--dataset", "job_it", "--run-id", "job-1"])) == 0
        out = capsys.readouterr().out
        assert "  sessions: 3 rows (merge: 3 rows changed)" in out
        assert "gold.user_journeys" in out  # listed as not in the lake
        _assert_bigquery_equals_delta(spark, lake, emulator, "job_it", "silver", "sessions", ["session_id"])

        assert job.run(spark, job.parse_args([*flags, "--dataset", "job_it", "--run-id", "job-2"])) == 0
        assert "  sessions: 3 rows (merge: 0 rows changed)" in capsys.readouterr().out

        assert job.run(spark, job.parse_args([*flags, "--dataset", "bad-name`; DROP", "--run-id", "job-3"])) == 1
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert last.startswith("[publish] FAILED") and "invalid dataset 'bad-name`; DROP'" in last
    finally:
        if checkpoint_dir:
            spark.sparkContext.setCheckpointDir(checkpoint_dir)
