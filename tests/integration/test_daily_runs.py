"""The daily run is the main path: a first run, then a day more, then another, on one lake.

Each run is the ``journeylake run`` command as ``make run`` calls it: the default config, validation on, no
``--as-of`` (the run's "now" comes from the data). Every run must exit 0, and the current-state tables after the
last daily run must equal those of one run over the same days: the result does not depend on the cadence.

Canonical ids may depend on history (an id, once issued, is kept), the partition of devices into people may not:
tables are compared with each person named by the smallest node key of its identifiers, and each journey by its
person and start. Columns that say which run wrote a row (``updated_run_id``, ``active_runs``, ingest batch ids
and times) are left out. History tables (identity merges and audit, meta) and bronze batch ids differ by design.

The one-shot lake of the generated sample is on GCS (the GCS connector against a local GCS emulator) and the
daily one local, so the comparison also says that a gs:// lake gives what a local lake gives.

Two worlds: the generated sample (every source: GA4, ad touchpoints and cost, competitor exposures, backend), split
into daily files, and four days of the real GA4 export in ../shared, read in place.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import GA4_SAMPLE_DIR, requires_ga4_sample
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake import cli
from journeylake.io import lake as lake_files
from journeylake.io.delta import table_path
from journeylake.io.runs import lock_uri, run_lock
from journeylake.sample import SampleParams, generate_world
from journeylake.schemas.catalog import CATALOG

pytestmark = pytest.mark.integration

SEED, SCALE = 11, 0.3
SAMPLE_DAYS = SampleParams().days
FIRST_DAY = SampleParams().start_date
LAST_DAY = FIRST_DAY + timedelta(days=SAMPLE_DAYS - 1)
FIRST_RUN_DAYS = 28  # then two daily runs: day 29, day 30

# Current-state tables, compared after normalization.
COMPARED = (
    "silver.sessions",
    "gold.user_journeys",
    "gold.journey_touchpoints",
    "gold.journey_state_transitions",
    "gold.users",
    "gold.journey_abandonments",
    "gold.journey_scores",
    "gold.attribution",
    "gold.funnel_daily",
    "gold.cart_abandonment_daily",
    "gold.competitor_exposures",
    "gold.reconciliation",
    "gold.rl_transitions",
    "gold.journey_recommendations",
)
# Which run wrote a row: differs by cadence on purpose.
RUN_COLUMNS = {"updated_run_id", "active_runs", "ingest_run_id", "ingested_at", "processed_run_id"}
JOURNEY_ID_COLUMNS = ("journey_id", "current_journey_id", "conversion_id")
FLOAT_DIGITS = 9

# Per-day splits of the sample's undated sources: (folder, time column).
DAILY_SOURCES = (
    ("ad_touchpoints", "touch_ts"),
    ("competitor_exposures", "exposure_ts"),
    ("ad_cost_daily", "cost_date"),
)


def run_command(lake: str | Path, *flags: str) -> int:
    """``journeylake run`` in this process (the shared session), as ``make run`` invokes it."""
    return cli.main(["run", "--lake", str(lake), *flags])


# ---- inputs that grow by a day ---------------------------------------------------------------------------------


def _day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min)


def stage_sample_days(sample: Path, inputs: Path, through: date) -> None:
    """Lay out the inputs a daily export would have delivered by the end of ``through``.

    GA4 files per day (links to the sample's), the undated sources as one file per day (each day's file appears
    once and is never rewritten, as a daily export would), the backend as a snapshot of the orders placed so far.
    Rows dated outside the sample's days (its deliberate dirt: 1970, 2100, no time) arrive with the nearest day,
    so that the last day's layout holds every row of the sample.
    """
    (inputs / "ga4").mkdir(parents=True, exist_ok=True)
    for day_file in sorted((sample / "ga4").glob("events_*.parquet")):
        day = datetime.strptime(day_file.stem.removeprefix("events_"), "%Y%m%d").date()
        target = inputs / "ga4" / day_file.name
        if day <= through and not target.exists():
            target.symlink_to(day_file)
    first, last = pa.scalar(FIRST_DAY, pa.date32()), pa.scalar(LAST_DAY, pa.date32())
    for folder, column in DAILY_SOURCES:
        table = pq.read_table(sample / folder)
        days = pc.fill_null(pc.cast(table[column], pa.date32()), first)
        days = pc.max_element_wise(pc.min_element_wise(days, last), first)
        (inputs / folder).mkdir(parents=True, exist_ok=True)
        for day in sorted(set(days.to_pylist())):
            target = inputs / folder / f"{folder}_{day:%Y%m%d}.parquet"
            if day <= through and not target.exists():
                pq.write_table(table.filter(pc.equal(days, pa.scalar(day, pa.date32()))), target)
    orders = pq.read_table(sample / "backend" / "orders")
    if through < LAST_DAY:
        placed_by = pa.scalar(_day_end(through), orders["order_ts"].type)
        orders = orders.filter(pc.fill_null(pc.less(orders["order_ts"], placed_by), True))
    items = pq.read_table(sample / "backend" / "order_items")
    items = items.filter(pc.is_in(items["order_id"], orders["order_id"]))
    users = pq.read_table(sample / "backend" / "users")
    for name, table in (("orders", orders), ("order_items", items), ("users", users)):
        folder = inputs / "backend" / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        pq.write_table(table, folder / "part-00000.parquet")
    for kept in ("manifest.json", "truth"):
        if not (inputs / kept).exists():
            (inputs / kept).symlink_to(sample / kept)


# ---- normalized current state ----------------------------------------------------------------------------------


def _read(spark: SparkSession, lake: str | Path, name: str) -> DataFrame:
    layer, table = name.split(".")
    return spark.read.format("delta").load(table_path(str(lake), layer, table))


def current_state(spark: SparkSession, lake: str | Path) -> dict[str, DataFrame]:
    """COMPARED tables with people and journeys named by what defines them, not by the ids history gave them."""
    person = (
        _read(spark, lake, "silver.identity_map")
        .groupBy("canonical_user_id")
        .agg(F.min("node_key").cast("string").alias("_person"))
    )
    journeys = (
        _read(spark, lake, "gold.user_journeys")
        .join(person, on="canonical_user_id", how="left")
        .select(
            "journey_id",
            F.concat_ws("|", F.coalesce("_person", "canonical_user_id"), F.col("start_ts").cast("string")).alias(
                "_journey"
            ),
        )
    )
    tables = {}
    for name in COMPARED:
        frame = _read(spark, lake, name)
        if "canonical_user_id" in frame.columns:
            frame = frame.join(person, on="canonical_user_id", how="left").withColumn(
                "canonical_user_id", F.coalesce("_person", "canonical_user_id")
            )
        for column in JOURNEY_ID_COLUMNS:
            if column in frame.columns:
                named = journeys.select(F.col("journey_id").alias(column), F.col("_journey").alias(f"_{column}"))
                frame = frame.join(named, on=column, how="left").withColumn(column, F.coalesce(f"_{column}", column))
        kept = [c for c in CATALOG[name].schema.fields if c.name not in RUN_COLUMNS]
        # Sums of doubles depend on the order Spark adds them in, which the partitioning of each run decides:
        # compared to FLOAT_DIGITS decimals (the last bits of a mean order value differ between lakes).
        tables[name] = frame.select(
            *[
                F.round(c.name, FLOAT_DIGITS).alias(c.name) if isinstance(c.dataType, T.DoubleType) else F.col(c.name)
                for c in kept
            ]
        )
    return tables


def state_digests(spark: SparkSession, lake: str | Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent sum of 64-bit row hashes of each compared table: equal digests mean
    equal tables (but for a hash collision), checked in one pass per table (row by row takes two shuffles each)."""
    digests = {}
    for name, frame in current_state(spark, lake).items():
        columns = [
            F.col(f.name).cast("string") if isinstance(f.dataType, T.MapType) else F.col(f.name)
            for f in frame.schema.fields
        ]
        row = (
            frame.select(F.xxhash64(*columns).cast("decimal(38,0)").alias("_hash"))
            .agg(F.count("*").alias("rows"), F.coalesce(F.sum("_hash"), F.lit(0)).alias("hash_sum"))
            .first()
        )
        assert row is not None
        digests[name] = (int(row["rows"]), int(row["hash_sum"]))
    return digests


def assert_same_state(spark: SparkSession, daily: str | Path, one_shot: str | Path) -> None:
    """Equal digests per table; where they differ, the rows missing and extra are counted and shown."""
    expected_digests, actual_digests = state_digests(spark, one_shot), state_digests(spark, daily)
    differing = [name for name in COMPARED if expected_digests[name] != actual_digests[name]]
    if not differing:
        return
    expected, actual = current_state(spark, one_shot), current_state(spark, daily)
    differences = {}
    for name in differing:
        missing = expected[name].exceptAll(actual[name])
        extra = actual[name].exceptAll(expected[name])
        counts = (missing.count(), extra.count())
        differences[name] = (counts, [r.asDict() for r in missing.limit(2).collect()], extra.limit(2).collect())
    raise AssertionError(
        "daily runs differ from one run (missing, extra):\n"
        + "\n".join(f"{name}: {detail}" for name, detail in differences.items())
    )


def _run_statuses(spark: SparkSession, lake: Path) -> list[tuple[str, str]]:
    runs = _read(spark, lake, "meta.runs")
    return sorted((r["stage"], r["status"]) for r in runs.select("stage", "status").distinct().collect())


# ---- the generated sample --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_runs(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, gcs_bucket: str
) -> Iterator[dict[str, object]]:
    """The one-shot run writes its lake to GCS (the connector against a local emulator), the daily runs to a
    local folder: their equality says both that the cadence and that the store change nothing."""
    root = tmp_path_factory.mktemp("daily")
    sample = root / "sample"
    params = SampleParams(seed=SEED, scale=SCALE)
    generate_world(sample, params)
    flags = ["--sample-seed", str(SEED), "--sample-scale", str(SCALE)]

    one_shot = f"{gcs_bucket}/one_shot_lake"
    stage_sample_days(sample, root / "all_inputs", LAST_DAY)
    one_shot_code = run_command(one_shot, "--sample-dir", str(root / "all_inputs"), *flags)

    daily, inputs, codes = root / "daily_lake", root / "daily_inputs", []
    for days in range(FIRST_RUN_DAYS, SAMPLE_DAYS + 1):
        stage_sample_days(sample, inputs, FIRST_DAY + timedelta(days=days - 1))
        codes.append(run_command(daily, "--sample-dir", str(inputs), *flags))
    yield {
        "one_shot": one_shot,
        "one_shot_code": one_shot_code,
        "daily": daily,
        "codes": codes,
        "root": root,
        "flags": ["--sample-dir", str(root / "all_inputs"), *flags],
    }


def test_every_daily_run_exits_0_with_validation_on(spark: SparkSession, sample_runs: dict) -> None:
    assert sample_runs["one_shot_code"] == 0
    assert sample_runs["codes"] == [0, 0, 0]
    statuses = dict(_run_statuses(spark, sample_runs["daily"]))
    assert statuses["validate"] == "ok"
    # Each daily run validated the lake as it then was: three validations recorded, all passed.
    runs = _read(spark, sample_runs["daily"], "meta.runs").where(F.col("stage") == "validate")
    assert sorted(r["status"] for r in runs.select("status").collect()) == ["ok", "ok", "ok"]


def test_daily_runs_give_the_tables_of_one_run(spark: SparkSession, sample_runs: dict) -> None:
    assert_same_state(spark, sample_runs["daily"], sample_runs["one_shot"])


STAGE_COMMANDS = (
    "ingest",
    "backend",
    "identity",
    "journeys",
    "abandonment",
    "attribution",
    "rl",
    "reconcile",
    "validate",
    "report",
)


@pytest.mark.long
def test_the_stage_jobs_one_after_another_give_the_tables_of_one_run(spark: SparkSession, sample_runs: dict) -> None:
    """What the Databricks and Dataproc stage workflows do: each stage's job alone, in pipeline order."""
    lake, inputs = Path(sample_runs["root"]) / "stage_by_stage_lake", Path(sample_runs["root"]) / "all_inputs"
    codes = [cli.main([command, "--lake", str(lake), "--sample-dir", str(inputs)]) for command in STAGE_COMMANDS]
    assert codes == [0] * len(STAGE_COMMANDS)
    assert_same_state(spark, lake, sample_runs["one_shot"])


def test_the_run_report_lands_under_the_lake(sample_runs: dict) -> None:
    reports = Path(sample_runs["daily"]) / "reports"
    assert (reports / "run" / "index.html").is_file()
    assert (reports / "expectations" / "index.html").is_file()


# ---- a lake on GCS --------------------------------------------------------------------------------------------


def _table_version(spark: SparkSession, lake: str, name: str) -> int:
    layer, table = name.split(".")
    history = spark.sql(f"DESCRIBE HISTORY delta.`{table_path(lake, layer, table)}`")
    return int(history.agg(F.max("version")).first()[0])


def test_a_lake_on_gcs_holds_its_reports_and_a_rerun_changes_nothing(
    spark: SparkSession, sample_runs: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one-shot lake is on GCS (``--lake gs://...``); its tables equal the local daily lake's (above)."""
    lake, flags = sample_runs["one_shot"], sample_runs["flags"]
    assert lake.startswith("gs://")
    for report in ("run", "expectations"):
        assert lake_files.exists(spark, f"{lake}/reports/{report}/index.html"), report
    assert not lake_files.exists(spark, lock_uri(lake)), "the run left its lock behind"

    # A rerun over the same input: it exits 0, reads no new input, and no table's content changes.
    keyed = ("bronze.events", "silver.identity_map", "silver.sessions", "gold.user_journeys")
    versions = {name: _table_version(spark, lake, name) for name in keyed}
    digests = state_digests(spark, lake)
    assert run_command(lake, *flags) == 0
    assert {name: _table_version(spark, lake, name) for name in keyed} == versions
    assert state_digests(spark, lake) == digests

    # Another run holds the lake: a second run stops at once, names the holder and touches nothing.
    capsys.readouterr()
    with run_lock(spark, lake, "the-other-run"):
        assert run_command(lake, *flags) == cli.EXIT_NOT_STARTED
    err = capsys.readouterr().err
    assert "pipeline NOT started" in err and "locked by run the-other-run" in err, err
    assert {name: _table_version(spark, lake, name) for name in keyed} == versions


def test_the_gcs_lock_lets_exactly_one_of_two_writers_create_it(spark: SparkSession, gcs_bucket: str) -> None:
    """Create-if-absent on GCS is a generation precondition (ifGenerationMatch=0): the second create fails."""
    uri = f"{gcs_bucket}/lock-race/_run.lock"
    assert lake_files.create_exclusive(spark, uri, "first") is True
    assert lake_files.create_exclusive(spark, uri, "second") is False
    assert lake_files.read_text(spark, uri) == "first"


# ---- the real GA4 days -----------------------------------------------------------------------------------------

GA4_DAYS = [date(2020, 12, 19) + timedelta(days=i) for i in range(4)]
GA4_FIRST_RUN_DAYS = 2


@pytest.fixture(scope="module")
def ga4_runs(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("daily_ga4")
    salt = os.environ.get("JOURNEYLAKE_PII_SALT")
    os.environ["JOURNEYLAKE_PII_SALT"] = "daily-run-test-salt"
    try:

        def export_through(folder: Path, days: list[date]) -> Path:
            folder.mkdir(exist_ok=True)
            for day in days:
                name = f"events_{day:%Y%m%d}.parquet"
                if not (folder / name).exists():
                    (folder / name).symlink_to(GA4_SAMPLE_DIR / name)  # read in place, never copied
            return folder

        one_shot = root / "one_shot_lake"
        one_shot_code = run_command(one_shot, "--ga4", str(export_through(root / "all", GA4_DAYS)))
        daily, codes = root / "daily_lake", []
        for count in range(GA4_FIRST_RUN_DAYS, len(GA4_DAYS) + 1):
            codes.append(run_command(daily, "--ga4", str(export_through(root / "export", GA4_DAYS[:count]))))
        yield {"one_shot": one_shot, "one_shot_code": one_shot_code, "daily": daily, "codes": codes}
    finally:
        if salt is None:
            os.environ.pop("JOURNEYLAKE_PII_SALT", None)
        else:
            os.environ["JOURNEYLAKE_PII_SALT"] = salt


@pytest.mark.long
@requires_ga4_sample
def test_real_ga4_days_every_daily_run_exits_0(ga4_runs: dict) -> None:
    assert ga4_runs["one_shot_code"] == 0
    assert ga4_runs["codes"] == [0] * (len(GA4_DAYS) - GA4_FIRST_RUN_DAYS + 1)


@pytest.mark.long
@requires_ga4_sample
def test_real_ga4_daily_runs_give_the_tables_of_one_run(spark: SparkSession, ga4_runs: dict) -> None:
    assert_same_state(spark, ga4_runs["daily"], ga4_runs["one_shot"])


def test_staged_sample_days_hold_each_row_once(tmp_path: Path) -> None:
    """The daily layout itself: every touch of the sample lands in exactly one day's file, the backend holds
    the orders placed so far."""
    sample = tmp_path / "sample"
    params = SampleParams(seed=SEED, scale=0.05)
    generate_world(sample, params)
    inputs = tmp_path / "inputs"
    stage_sample_days(sample, inputs, FIRST_DAY + timedelta(days=9))
    assert pq.read_table(inputs / "backend" / "orders").num_rows < pq.read_table(sample / "backend" / "orders").num_rows
    stage_sample_days(sample, inputs, LAST_DAY)
    for folder, _ in DAILY_SOURCES:
        assert pq.read_table(inputs / folder).num_rows == pq.read_table(sample / folder).num_rows, folder
    assert (
        pq.read_table(inputs / "backend" / "orders").num_rows == pq.read_table(sample / "backend" / "orders").num_rows
    )
    assert len(list((inputs / "ga4").glob("*.parquet"))) == SAMPLE_DAYS
    assert json.loads((inputs / "manifest.json").read_text())["seed"] == SEED
