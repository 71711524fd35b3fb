"""Journey assignment, statuses and the state machine, on tiny hand-built touch streams."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from journeylake.config import JourneyConfig
from journeylake.journeys import (
    TRIGGER_CONFIDENCE,
    TRIGGER_TARGET_STATE,
    assign_journeys,
    expire_journeys,
    journey_touchpoints,
    state_transitions,
    summarize_journeys,
    summarize_users,
    trigger_rank,
    visit_touches,
)
from journeylake.schemas.journeys import STATE_RANK, TOUCHES_SCHEMA, USER_JOURNEYS_SCHEMA

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 1, 12, 0, 0)
CONFIG = JourneyConfig()
INTERACTION_OF = {
    "purchase": "conversion",
    "product_view": "engagement",
    "add_to_cart": "engagement",
    "checkout": "engagement",
    "sign_up": "engagement",
    "engagement": "visit",
}


def touch(user: int, at: datetime, trigger: str = "visit", tid: str | None = None, **values: Any) -> tuple:
    micros = int((at - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    row: dict[str, Any] = {f.name: None for f in TOUCHES_SCHEMA.fields}
    interaction = INTERACTION_OF.get(trigger, trigger)
    row.update(
        touchpoint_id=tid or f"{user}-{trigger}-{micros}",
        canonical_user_id=user,
        touch_micros=micros,
        touch_ts=at,
        source="ads" if interaction in ("impression", "click") else "ga4",
        channel="Paid Search",
        interaction_type=interaction,
        trigger=trigger,
        cost=0.0,
        device_key=user * 10,
        session_id=f"s-{micros}" if interaction == "visit" else None,
        is_conversion=trigger == "purchase",
        conversion_value=50.0 if trigger == "purchase" else None,
    )
    row.update(values)
    return tuple(row[f.name] for f in TOUCHES_SCHEMA.fields)


def touches(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, TOUCHES_SCHEMA)


def journeys_of(
    spark: SparkSession, rows: list[tuple], config: JourneyConfig = CONFIG, as_of: datetime | None = None
) -> list[dict]:
    assigned = assign_journeys(touches(spark, rows), config)
    out = summarize_journeys(assigned, config, as_of or T0 + timedelta(days=400), "run-1")
    return [r.asDict() for r in out.orderBy("canonical_user_id", "journey_seq").collect()]


def positions(spark: SparkSession, rows: list[tuple], config: JourneyConfig = CONFIG) -> dict[str, tuple[int, int]]:
    """touchpoint_id -> (journey_seq, position)."""
    assigned = assign_journeys(touches(spark, rows), config)
    return {r["touchpoint_id"]: (r["journey_no"], r["position"]) for r in assigned.collect()}


def test_a_touch_exactly_fourteen_days_later_starts_a_new_journey(spark: SparkSession) -> None:
    rows = [
        touch(1, T0, tid="a"),
        touch(1, T0 + timedelta(days=14) - timedelta(microseconds=1), tid="b"),  # just inside: same journey
        touch(1, T0 + timedelta(days=28) - timedelta(microseconds=1), tid="c"),  # exactly 14 days after b
    ]
    assert positions(spark, rows) == {"a": (1, 1), "b": (1, 2), "c": (2, 1)}


def test_the_journey_timeout_is_configurable(spark: SparkSession) -> None:
    rows = [touch(1, T0, tid="a"), touch(1, T0 + timedelta(days=3), tid="b")]
    assert positions(spark, rows, JourneyConfig(journey_timeout_days=3)) == {"a": (1, 1), "b": (2, 1)}


def test_status_times_out_exactly_at_timeout_at(spark: SparkSession) -> None:
    rows = [touch(1, T0, tid="a")]
    deadline = T0 + timedelta(days=14)
    (before,) = journeys_of(spark, rows, as_of=deadline - timedelta(microseconds=1))
    (at,) = journeys_of(spark, rows, as_of=deadline)
    assert (before["status"], before["end_ts"], before["close_reason"], before["timeout_at"]) == (
        "open",
        None,
        None,
        deadline,
    )
    assert (at["status"], at["end_ts"], at["close_reason"]) == ("timed_out", T0, "inactivity")


def test_a_conversion_closes_the_journey_and_the_next_touch_the_same_minute_starts_another(
    spark: SparkSession,
) -> None:
    rows = [
        touch(1, T0, tid="visit"),
        touch(1, T0 + timedelta(seconds=10), "purchase", tid="buy", transaction_id="t1"),
        touch(1, T0 + timedelta(seconds=10), "add_to_cart", tid="same-instant"),  # sorts before the conversion
        touch(1, T0 + timedelta(seconds=40), tid="after"),  # same minute, after the conversion
    ]
    assert positions(spark, rows) == {"visit": (1, 1), "same-instant": (1, 2), "buy": (1, 3), "after": (2, 1)}
    first, second = journeys_of(spark, rows, as_of=T0 + timedelta(minutes=1))
    assert (first["status"], first["current_state"], first["conversion_value"], first["transaction_id"]) == (
        "converted",
        "CONVERTED",
        50.0,
        "t1",
    )
    assert (first["end_ts"], first["close_reason"]) == (T0 + timedelta(seconds=10), "conversion")
    assert (second["status"], second["current_state"], second["journey_seq"]) == ("open", "AWARE", 2)


def test_two_conversions_in_the_same_microsecond_are_two_journeys(spark: SparkSession) -> None:
    rows = [touch(1, T0, "purchase", tid="p1"), touch(1, T0, "purchase", tid="p2")]
    assert positions(spark, rows) == {"p1": (1, 1), "p2": (2, 1)}


def test_continuous_activity_is_cut_at_the_maximum_journey_duration(spark: SparkSession) -> None:
    # A touch every 10 days for 200 days never times out; slices of 90 days from the first touch cut it.
    rows = [touch(1, T0 + timedelta(days=10 * i), tid=f"t{i:02d}") for i in range(21)]
    got = positions(spark, rows)
    assert {tid for tid, (j, _) in got.items() if j == 1} == {f"t{i:02d}" for i in range(9)}  # days 0..80
    assert got["t09"] == (2, 1) and got["t18"] == (3, 1)  # day 90 and day 180 open new journeys
    journeys = journeys_of(spark, rows, as_of=T0 + timedelta(days=201))
    assert [j["status"] for j in journeys] == ["timed_out", "timed_out", "open"]
    assert [j["close_reason"] for j in journeys] == ["max_duration", "max_duration", None]
    assert journeys[0]["max_end_at"] == T0 + timedelta(days=90)
    assert all(j["last_activity_ts"] - j["start_ts"] < timedelta(days=90) for j in journeys)


def test_ties_sort_by_interaction_then_id_whatever_the_input_order(spark: SparkSession) -> None:
    rows = [
        touch(1, T0, "visit", tid="v"),
        touch(1, T0, "impression", tid="i2"),
        touch(1, T0, "impression", tid="i1"),
        touch(1, T0, "click", tid="c"),
    ]
    expected = {"i1": (1, 1), "i2": (1, 2), "c": (1, 3), "v": (1, 4)}
    assert positions(spark, rows) == expected
    assert positions(spark, rows[::-1]) == expected


def test_state_machine_rises_monotonically_and_records_each_transition(spark: SparkSession) -> None:
    rows = [
        touch(1, T0, "impression", tid="imp"),
        touch(1, T0 + timedelta(hours=1), "visit", tid="visit"),  # AWARE already: no transition
        touch(1, T0 + timedelta(hours=2), "add_to_cart", tid="cart"),  # straight to INTENT
        touch(1, T0 + timedelta(hours=3), "product_view", tid="view"),  # lower target: no regression
        touch(1, T0 + timedelta(hours=4), "purchase", tid="buy"),
        touch(1, T0 + timedelta(days=2), "engagement", tid="next"),  # new journey: from UNAWARE again
    ]
    assigned = assign_journeys(touches(spark, rows), CONFIG)
    got = [
        (r["touchpoint_id"], r["seq"], r["from_state"], r["to_state"], r["trigger"], r["confidence"])
        for r in state_transitions(assigned).orderBy("transition_ts").collect()
    ]
    assert got == [
        ("imp", 1, "UNAWARE", "AWARE", "impression", 1.0),
        ("cart", 2, "AWARE", "INTENT", "add_to_cart", 1.0),
        ("buy", 3, "INTENT", "CONVERTED", "purchase", 1.0),
        ("next", 1, "UNAWARE", "CONSIDERING", "engagement", 0.7),
    ]
    states = {r["touchpoint_id"]: r["state"] for r in journey_touchpoints(assigned).collect()}
    assert states == {
        "imp": "AWARE",
        "visit": "AWARE",
        "cart": "INTENT",
        "view": "INTENT",
        "buy": "CONVERTED",
        "next": "CONSIDERING",
    }


def test_every_trigger_maps_to_its_target_state(spark: SparkSession) -> None:
    triggers = sorted(TRIGGER_TARGET_STATE)
    df = spark.createDataFrame([(t,) for t in triggers], "trigger string")
    got = {
        r["trigger"]: r["rank"] for r in df.select("trigger", trigger_rank(F.col("trigger")).alias("rank")).collect()
    }
    expected = {t: STATE_RANK[s] if s else 0 for t, s in TRIGGER_TARGET_STATE.items()}
    assert got == expected
    assert expected == {
        "impression": 1,
        "click": 1,
        "visit": 1,
        "engagement": 2,
        "product_view": 2,
        "add_to_cart": 3,
        "checkout": 3,
        "sign_up": 3,
        "purchase": 4,
        "competitor_exposure": 0,
    }
    assert TRIGGER_CONFIDENCE["engagement"] < 1.0
    assert all(c == 1.0 for t, c in TRIGGER_CONFIDENCE.items() if t != "engagement")


def test_people_are_independent_and_journey_ids_deterministic(spark: SparkSession) -> None:
    rows = [touch(1, T0, tid="x"), touch(2, T0 + timedelta(minutes=1), tid="y"), touch(2, T0, "purchase", tid="z")]
    first = journeys_of(spark, rows)
    again = journeys_of(spark, rows[::-1])
    assert [j["journey_id"] for j in first] == [j["journey_id"] for j in again]
    assert [(j["canonical_user_id"], j["journey_seq"], j["touchpoints"]) for j in first] == [
        (1, 1, 1),
        (2, 1, 1),
        (2, 2, 1),
    ]


def test_a_journey_resumed_before_its_timeout_continues_whatever_was_said_of_it_meanwhile(spark: SparkSession) -> None:
    # Abandonment is a status as of a run, not an end: the touches alone decide the journeys, so a daily run that
    # saw the journey idle for days (abandoned) and a run over everything at once agree.
    rows = [
        touch(1, T0, tid="a"),
        touch(1, T0 + timedelta(days=5), tid="b"),
        touch(1, T0 + timedelta(days=5, hours=1), tid="c"),
    ]
    assigned = assign_journeys(touches(spark, rows), CONFIG)
    got = {r["touchpoint_id"]: (r["journey_no"], r["position"]) for r in assigned.collect()}
    assert got == {"a": (1, 1), "b": (1, 2), "c": (1, 3)}
    journeys = summarize_journeys(assigned, CONFIG, T0 + timedelta(days=6), "run-1").collect()
    assert [(r["status"], r["abandon_reason"]) for r in journeys] == [("open", None)]


def test_expiry_times_out_abandoned_journeys_too_and_keeps_their_reason(spark: SparkSession) -> None:
    assigned = assign_journeys(touches(spark, [touch(1, T0, tid="a")]), CONFIG)
    stored = summarize_journeys(assigned, CONFIG, T0 + timedelta(days=4), "run-1").withColumns(
        {"status": F.lit("abandoned"), "abandon_reason": F.lit("inactive")}
    )
    just_before = expire_journeys(stored, T0 + timedelta(days=14) - timedelta(microseconds=1), "run-2")
    assert just_before.count() == 0
    (expired,) = expire_journeys(stored, T0 + timedelta(days=14), "run-2").collect()
    assert (expired["status"], expired["abandon_reason"], expired["end_ts"]) == ("timed_out", "inactive", T0)


def test_journey_summary_counts_spend_sessions_and_devices(spark: SparkSession) -> None:
    rows = [
        touch(1, T0, "click", tid="ad", cost=1.25, device_key=None),
        touch(1, T0 + timedelta(minutes=1), tid="v1", device_key=10, engagement_score=0.5),
        touch(1, T0 + timedelta(hours=5), tid="v2", device_key=11, engagement_score=0.25),
    ]
    (j,) = journeys_of(spark, rows, as_of=T0 + timedelta(days=1))
    assert (j["touchpoints"], j["sessions"], j["devices"], j["spend"], j["engagement_score"]) == (3, 2, 2, 1.25, 0.375)
    assert (j["start_ts"], j["last_activity_ts"], j["timeout_at"]) == (
        T0,
        T0 + timedelta(hours=5),
        T0 + timedelta(days=14, hours=5),
    )


def test_expiring_stored_journeys_matches_a_rebuild(spark: SparkSession) -> None:
    rows = [touch(1, T0, tid="a"), touch(2, T0 + timedelta(days=10), tid="b")]
    assigned = assign_journeys(touches(spark, rows), CONFIG)
    later = T0 + timedelta(days=15)
    stored = summarize_journeys(assigned, CONFIG, T0 + timedelta(days=11), "run-1")
    expired = expire_journeys(stored, later, "run-2")
    rebuilt = summarize_journeys(assigned, CONFIG, later, "run-2").where(F.col("canonical_user_id") == 1)
    assert_df_equality(expired, rebuilt, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def test_visits_fire_the_score_based_trigger_at_both_thresholds(spark: SparkSession) -> None:
    sessions = spark.createDataFrame(
        [("s1", 30.0, 3), ("s2", 29.999, 3), ("s3", 30.0, 2)],
        "session_id string, engagement_seconds double, page_views int",
    ).select(
        "session_id",
        "engagement_seconds",
        "page_views",
        F.lit(1).cast("long").alias("canonical_user_id"),
        F.lit(0).cast("long").alias("session_start_micros"),
        F.lit(T0).alias("session_start_ts"),
        F.lit("Direct").alias("channel"),
        F.lit(None).cast("string").alias("traffic_source"),
        F.lit(None).cast("string").alias("traffic_medium"),
        F.lit(None).cast("string").alias("campaign"),
        F.lit(1).cast("long").alias("device_key"),
        F.lit("mobile").alias("device_category"),
        F.lit(0.5).alias("engagement_score"),
    )
    got = {r["touchpoint_id"]: r["trigger"] for r in visit_touches(sessions, CONFIG).collect()}
    assert got == {"s1": "engagement", "s2": "visit", "s3": "visit"}


def test_users_rollup(spark: SparkSession) -> None:
    journeys = spark.createDataFrame(
        [
            ("j1", 1, 1, "converted", "CONVERTED", 40.0, 2.0),
            ("j2", 1, 2, "open", "AWARE", None, 0.5),
            ("j3", 2, 1, "timed_out", "INTENT", None, 0.0),
        ],
        "journey_id string, canonical_user_id long, journey_seq int, status string, current_state string, "
        "conversion_value double, spend double",
    )
    activity = spark.createDataFrame(
        [
            (1, 10, T0, "b1"),
            (1, 11, T0 + timedelta(days=3), "b2"),
            (1, 11, T0 + timedelta(days=1), "b2"),
            (2, 20, T0, "b1"),
        ],
        "canonical_user_id long, device_key long, activity_ts timestamp, ingest_run_id string",
    )
    identifiers = spark.createDataFrame([(1, 4)], "canonical_user_id long, identifiers long")
    got = {r["canonical_user_id"]: r.asDict() for r in summarize_users(journeys, activity, identifiers, "r").collect()}
    one, two = got[1], got[2]
    assert (one["current_journey_id"], one["current_state"], one["journeys"], one["conversions"]) == (
        "j2",
        "AWARE",
        2,
        1,
    )
    assert (one["revenue"], one["spend"], one["devices"], one["active_runs"], one["identifiers"]) == (
        40.0,
        2.5,
        2,
        2,
        4,
    )
    assert (one["first_seen_ts"], one["last_seen_ts"]) == (T0, T0 + timedelta(days=3))
    assert (two["conversions"], two["revenue"], two["identifiers"], two["current_state"]) == (0, 0.0, 0, "INTENT")


def test_summary_matches_the_contract(spark: SparkSession) -> None:
    out = summarize_journeys(assign_journeys(touches(spark, [touch(1, T0)]), CONFIG), CONFIG, T0, "r")
    assert [f.name for f in out.schema.fields] == USER_JOURNEYS_SCHEMA.fieldNames()
