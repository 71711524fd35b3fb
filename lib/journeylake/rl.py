"""Training data for a reinforcement-learning bidder, and a tabular next-channel recommendation.

Pure DataFrame -> DataFrame functions; ``journeylake.stages.rl`` reads and writes.

One transition per journey touch (step). The *state* is what was observable just before the touch: the journey
state, days since the journey started, touches so far, the journey's engagement score, touches so far per channel
and whether a competitor exposure had been seen. The *action* is the touch: its channel, interaction type and
cost. The *reward* is ``conversion value - cost`` at a converting touch, ``-cost`` otherwise, and additionally
``- penalty_amount`` (gold.journey_abandonments) at the last step of an abandoned or timed-out journey. The *next
state* is the state just before the next touch; after the last touch of an open journey it is the state observed
at the run's as-of; it is null when ``done`` (the last step of a completed journey). Open journeys are included
with ``done = false`` everywhere, so their transitions can be used for bootstrapping but never as episode ends.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window as W

from journeylake.abandonment import SECONDS_PER_DAY, seconds_between, timestamp_literal
from journeylake.schemas.abandonment import JOURNEY_RECOMMENDATIONS_SCHEMA, RL_TRANSITIONS_SCHEMA
from journeylake.schemas.journeys import ABANDONED, OPEN, TIMED_OUT, UNAWARE

# A channel needs this many observed transitions from a state before it can be recommended from that state.
RECOMMENDATION_MIN_SUPPORT = 5
# confidence = support / (support + CONFIDENCE_PSEUDO_COUNT): 0.5 at 10 observations, 0.9 at 90.
CONFIDENCE_PSEUDO_COUNT = 10
ESTIMATED, INSUFFICIENT_SUPPORT = "estimated", "insufficient_support"
# Ordering of merged touch and transition rows at the same instant: a transition recorded at a touch's time is
# the effect of that touch, so it sorts first and the touch sees it as its "state after".
_TRANSITION_ROW, _TOUCH_ROW = 0, 1


def channel_counts(channels: Column) -> Column:
    """An array of channel names as a sorted array<struct<channel, touches>> (comparable, unlike a map)."""
    distinct = F.array_sort(F.array_distinct(channels))
    return F.transform(
        distinct,
        lambda channel: F.struct(
            channel.alias("channel"),
            F.size(F.filter(channels, lambda other: other == channel)).cast("int").alias("touches"),
        ),
    )


def _state_after_each_touch(touches: DataFrame, transitions: DataFrame) -> DataFrame:
    """touches plus state_after: the journey state once the touch (and everything before it) happened.

    An as-of merge of the transition stream into the touch stream: both are unioned per journey, ordered by time
    (transitions first on ties, then step / seq), and each touch takes the last to_state seen so far. Before any
    transition the journey is in the from_state of its first transition (UNAWARE when it has none).
    """
    stream = touches.select(
        "journey_id",
        F.col("touch_ts").alias("_ts"),
        F.lit(_TOUCH_ROW).alias("_kind"),
        F.col("step").alias("_order"),
        F.col("step"),
        F.lit(None).cast("string").alias("_to_state"),
    ).unionByName(
        transitions.select(
            "journey_id",
            F.col("transition_ts").alias("_ts"),
            F.lit(_TRANSITION_ROW).alias("_kind"),
            F.col("seq").alias("_order"),
            F.lit(None).cast("int").alias("step"),
            F.col("to_state").alias("_to_state"),
        )
    )
    so_far = (
        W.partitionBy("journey_id").orderBy("_ts", "_kind", "_order").rowsBetween(W.unboundedPreceding, W.currentRow)
    )
    initial = transitions.groupBy("journey_id").agg(
        F.min_by("from_state", F.struct("transition_ts", "seq")).alias("_initial_state")
    )
    after = (
        stream.withColumn("_state_after", F.last("_to_state", ignorenulls=True).over(so_far))
        .where(F.col("_kind") == F.lit(_TOUCH_ROW))
        .select("journey_id", "step", "_state_after")
    )
    return (
        touches.join(after, on=["journey_id", "step"], how="inner")
        .join(initial, on="journey_id", how="left")
        .withColumn("initial_state", F.coalesce(F.col("_initial_state"), F.lit(UNAWARE)))
        .withColumn("state_after", F.coalesce(F.col("_state_after"), F.col("initial_state")))
        .drop("_state_after", "_initial_state")
    )


def rl_transitions(
    journeys: DataFrame,
    touchpoints: DataFrame,
    transitions: DataFrame,
    exposures_tied: DataFrame,
    abandonments: DataFrame,
    as_of: datetime,
) -> DataFrame:
    """One row per journey step: state, action, reward, next state, done (see the module docstring).

    Needs ``journeys`` (journey_id, canonical_user_id, status, start_ts, engagement_score), ``touchpoints``
    (touchpoint_id, journey_id, touch_ts, position, channel, interaction_type, cost, is_conversion,
    conversion_value), ``transitions`` (journey_id, seq, from_state, to_state, transition_ts), ``exposures_tied``
    (journey_id, exposure_ts, match_status; :func:`journeylake.abandonment.tie_exposures`) and ``abandonments``
    (journey_id, penalty_amount). Steps are 1-based and dense in (position, touch_ts, touchpoint_id) order.
    Returns RL_TRANSITIONS_SCHEMA.
    """
    journey = W.partitionBy("journey_id").orderBy("step")
    before = journey.rowsBetween(W.unboundedPreceding, -1)
    through = journey.rowsBetween(W.unboundedPreceding, W.currentRow)
    whole = journey.rowsBetween(W.unboundedPreceding, W.unboundedFollowing)

    stepped = touchpoints.select(
        "touchpoint_id",
        "journey_id",
        "touch_ts",
        "position",
        "channel",
        "interaction_type",
        "cost",
        "is_conversion",
        "conversion_value",
    ).withColumn(
        "step",
        F.row_number().over(W.partitionBy("journey_id").orderBy("position", "touch_ts", "touchpoint_id")),
    )
    first_exposure = (
        exposures_tied.where(F.col("match_status") == F.lit("matched"))
        .groupBy("journey_id")
        .agg(F.min("exposure_ts").alias("_first_exposure"))
    )
    penalties = abandonments.select("journey_id", F.col("penalty_amount").alias("_penalty"))
    base = (
        _state_after_each_touch(stepped, transitions)
        .join(
            journeys.select("journey_id", "canonical_user_id", "status", "start_ts", "engagement_score"),
            on="journey_id",
            how="inner",
        )
        .join(first_exposure, on="journey_id", how="left")
        .join(penalties, on="journey_id", how="left")
    )

    def days_at(ts: Column) -> Column:
        return seconds_between(F.col("start_ts"), ts) / F.lit(SECONDS_PER_DAY)

    def exposed_by(ts: Column) -> Column:
        return F.coalesce(F.col("_first_exposure") <= ts, F.lit(False))

    is_last = F.col("step") == F.max("step").over(whole)
    is_done = is_last & (F.col("status") != F.lit(OPEN))
    # The next observation is the next touch; after an open journey's last touch it is the run's as-of.
    next_observed_at = F.coalesce(F.lead("touch_ts", 1).over(journey), timestamp_literal(as_of))
    value = F.when(F.col("is_conversion"), F.coalesce(F.col("conversion_value"), F.lit(0.0))).otherwise(F.lit(0.0))
    penalty = F.when(
        is_last & F.col("status").isin(ABANDONED, TIMED_OUT), F.coalesce(F.col("_penalty"), F.lit(0.0))
    ).otherwise(F.lit(0.0))

    def unless_done(column: Column) -> Column:
        return F.when(~F.col("done"), column)

    return (
        base.select(
            "*",
            F.lag("state_after", 1).over(journey).alias("_state_before"),
            F.collect_list("channel").over(before).alias("_channels_before"),
            F.collect_list("channel").over(through).alias("_channels_through"),
            is_done.alias("done"),
            next_observed_at.alias("_next_observed_at"),
            (value - F.col("cost") - penalty).alias("reward"),
        )
        .select(
            "journey_id",
            "step",
            "canonical_user_id",
            "touchpoint_id",
            "touch_ts",
            F.coalesce(F.col("_state_before"), F.col("initial_state")).alias("state"),
            days_at(F.col("touch_ts")).alias("days_since_start"),
            (F.col("step") - 1).cast("int").alias("touches_so_far"),
            "engagement_score",
            channel_counts(F.col("_channels_before")).alias("channel_counts"),
            exposed_by(F.col("touch_ts")).alias("competitor_exposed"),
            F.col("channel").alias("action_channel"),
            F.col("interaction_type").alias("action_interaction"),
            F.col("cost").alias("action_cost"),
            "reward",
            unless_done(F.col("state_after")).alias("next_state"),
            unless_done(days_at(F.col("_next_observed_at"))).alias("next_days_since_start"),
            unless_done(F.col("step").cast("int")).alias("next_touches_so_far"),
            unless_done(channel_counts(F.col("_channels_through"))).alias("next_channel_counts"),
            unless_done(exposed_by(F.col("_next_observed_at"))).alias("next_competitor_exposed"),
            "done",
            F.col("status").alias("journey_status"),
        )
        .select(*RL_TRANSITIONS_SCHEMA.fieldNames())
    )


def action_values(transitions: DataFrame) -> DataFrame:
    """Tabular Monte-Carlo estimate of Q(state, channel) from completed episodes.

    Needs ``transitions`` (:func:`rl_transitions`). For every step of a journey that is done (completed), the
    return-to-go is the undiscounted sum of rewards from that step to the end of the journey; Q(s, c) is its mean
    over all steps taken from journey state s with channel c (every-visit). Open journeys are left out: their
    return is not known yet. Returns state, action_channel, support_count, expected_reward.
    """
    completed_journeys = transitions.where(F.col("done")).select("journey_id")
    to_end = W.partitionBy("journey_id").orderBy("step").rowsBetween(W.currentRow, W.unboundedFollowing)
    return (
        transitions.join(completed_journeys, on="journey_id", how="inner")
        .withColumn("_return_to_go", F.sum("reward").over(to_end))
        .groupBy("state", "action_channel")
        .agg(F.count(F.lit(1)).alias("support_count"), F.avg("_return_to_go").alias("expected_reward"))
    )


def journey_recommendations(
    transitions: DataFrame,
    journeys: DataFrame,
    min_support: int = RECOMMENDATION_MIN_SUPPORT,
    confidence_pseudo_count: int = CONFIDENCE_PSEUDO_COUNT,
) -> DataFrame:
    """For each open journey, the next channel with the highest expected reward from its current state.

    Needs ``transitions`` (:func:`rl_transitions`) and ``journeys`` (journey_id, canonical_user_id, status,
    current_state). Candidates are the channels with at least ``min_support`` completed-episode steps from the
    state (:func:`action_values`); the best has the highest expected return-to-go, ties to the channel name that
    sorts first. confidence = support / (support + ``confidence_pseudo_count``). A journey whose state has no
    candidate gets a row with a null channel, support 0 and basis ``insufficient_support``.
    Returns JOURNEY_RECOMMENDATIONS_SCHEMA.
    """
    candidates = action_values(transitions).where(F.col("support_count") >= F.lit(min_support))
    per_state = W.partitionBy("state")
    ranked = candidates.select(
        "*",
        F.row_number()
        .over(per_state.orderBy(F.col("expected_reward").desc(), F.col("action_channel").asc()))
        .alias("_rank"),
        F.count(F.lit(1))
        .over(per_state.orderBy("action_channel").rowsBetween(W.unboundedPreceding, W.unboundedFollowing))
        .alias("candidate_channels"),
    ).where(F.col("_rank") == 1)
    support = F.coalesce(F.col("support_count"), F.lit(0)).cast("long")
    return (
        journeys.where(F.col("status") == F.lit(OPEN))
        .join(ranked, on=F.col("current_state") == F.col("state"), how="left")
        .select(
            "journey_id",
            "canonical_user_id",
            "current_state",
            F.col("action_channel").alias("recommended_channel"),
            "expected_reward",
            support.alias("support_count"),
            (support / (support + F.lit(confidence_pseudo_count))).alias("confidence"),
            F.coalesce(F.col("candidate_channels"), F.lit(0)).cast("int").alias("candidate_channels"),
            F.when(F.col("action_channel").isNull(), F.lit(INSUFFICIENT_SUPPORT))
            .otherwise(F.lit(ESTIMATED))
            .alias("basis"),
        )
        .select(*JOURNEY_RECOMMENDATIONS_SCHEMA.fieldNames())
    )
