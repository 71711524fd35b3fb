"""Contracts of the session and journey tables (silver.sessions, gold.user_journeys,
gold.journey_touchpoints, gold.journey_state_transitions, gold.users, meta.journeys_processed),
the internal touch stream, and their vocabularies.

Attribution, abandonment, RL and validation read these; keep the columns stable (add, never rename or remove).
"""

from pyspark.sql import types as T

from journeylake.schemas.columns import column

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
        column(
            "touchpoint_id",
            T.StringType(),
            False,
            "Id of the touch: event_id (engagement, conversion), session_id (visit) or ad touch_id",
        ),
        column("journey_id", T.StringType(), False, "Journey the touch belongs to (gold.user_journeys)"),
        column("canonical_user_id", T.LongType(), False, "Person of the touch (silver.identity_map)"),
        column("touch_ts", T.TimestampType(), False, "UTC time of the touch (a visit: the start of its session)"),
        column("touch_date", T.DateType(), False, "UTC date of touch_ts"),
        column("position", T.IntegerType(), False, "1-based order of the touch within its journey"),
        column("source", T.StringType(), False, "Where the touch comes from: ga4 (web events) or ads (ad platforms)"),
        column(
            "channel",
            T.StringType(),
            False,
            "Channel of the touch: the session channel for web touches, the ad channel for ads",
        ),
        column("traffic_source", T.StringType(), True, "Traffic source of the session or ad"),
        column("traffic_medium", T.StringType(), True, "Traffic medium of the session or ad"),
        column("campaign", T.StringType(), True, "Campaign of the session or ad; null when none"),
        column(
            "interaction_type",
            T.StringType(),
            False,
            "How the touch reached the person: impression, click, visit, engagement or conversion",
        ),
        column("cost", T.DoubleType(), False, "Cost of the touch in currency; 0.0 where the touch cost nothing"),
        column("device_key", T.LongType(), True, "64-bit key of the device of the touch; null when unknown"),
        column("device_category", T.StringType(), True, "Device category of web touches, e.g. desktop; null for ads"),
        column(
            "session_id",
            T.StringType(),
            True,
            "Session of visits, engagement touches and conversions (silver.sessions); null for ads",
        ),
        column("is_conversion", T.BooleanType(), False, "True for a purchase (duplicate purchases never convert)"),
        column("conversion_value", T.DoubleType(), True, "Revenue of a conversion in currency; null for other touches"),
        column("transaction_id", T.StringType(), True, "Transaction id of a conversion; null for other touches"),
        column(
            "trigger",
            T.StringType(),
            False,
            "State-machine trigger of the touch, e.g. impression, visit, engagement, add_to_cart, purchase",
        ),
        column("state", T.StringType(), False, "Journey state right after this touch (UNAWARE ... CONVERTED)"),
    ]
)

USER_JOURNEYS_SCHEMA = T.StructType(
    [
        column(
            "journey_id",
            T.StringType(),
            False,
            "Deterministic id: SHA-256 hex of the canonical user id and the first touchpoint_id of the journey",
        ),
        column("canonical_user_id", T.LongType(), False, "Person of the journey (silver.identity_map)"),
        column("journey_seq", T.IntegerType(), False, "1-based number of the journey among those of the person"),
        column("start_ts", T.TimestampType(), False, "UTC time of the first touch of the journey"),
        column("last_activity_ts", T.TimestampType(), False, "UTC time of the last touch of the journey"),
        column(
            "end_ts",
            T.TimestampType(),
            True,
            "UTC end: conversion time, last activity (timed out) or detecting as-of (abandoned); null while open",
        ),
        column(
            "timeout_at",
            T.TimestampType(),
            False,
            "last_activity_ts plus [journey].journey_timeout_days: when the journey times out without activity",
        ),
        column("status", T.StringType(), False, "open, converted, timed_out or abandoned"),
        column(
            "current_state",
            T.StringType(),
            False,
            "Furthest state reached: UNAWARE, AWARE, CONSIDERING, INTENT or CONVERTED",
        ),
        column("touchpoints", T.IntegerType(), False, "Number of touches in the journey"),
        column("sessions", T.IntegerType(), False, "Number of distinct sessions with a touch in the journey"),
        column("devices", T.IntegerType(), False, "Number of distinct devices with a touch in the journey"),
        column("conversion_ts", T.TimestampType(), True, "UTC time of the conversion; null when not converted"),
        column(
            "conversion_value",
            T.DoubleType(),
            True,
            "Revenue of the conversion in currency; null when not converted or no value was recorded",
        ),
        column("transaction_id", T.StringType(), True, "Transaction id of the conversion; null when not converted"),
        column("spend", T.DoubleType(), False, "Sum of the costs of the touches of the journey, in currency"),
        column(
            "engagement_score",
            T.DoubleType(),
            False,
            "Mean engagement score (0..1) of the sessions (visit touches) in the journey; 0.0 when none",
        ),
        column(
            "abandon_reason",
            T.StringType(),
            True,
            "Primary abandonment reason set by the abandonment stage (see gold.journey_abandonments); else null",
        ),
        column("updated_run_id", T.StringType(), False, "Run that last changed the row"),
        column(
            "max_end_at",
            T.TimestampType(),
            False,
            "Latest time [journey].max_journey_days lets the journey stay open; a touch at or after it starts anew",
        ),
        column(
            "close_reason",
            T.StringType(),
            True,
            "Why the journey closed: conversion, inactivity or max_duration; null while open or when abandoned",
        ),
    ]
)

JOURNEY_STATE_TRANSITIONS_SCHEMA = T.StructType(
    [
        column("journey_id", T.StringType(), False, "Journey whose state rose (gold.user_journeys)"),
        column("seq", T.IntegerType(), False, "1-based number of the transition within the journey"),
        column("canonical_user_id", T.LongType(), False, "Person of the journey"),
        column("from_state", T.StringType(), False, "State before the transition (UNAWARE before the first touch)"),
        column("to_state", T.StringType(), False, "State after the transition, always a later state than from_state"),
        column("trigger", T.StringType(), False, "Trigger of the touch that moved the state, e.g. visit, add_to_cart"),
        column("touchpoint_id", T.StringType(), True, "Touch that caused the transition (gold.journey_touchpoints)"),
        column("transition_ts", T.TimestampType(), False, "UTC time of the touch that caused the transition"),
        column(
            "confidence",
            T.DoubleType(),
            False,
            "1.0 for a deterministic trigger; 0.7 for the score-based engagement trigger",
        ),
    ]
)

# silver.sessions: one row per GA4-style session of one device (journeylake.sessions).
SESSIONS_SCHEMA = T.StructType(
    [
        column(
            "session_id",
            T.StringType(),
            False,
            "SHA-256 hex of user_pseudo_id and the first event_id of the session",
        ),
        column("user_pseudo_id", T.StringType(), False, "GA4 device id of the session"),
        column("device_key", T.LongType(), False, "64-bit key of user_pseudo_id"),
        column("canonical_user_id", T.LongType(), False, "Person of the device (silver.identity_map)"),
        column("session_start_ts", T.TimestampType(), False, "UTC time of the first event of the session"),
        column("session_end_ts", T.TimestampType(), False, "UTC time of the last event of the session"),
        column(
            "session_start_micros",
            T.LongType(),
            False,
            "Start of the session in microseconds since the epoch (exact, for ordering)",
        ),
        column("session_date", T.DateType(), False, "UTC date of session_start_ts"),
        column("first_event_id", T.StringType(), False, "event_id of the first event of the session (bronze.events)"),
        column(
            "ga_session_id",
            T.LongType(),
            True,
            "GA4 ga_session_id of the first event that has one, for checks only; null when none has",
        ),
        column("event_count", T.IntegerType(), False, "Number of events in the session"),
        column("page_views", T.IntegerType(), False, "Number of page_view events"),
        column("scroll_events", T.IntegerType(), False, "Number of scroll events"),
        column(
            "interaction_events",
            T.IntegerType(),
            False,
            "Number of interaction events (click, view_item, add_to_cart, purchase, ...; see journeylake.sessions)",
        ),
        column("engagement_seconds", T.DoubleType(), False, "Sum of engagement_time_msec of the events, in seconds"),
        column("conversions", T.IntegerType(), False, "Number of purchases, duplicate purchases excluded"),
        column("revenue", T.DoubleType(), False, "Revenue of those purchases in currency; 0.0 when none"),
        column(
            "is_engaged",
            T.BooleanType(),
            False,
            "GA4 engaged session: enough engagement time, a conversion, or enough page views ([session] config)",
        ),
        column(
            "engagement_score",
            T.DoubleType(),
            False,
            "0..1: weighted dwell time, scrolls, page views and interactions (see journeylake.sessions)",
        ),
        column(
            "channel",
            T.StringType(),
            False,
            "Channel of the first event with a non-direct source in the session; Direct when none",
        ),
        column(
            "traffic_source",
            T.StringType(),
            True,
            "Source of that first non-direct event; (direct) when none",
        ),
        column("traffic_medium", T.StringType(), True, "Medium of that first non-direct event; (none) when none"),
        column("campaign", T.StringType(), True, "Campaign of that first non-direct event; null when none"),
        column(
            "landing_page",
            T.StringType(),
            True,
            "page_location of the first page_view, else of the first event with a page; null when none",
        ),
        column("device_category", T.StringType(), True, "Device category of the first event that has one"),
    ]
)

# gold.users: one row per canonical user, kept across runs (MERGE, never reset).
USERS_SCHEMA = T.StructType(
    [
        column("canonical_user_id", T.LongType(), False, "The person (silver.identity_map)"),
        column(
            "devices", T.IntegerType(), False, "Distinct devices seen in the web events and ad touches of the person"
        ),
        column(
            "identifiers",
            T.IntegerType(),
            False,
            "Rows of silver.identity_map for the person (devices, logins, e-mails, ...)",
        ),
        column("first_seen_ts", T.TimestampType(), False, "UTC time of the first web event or ad touch of the person"),
        column("last_seen_ts", T.TimestampType(), False, "UTC time of the last web event or ad touch of the person"),
        column("current_journey_id", T.StringType(), False, "The latest journey of the person (gold.user_journeys)"),
        column("current_state", T.StringType(), False, "State of the latest journey of the person"),
        column("journeys", T.IntegerType(), False, "Number of journeys of the person"),
        column("conversions", T.IntegerType(), False, "Number of converted journeys of the person"),
        column("revenue", T.DoubleType(), False, "Sum of the conversion values of the converted journeys, in currency"),
        column("spend", T.DoubleType(), False, "Sum of the spend of all journeys of the person, in currency"),
        column(
            "active_runs",
            T.IntegerType(),
            False,
            "Distinct ingest batches (bronze ingest_run_id) with events or ad touches of the person",
        ),
        column("updated_run_id", T.StringType(), False, "Run that last changed the row"),
    ]
)

# meta.journeys_processed: the inputs (bronze batches, identity merge runs) the journeys stage has consumed.
JOURNEYS_PROCESSED_SCHEMA = T.StructType(
    [
        column(
            "input",
            T.StringType(),
            False,
            "Input table: bronze.events, bronze.ad_touchpoints or silver.identity_merges",
        ),
        column(
            "input_run_id",
            T.StringType(),
            False,
            "Batch of that input: the bronze ingest_run_id, or the run_id of silver.identity_merges",
        ),
        column("processed_run_id", T.StringType(), False, "Journeys run that consumed it"),
    ]
)

# The touch stream journeys are built from (journeylake.journeys.assign_journeys): every touch of a person from
# every source, before journey assignment. Not a table; the contract between the touch builders and assignment.
TOUCHES_SCHEMA = T.StructType(
    [
        column(
            "touchpoint_id",
            T.StringType(),
            False,
            "Id of the touch: event_id (engagement, conversion), session_id (visit) or ad touch_id",
        ),
        column("canonical_user_id", T.LongType(), False, "Person of the touch"),
        column("touch_micros", T.LongType(), False, "Time of the touch in microseconds since the epoch"),
        column("touch_ts", T.TimestampType(), False, "UTC time of the touch"),
        column("source", T.StringType(), False, "ga4 or ads"),
        column("channel", T.StringType(), False, "Channel of the touch"),
        column("traffic_source", T.StringType(), True, "Traffic source of the session or ad"),
        column("traffic_medium", T.StringType(), True, "Traffic medium of the session or ad"),
        column("campaign", T.StringType(), True, "Campaign of the session or ad"),
        column(
            "interaction_type",
            T.StringType(),
            False,
            "impression, click, visit, engagement or conversion",
        ),
        column("trigger", T.StringType(), False, "State-machine trigger of the touch"),
        column("cost", T.DoubleType(), False, "Cost of the touch in currency; 0.0 where it cost nothing"),
        column("device_key", T.LongType(), True, "64-bit key of the device of the touch; null when unknown"),
        column("device_category", T.StringType(), True, "Device category of web touches; null for ads"),
        column("session_id", T.StringType(), True, "Session of web touches; null for ads"),
        column("is_conversion", T.BooleanType(), False, "True for a purchase"),
        column("conversion_value", T.DoubleType(), True, "Revenue of a conversion; null for other touches"),
        column("transaction_id", T.StringType(), True, "Transaction id of a conversion; null for other touches"),
        column(
            "engagement_score",
            T.DoubleType(),
            True,
            "Engagement score of the session for visits; null for other touches",
        ),
    ]
)
