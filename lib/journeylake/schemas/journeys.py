"""Contracts of the session and journey tables (silver.sessions, gold.user_journeys,
gold.journey_touchpoints, gold.journey_state_transitions, gold.users, meta.journeys_processed),
the internal touch stream, and their vocabularies.

Attribution, abandonment, RL and validation read these; keep the columns stable (add, never rename or remove).
"""

from pyspark.sql import types as T

# Journey states, in order of progression.
UNAWARE, AWARE, CONSIDERING, INTENT, CONVERTED = "UNAWARE", "AWARE", "CONSIDERING", "INTENT", "CONVERTED"
STATES = (UNAWARE, AWARE, CONSIDERING, INTENT, CONVERTED)
STATE_RANK = {state: rank for rank, state in enumerate(STATES)}

# Journey statuses. Abandonment (a later stage) moves open journeys to "abandoned".
OPEN, CONVERTED_STATUS, TIMED_OUT, ABANDONED = "open", "converted", "timed_out", "abandoned"
STATUSES = (OPEN, CONVERTED_STATUS, TIMED_OUT, ABANDONED)

# Why a journey closed (null while open). "max_duration": cut at [journey].max_journey_days.
CLOSE_CONVERSION, CLOSE_INACTIVITY, CLOSE_MAX_DURATION = "conversion", "inactivity", "max_duration"
CLOSE_REASONS = (CLOSE_CONVERSION, CLOSE_INACTIVITY, CLOSE_MAX_DURATION)

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
        T.StructField("trigger", T.StringType(), False),  # the state-machine trigger of the touch
        T.StructField("state", T.StringType(), False),  # journey state right after this touch
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
        # The latest moment max_journey_days lets the journey stay open (a touch at or after it starts a new
        # journey); an open journey turns timed_out at min(timeout_at, max_end_at).
        T.StructField("max_end_at", T.TimestampType(), False),
        T.StructField("close_reason", T.StringType(), True),  # one of CLOSE_REASONS; null while open
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

# silver.sessions: one row per GA4-style session of one device (journeylake.sessions).
SESSIONS_SCHEMA = T.StructType(
    [
        T.StructField("session_id", T.StringType(), False),  # sha2(user_pseudo_id | first event_id)
        T.StructField("user_pseudo_id", T.StringType(), False),
        T.StructField("device_key", T.LongType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("session_start_ts", T.TimestampType(), False),  # first event
        T.StructField("session_end_ts", T.TimestampType(), False),  # last event
        T.StructField("session_start_micros", T.LongType(), False),
        T.StructField("session_date", T.DateType(), False),  # UTC date of the start
        T.StructField("first_event_id", T.StringType(), False),
        T.StructField("ga_session_id", T.LongType(), True),  # the source's id on the first event, for checks only
        T.StructField("event_count", T.IntegerType(), False),
        T.StructField("page_views", T.IntegerType(), False),
        T.StructField("scroll_events", T.IntegerType(), False),
        T.StructField("interaction_events", T.IntegerType(), False),
        T.StructField("engagement_seconds", T.DoubleType(), False),
        T.StructField("conversions", T.IntegerType(), False),  # purchases, duplicates excluded
        T.StructField("revenue", T.DoubleType(), False),
        T.StructField("is_engaged", T.BooleanType(), False),
        T.StructField("engagement_score", T.DoubleType(), False),  # 0..1, see journeylake.sessions
        T.StructField("channel", T.StringType(), False),  # of the first non-direct source in the session
        T.StructField("traffic_source", T.StringType(), True),
        T.StructField("traffic_medium", T.StringType(), True),
        T.StructField("campaign", T.StringType(), True),
        T.StructField("landing_page", T.StringType(), True),
        T.StructField("device_category", T.StringType(), True),
    ]
)

# gold.users: one row per canonical user, kept across runs (MERGE, never reset).
USERS_SCHEMA = T.StructType(
    [
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("devices", T.IntegerType(), False),
        T.StructField("identifiers", T.IntegerType(), False),  # rows of silver.identity_map for the user
        T.StructField("first_seen_ts", T.TimestampType(), False),
        T.StructField("last_seen_ts", T.TimestampType(), False),
        T.StructField("current_journey_id", T.StringType(), False),
        T.StructField("current_state", T.StringType(), False),  # state of the latest journey
        T.StructField("journeys", T.IntegerType(), False),
        T.StructField("conversions", T.IntegerType(), False),
        T.StructField("revenue", T.DoubleType(), False),
        T.StructField("spend", T.DoubleType(), False),
        # Distinct ingest batches (bronze ingest_run_id) holding events or ad touches of the user: derived from the
        # data, so rerunning the same input changes nothing.
        T.StructField("active_runs", T.IntegerType(), False),
        T.StructField("updated_run_id", T.StringType(), False),
    ]
)

# meta.journeys_processed: the inputs (bronze batches, identity merge runs) the journeys stage has consumed.
JOURNEYS_PROCESSED_SCHEMA = T.StructType(
    [
        T.StructField("input", T.StringType(), False),  # bronze.events | bronze.ad_touchpoints | silver.identity_merges
        T.StructField("input_run_id", T.StringType(), False),
        T.StructField("processed_run_id", T.StringType(), False),
    ]
)

# The touch stream journeys are built from (journeylake.journeys.assign_journeys): every touch of a person from
# every source, before journey assignment. Not a table; the contract between the touch builders and assignment.
TOUCHES_SCHEMA = T.StructType(
    [
        T.StructField("touchpoint_id", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
        T.StructField("touch_micros", T.LongType(), False),
        T.StructField("touch_ts", T.TimestampType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("traffic_source", T.StringType(), True),
        T.StructField("traffic_medium", T.StringType(), True),
        T.StructField("campaign", T.StringType(), True),
        T.StructField("interaction_type", T.StringType(), False),
        T.StructField("trigger", T.StringType(), False),
        T.StructField("cost", T.DoubleType(), False),
        T.StructField("device_key", T.LongType(), True),
        T.StructField("device_category", T.StringType(), True),
        T.StructField("session_id", T.StringType(), True),
        T.StructField("is_conversion", T.BooleanType(), False),
        T.StructField("conversion_value", T.DoubleType(), True),
        T.StructField("transaction_id", T.StringType(), True),
        T.StructField("engagement_score", T.DoubleType(), True),  # visits only: the session's score
        # The last touch of a journey the abandonment stage closed: the next touch starts a new journey.
        T.StructField("closes_abandoned", T.BooleanType(), False),
    ]
)
