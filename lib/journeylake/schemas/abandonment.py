"""Contracts of the abandonment, funnel, competitor and reinforcement-learning tables.

gold.journey_abandonments, gold.journey_scores, gold.funnel_daily,
gold.cart_abandonment_daily, gold.competitor_exposures, gold.competitor_impact,
gold.rl_transitions and gold.journey_recommendations. The pure functions in
``journeylake.abandonment`` and ``journeylake.rl`` end in a select of these.
"""

from pyspark.sql import types as T

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
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("reason", T.StringType(), False),  # primary reason, by REASON_PRECEDENCE
        T.StructField("matched_reasons", T.ArrayType(T.StringType(), False), False),  # in precedence order
        T.StructField("journey_status", T.StringType(), False),  # status the journey gets: abandoned | timed_out
        T.StructField("state_at_abandonment", T.StringType(), False),
        T.StructField("start_ts", T.TimestampType(), False),
        T.StructField("last_activity_ts", T.TimestampType(), False),
        T.StructField("ended_at", T.TimestampType(), False),  # end_ts written to the journey
        T.StructField("detected_at", T.TimestampType(), False),  # as-of of the run that detected it
        T.StructField("days_active", T.DoubleType(), False),  # (last activity - start) in days
        T.StructField("touchpoints", T.IntegerType(), False),
        T.StructField("spend", T.DoubleType(), False),
        T.StructField("conversion_probability", T.DoubleType(), False),
        T.StructField("expected_value", T.DoubleType(), False),
        T.StructField("cost_penalty", T.DoubleType(), False),
        T.StructField("state_penalty", T.DoubleType(), False),
        T.StructField("time_factor", T.DoubleType(), False),
        T.StructField("reason_multiplier", T.DoubleType(), False),
        T.StructField("penalty_amount", T.DoubleType(), False),
        T.StructField("opportunity_cost", T.DoubleType(), False),
    ]
)

# Per-journey detection result (intermediate; the penalty step turns it into JOURNEY_ABANDONMENTS_SCHEMA).
ABANDONMENT_DETECTIONS_SCHEMA = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("matched_reasons", T.ArrayType(T.StringType(), False), False),
        T.StructField("journey_status", T.StringType(), False),
        T.StructField("ended_at", T.TimestampType(), False),
        T.StructField("detected_at", T.TimestampType(), False),
    ]
)

# Features of the empirical conversion model, one row per journey.
JOURNEY_FEATURES_SCHEMA = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("model_state", T.StringType(), False),  # state before the outcome (never CONVERTED)
        T.StructField("recency_hours", T.DoubleType(), False),
        T.StructField("touch_count", T.IntegerType(), False),  # non-conversion touches
        T.StructField("recency_bucket", T.StringType(), False),
        T.StructField("touch_bucket", T.StringType(), False),
        T.StructField("converted", T.IntegerType(), True),  # 1 | 0 for completed journeys, null while open
    ]
)

CONVERSION_MODEL_SCHEMA = T.StructType(
    [
        T.StructField("model_state", T.StringType(), False),
        T.StructField("recency_bucket", T.StringType(), True),  # null: the state-level row
        T.StructField("touch_bucket", T.StringType(), True),
        T.StructField("journeys", T.LongType(), False),
        T.StructField("conversions", T.LongType(), False),
        T.StructField("conversion_probability", T.DoubleType(), False),
    ]
)

JOURNEY_SCORES_SCHEMA = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("model_state", T.StringType(), False),
        T.StructField("recency_bucket", T.StringType(), False),
        T.StructField("touch_bucket", T.StringType(), False),
        T.StructField("model_support", T.LongType(), False),  # completed journeys in the matched bucket
        T.StructField("conversion_probability", T.DoubleType(), False),
        T.StructField("expected_value", T.DoubleType(), False),
        T.StructField("expected_conversion_value", T.DoubleType(), False),
        T.StructField("scored_as_of", T.TimestampType(), False),
    ]
)

FUNNEL_DAILY_SCHEMA = T.StructType(
    [
        T.StructField("funnel_date", T.DateType(), False),  # UTC date of the session's first event
        T.StructField("channel", T.StringType(), False),
        T.StructField("step", T.StringType(), False),
        T.StructField("step_order", T.IntegerType(), False),
        T.StructField("entered", T.LongType(), False),  # sessions that reached this step
        T.StructField("completed", T.LongType(), False),  # ... and went on to the next (purchase: = entered)
        T.StructField("dropped", T.LongType(), False),  # entered - completed
        T.StructField("completion_rate", T.DoubleType(), True),  # null when nobody entered
    ]
)

CART_ABANDONMENT_DAILY_SCHEMA = T.StructType(
    [
        T.StructField("funnel_date", T.DateType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("cart_sessions", T.LongType(), False),  # sessions with an add_to_cart
        T.StructField("purchased_sessions", T.LongType(), False),  # ... that also purchased
        T.StructField("abandoned_carts", T.LongType(), False),
        T.StructField("cart_abandonment_rate", T.DoubleType(), True),
    ]
)

COMPETITOR_EXPOSURES_OUT_SCHEMA = T.StructType(
    [
        T.StructField("exposure_id", T.StringType(), False),
        T.StructField("exposure_ts", T.TimestampType(), True),
        T.StructField("competitor", T.StringType(), True),
        T.StructField("channel", T.StringType(), True),
        T.StructField("user_pseudo_id", T.StringType(), True),
        T.StructField("canonical_user_id", T.LongType(), True),
        T.StructField("journey_id", T.StringType(), True),
        # matched | unknown_device (no identity) | no_journey (no journey spans the exposure) | invalid (no time/device)
        T.StructField("match_status", T.StringType(), False),
        T.StructField("state_at_exposure", T.StringType(), True),
        T.StructField("progressed_after", T.BooleanType(), True),  # a state transition after the exposure
        T.StructField("converted_after", T.BooleanType(), True),
        T.StructField("exposed_conversion_rate", T.DoubleType(), True),  # impact estimate of the exposure's state
        T.StructField("unexposed_conversion_rate", T.DoubleType(), True),
        T.StructField("conversion_rate_delta", T.DoubleType(), True),
        T.StructField("exposed_progression_rate", T.DoubleType(), True),
        T.StructField("unexposed_progression_rate", T.DoubleType(), True),
        T.StructField("progression_rate_delta", T.DoubleType(), True),
    ]
)

COMPETITOR_IMPACT_SCHEMA = T.StructType(
    [
        T.StructField("state", T.StringType(), False),
        T.StructField("exposed_journeys", T.LongType(), False),
        T.StructField("unexposed_journeys", T.LongType(), False),
        T.StructField("exposed_conversion_rate", T.DoubleType(), True),
        T.StructField("unexposed_conversion_rate", T.DoubleType(), True),
        T.StructField("conversion_rate_delta", T.DoubleType(), True),
        T.StructField("exposed_progression_rate", T.DoubleType(), True),
        T.StructField("unexposed_progression_rate", T.DoubleType(), True),
        T.StructField("progression_rate_delta", T.DoubleType(), True),
    ]
)

RL_TRANSITIONS_SCHEMA = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("step", T.IntegerType(), False),  # 1-based, dense, in touch order
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("touchpoint_id", T.StringType(), False),
        T.StructField("touch_ts", T.TimestampType(), False),
        # state observed just before the action
        T.StructField("state", T.StringType(), False),
        T.StructField("days_since_start", T.DoubleType(), False),
        T.StructField("touches_so_far", T.IntegerType(), False),
        T.StructField("engagement_score", T.DoubleType(), False),  # journey level
        T.StructField("channel_counts", CHANNEL_COUNTS, False),
        T.StructField("competitor_exposed", T.BooleanType(), False),
        # action
        T.StructField("action_channel", T.StringType(), False),
        T.StructField("action_interaction", T.StringType(), False),
        T.StructField("action_cost", T.DoubleType(), False),
        T.StructField("reward", T.DoubleType(), False),
        # state observed after the action (null when done)
        T.StructField("next_state", T.StringType(), True),
        T.StructField("next_days_since_start", T.DoubleType(), True),
        T.StructField("next_touches_so_far", T.IntegerType(), True),
        T.StructField("next_channel_counts", CHANNEL_COUNTS, True),
        T.StructField("next_competitor_exposed", T.BooleanType(), True),
        T.StructField("done", T.BooleanType(), False),
        T.StructField("journey_status", T.StringType(), False),
    ]
)

JOURNEY_RECOMMENDATIONS_SCHEMA = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("current_state", T.StringType(), False),
        T.StructField("recommended_channel", T.StringType(), True),  # null when no channel has enough support
        T.StructField("expected_reward", T.DoubleType(), True),
        T.StructField("support_count", T.LongType(), False),
        T.StructField("confidence", T.DoubleType(), False),
        T.StructField("candidate_channels", T.IntegerType(), False),
        T.StructField("basis", T.StringType(), False),  # estimated | insufficient_support
    ]
)
