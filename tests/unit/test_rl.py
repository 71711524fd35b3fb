"""RL transitions checked field by field on small journeys, and the tabular next-channel recommendation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from journeylake.rl import journey_recommendations, rl_transitions
from journeylake.schemas.abandonment import JOURNEY_RECOMMENDATIONS_SCHEMA, RL_TRANSITIONS_SCHEMA
from journeylake.schemas.journeys import (
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    USER_JOURNEYS_SCHEMA,
)

pytestmark = pytest.mark.unit

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
S1 = datetime(2024, 3, 1)
S2 = datetime(2024, 3, 5)
S3 = datetime(2024, 3, 10)
AS_OF = datetime(2024, 3, 12)

TYPE_DEFAULTS: dict[type, Any] = {
    T.StringType: "",
    T.IntegerType: 0,
    T.LongType: 0,
    T.DoubleType: 0.0,
    T.BooleanType: False,
    T.TimestampType: S1,
    T.DateType: S1.date(),
}


def row_of(schema: T.StructType, **values: Any) -> tuple[Any, ...]:
    """A tuple in ``schema``'s column order from named values; unnamed columns get null or a type default."""
    unknown = set(values) - set(schema.fieldNames())
    assert not unknown, f"not in the schema: {unknown}"
    return tuple(
        values[f.name] if f.name in values else (None if f.nullable else TYPE_DEFAULTS[type(f.dataType)])
        for f in schema.fields
    )


def journey(journey_id: str, status: str, state: str, start: datetime, user: int) -> tuple[Any, ...]:
    return row_of(
        USER_JOURNEYS_SCHEMA,
        journey_id=journey_id,
        canonical_user_id=user,
        start_ts=start,
        last_activity_ts=start,
        timeout_at=start + 14 * DAY,
        status=status,
        current_state=state,
        engagement_score=3.5,
        updated_run_id="r0",
    )


def touch(
    journey_id: str,
    position: int,
    ts: datetime,
    interaction: str,
    channel: str,
    cost: float = 0.0,
    value: float | None = None,
) -> tuple[Any, ...]:
    return row_of(
        JOURNEY_TOUCHPOINTS_SCHEMA,
        touchpoint_id=f"{journey_id}-{position}",
        journey_id=journey_id,
        touch_ts=ts,
        touch_date=ts.date(),
        position=position,
        channel=channel,
        interaction_type=interaction,
        cost=cost,
        is_conversion=interaction == "conversion",
        conversion_value=value,
    )


def transition(journey_id: str, seq: int, from_state: str, to_state: str, ts: datetime) -> tuple[Any, ...]:
    return row_of(
        JOURNEY_STATE_TRANSITIONS_SCHEMA,
        journey_id=journey_id,
        seq=seq,
        from_state=from_state,
        to_state=to_state,
        trigger="rule",
        transition_ts=ts,
        confidence=1.0,
    )


def expected_row(**values: Any) -> tuple[Any, ...]:
    return row_of(RL_TRANSITIONS_SCHEMA, **values)


def test_rl_transitions_field_by_field(spark: SparkSession) -> None:
    journeys = spark.createDataFrame(
        [
            journey("j1", "converted", "CONVERTED", S1, 1),
            journey("j2", "abandoned", "AWARE", S2, 2),
            journey("j3", "open", "AWARE", S3, 3),
        ],
        USER_JOURNEYS_SCHEMA,
    )
    touches = spark.createDataFrame(
        [
            # j1, given out of order: impression, click, visit, conversion
            touch("j1", 3, S1 + 2 * DAY + 12 * HOUR, "visit", "Organic Search"),
            touch("j1", 1, S1, "impression", "Display", cost=2.0),
            touch("j1", 4, S1 + 3 * DAY, "conversion", "Direct", value=120.0),
            touch("j1", 2, S1 + DAY, "click", "Paid Search", cost=1.5),
            # j2: positions with a gap still give steps 1 and 2
            touch("j2", 10, S2, "impression", "Display", cost=1.0),
            touch("j2", 20, S2 + 6 * HOUR, "click", "Display", cost=2.0),
            touch("j3", 1, S3, "visit", "Organic Search"),
        ],
        JOURNEY_TOUCHPOINTS_SCHEMA,
    )
    transitions = spark.createDataFrame(
        [
            transition("j1", 1, "UNAWARE", "AWARE", S1),
            transition("j1", 2, "AWARE", "CONSIDERING", S1 + 2 * DAY + 12 * HOUR),
            transition("j1", 3, "CONSIDERING", "CONVERTED", S1 + 3 * DAY),
            transition("j2", 1, "UNAWARE", "AWARE", S2),
            transition("j3", 1, "UNAWARE", "AWARE", S3),
        ],
        JOURNEY_STATE_TRANSITIONS_SCHEMA,
    )
    exposures = spark.createDataFrame(
        [
            ("j1", S1 + DAY + 12 * HOUR, "matched"),  # between the click and the visit
            ("j3", S3 + DAY, "matched"),  # after j3's only touch, before as-of
            ("j2", S2, "no_journey"),  # not tied: ignored
        ],
        "journey_id string, exposure_ts timestamp, match_status string",
    )
    abandonments = spark.createDataFrame([("j2", 10.0)], "journey_id string, penalty_amount double")

    got = rl_transitions(journeys, touches, transitions, exposures, abandonments, AS_OF)

    display1 = [("Display", 1)]
    display_paid = [("Display", 1), ("Paid Search", 1)]
    three = [("Display", 1), ("Organic Search", 1), ("Paid Search", 1)]
    per_journey = {j: {"engagement_score": 3.5, "canonical_user_id": u} for j, u in (("j1", 1), ("j2", 2), ("j3", 3))}
    expected = spark.createDataFrame(
        [
            # j1 step 1: nothing seen yet; the impression moves UNAWARE -> AWARE; reward = -cost
            expected_row(
                journey_id="j1",
                step=1,
                touchpoint_id="j1-1",
                touch_ts=S1,
                **per_journey["j1"],
                state="UNAWARE",
                days_since_start=0.0,
                touches_so_far=0,
                channel_counts=[],
                competitor_exposed=False,
                action_channel="Display",
                action_interaction="impression",
                action_cost=2.0,
                reward=-2.0,
                next_state="AWARE",
                next_days_since_start=1.0,
                next_touches_so_far=1,
                next_channel_counts=display1,
                next_competitor_exposed=False,
                done=False,
                journey_status="converted",
            ),
            # step 2: the exposure (day 1.5) comes after the click (day 1) but before the next touch (day 2.5)
            expected_row(
                journey_id="j1",
                step=2,
                touchpoint_id="j1-2",
                touch_ts=S1 + DAY,
                **per_journey["j1"],
                state="AWARE",
                days_since_start=1.0,
                touches_so_far=1,
                channel_counts=display1,
                competitor_exposed=False,
                action_channel="Paid Search",
                action_interaction="click",
                action_cost=1.5,
                reward=-1.5,
                next_state="AWARE",
                next_days_since_start=2.5,
                next_touches_so_far=2,
                next_channel_counts=display_paid,
                next_competitor_exposed=True,
                done=False,
                journey_status="converted",
            ),
            # step 3: the visit's own transition (same instant) is its effect: next state CONSIDERING
            expected_row(
                journey_id="j1",
                step=3,
                touchpoint_id="j1-3",
                touch_ts=S1 + 2 * DAY + 12 * HOUR,
                **per_journey["j1"],
                state="AWARE",
                days_since_start=2.5,
                touches_so_far=2,
                channel_counts=display_paid,
                competitor_exposed=True,
                action_channel="Organic Search",
                action_interaction="visit",
                action_cost=0.0,
                reward=0.0,
                next_state="CONSIDERING",
                next_days_since_start=3.0,
                next_touches_so_far=3,
                next_channel_counts=three,
                next_competitor_exposed=True,
                done=False,
                journey_status="converted",
            ),
            # step 4: conversion: reward = value - cost = 120; done, so no next state
            expected_row(
                journey_id="j1",
                step=4,
                touchpoint_id="j1-4",
                touch_ts=S1 + 3 * DAY,
                **per_journey["j1"],
                state="CONSIDERING",
                days_since_start=3.0,
                touches_so_far=3,
                channel_counts=three,
                competitor_exposed=True,
                action_channel="Direct",
                action_interaction="conversion",
                action_cost=0.0,
                reward=120.0,
                done=True,
                journey_status="converted",
            ),
            expected_row(
                journey_id="j2",
                step=1,
                touchpoint_id="j2-10",
                touch_ts=S2,
                **per_journey["j2"],
                state="UNAWARE",
                days_since_start=0.0,
                touches_so_far=0,
                channel_counts=[],
                competitor_exposed=False,
                action_channel="Display",
                action_interaction="impression",
                action_cost=1.0,
                reward=-1.0,
                next_state="AWARE",
                next_days_since_start=0.25,
                next_touches_so_far=1,
                next_channel_counts=display1,
                next_competitor_exposed=False,
                done=False,
                journey_status="abandoned",
            ),
            # abandoning last step: reward = -cost - penalty = -2 - 10
            expected_row(
                journey_id="j2",
                step=2,
                touchpoint_id="j2-20",
                touch_ts=S2 + 6 * HOUR,
                **per_journey["j2"],
                state="AWARE",
                days_since_start=0.25,
                touches_so_far=1,
                channel_counts=display1,
                competitor_exposed=False,
                action_channel="Display",
                action_interaction="click",
                action_cost=2.0,
                reward=-12.0,
                done=True,
                journey_status="abandoned",
            ),
            # open journey: never done; after its last touch the next state is observed at as-of (day 2)
            expected_row(
                journey_id="j3",
                step=1,
                touchpoint_id="j3-1",
                touch_ts=S3,
                **per_journey["j3"],
                state="UNAWARE",
                days_since_start=0.0,
                touches_so_far=0,
                channel_counts=[],
                competitor_exposed=False,
                action_channel="Organic Search",
                action_interaction="visit",
                action_cost=0.0,
                reward=0.0,
                next_state="AWARE",
                next_days_since_start=2.0,
                next_touches_so_far=1,
                next_channel_counts=[("Organic Search", 1)],
                next_competitor_exposed=True,
                done=False,
                journey_status="open",
            ),
        ],
        RL_TRANSITIONS_SCHEMA,
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


TRANSITIONS_DDL = "journey_id string, step int, state string, action_channel string, reward double, done boolean"


def test_recommendation_is_the_best_supported_channel_by_mean_return_to_go(spark: SparkSession) -> None:
    transitions = spark.createDataFrame(
        [
            ("x", 1, "AWARE", "A", -1.0, False),  # return to go: -1 + 11 = 10
            ("x", 2, "CONSIDERING", "B", 11.0, True),  # 11, but only one observation from CONSIDERING
            ("y", 1, "AWARE", "A", 20.0, True),  # Q(AWARE, A) = mean(10, 20) = 15, support 2
            ("z", 1, "AWARE", "B", 15.0, True),
            ("v", 1, "AWARE", "B", 15.0, True),  # Q(AWARE, B) = 15, support 2: a tie, A sorts first
            ("q", 1, "AWARE", "C", 100.0, True),  # support 1 < 2: not a candidate
            ("open", 1, "AWARE", "C", 500.0, False),  # an open journey's return is unknown: not used
            ("open", 2, "AWARE", "C", 500.0, False),
        ],
        TRANSITIONS_DDL,
    )
    journeys = spark.createDataFrame(
        [
            ("o1", 11, "open", "AWARE"),
            ("o2", 12, "open", "CONSIDERING"),
            ("o3", 13, "open", "INTENT"),
            ("c1", 14, "converted", "CONVERTED"),
        ],
        "journey_id string, canonical_user_id long, status string, current_state string",
    )
    got = journey_recommendations(transitions, journeys, min_support=2, confidence_pseudo_count=10)
    expected = spark.createDataFrame(
        [
            ("o1", 11, "AWARE", "A", 15.0, 2, 2 / 12, 2, "estimated"),
            ("o2", 12, "CONSIDERING", None, None, 0, 0.0, 0, "insufficient_support"),
            ("o3", 13, "INTENT", None, None, 0, 0.0, 0, "insufficient_support"),
        ],
        JOURNEY_RECOMMENDATIONS_SCHEMA,
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
