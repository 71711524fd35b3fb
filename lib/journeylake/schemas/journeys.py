"""Contracts of the session and journey tables (silver.sessions, gold.user_journeys,
gold.journey_touchpoints, gold.journey_state_transitions) and their vocabularies.

Attribution, abandonment, RL and validation read these; keep the columns stable.
"""

from pyspark.sql import types as T

# Journey states, in order of progression.
UNAWARE, AWARE, CONSIDERING, INTENT, CONVERTED = "UNAWARE", "AWARE", "CONSIDERING", "INTENT", "CONVERTED"
STATES = (UNAWARE, AWARE, CONSIDERING, INTENT, CONVERTED)
STATE_RANK = {state: rank for rank, state in enumerate(STATES)}

# Journey statuses. Abandonment (a later stage) moves open journeys to "abandoned".
OPEN, CONVERTED_STATUS, TIMED_OUT, ABANDONED = "open", "converted", "timed_out", "abandoned"
STATUSES = (OPEN, CONVERTED_STATUS, TIMED_OUT, ABANDONED)

# How a touchpoint reached the person.
INTERACTION_TYPES = ("impression", "click", "visit", "engagement", "conversion")

JOURNEY_TOUCHPOINTS_SCHEMA = T.StructType(
    [
        T.StructField("touchpoint_id", T.StringType(), False),  # event_id or touch_id of the source row
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("touch_ts", T.TimestampType(), False),
        T.StructField("touch_date", T.DateType(), False),
        T.StructField("position", T.IntegerType(), False),  # 1-based order within the journey
        T.StructField("source", T.StringType(), False),  # ga4 | ads
        T.StructField("channel", T.StringType(), False),
        T.StructField("traffic_source", T.StringType(), True),
        T.StructField("traffic_medium", T.StringType(), True),
        T.StructField("campaign", T.StringType(), True),
        T.StructField("interaction_type", T.StringType(), False),  # one of INTERACTION_TYPES
        T.StructField("cost", T.DoubleType(), False),  # 0.0 where the touch cost nothing
        T.StructField("device_key", T.LongType(), True),
        T.StructField("device_category", T.StringType(), True),
        T.StructField("session_id", T.StringType(), True),  # for visits/engagement/conversions
        T.StructField("is_conversion", T.BooleanType(), False),
        T.StructField("conversion_value", T.DoubleType(), True),
        T.StructField("transaction_id", T.StringType(), True),
    ]
)

USER_JOURNEYS_SCHEMA = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),  # deterministic: canonical user + start
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("journey_seq", T.IntegerType(), False),  # 1-based per user
        T.StructField("start_ts", T.TimestampType(), False),
        T.StructField("last_activity_ts", T.TimestampType(), False),
        T.StructField("end_ts", T.TimestampType(), True),  # null while open
        T.StructField("timeout_at", T.TimestampType(), False),  # last activity + journey timeout
        T.StructField("status", T.StringType(), False),  # one of STATUSES
        T.StructField("current_state", T.StringType(), False),  # one of STATES
        T.StructField("touchpoints", T.IntegerType(), False),
        T.StructField("sessions", T.IntegerType(), False),
        T.StructField("devices", T.IntegerType(), False),
        T.StructField("conversion_ts", T.TimestampType(), True),
        T.StructField("conversion_value", T.DoubleType(), True),
        T.StructField("transaction_id", T.StringType(), True),
        T.StructField("spend", T.DoubleType(), False),  # sum of touch costs
        T.StructField("engagement_score", T.DoubleType(), False),
        T.StructField("abandon_reason", T.StringType(), True),  # set by the abandonment stage
        T.StructField("updated_run_id", T.StringType(), False),
    ]
)

JOURNEY_STATE_TRANSITIONS_SCHEMA = T.StructType(
    [
        T.StructField("journey_id", T.StringType(), False),
        T.StructField("seq", T.IntegerType(), False),  # 1-based per journey
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("from_state", T.StringType(), False),
        T.StructField("to_state", T.StringType(), False),
        T.StructField("trigger", T.StringType(), False),
        T.StructField("touchpoint_id", T.StringType(), True),
        T.StructField("transition_ts", T.TimestampType(), False),
        T.StructField("confidence", T.DoubleType(), False),
    ]
)
