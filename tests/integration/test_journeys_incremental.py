"""The journeys stage over several runs equals one run over everything: late events, identity merges, reruns.

A tiny hand-built world, ingested in three batches:

- person 1 (device dA, plus an ad click known only by its gclid): a converting journey, an add to cart in the
  same minute as the purchase (a new journey), a visit 19 days later (a third journey after run 2), and in batch 3
  a *late* event dated between them that joins the last two journeys into one;
- person 100: devices dB and dC are two people in run 1 (dC is person 101) until identity merges them in run 2,
  mid-journey; device dD is unknown to identity in run 1 (a device-level person) and resolves to person 100 in
  run 2.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake.config import PipelineConfig
from journeylake.io.delta import overwrite_table, read_table, table_path
from journeylake.keys import key_of
from journeylake.schemas.bronze import BRONZE_AD_TOUCHPOINTS_SCHEMA, BRONZE_EVENTS_SCHEMA
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA, IDENTITY_MERGES_SCHEMA
from journeylake.stages import RunContext
from journeylake.stages import journeys as stage

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, 10, 0, 0)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
OUTPUTS = [
    ("silver", "sessions", ["session_id"]),
    ("gold", "journey_touchpoints", ["touchpoint_id"]),
    ("gold", "user_journeys", ["journey_id"]),
    ("gold", "journey_state_transitions", ["journey_id", "seq"]),
    ("gold", "users", ["canonical_user_id"]),
]


def event(batch: str, device: str, at: datetime, name: str = "page_view", **values: Any) -> tuple:
    micros = int((at - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    row: dict[str, Any] = {f.name: None for f in BRONZE_EVENTS_SCHEMA.fields}
    row.update(
        event_id=f"{device}-{name}-{micros}",
        source="ga4",
        event_date=at.date(),
        event_ts=at,
        event_ts_micros=micros,
        event_name=name,
        user_pseudo_id=device,
        device_key=0,  # replaced by its real key in bronze()
        is_duplicate_purchase=False,
        ingest_run_id=batch,
        ingested_at=at,
        traffic_source="(direct)",
        traffic_medium="(none)",
        channel="Direct",
        device_category="desktop",
    )
    row.update(values)
    return tuple(row[f.name] for f in BRONZE_EVENTS_SCHEMA.fields)


def visit(batch: str, device: str, at: datetime, *more: tuple[str, timedelta, dict]) -> list[tuple]:
    rows = [event(batch, device, at, "session_start"), event(batch, device, at, "page_view")]
    return rows + [event(batch, device, at + offset, name, **values) for name, offset, values in more]


def ad(batch: str, touch_id: str, at: datetime, interaction: str, device: str | None, gclid: str | None) -> tuple:
    row: dict[str, Any] = {f.name: None for f in BRONZE_AD_TOUCHPOINTS_SCHEMA.fields}
    row.update(
        touch_id=touch_id,
        touch_ts=at,
        interaction=interaction,
        channel="Paid Search",
        source="google",
        medium="cpc",
        campaign="spring",
        user_pseudo_id=device,
        gclid=gclid,
        cost=0.5,
        currency="EUR",
        touch_date=at.date(),
        record_hash=touch_id,
        ingest_run_id=batch,
        ingested_at=at,
    )
    return tuple(row[f.name] for f in BRONZE_AD_TOUCHPOINTS_SCHEMA.fields)


EVENTS = {
    "b1": [
        *visit("b1", "dA", T0, ("view_item", MINUTE, {"engagement_time_msec": 45_000})),
        *visit(
            "b1",
            "dA",
            T0 + DAY,
            ("purchase", 10 * timedelta(seconds=1), {"revenue": 80.0, "transaction_id": "t1"}),
            ("add_to_cart", 50 * timedelta(seconds=1), {}),  # same minute as the purchase: a new journey
        ),
        *visit("b1", "dB", T0 + HOUR),
        *visit("b1", "dC", T0 + DAY + 2 * HOUR, ("add_to_cart", MINUTE, {})),
        *visit("b1", "dD", T0 + 5 * HOUR),
    ],
    "b2": [
        *visit("b2", "dC", T0 + 3 * DAY),
        *visit("b2", "dB", T0 + 3 * DAY + HOUR, ("begin_checkout", MINUTE, {})),
        *visit("b2", "dD", T0 + 4 * DAY),
        *visit("b2", "dA", T0 + 20 * DAY),  # 19 days after the add to cart: a new journey, for now
    ],
    # Late: dated day 10, ingested after day 20 was processed; it joins the journeys of day 1 and day 20.
    "b3": visit("b3", "dA", T0 + 10 * DAY),
}
ADS = {
    "b1": [
        ad("b1", "imp-1", T0 - HOUR, "impression", "dA", None),
        ad("b1", "clk-1", T0 - 30 * MINUTE, "click", None, "g1"),  # resolved through its gclid
        ad("b1", "imp-x", T0, "impression", None, "unknown-gclid"),  # nobody: counted, kept out
    ],
    "b2": [],
    "b3": [],
}


def identity(run: int) -> list[tuple]:
    people = {"dA": 1, "dB": 100, "dC": 101}
    if run >= 2:
        people.update(dC=100, dD=100)
    rows = [("device", d, p) for d, p in people.items()] + [("gclid", "g1", 1)]
    return [(t, v, i, p, 1.0, "deterministic", T0, T0, None, f"identity-{run}") for i, (t, v, p) in enumerate(rows)]


MERGES = {2: [("run-2", 101, 100, "merge", "login", T0 + 21 * DAY)]}
AS_OF = {1: T0 + 2 * DAY, 2: T0 + 21 * DAY, 3: T0 + 40 * DAY}


def write_inputs(spark: SparkSession, lake: Path, batches: list[str], identity_run: int) -> None:
    events = spark.createDataFrame([r for b in batches for r in EVENTS[b]], BRONZE_EVENTS_SCHEMA).withColumn(
        "device_key", key_of("device", F.col("user_pseudo_id"))
    )
    ads = spark.createDataFrame([r for b in batches for r in ADS[b]], BRONZE_AD_TOUCHPOINTS_SCHEMA).withColumn(
        "device_key", key_of("device", F.col("user_pseudo_id"))
    )
    merges = [row for run, rows in MERGES.items() if run <= identity_run for row in rows]
    overwrite_table(events, table_path(lake, "bronze", "events"))
    overwrite_table(ads, table_path(lake, "bronze", "ad_touchpoints"))
    overwrite_table(
        spark.createDataFrame(identity(identity_run), IDENTITY_MAP_SCHEMA), table_path(lake, "silver", "identity_map")
    )
    overwrite_table(
        spark.createDataFrame(merges, IDENTITY_MERGES_SCHEMA), table_path(lake, "silver", "identity_merges")
    )


def run_stage(spark: SparkSession, lake: Path, run: int) -> stage.StageResult:
    config = PipelineConfig()
    config = replace(config, lake=replace(config.lake, root=str(lake)))
    return stage.run(RunContext(spark=spark, config=config, run_id=f"run-{run}", as_of=AS_OF[run]))


def outputs(spark: SparkSession, lake: Path) -> dict[str, DataFrame]:
    tables = {}
    for layer, name, _ in OUTPUTS:
        df = read_table(spark, table_path(lake, layer, name))
        tables[name] = df.drop("updated_run_id") if "updated_run_id" in df.columns else df
    return tables


@pytest.fixture(scope="module")
def lakes(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    daily, full = tmp_path_factory.mktemp("daily"), tmp_path_factory.mktemp("full")
    results = []
    for run, batches in ((1, ["b1"]), (2, ["b1", "b2"]), (3, ["b1", "b2", "b3"])):
        write_inputs(spark, daily, batches, identity_run=min(run, 2))
        results.append(run_stage(spark, daily, run))
    write_inputs(spark, full, ["b1", "b2", "b3"], identity_run=2)
    results.append(run_stage(spark, full, 3))
    return {"daily": daily, "full": full, "results": results}


def test_run_by_run_equals_one_run_over_everything(spark: SparkSession, lakes: dict[str, Any]) -> None:
    daily, full = outputs(spark, lakes["daily"]), outputs(spark, lakes["full"])
    for name, df in full.items():
        assert_df_equality(
            daily[name], df, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True, ignore_metadata=True
        )


def test_merged_devices_form_one_person_mid_journey(spark: SparkSession, lakes: dict[str, Any]) -> None:
    journeys = outputs(spark, lakes["daily"])["user_journeys"]
    people = sorted(r[0] for r in journeys.select("canonical_user_id").distinct().collect())
    assert people == [1, 100]  # nothing left under the merged-away 101 or the device-level id of dD
    (merged,) = journeys.where(F.col("canonical_user_id") == 100).collect()
    assert (merged["devices"], merged["sessions"], merged["current_state"], merged["status"]) == (
        3,
        6,
        "INTENT",
        "timed_out",
    )
    users = outputs(spark, lakes["daily"])["users"].where(F.col("canonical_user_id") == 100).first()
    assert users is not None and (users["devices"], users["active_runs"], users["journeys"]) == (3, 2, 1)


def test_the_late_event_joins_two_journeys(spark: SparkSession, lakes: dict[str, Any]) -> None:
    journeys = outputs(spark, lakes["daily"])["user_journeys"].where(F.col("canonical_user_id") == 1)
    got = [
        (r["journey_seq"], r["start_ts"], r["last_activity_ts"], r["status"], r["touchpoints"])
        for r in journeys.orderBy("journey_seq").collect()
    ]
    assert got == [
        (1, T0 - HOUR, T0 + DAY + 10 * timedelta(seconds=1), "converted", 6),
        (2, T0 + DAY + 50 * timedelta(seconds=1), T0 + 20 * DAY, "timed_out", 3),
    ]
    conversion = journeys.where(F.col("journey_seq") == 1).first()
    assert conversion is not None and (conversion["conversion_value"], conversion["spend"]) == (80.0, 1.0)


def test_run_counts_and_summary(lakes: dict[str, Any]) -> None:
    first, second, third, full = lakes["results"]
    assert first.details["ad_touches_unresolved"] == 1
    # Run 2: persons 1 and 100 (new events), 101 (merged away) and dD's device-level person (its previous owner).
    assert second.details["people_rebuilt"] == 4
    assert first.details["events_device_level_person"] == 2  # dD's two events before identity knew it
    assert third.details["people_rebuilt"] == 1  # only person 1 had new (late) events
    assert full.details["journeys_by_status"] == {"converted": 1, "timed_out": 2}
    assert full.details["journeys_by_state"] == {"CONVERTED": 1, "INTENT": 2}
    assert "journeys by status: open=0 converted=1 timed_out=2 abandoned=0; by state: UNAWARE=0 AWARE=0" in (
        full.summary_line()
    )


def test_rerunning_the_same_input_changes_nothing(spark: SparkSession, lakes: dict[str, Any]) -> None:
    daily = lakes["daily"]
    versions = {
        name: spark.sql(f"DESCRIBE HISTORY delta.`{table_path(daily, layer, name)}`").agg(F.max("version")).first()[0]
        for layer, name, _ in OUTPUTS
    }
    again = run_stage(spark, daily, 3)
    assert again.details["people_rebuilt"] == 0
    after = {
        name: spark.sql(f"DESCRIBE HISTORY delta.`{table_path(daily, layer, name)}`").agg(F.max("version")).first()[0]
        for layer, name, _ in OUTPUTS
    }
    assert after == versions
