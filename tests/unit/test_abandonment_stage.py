"""The abandonment and RL stage runners on a tiny lake: what they write, and that a rerun changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from test_abandonment import AS_OF, DAY, HOUR, journey, row_of, touch, transition

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import merge_table, read_table, table_path
from journeylake.schemas.bronze import BRONZE_EVENTS_SCHEMA
from journeylake.schemas.journeys import (
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    USER_JOURNEYS_SCHEMA,
)
from journeylake.schemas.sources import AD_COST_DAILY_SCHEMA, COMPETITOR_EXPOSURES_SCHEMA
from journeylake.stages import RunContext, abandonment, rl

pytestmark = pytest.mark.integration

OUTPUTS = [
    ("gold", "user_journeys"),
    ("gold", "journey_abandonments"),
    ("gold", "journey_scores"),
    ("gold", "conversion_model"),
    ("gold", "funnel_daily"),
    ("gold", "cart_abandonment_daily"),
    ("gold", "competitor_exposures"),
    ("gold", "competitor_impact"),
    ("gold", "rl_transitions"),
    ("gold", "journey_recommendations"),
]
IDLE = AS_OF - 80 * HOUR


def _event(event_id: str, name: str, session: str, offset: timedelta) -> dict[str, Any]:
    ts = AS_OF - DAY + offset
    return {
        "event_id": event_id,
        "source": "ga4",
        "event_date": ts.date(),
        "event_ts": ts,
        "event_ts_micros": 0,
        "event_name": name,
        "event_seq": 1,
        "user_pseudo_id": "d1",
        "device_key": 1,
        "source_session_id": session,
        "channel": "Organic Search",
        "is_duplicate_purchase": False,
        "ingest_run_id": "i1",
        "ingested_at": AS_OF,
    }


def _build_lake(spark: SparkSession, lake: Path) -> None:
    def write(layer: str, table: str, rows: list[Any], schema: Any) -> None:
        df = spark.createDataFrame(rows, schema)
        merge_table(spark, df, table_path(lake, layer, table), keys=[df.columns[0]])

    write(
        "gold",
        "user_journeys",
        [
            journey("ja", "CONSIDERING", IDLE, start=IDLE - 2 * DAY, spend=40.0, user=1),  # inactive
            journey("jb", "AWARE", AS_OF - 2 * HOUR, start=AS_OF - DAY, user=2),  # stays open
            journey(
                "jc", "AWARE", AS_OF - 20 * DAY, status="timed_out", start=AS_OF - 21 * DAY, end=AS_OF - 6 * DAY, user=3
            ),
            journey(
                "jd",
                "CONVERTED",
                AS_OF - 3 * DAY,
                status="converted",
                start=AS_OF - 4 * DAY,
                end=AS_OF - 3 * DAY,
                conversion_ts=AS_OF - 3 * DAY,
                conversion_value=80.0,
                user=4,
            ),
        ],
        USER_JOURNEYS_SCHEMA,
    )
    write(
        "gold",
        "journey_touchpoints",
        [
            touch("ja", 1, IDLE - 2 * DAY, "click", "Paid Search", "c1", cost=40.0),
            touch("ja", 2, IDLE, "visit", "Organic Search"),
            touch("jb", 1, AS_OF - DAY, "impression", "Display", cost=1.0),
            touch("jb", 2, AS_OF - 2 * HOUR, "click", "Display", cost=2.0),
            touch("jc", 1, AS_OF - 21 * DAY, "click", "Display", cost=3.0),
            touch("jc", 2, AS_OF - 20 * DAY, "visit", "Display"),
            touch("jd", 1, AS_OF - 4 * DAY, "click", "Display", cost=5.0),
            touch("jd", 2, AS_OF - 3 * DAY, "conversion", "Display", value=80.0),
        ],
        JOURNEY_TOUCHPOINTS_SCHEMA,
    )
    write(
        "gold",
        "journey_state_transitions",
        [
            transition("ja", 1, "UNAWARE", "AWARE", IDLE - 2 * DAY),
            transition("ja", 2, "AWARE", "CONSIDERING", IDLE),
            transition("jb", 1, "UNAWARE", "AWARE", AS_OF - DAY),
            transition("jc", 1, "UNAWARE", "AWARE", AS_OF - 21 * DAY),
            transition("jd", 1, "UNAWARE", "AWARE", AS_OF - 4 * DAY),
            transition("jd", 2, "AWARE", "CONVERTED", AS_OF - 3 * DAY),
        ],
        JOURNEY_STATE_TRANSITIONS_SCHEMA,
    )
    events = [
        _event("e1", "page_view", "s1", timedelta(0)),
        _event("e2", "view_item", "s1", HOUR),
        _event("e3", "add_to_cart", "s1", 2 * HOUR),
        _event("e4", "page_view", "s2", 3 * HOUR),
    ]
    write(
        "bronze",
        "events",
        [row_of(BRONZE_EVENTS_SCHEMA, **e) for e in events],
        BRONZE_EVENTS_SCHEMA,
    )
    write(
        "bronze",
        "competitor_exposures",
        [("x1", AS_OF - 3 * HOUR, "rival", "Display", "dev-b"), ("x2", AS_OF - HOUR, "rival", "Display", "stranger")],
        COMPETITOR_EXPOSURES_SCHEMA,
    )
    write(
        "silver",
        "identity_map",
        [("dev-b", "device", 2)],
        "id_value string, id_type string, canonical_user_id long",
    )
    write("bronze", "ad_cost_daily", [(IDLE.date(), "Paid Search", "c1", 10.0, 100.0, "USD")], AD_COST_DAILY_SCHEMA)


def _snapshot(spark: SparkSession, lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every output table's rows, sorted: small tables only (test data)."""
    snapshot = {}
    for layer, table in OUTPUTS:
        df = read_table(spark, table_path(lake, layer, table))
        snapshot[table] = sorted((tuple(str(v) for v in row) for row in df.collect()), key=str)
    return snapshot


def test_stages_write_the_contract_and_a_rerun_with_the_same_as_of_changes_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    _build_lake(spark, lake)
    config = with_overrides(PipelineConfig(), **{"lake.root": str(lake)})

    first = RunContext(spark=spark, config=config, run_id="run-1", as_of=AS_OF)
    for runner in (abandonment.run, rl.run):
        result = runner(first)
        assert not result.failed, result.message
    after_first = _snapshot(spark, lake)

    journeys = {r["journey_id"]: r for r in read_table(spark, table_path(lake, "gold", "user_journeys")).collect()}
    # ja ended when its stall began: 72 h of inactivity after its last touch (a time the data defines).
    assert (journeys["ja"]["status"], journeys["ja"]["abandon_reason"], journeys["ja"]["end_ts"]) == (
        "abandoned",
        "inactive",
        IDLE + 72 * HOUR,
    )
    assert (journeys["jc"]["status"], journeys["jc"]["abandon_reason"], journeys["jc"]["end_ts"]) == (
        "timed_out",
        "timed_out",
        AS_OF - 6 * DAY,
    )
    assert (journeys["jb"]["status"], journeys["jb"]["abandon_reason"]) == ("open", None)
    assert journeys["jb"]["updated_run_id"] == "r0"  # only the abandonment columns are touched

    penalties = {
        r["journey_id"]: r for r in read_table(spark, table_path(lake, "gold", "journey_abandonments")).collect()
    }
    assert sorted(penalties) == ["ja", "jc"]
    # ja: spend 40, CONSIDERING, 2 days active, expected value 80 (the one converted journey):
    # (0.15*40 + 0.5*80) * (1 + 0.01*2) * 1.0 = 46 * 1.02 = 46.92
    assert penalties["ja"]["expected_value"] == pytest.approx(80.0)
    assert penalties["ja"]["penalty_amount"] == pytest.approx(46.92)

    exposures = {
        r["exposure_id"]: (r["journey_id"], r["match_status"])
        for r in read_table(spark, table_path(lake, "gold", "competitor_exposures")).collect()
    }
    assert exposures == {"x1": ("jb", "matched"), "x2": (None, "unknown_device")}

    recommended = read_table(spark, table_path(lake, "gold", "journey_recommendations")).collect()
    assert [(r["journey_id"], r["basis"]) for r in recommended] == [("jb", "insufficient_support")]
    assert read_table(spark, table_path(lake, "gold", "rl_transitions")).where("done").count() == 3  # ja, jc, jd

    second = RunContext(spark=spark, config=config, run_id="run-2", as_of=AS_OF)
    for runner in (abandonment.run, rl.run):
        assert not runner(second).failed
    assert _snapshot(spark, lake) == after_first


def test_statuses_are_recomputed_as_of_now_so_an_earlier_run_changes_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    # The cadence rule at stage level: what an earlier run said (ja and jb abandoned days before) is never
    # carried over; the run at AS_OF gives exactly what a first run at AS_OF gives.
    once, twice = tmp_path / "once", tmp_path / "twice"
    for lake in (once, twice):
        _build_lake(spark, lake)

    def run_at(lake: Path, as_of: datetime, run_id: str) -> None:
        config = with_overrides(PipelineConfig(), **{"lake.root": str(lake)})
        context = RunContext(spark=spark, config=config, run_id=run_id, as_of=as_of)
        for runner in (abandonment.run, rl.run):
            assert not runner(context).failed

    run_at(twice, AS_OF + 4 * DAY, "run-later")  # a status said at another as-of...
    later = {
        r["journey_id"]: r["status"] for r in read_table(spark, table_path(twice, "gold", "user_journeys")).collect()
    }
    assert later["jb"] == "abandoned"  # by then: exposed to a competitor, no progress since, and stalled
    run_at(twice, AS_OF, "run-2")  # ...is not what the run at AS_OF says
    run_at(once, AS_OF, "run-2")
    assert _snapshot(spark, twice) == _snapshot(spark, once)
