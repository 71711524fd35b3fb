"""Crash, concurrency, rerun, hostile-row, accounting and PII guarantees, proven on real pipeline processes.

One tiny generated world (its bot scaled up to BOT_EVENTS events) plus one hostile GA4 file goes through
``jobs/run_pipeline.py --until journeys``, each run a separate process:

* reference lake: two runs started at once; the run lock lets one through and stops the other at once with a
  clear message; later the same run again (it must change no table's contents);
* crash lake: runs SIGKILLed (the whole process group: driver and JVM) at three points, each rerun starting
  from what the last one left: in ingest (bronze.events written, quarantine and watermark not), in identity
  (map written, edges not), in journeys (sessions, touchpoints, transitions written, journeys and users not);
  then a run to completion, whose every table must equal the reference's.

Kill points use the test-only hook ``JOURNEYLAKE_PAUSE_AT`` (:func:`journeylake.io.delta.pause_before_write`).
The stages after journeys are left out to keep CI short (abandonment alone takes minutes on this machine even
for a tiny world); they only read the tables checked here and write through the same Delta helpers.
The publish stage is off by default (``bigquery.enabled``) and is not exercised here.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from ga4_rows import ga4_row, param, write_ga4_parquet  # tests/ga4_rows.py
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake import ingest
from journeylake.config import IdentityConfig
from journeylake.io.delta import PAUSE_ENV, PAUSE_MARKER
from journeylake.sample import SampleParams, generate_world

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
AS_OF = "2021-02-05T00:00:00"
UNTIL = "journeys"
SEED, SCALE = 7, 0.01  # the smallest world the generator makes (about 40 persons)
BOT_EVENTS = 10_000  # one device with as many events as the rest of the world together
RUN_TIMEOUT_S = 2400  # per run; a loaded 2-core CI machine needs minutes per stage
# Where the crash runs are killed: just before the first write of these tables (see the module docstring).
KILL_BEFORE = ("bronze/quarantine", "silver/identity_edges", "gold/user_journeys")
# Columns naming the run that wrote a row, or when: they differ between runs by design.
RUN_COLUMNS = frozenset(
    {"run_id", "ingest_run_id", "updated_run_id", "first_run_id", "input_run_id", "processed_run_id"}
    | {"ingested_at", "recorded_at"}
)
ROUND_DIGITS = 6  # doubles summed in another order may differ in the last bits
# Secrets the runs get from the environment; they must never show up in an output, a log or a report.
PII_SALT = f"salt-{secrets.token_hex(8)}"
DB_PASSWORD = f"pw-{secrets.token_hex(8)}"

# ---- the hostile GA4 file ----------------------------------------------------------------------------------------
HOSTILE_TS = datetime(2021, 1, 15, 9, 0, 0)
SHARED_EMAIL = "Shared.Inbox@hostile.example.org"
SHARED_DEVICES = 2_000  # devices all giving one e-mail address: identity guards must cut it
URL_EMAIL = "leaky.form@hostile.example.org"  # an address a form put into the page URL
UNICODE_DEVICE = "dévice-ünï-日本-🚀"
UNICODE_EVENT = "évènement_日本"
UNICODE_TITLE = "Ünïcødé 日本語 🚀 \u202e RTL \x00 NUL \x07 BEL \t tab \r\n end"
LONG_URL = "https://shop.example/p/" + "ä" * 20_000 + "?q=<script>'\"&x=%00"
QUARANTINED = {
    "epoch-device": ingest.TIMESTAMP_TOO_OLD,
    "year-2100-device": ingest.FUTURE_TIMESTAMP,
    "conflicting-params-device": ingest.CONFLICTING_PARAMS,
}


def hostile_rows() -> list[dict[str, Any]]:
    rows = [
        ga4_row(
            f"shared-email-device-{i:05d}",
            HOSTILE_TS + timedelta(seconds=i),
            "generate_lead",
            [param("ga_session_id", 1), param("email", SHARED_EMAIL)],
        )
        for i in range(SHARED_DEVICES)
    ]
    return [
        *rows,
        ga4_row("epoch-device", datetime(1970, 1, 1, 0, 0, 1)),
        ga4_row("year-2100-device", datetime(2100, 1, 1)),
        ga4_row(
            UNICODE_DEVICE,
            HOSTILE_TS,
            UNICODE_EVENT,
            [
                param("ga_session_id", 7),
                param("page_location", LONG_URL),
                param("page_title", UNICODE_TITLE),
                param("source", "nëwsletter\x00"),
                param("medium", "e-mail \u200b"),
            ],
        ),
        ga4_row(
            "url-email-device",
            HOSTILE_TS,
            params=[
                param("ga_session_id", 3),
                param("page_location", f"https://shop.example/thanks?email={URL_EMAIL}"),
            ],
        ),
        # The same key twice: with two values the record is ambiguous; with one value twice it is harmless.
        ga4_row("conflicting-params-device", HOSTILE_TS, params=[param("ga_session_id", 5), param("ga_session_id", 6)]),
        ga4_row("repeated-params-device", HOSTILE_TS, params=[param("ga_session_id", 5), param("ga_session_id", 5)]),
    ]


# ---- running the pipeline ----------------------------------------------------------------------------------------


@dataclass
class World:
    root: Path
    sample: Path
    config: Path
    ref_lake: Path
    crash_lake: Path
    logs: list[Path] = field(default_factory=list)
    ref_runs: list[tuple[int, str]] = field(default_factory=list)  # (exit code, stderr) of the two racing runs
    crash_runs: list[int] = field(default_factory=list)  # exit codes of the crash lake's runs, in order
    before_rerun: dict[str, tuple[int, int]] = field(default_factory=dict)
    after_rerun: dict[str, tuple[int, int]] = field(default_factory=dict)
    rerun_code: int = -1


def _env(pause_at: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "JOURNEYLAKE_PII_SALT": PII_SALT,
        "JOURNEYLAKE_DB_PASSWORD": DB_PASSWORD,
        "JOURNEYLAKE_PROGRESS": "0",
    }
    env.pop(PAUSE_ENV, None)
    if pause_at:
        env[PAUSE_ENV] = pause_at
    return env


def _start(world: World, lake: Path, name: str, pause_at: str | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    """One pipeline process, in its own process group, its output in ``<root>/<name>.out``/``.err``."""
    out, err = world.root / f"{name}.out", world.root / f"{name}.err"
    world.logs += [out, err]
    command = [sys.executable, "jobs/run_pipeline.py", "--config", str(world.config), "--lake", str(lake)]
    process = subprocess.Popen(
        [*command, "--as-of", AS_OF, "--until", UNTIL],
        cwd=PROJECT,
        env=_env(pause_at),
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        start_new_session=True,
    )
    return process, out


def _poll(process: subprocess.Popen[bytes], done: Callable[[], bool], what: str, meanwhile: Callable[[], None]) -> None:
    """Poll until ``done()``, calling ``meanwhile()`` between polls; SIGKILL the process group on timeout."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not done():
        meanwhile()
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise TimeoutError(what)
        time.sleep(0.5)


def _wait(process: subprocess.Popen[bytes], meanwhile: Callable[[], None] = lambda: None) -> int:
    _poll(process, lambda: process.poll() is not None, f"run {process.args} did not end", meanwhile)
    return process.returncode


def _kill_when_paused(process: subprocess.Popen[bytes], out: Path, point: str, meanwhile: Callable[[], None]) -> None:
    """Wait for the hook's marker, then SIGKILL the process group (driver and JVM) like a power cut."""

    def paused() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the run ended (code {process.returncode}) before pausing at {point}")
        return PAUSE_MARKER in out.read_text(errors="replace")

    _poll(process, paused, f"no pause at {point}", meanwhile)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def _delta_tables(lake: Path) -> list[str]:
    """``layer/table`` of every Delta table in the lake, run bookkeeping (meta.runs) aside."""
    found = sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in lake.glob("*/*/_delta_log"))
    return [t for t in found if t != "meta/runs"]


def _comparable(column: str, data_type: T.DataType) -> Column:
    value = F.col(f"`{column}`")
    if isinstance(data_type, T.MapType):
        return F.array_sort(F.map_entries(value))
    if isinstance(data_type, T.DoubleType | T.FloatType):
        return F.round(value, ROUND_DIGITS)
    return value


def _content(spark: SparkSession, path: Path) -> DataFrame:
    frame = spark.read.format("delta").load(str(path))
    return frame.select(
        *[_comparable(f.name, f.dataType).alias(f.name) for f in frame.schema if f.name not in RUN_COLUMNS]
    )


def fingerprint(spark: SparkSession, lake: Path) -> dict[str, tuple[int, int]]:
    """Per table: (rows, order-independent checksum of every column but the run bookkeeping ones)."""
    prints = {}
    for table in _delta_tables(lake):
        content = _content(spark, lake / table)
        row_hash = F.xxhash64(*[F.col(f"`{c}`") for c in content.columns]).cast("decimal(38,0)")
        [got] = content.agg(F.count(F.lit(1)).alias("rows"), F.sum(row_hash).alias("checksum")).collect()
        prints[table] = (int(got["rows"]), int(got["checksum"] or 0))
    return prints


def _write_config(root: Path, sample: Path) -> Path:
    config = root / "tiny.toml"
    config.write_text(
        "\n".join(
            [
                "[input]",
                f'sample_dir = "{sample}"',
                f"sample_seed = {SEED}",
                f"sample_scale = {SCALE}",
                "[validation]",
                "enabled = false",
                f'report_dir = "{root / "reports"}"',
                "[spark]",
                'master = "local[2]"',
                "shuffle_partitions = 2",
                'driver_memory = "1g"',
            ]
        )
        + "\n"
    )
    return config


@pytest.fixture(scope="module")
def world(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("reliability")
    sample = root / "sample"
    generate_world(sample, SampleParams(seed=SEED, scale=SCALE, bot_events=BOT_EVENTS))
    write_ga4_parquet(spark, hostile_rows(), sample / "ga4" / "hostile" / "events_20210115.parquet")
    w = World(root, sample, _write_config(root, sample), root / "ref_lake", root / "crash_lake")

    # Two runs on one lake at once, and the crash lake's first run, all started together. The reference lake's
    # rerun starts as soon as the race is over, while the crash lake is still being worked on.
    racing = [_start(w, w.ref_lake, f"ref-{i}") for i in (1, 2)]
    reruns: list[subprocess.Popen[bytes]] = []

    def advance_reference() -> None:
        if reruns or any(process.poll() is None for process, _ in racing):
            return
        w.ref_runs = [
            (process.returncode, out.with_suffix(".err").read_text(errors="replace")) for process, out in racing
        ]
        w.before_rerun = fingerprint(spark, w.ref_lake)
        reruns.append(_start(w, w.ref_lake, "ref-rerun")[0])

    try:
        for number, point in enumerate(KILL_BEFORE, start=1):
            process, out = _start(w, w.crash_lake, f"crash-{number}", pause_at=point)
            _kill_when_paused(process, out, point, advance_reference)
            w.crash_runs.append(process.returncode)
        final, _ = _start(w, w.crash_lake, "crash-final")
        w.crash_runs.append(_wait(final, advance_reference))
        _wait(racing[0][0], advance_reference)
        _wait(racing[1][0], advance_reference)
        advance_reference()
        w.rerun_code = _wait(reruns[0])
        w.after_rerun = fingerprint(spark, w.ref_lake)
        yield w
    finally:
        for process in [p for p, _ in racing] + reruns:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def _tail(world: World, name: str) -> str:
    return "".join((world.root / f"{name}.{kind}").read_text(errors="replace")[-2500:] for kind in ("out", "err"))


# ---- 1. crash and rerun ------------------------------------------------------------------------------------------


def test_killed_runs_then_a_rerun_equal_an_uninterrupted_run(spark: SparkSession, world: World) -> None:
    assert world.crash_runs[:-1] == [-signal.SIGKILL] * len(KILL_BEFORE)
    assert world.crash_runs[-1] == 0, _tail(world, "crash-final")
    crashed = fingerprint(spark, world.crash_lake)
    assert sorted(crashed) == sorted(world.before_rerun)
    # The tables every stage up to journeys writes are all there.
    assert {"bronze/events", "bronze/quarantine", "silver/identity_map", "silver/sessions", "gold/users"} <= set(
        crashed
    )
    differing = {t: (crashed[t], world.before_rerun[t]) for t in crashed if crashed[t] != world.before_rerun[t]}
    if differing:
        table = sorted(differing)[0]
        left, right = _content(spark, world.crash_lake / table), _content(spark, world.ref_lake / table)
        sample = [r.asDict() for r in left.exceptAll(right).limit(2).collect()]
        sample += [r.asDict() for r in right.exceptAll(left).limit(2).collect()]
        raise AssertionError(f"tables differ after crash+rerun (rows, checksum): {differing}; e.g. {sample}")


def test_rerun_of_a_completed_run_changes_no_contents(world: World) -> None:
    assert world.rerun_code == 0, _tail(world, "ref-rerun")
    assert world.after_rerun == world.before_rerun


# ---- 2. concurrent runs ------------------------------------------------------------------------------------------


def test_two_runs_at_once_one_completes_and_the_other_stops_with_a_clear_message(world: World) -> None:
    codes = sorted(code for code, _ in world.ref_runs)
    assert codes == [0, 2], world.ref_runs
    [loser_stderr] = [stderr for code, stderr in world.ref_runs if code == 2]
    assert "pipeline NOT started" in loser_stderr and "is locked by run" in loser_stderr
    assert "Traceback" not in loser_stderr
    # The rerun after the race completed (checked above); the loser left no run record behind.
    assert world.rerun_code == 0


# ---- 3. hostile rows, end to end ---------------------------------------------------------------------------------


def _device_rows(spark: SparkSession, lake: Path, table: str, devices: list[str]) -> DataFrame:
    return spark.read.format("delta").load(str(lake / table)).where(F.col("user_pseudo_id").isin(devices))


def test_hostile_rows_are_quarantined_with_a_reason_or_kept_intact(spark: SparkSession, world: World) -> None:
    quarantine = spark.read.format("delta").load(str(world.ref_lake / "bronze/quarantine"))
    device = F.get_json_object("raw_record", "$.record.user_pseudo_id")
    got = {
        r["device"]: r["reason"]
        for r in quarantine.where(device.isin(*QUARANTINED)).select(device.alias("device"), "reason").collect()
    }
    assert got == QUARANTINED

    kept = {
        r["user_pseudo_id"]: r
        for r in _device_rows(
            spark, world.ref_lake, "bronze/events", [UNICODE_DEVICE, "url-email-device", "repeated-params-device"]
        ).collect()
    }
    odd = kept[UNICODE_DEVICE]
    assert (odd["event_name"], odd["page_location"], odd["page_title"]) == (UNICODE_EVENT, LONG_URL, UNICODE_TITLE)
    assert odd["traffic_source"] == "nëwsletter\x00"
    assert kept["url-email-device"]["page_location"] == f"https://shop.example/thanks?email={ingest.REDACTED}"
    assert kept["repeated-params-device"]["ga_session_id"] == 5
    [session] = _device_rows(spark, world.ref_lake, "silver/sessions", [UNICODE_DEVICE]).collect()
    assert session["landing_page"] == LONG_URL and session["event_count"] == 1


def test_an_identifier_shared_by_thousands_of_devices_is_cut(spark: SparkSession, world: World) -> None:
    identity_map = spark.read.format("delta").load(str(world.ref_lake / "silver/identity_map"))
    shared = identity_map.where((F.col("id_type") == "device") & F.col("id_value").startswith("shared-email-device-"))
    [counts] = shared.agg(
        F.count(F.lit(1)).alias("devices"), F.countDistinct("canonical_user_id").alias("ids")
    ).collect()
    assert (counts["devices"], counts["ids"]) == (SHARED_DEVICES, SHARED_DEVICES)  # nobody merged through it
    edges = spark.read.format("delta").load(str(world.ref_lake / "silver/identity_edges"))
    email_edges = edges.join(
        shared.select(F.col("node_key").alias("src_key")), on="src_key", how="left_semi"
    ).unionByName(edges.join(shared.select(F.col("node_key").alias("dst_key")), on="dst_key", how="left_semi"))
    statuses = {(r["status"], r["cut_reason"]) for r in email_edges.select("status", "cut_reason").distinct().collect()}
    assert len(statuses) == 1 and next(iter(statuses))[0] == "cut", statuses
    devices_per_person = identity_map.where(F.col("id_type") == "device").groupBy("canonical_user_id").count()
    [largest] = devices_per_person.agg(F.max("count")).collect()
    assert largest[0] <= IdentityConfig().max_component_size


def test_the_bot_device_loses_no_event(spark: SparkSession, world: World) -> None:
    devices = pq.read_table(world.sample / "truth" / "devices.parquet").to_pylist()
    [bot] = [d["user_pseudo_id"] for d in devices if d["is_bot"]]
    raw = spark.read.parquet(str(world.sample / "ga4" / "events_*.parquet")).where(F.col("user_pseudo_id") == bot)
    raw_rows, distinct_rows = raw.count(), raw.distinct().count()
    assert raw_rows >= BOT_EVENTS
    quarantine = spark.read.format("delta").load(str(world.ref_lake / "bronze/quarantine"))
    quarantined = quarantine.where(F.get_json_object("raw_record", "$.record.user_pseudo_id") == bot).count()
    in_bronze = _device_rows(spark, world.ref_lake, "bronze/events", [bot]).count()
    assert in_bronze == distinct_rows - quarantined  # exact copies removed, nothing else
    [sessions] = (
        _device_rows(spark, world.ref_lake, "silver/sessions", [bot])
        .agg(F.sum("event_count").alias("events"))
        .collect()
    )
    assert sessions["events"] == in_bronze


# ---- 4. accounting -----------------------------------------------------------------------------------------------


def _first_run_records(spark: SparkSession, lake: Path) -> dict[str, Any]:
    runs = spark.read.format("delta").load(str(lake / "meta/runs"))
    ingests = runs.where((F.col("stage") == "ingest") & (F.col("rows_in")["ga4"] > 0)).collect()
    assert len(ingests) == 1, "exactly one run of the reference lake read the input"
    return {r["stage"]: r for r in runs.where(F.col("run_id") == ingests[0]["run_id"]).collect()}


def test_run_record_counts_balance(spark: SparkSession, world: World) -> None:
    records = _first_run_records(spark, world.ref_lake)
    assert set(records) == {"sample", "ingest", "backend", "identity", "journeys", "pipeline"}
    assert all(r["status"] == "ok" and r["seconds"] >= 0 for r in records.values())
    pipeline = json.loads(records["pipeline"]["details_json"])
    assert pipeline["stages"] == ["sample", "ingest", "backend", "identity", "journeys"]
    assert {"journeylake", "spark"} <= set(pipeline)
    assert records["ingest"]["as_of"] == datetime.fromisoformat(AS_OF)

    details = json.loads(records["ingest"]["details_json"])
    manifest = json.loads((world.sample / "manifest.json").read_text())["counts"]
    expected_in = {
        "ga4": manifest["ga4_rows"] + len(hostile_rows()),
        "ad_touchpoints": manifest["ad_touchpoints"],
        "ad_cost_daily": manifest["ad_cost_daily"],
        "competitor_exposures": manifest["competitor_exposures"],
    }
    assert dict(records["ingest"]["rows_in"]) == expected_in
    for name, source in details["sources"].items():
        assert source["input_rows"] == source["accepted"] + source["duplicates_removed"] + source["quarantined"], name
        assert sum(source["quarantined_by_reason"].values()) == source["quarantined"], name
    assert details["input_rows"] == sum(expected_in.values())
    assert details["input_rows"] == details["accepted"] + details["duplicates_removed"] + details["quarantined"]

    def rows(table: str) -> int:
        return spark.read.format("delta").load(str(world.ref_lake / table)).count()

    quarantine = spark.read.format("delta").load(str(world.ref_lake / "bronze/quarantine"))
    by_reason = {r["reason"]: r["count"] for r in quarantine.groupBy("reason").count().collect()}
    assert by_reason == details["quarantined_by_reason"]
    assert records["ingest"]["rows_out"]["bronze.quarantine"] == rows("bronze/quarantine") == details["quarantined"]
    for source, table in (("ga4", "bronze/events"), ("ad_touchpoints", "bronze/ad_touchpoints")):
        assert details["sources"][source]["accepted"] == rows(table), table
    for stage in ("identity", "journeys"):
        for name, count in records[stage]["rows_out"].items():
            if name in ("silver.identity_map", "silver.identity_edges", "silver.sessions", "gold.users"):
                assert count == rows(name.replace(".", "/")), f"{stage}: {name}"
    # Identity works on the nodes the run touched: on a first run, every identifier of the map.
    assert records["identity"]["rows_in"]["scope_nodes"] == rows("silver/identity_map")


# ---- 5. security -------------------------------------------------------------------------------------------------


def _raw_pii(world: World) -> list[str]:
    """Every raw e-mail and phone the generator wrote, as written and normalized, plus the hostile ones."""
    identifiers = pq.read_table(world.sample / "truth" / "identifiers.parquet").to_pylist()
    values = {SHARED_EMAIL, URL_EMAIL}
    for row in identifiers:
        if row["id_type"] in ("email", "phone"):
            values |= {row["id_value"], row["id_value_normalized"], row["id_value_normalized"].lstrip("+")}
    return sorted(v.lower() for v in values)


def test_no_raw_pii_or_secret_in_any_table_log_or_report(spark: SparkSession, world: World) -> None:
    needles = _raw_pii(world)
    assert len(needles) > 20  # the world really holds e-mails and phones to look for
    needles += [PII_SALT.lower(), DB_PASSWORD.lower()]
    needle_frame = spark.createDataFrame([(n,) for n in needles], "needle string")
    leaks: dict[str, list[str]] = {}
    for lake in (world.ref_lake, world.crash_lake):
        tables = [*_delta_tables(lake), "meta/runs"]
        for table in tables:
            frame = spark.read.format("delta").load(str(lake / table))
            text = frame.select(F.lower(F.to_json(F.struct(*[F.col(f"`{c}`") for c in frame.columns]))).alias("t"))
            found = text.join(F.broadcast(needle_frame), on=F.instr("t", F.col("needle")) > 0, how="inner")
            hits = [r["needle"] for r in found.select("needle").distinct().collect()]
            if hits:
                leaks[f"{lake.name}/{table}"] = hits
    files = [*world.logs, *(world.root / "reports").rglob("*")]
    for path in [p for p in files if p.is_file()]:
        text = path.read_text(errors="replace").lower()
        hits = [n for n in needles if n in text]
        if hits:
            leaks[str(path)] = hits
    assert leaks == {}
    # Controls: the raw values were in the input and the salt was in use, so finding nothing means something.
    raw_input = pq.read_table(world.sample / "ga4" / "hostile" / "events_20210115.parquet").to_pylist()
    assert any(SHARED_EMAIL in json.dumps(r, ensure_ascii=False) for r in raw_input)
    records = _first_run_records(spark, world.ref_lake)
    assert json.loads(records["ingest"]["details_json"])["pii_salt"] == "environment"
