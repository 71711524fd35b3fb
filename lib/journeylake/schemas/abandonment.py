"""Contracts of the abandonment, funnel, competitor and reinforcement-learning tables.

gold.journey_abandonments, gold.journey_scores, gold.funnel_daily,
gold.cart_abandonment_daily, gold.competitor_exposures, gold.competitor_impact,
gold.rl_transitions and gold.journey_recommendations. The pure functions in
``journeylake.abandonment`` and ``journeylake.rl`` end in a select of these.
"""

from pyspark.sql import types as T

from journeylake.schemas.columns import column

# Abandonment reasons, as stored in journey_abandonments.reason and user_journeys.abandon_reason.
MANUAL, COMPETITOR, BUDGET, FATIGUE, INACTIVE, TIMED_OUT_REASON = (
    "manual",
    "competitor",
    "budget",
    "fatigue",
    "inactive",
    "timed_out",
)
# Primary-reason precedence, strongest first. Manual termination is an operator's explicit decision, so it wins.
# The causal reasons (competitor, budget, fatigue) explain *why* a journey stalled, so they beat the purely
# time-based ones; among them a competitor loss is the most specific evidence (an observed exposure followed by
# no progress), budget exhaustion is a fact of our own delivery, and fatigue is an inference from response rates.
# Inactivity (72 h in CONSIDERING/INTENT) fires before the 14-day timeout, so it is the more specific of the two.
REASON_PRECEDENCE = (MANUAL, COMPETITOR, BUDGET, FATIGUE, INACTIVE, TIMED_OUT_REASON)

# Funnel steps in order; a session reaches a step when it reached the previous one and has the step's event.
FUNNEL_STEPS = (
    ("session", None),
    ("product_view", "view_item"),
    ("add_to_cart", "add_to_cart"),
    ("checkout", "begin_checkout"),
    ("purchase", "purchase"),
)

CHANNEL_COUNT = T.StructType(
    [T.StructField("channel", T.StringType(), False), T.StructField("touches", T.IntegerType(), False)]
)
# Sorted by channel; an array (not a map) so that Delta MERGE can compare it for equality.
CHANNEL_COUNTS = T.ArrayType(CHANNEL_COUNT, False)

JOURNEY_ABANDONMENTS_SCHEMA = T.StructType(
    [
        column("journey_id", T.StringType(), False, "The abandoned or timed-out journey (gold.user_journeys)"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column(
            "reason",
            T.StringType(),
            False,
            "Primary reason, the first matched of: manual, competitor, budget, fatigue, inactive, timed_out",
        ),
        column(
            "matched_reasons",
            T.ArrayType(T.StringType(), False),
            False,
            "Every reason the journey matched, in precedence order",
        ),
        column("journey_status", T.StringType(), False, "Status the journey gets: abandoned or timed_out"),
        column("state_at_abandonment", T.StringType(), False, "Journey state when the abandonment was detected"),
        column("start_ts", T.TimestampType(), False, "UTC time of the first touch of the journey"),
        column("last_activity_ts", T.TimestampType(), False, "UTC time of the last touch of the journey"),
        column(
            "ended_at",
            T.TimestampType(),
            False,
            "end_ts written to the journey: the detecting as-of; for timed-out journeys their end_ts, else timeout_at",
        ),
        column("detected_at", T.TimestampType(), False, "As-of time (UTC) of the run that detected the abandonment"),
        column("days_active", T.DoubleType(), False, "last_activity_ts minus start_ts, in days"),
        column("touchpoints", T.IntegerType(), False, "Number of touches in the journey"),
        column("spend", T.DoubleType(), False, "Sum of the costs of the touches of the journey, in currency"),
        column(
            "conversion_probability",
            T.DoubleType(),
            False,
            "Conversion probability of the journey at detection (gold.conversion_model); 0 when unscored",
        ),
        column(
            "expected_value",
            T.DoubleType(),
            False,
            "Mean value of converted journeys (else [abandonment].default_conversion_value), in currency",
        ),
        column("cost_penalty", T.DoubleType(), False, "[abandonment].cost_penalty_rate times spend"),
        column(
            "state_penalty",
            T.DoubleType(),
            False,
            "Weight of state_at_abandonment ([abandonment].state_weights) times expected_value",
        ),
        column("time_factor", T.DoubleType(), False, "1 + [abandonment].time_factor_per_day times days_active"),
        column(
            "reason_multiplier",
            T.DoubleType(),
            False,
            "Multiplier of the reason ([abandonment].reason_multipliers); 1 when the reason has none",
        ),
        column(
            "penalty_amount",
            T.DoubleType(),
            False,
            "Abandonment penalty: (cost_penalty + state_penalty) * time_factor * reason_multiplier",
        ),
        column(
            "opportunity_cost",
            T.DoubleType(),
            False,
            "Expected conversion value lost: conversion_probability * expected_value (not in the penalty)",
        ),
    ]
)

# Per-journey detection result (intermediate; the penalty step turns it into JOURNEY_ABANDONMENTS_SCHEMA).
ABANDONMENT_DETECTIONS_SCHEMA = T.StructType(
    [
        column("journey_id", T.StringType(), False, "The detected journey"),
        column("reason", T.StringType(), False, "Primary reason, by precedence"),
        column(
            "matched_reasons", T.ArrayType(T.StringType(), False), False, "Every matched reason, in precedence order"
        ),
        column("journey_status", T.StringType(), False, "Status the journey gets: abandoned or timed_out"),
        column("ended_at", T.TimestampType(), False, "end_ts to write to the journey"),
        column("detected_at", T.TimestampType(), False, "As-of time of the detecting run"),
    ]
)

# Features of the empirical conversion model, one row per journey.
JOURNEY_FEATURES_SCHEMA = T.StructType(
    [
        column("journey_id", T.StringType(), False, "The journey"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column("status", T.StringType(), False, "Journey status, abandonment applied"),
        column(
            "model_state",
            T.StringType(),
            False,
            "State before the outcome: current state, or the state a converted journey converted from",
        ),
        column("recency_hours", T.DoubleType(), False, "Idle hours before the outcome (or before as-of while open)"),
        column("touch_count", T.IntegerType(), False, "Number of non-conversion touches"),
        column("recency_bucket", T.StringType(), False, "Bucket of recency_hours: <1d, 1-3d, 3-7d or >=7d"),
        column("touch_bucket", T.StringType(), False, "Bucket of touch_count: <=1, 2-3, 4-7 or >=8"),
        column(
            "converted",
            T.IntegerType(),
            True,
            "1 converted, 0 timed out or abandoned, null while open",
        ),
    ]
)

CONVERSION_MODEL_SCHEMA = T.StructType(
    [
        column(
            "model_state",
            T.StringType(),
            False,
            "Journey state before the outcome (UNAWARE, AWARE, CONSIDERING, INTENT), or ALL for the overall row",
        ),
        column(
            "recency_bucket",
            T.StringType(),
            True,
            "Idle-time bucket: <1d, 1-3d, 3-7d or >=7d; null on the state-level and overall rows",
        ),
        column(
            "touch_bucket",
            T.StringType(),
            True,
            "Touch-count bucket: <=1, 2-3, 4-7 or >=8; null on the state-level and overall rows",
        ),
        column("journeys", T.LongType(), False, "Completed (not open) journeys in the row"),
        column("conversions", T.LongType(), False, "Converted journeys among them"),
        column(
            "conversion_probability",
            T.DoubleType(),
            False,
            "Conversion rate of the row, smoothed toward the coarser level (bucket to state to ALL to the prior)",
        ),
    ]
)

JOURNEY_SCORES_SCHEMA = T.StructType(
    [
        column("journey_id", T.StringType(), False, "The open journey scored"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column("model_state", T.StringType(), False, "Current state of the journey, as used by the model"),
        column("recency_bucket", T.StringType(), False, "Bucket of the idle time at as-of: <1d, 1-3d, 3-7d or >=7d"),
        column("touch_bucket", T.StringType(), False, "Bucket of the non-conversion touches: <=1, 2-3, 4-7 or >=8"),
        column(
            "model_support",
            T.LongType(),
            False,
            "Completed journeys in the matched bucket; 0 when it fell back to the state or overall rate",
        ),
        column(
            "conversion_probability",
            T.DoubleType(),
            False,
            "Probability of conversion: the bucket rate, else the state rate, else overall (gold.conversion_model)",
        ),
        column(
            "expected_value",
            T.DoubleType(),
            False,
            "Mean value of converted journeys (else [abandonment].default_conversion_value), in currency",
        ),
        column(
            "expected_conversion_value",
            T.DoubleType(),
            False,
            "conversion_probability * expected_value, in currency",
        ),
        column("scored_as_of", T.TimestampType(), False, "As-of time (UTC) of the run that scored the journey"),
    ]
)

FUNNEL_DAILY_SCHEMA = T.StructType(
    [
        column("funnel_date", T.DateType(), False, "UTC date of the first event of the session"),
        column(
            "channel",
            T.StringType(),
            False,
            "Channel of the first event of the session that has one; Unassigned when none",
        ),
        column("step", T.StringType(), False, "Funnel step: session, product_view, add_to_cart, checkout or purchase"),
        column("step_order", T.IntegerType(), False, "1-based position of the step in the funnel"),
        column(
            "entered",
            T.LongType(),
            False,
            "Sessions that reached this step (they reached every earlier step and had the step event)",
        ),
        column(
            "completed",
            T.LongType(),
            False,
            "Sessions that also reached the next step; for purchase, the last step, equal to entered",
        ),
        column("dropped", T.LongType(), False, "entered - completed"),
        column("completion_rate", T.DoubleType(), True, "completed / entered; null when nobody entered"),
    ]
)

CART_ABANDONMENT_DAILY_SCHEMA = T.StructType(
    [
        column("funnel_date", T.DateType(), False, "UTC date of the first event of the session"),
        column(
            "channel",
            T.StringType(),
            False,
            "Channel of the first event of the session that has one; Unassigned when none",
        ),
        column("cart_sessions", T.LongType(), False, "Sessions with an add_to_cart event"),
        column("purchased_sessions", T.LongType(), False, "Those of them that also purchased"),
        column("abandoned_carts", T.LongType(), False, "cart_sessions - purchased_sessions"),
        column("cart_abandonment_rate", T.DoubleType(), True, "abandoned_carts / cart_sessions"),
    ]
)

COMPETITOR_EXPOSURES_OUT_SCHEMA = T.StructType(
    [
        column(
            "exposure_id",
            T.StringType(),
            False,
            "Id of the exposure (bronze.competitor_exposures); a hash of the row when the source had none",
        ),
        column("exposure_ts", T.TimestampType(), True, "UTC time of the exposure"),
        column("competitor", T.StringType(), True, "Competitor whose ad or site the device was exposed to"),
        column("channel", T.StringType(), True, "Channel of the exposure"),
        column("user_pseudo_id", T.StringType(), True, "Device id of the exposed device"),
        column("canonical_user_id", T.LongType(), True, "Person of the device; null when identity does not know it"),
        column(
            "journey_id",
            T.StringType(),
            True,
            "Journey of the person spanning the exposure time; null when none does",
        ),
        column(
            "match_status",
            T.StringType(),
            False,
            "matched, unknown_device (no identity), no_journey (no journey spans it) or invalid (no time/device)",
        ),
        column(
            "state_at_exposure",
            T.StringType(),
            True,
            "State at the exposure: last to_state at or before it, else the initial state; null unless matched",
        ),
        column(
            "progressed_after",
            T.BooleanType(),
            True,
            "True when the journey reached a later state after the exposure; null unless matched",
        ),
        column(
            "converted_after",
            T.BooleanType(),
            True,
            "True when the journey converted after the exposure; null unless matched",
        ),
        column(
            "exposed_conversion_rate",
            T.DoubleType(),
            True,
            "Impact estimate for state_at_exposure (gold.competitor_impact): conversion rate of exposed journeys",
        ),
        column(
            "unexposed_conversion_rate",
            T.DoubleType(),
            True,
            "Conversion rate of comparable unexposed journeys in that state (gold.competitor_impact)",
        ),
        column("conversion_rate_delta", T.DoubleType(), True, "exposed_conversion_rate - unexposed_conversion_rate"),
        column(
            "exposed_progression_rate",
            T.DoubleType(),
            True,
            "Share of exposed journeys in that state that progressed after the exposure",
        ),
        column(
            "unexposed_progression_rate",
            T.DoubleType(),
            True,
            "Share of comparable unexposed journeys that reached a later state",
        ),
        column(
            "progression_rate_delta",
            T.DoubleType(),
            True,
            "exposed_progression_rate - unexposed_progression_rate",
        ),
    ]
)

COMPETITOR_IMPACT_SCHEMA = T.StructType(
    [
        column(
            "state",
            T.StringType(),
            False,
            "Journey state compared (for exposed journeys: the state at their first matched exposure)",
        ),
        column(
            "exposed_journeys",
            T.LongType(),
            False,
            "Completed journeys whose first matched exposure found them in this state",
        ),
        column(
            "unexposed_journeys",
            T.LongType(),
            False,
            "Completed journeys with no matched exposure that were ever in this state",
        ),
        column(
            "exposed_conversion_rate",
            T.DoubleType(),
            True,
            "Share of exposed journeys that converted after the exposure; null without exposed journeys",
        ),
        column(
            "unexposed_conversion_rate",
            T.DoubleType(),
            True,
            "Share of unexposed journeys that converted; null without unexposed journeys",
        ),
        column("conversion_rate_delta", T.DoubleType(), True, "exposed_conversion_rate - unexposed_conversion_rate"),
        column(
            "exposed_progression_rate",
            T.DoubleType(),
            True,
            "Share of exposed journeys that progressed past the state after the exposure",
        ),
        column(
            "unexposed_progression_rate",
            T.DoubleType(),
            True,
            "Share of unexposed journeys that reached a state later than this one",
        ),
        column(
            "progression_rate_delta",
            T.DoubleType(),
            True,
            "exposed_progression_rate - unexposed_progression_rate",
        ),
    ]
)

RL_TRANSITIONS_SCHEMA = T.StructType(
    [
        column("journey_id", T.StringType(), False, "The journey (gold.user_journeys)"),
        column("step", T.IntegerType(), False, "1-based, dense step number, in touch order"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column("touchpoint_id", T.StringType(), False, "The touch taken as the action (gold.journey_touchpoints)"),
        column("touch_ts", T.TimestampType(), False, "UTC time of the touch"),
        # state observed just before the action
        column("state", T.StringType(), False, "Journey state just before the touch"),
        column("days_since_start", T.DoubleType(), False, "Days from the journey start to the touch"),
        column("touches_so_far", T.IntegerType(), False, "Touches of the journey before this one"),
        column("engagement_score", T.DoubleType(), False, "Engagement score (0..1) of the journey as a whole"),
        column(
            "channel_counts",
            CHANNEL_COUNTS,
            False,
            "Touches so far per channel, sorted by channel",
        ),
        column(
            "competitor_exposed",
            T.BooleanType(),
            False,
            "True when a matched competitor exposure happened at or before the touch",
        ),
        # action
        column("action_channel", T.StringType(), False, "Channel of the touch"),
        column("action_interaction", T.StringType(), False, "Interaction type of the touch, e.g. impression, visit"),
        column("action_cost", T.DoubleType(), False, "Cost of the touch in currency"),
        column(
            "reward",
            T.DoubleType(),
            False,
            "Conversion value minus cost, less penalty_amount at the last step of an abandoned or timed-out journey",
        ),
        # state observed after the action (null when done)
        column(
            "next_state",
            T.StringType(),
            True,
            "Journey state once the touch happened; null when done",
        ),
        column(
            "next_days_since_start",
            T.DoubleType(),
            True,
            "Days from the start to the next touch (open journeys: to the run as-of); null when done",
        ),
        column("next_touches_so_far", T.IntegerType(), True, "Touches of the journey up to this one; null when done"),
        column(
            "next_channel_counts",
            CHANNEL_COUNTS,
            True,
            "Touches per channel up to this one, sorted by channel; null when done",
        ),
        column(
            "next_competitor_exposed",
            T.BooleanType(),
            True,
            "True when a matched competitor exposure happened by the next observation; null when done",
        ),
        column(
            "done",
            T.BooleanType(),
            False,
            "True at the last step of a completed (not open) journey",
        ),
        column(
            "journey_status", T.StringType(), False, "Status of the journey: open, converted, timed_out or abandoned"
        ),
    ]
)

JOURNEY_RECOMMENDATIONS_SCHEMA = T.StructType(
    [
        column("journey_id", T.StringType(), False, "The open journey"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column("current_state", T.StringType(), False, "Current state of the journey"),
        column(
            "recommended_channel",
            T.StringType(),
            True,
            "Next channel with the highest expected reward from this state; null when no channel has enough support",
        ),
        column(
            "expected_reward",
            T.DoubleType(),
            True,
            "Mean return-to-go (rewards to the journey end) of completed-journey steps on that channel from the state",
        ),
        column(
            "support_count",
            T.LongType(),
            False,
            "Completed-journey steps behind the estimate; 0 when no channel qualified",
        ),
        column(
            "confidence",
            T.DoubleType(),
            False,
            "support_count / (support_count + 10): 0.5 at 10 observations, 0.9 at 90",
        ),
        column(
            "candidate_channels",
            T.IntegerType(),
            False,
            "Channels with enough support (at least 5 completed-journey steps) from this state",
        ),
        column("basis", T.StringType(), False, "estimated, or insufficient_support when no channel qualified"),
    ]
)
