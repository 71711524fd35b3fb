"""Touchpoints, persistent journeys and the journey state machine, per canonical user across devices.

Touches (``TOUCHES_SCHEMA``) come from every source: ad impressions and clicks, one *visit* per session (at its
start, with the session's channel), *engagement* touches (the first product view, add to cart, checkout and sign
up of each session) and *conversions* (purchases; a duplicate purchase of a seen transaction never converts twice
and is not a touch).

Journey rules, evaluated over one window per person ordered by ``(touch time, interaction order, touchpoint_id)``:

- the first touch opens a journey; every later touch joins the open journey unless
- the previous touch was a conversion (it closes the journey as converted; the next touch, even in the same
  microsecond, starts a new journey);
- the gap since the previous touch is at least ``journey_timeout_days`` (a touch exactly 14 days after the previous
  one starts a new journey: at that instant the old one has timed out, the same ``<=`` that sets the status);
- or the touch lies ``max_journey_days`` or more after the start of its run of activity: continuous activity is cut
  into fixed ``max_journey_days`` slices from its first touch. Slicing from the run's start, rather than from each
  journey's own first touch, keeps the rule a window computation (no recursion) and still caps every journey below
  ``max_journey_days``.

Status as of the run's ``as_of``: ``converted``; ``timed_out`` when a later journey exists or
``min(timeout_at, max_end_at) <= as_of``; otherwise ``open``. ``timeout_at = last_activity_ts + timeout``.
Abandonment does not end a journey: it is a status *as of now* that the abandonment stage lays over open
journeys (``journeylake.abandonment``), and a person who comes back before the timeout continues the same
journey. So journeys depend only on the touches, never on how often the pipeline ran.

State machine: each trigger maps to a target state (``TRIGGER_TARGET_STATE``); a journey's state is the running
maximum of its touches' target ranks (monotone, UNAWARE before the first touch), and a transition row is written
wherever that maximum rises. All of it is lag and running sums/maxima over the one window spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import WindowSpec

from journeylake.config import JourneyConfig
from journeylake.schemas.journeys import (
    ABANDONED,
    AWARE,
    CLOSE_CONVERSION,
    CLOSE_INACTIVITY,
    CLOSE_MAX_DURATION,
    CONSIDERING,
    CONVERTED,
    CONVERTED_STATUS,
    INTENT,
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    OPEN,
    STATE_RANK,
    STATES,
    TIMED_OUT,
    TOUCHES_SCHEMA,
    USER_JOURNEYS_SCHEMA,
    USERS_SCHEMA,
)
from journeylake.sessions import PURCHASE_EVENT, event_order_key

SOURCE_GA4, SOURCE_ADS = "ga4", "ads"
IMPRESSION, CLICK, VISIT, ENGAGEMENT, CONVERSION = "impression", "click", "visit", "engagement", "conversion"
AD_INTERACTIONS = (IMPRESSION, CLICK)

# Triggers of the state machine and the state each one moves a journey to (never backwards: the state is the
# running maximum). A competitor exposure is a trigger without progression: it never moves the state; the
# abandonment stage ties exposures to journeys and judges their impact (gold.competitor_exposures).
ENGAGEMENT_TRIGGER = "engagement"  # score-based: the session's engagement crossed the CONSIDERING thresholds
PRODUCT_VIEW, ADD_TO_CART, CHECKOUT, SIGN_UP, PURCHASE = (
    "product_view",
    "add_to_cart",
    "checkout",
    "sign_up",
    "purchase",
)
COMPETITOR_EXPOSURE = "competitor_exposure"
TRIGGER_TARGET_STATE: dict[str, str | None] = {
    IMPRESSION: AWARE,
    CLICK: AWARE,
    VISIT: AWARE,
    ENGAGEMENT_TRIGGER: CONSIDERING,
    PRODUCT_VIEW: CONSIDERING,
    ADD_TO_CART: INTENT,
    CHECKOUT: INTENT,
    SIGN_UP: INTENT,
    PURCHASE: CONVERTED,
    COMPETITOR_EXPOSURE: None,
}
# Deterministic triggers (the person did the thing) are certain. The score-based one infers consideration from
# dwell, scroll and breadth, which a distracted visitor with a tab left open also produces: 0.7 says "likely".
DETERMINISTIC_CONFIDENCE = 1.0
SCORE_TRIGGER_CONFIDENCE = 0.7
TRIGGER_CONFIDENCE: dict[str, float] = {
    trigger: SCORE_TRIGGER_CONFIDENCE if trigger == ENGAGEMENT_TRIGGER else DETERMINISTIC_CONFIDENCE
    for trigger in TRIGGER_TARGET_STATE
}
# Web events that are engagement touches (first occurrence per session) and the trigger each one fires.
EVENT_TRIGGERS: dict[str, str] = {
    "view_item": PRODUCT_VIEW,
    "add_to_cart": ADD_TO_CART,
    "begin_checkout": CHECKOUT,
    "sign_up": SIGN_UP,
}
# Order of touches sharing a microsecond: the ad before the visit it caused, the visit before what happened in it,
# the conversion last so that it closes the journey after everything of the same instant.
INTERACTION_ORDER: dict[str, int] = {IMPRESSION: 0, CLICK: 1, VISIT: 2, ENGAGEMENT: 3, CONVERSION: 4}

MICROS_PER_DAY = 86_400 * 1_000_000
# Sums and means of doubles are rounded: their last bits depend on the order rows reach the aggregate, which
# differs between a run over everything and run-by-run processing; 6 digits keep every cent and score step.
SUM_DIGITS = 6
# state_key = journey_no * STATE_SLOTS + state rank: one running max over the person's window then gives the
# running max *within* the journey, because every touch of journey n has a key >= n * STATE_SLOTS.
STATE_SLOTS = len(STATES) + 1


def as_of_literal(as_of: datetime) -> Column:
    """``as_of`` (naive UTC) as a timestamp literal, parsed by Spark in the session's UTC zone, never the host's."""
    return F.lit(as_of.strftime("%Y-%m-%d %H:%M:%S.%f")).cast("timestamp")


def _mapping(mapping: Mapping[Any, object], key: Column, default: object = None) -> Column:
    """A CASE expression from a small constant dict (no UDF, no join)."""
    expr: Column | None = None
    for k, v in mapping.items():
        expr = F.when(key == k, F.lit(v)) if expr is None else expr.when(key == k, F.lit(v))
    assert expr is not None, "mapping must not be empty"
    return expr.otherwise(F.lit(default))


def trigger_rank(trigger: Column) -> Column:
    """STATE_RANK of the trigger's target state; 0 (UNAWARE) for triggers without progression."""
    ranks = {t: STATE_RANK[s] for t, s in TRIGGER_TARGET_STATE.items() if s is not None}
    return _mapping(dict(ranks), trigger, 0).cast("int")


def state_name(rank: Column) -> Column:
    return _mapping({r: s for s, r in STATE_RANK.items()}, rank)


# ---- people ------------------------------------------------------------------------------------------------------


def device_persons(identity_map: DataFrame) -> DataFrame:
    """(user_pseudo_id, canonical_user_id) from silver.identity_map's device rows (key: user_pseudo_id)."""
    return identity_map.where(F.col("id_type") == "device").select(
        F.col("id_value").alias("user_pseudo_id"), F.col("canonical_user_id").alias("_device_person")
    )


def gclid_persons(identity_map: DataFrame) -> DataFrame:
    """(gclid, canonical_user_id) from silver.identity_map's gclid rows (key: gclid)."""
    return identity_map.where(F.col("id_type") == "gclid").select(
        F.col("id_value").alias("gclid"), F.col("canonical_user_id").alias("_gclid_person")
    )


def with_person(df: DataFrame, devices: DataFrame, gclids: DataFrame | None = None) -> DataFrame:
    """Add ``canonical_user_id`` and ``person_resolution`` (identity | gclid | device_fallback | unresolved).

    Needs user_pseudo_id and device_key (and gclid when ``gclids`` is given). A device the identity map does not
    know yet (identity has not seen it) becomes a device-level person: canonical_user_id = device_key; a later run
    that resolves it moves its touches to the real person (the device's previous owner is rebuilt too). A touch
    with neither a known device nor a known gclid is ``unresolved`` (canonical_user_id null): it is counted by the
    stage and kept out of journeys.
    """
    joined = df.join(devices, on="user_pseudo_id", how="left")
    person = F.col("_device_person")
    resolution = F.when(person.isNotNull(), F.lit("identity"))
    if gclids is not None:
        joined = joined.join(gclids, on="gclid", how="left")
        person = F.coalesce(person, F.col("_gclid_person"))
        resolution = resolution.when(F.col("_gclid_person").isNotNull(), F.lit("gclid"))
    resolution = resolution.when(F.col("device_key").isNotNull(), F.lit("device_fallback")).otherwise("unresolved")
    return joined.select(
        *df.columns,
        F.coalesce(person, F.col("device_key")).alias("canonical_user_id"),
        resolution.alias("person_resolution"),
    )


def rebuild_scope(
    events: DataFrame,
    ads: DataFrame,
    merges: DataFrame,
    existing_touchpoints: DataFrame,
    *,
    new_event_batches: Sequence[str],
    new_ad_batches: Sequence[str],
    new_identity_runs: Sequence[str],
) -> DataFrame:
    """The people whose journeys a run must rebuild: ``canonical_user_id``, distinct.

    Needs ``events`` and ``ads`` with ``canonical_user_id`` (:func:`with_person` under today's identity map),
    ``device_key`` and ``ingest_run_id`` (ads also ``touch_id``); ``merges`` (silver.identity_merges: run_id,
    old_canonical_user_id, new_canonical_user_id); ``existing_touchpoints`` (gold.journey_touchpoints:
    canonical_user_id, device_key, touchpoint_id). The people with events or ad touches in a new batch, both
    sides of every identity merge or split not processed yet, and the previous owners in gold of those people's
    devices and ad touches (a device-level person resolved to a real one, a merged-away id): every person whose
    rows can change, so each is rebuilt from all of their history.
    """
    seeds = (
        events.where(F.col("ingest_run_id").isin(*new_event_batches))
        .select("canonical_user_id")
        .unionByName(ads.where(F.col("ingest_run_id").isin(*new_ad_batches)).select("canonical_user_id"))
        .unionByName(
            merges.where(F.col("run_id").isin(*new_identity_runs)).select(
                F.col("old_canonical_user_id").alias("canonical_user_id")
            )
        )
        .unionByName(
            merges.where(F.col("run_id").isin(*new_identity_runs)).select(
                F.col("new_canonical_user_id").alias("canonical_user_id")
            )
        )
        .where(F.col("canonical_user_id").isNotNull())
        .distinct()
    )
    seed_devices = (
        events.join(seeds, on="canonical_user_id", how="left_semi")
        .select("device_key")
        .unionByName(ads.join(seeds, on="canonical_user_id", how="left_semi").select("device_key"))
        .where(F.col("device_key").isNotNull())
        .distinct()
    )
    seed_ad_ids = ads.join(seeds, on="canonical_user_id", how="left_semi").select(
        F.col("touch_id").alias("touchpoint_id")
    )
    previous_owners = (
        existing_touchpoints.join(seed_devices, on="device_key", how="left_semi")
        .select("canonical_user_id")
        .unionByName(
            existing_touchpoints.join(seed_ad_ids, on="touchpoint_id", how="left_semi").select("canonical_user_id")
        )
    )
    return seeds.unionByName(previous_owners).distinct()


# ---- touches -----------------------------------------------------------------------------------------------------


def conform(df: DataFrame, schema: T.StructType) -> DataFrame:
    """Select exactly ``schema``'s columns, in order, cast to its types: the output contract of a transformation."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _touches(df: DataFrame) -> DataFrame:
    return conform(df, TOUCHES_SCHEMA)


def visit_touches(sessions: DataFrame, config: JourneyConfig) -> DataFrame:
    """One ``visit`` touch per session, at its start, with the session's channel (TOUCHES_SCHEMA).

    Needs silver.sessions columns. A session with at least ``considering_min_engagement_seconds`` of engagement
    *and* ``considering_min_page_views`` page views fires the score-based ``engagement`` trigger (CONSIDERING)
    instead of ``visit`` (AWARE): both dwell and breadth, so a single long page or a quick skim is not enough.
    """
    considering = (F.col("engagement_seconds") >= F.lit(float(config.considering_min_engagement_seconds))) & (
        F.col("page_views") >= F.lit(config.considering_min_page_views)
    )
    return _touches(
        sessions.select(
            F.col("session_id").alias("touchpoint_id"),
            "canonical_user_id",
            F.col("session_start_micros").alias("touch_micros"),
            F.col("session_start_ts").alias("touch_ts"),
            F.lit(SOURCE_GA4).alias("source"),
            "channel",
            "traffic_source",
            "traffic_medium",
            "campaign",
            F.lit(VISIT).alias("interaction_type"),
            F.when(considering, F.lit(ENGAGEMENT_TRIGGER)).otherwise(F.lit(VISIT)).alias("trigger"),
            F.lit(0.0).alias("cost"),
            "device_key",
            "device_category",
            "session_id",
            F.lit(False).alias("is_conversion"),
            F.lit(None).alias("conversion_value"),
            F.lit(None).alias("transaction_id"),
            "engagement_score",
        )
    )


def event_touches(sessionized: DataFrame, sessions: DataFrame) -> DataFrame:
    """Engagement touches (first EVENT_TRIGGERS event of each kind per session) and conversions (TOUCHES_SCHEMA).

    Needs the events of :func:`journeylake.sessions.sessionize_events` (event_id, event_name, event_ts,
    event_ts_micros, event_seq, revenue, transaction_id, is_duplicate_purchase, device_category, session_id,
    canonical_user_id, device_key) and ``sessions`` (session_id, channel, traffic_source, traffic_medium,
    campaign). Touches carry the channel of their session.
    """
    name = F.col("event_name")
    is_purchase = (name == PURCHASE_EVENT) & ~F.coalesce(F.col("is_duplicate_purchase"), F.lit(False))
    order_key = event_order_key()
    first_engagements = (
        sessionized.where(name.isin(*EVENT_TRIGGERS))
        .withColumn("trigger", _mapping(dict(EVENT_TRIGGERS), name))
        .groupBy("canonical_user_id", "device_key", "session_id", "trigger")
        .agg(F.min_by(F.struct("event_id", "event_ts_micros", "event_ts", "device_category"), order_key).alias("e"))
        .select(
            "canonical_user_id",
            "device_key",
            "session_id",
            "trigger",
            F.col("e.event_id").alias("event_id"),
            F.col("e.event_ts_micros").alias("event_ts_micros"),
            F.col("e.event_ts").alias("event_ts"),
            F.col("e.device_category").alias("device_category"),
            F.lit(ENGAGEMENT).alias("interaction_type"),
            F.lit(False).alias("is_conversion"),
            F.lit(None).cast("double").alias("conversion_value"),
            F.lit(None).cast("string").alias("transaction_id"),
        )
    )
    conversions = sessionized.where(is_purchase).select(
        "canonical_user_id",
        "device_key",
        "session_id",
        F.lit(PURCHASE).alias("trigger"),
        "event_id",
        "event_ts_micros",
        "event_ts",
        "device_category",
        F.lit(CONVERSION).alias("interaction_type"),
        F.lit(True).alias("is_conversion"),
        F.col("revenue").alias("conversion_value"),
        "transaction_id",
    )
    session_channels = sessions.select(
        "canonical_user_id", "session_id", "channel", "traffic_source", "traffic_medium", "campaign"
    )
    return _touches(
        first_engagements.unionByName(conversions)
        .join(session_channels, on=["canonical_user_id", "session_id"], how="inner")
        .select(
            F.col("event_id").alias("touchpoint_id"),
            "canonical_user_id",
            F.col("event_ts_micros").alias("touch_micros"),
            F.col("event_ts").alias("touch_ts"),
            F.lit(SOURCE_GA4).alias("source"),
            "channel",
            "traffic_source",
            "traffic_medium",
            "campaign",
            "interaction_type",
            "trigger",
            F.lit(0.0).alias("cost"),
            "device_key",
            "device_category",
            "session_id",
            "is_conversion",
            "conversion_value",
            "transaction_id",
            F.lit(None).alias("engagement_score"),
        )
    )


def ad_touches(ads: DataFrame) -> DataFrame:
    """Impressions and clicks of resolved people (TOUCHES_SCHEMA).

    Needs bronze.ad_touchpoints columns (touch_id, touch_ts, interaction, channel, source, medium, campaign, cost,
    device_key) plus canonical_user_id from :func:`with_person`; rows without a person or with an interaction
    other than impression/click must be filtered (and counted) by the caller.
    """
    return _touches(
        ads.select(
            F.col("touch_id").alias("touchpoint_id"),
            "canonical_user_id",
            F.unix_micros(F.col("touch_ts")).alias("touch_micros"),
            "touch_ts",
            F.lit(SOURCE_ADS).alias("source"),
            F.coalesce(F.col("channel"), F.lit("Unassigned")).alias("channel"),
            F.col("source").alias("traffic_source"),
            F.col("medium").alias("traffic_medium"),
            "campaign",
            F.col("interaction").alias("interaction_type"),
            F.col("interaction").alias("trigger"),
            F.coalesce(F.col("cost"), F.lit(0.0)).alias("cost"),
            "device_key",
            F.lit(None).alias("device_category"),
            F.lit(None).alias("session_id"),
            F.lit(False).alias("is_conversion"),
            F.lit(None).alias("conversion_value"),
            F.lit(None).alias("transaction_id"),
            F.lit(None).alias("engagement_score"),
        )
    )


def latest_ad_touches(ads: DataFrame) -> DataFrame:
    """One row per touch_id: the latest ingested version (ties: the larger record_hash), deterministically.

    Needs bronze.ad_touchpoints columns; returns the same columns. Ingestion drops exact duplicates, but a platform
    may resend a corrected touch under the same id in a later batch: the correction wins.
    """
    latest = F.max_by(F.struct(*ads.columns), F.struct("ingested_at", "record_hash"))
    return ads.groupBy("touch_id").agg(latest.alias("_t")).select(*[F.col(f"_t.{c}").alias(c) for c in ads.columns])


# ---- journeys ----------------------------------------------------------------------------------------------------


def _person_window() -> WindowSpec:
    # The one window spec of journey assignment: every column below is a lag, lead or running aggregate over it,
    # so Spark sorts each person's touches once.
    return W.partitionBy("canonical_user_id").orderBy("touch_micros", "_interaction_order", "touchpoint_id")


def assign_journeys(touches: DataFrame, config: JourneyConfig) -> DataFrame:
    """Assign every touch to a journey and run the state machine (one row per touch).

    Needs TOUCHES_SCHEMA. Returns the touches plus: journey_no (1-based per person), journey_id
    (sha2(canonical_user_id | first touchpoint_id)), position, state_rank (state after the touch), prev_state_rank,
    is_transition, transition_seq, segment_start_micros, slice_no, next_gap_micros (to the person's next touch),
    row_no. Feed the result to :func:`journey_touchpoints`, :func:`state_transitions` and
    :func:`summarize_journeys`.
    """
    timeout = config.journey_timeout_days * MICROS_PER_DAY
    max_span = config.max_journey_days * MICROS_PER_DAY
    ordered = _person_window()
    running = ordered.rowsBetween(W.unboundedPreceding, W.currentRow)
    micros = F.col("touch_micros")
    prev_micros = F.lag("touch_micros").over(ordered)
    new_run = prev_micros.isNull() | F.lag("is_conversion").over(ordered) | (micros - prev_micros >= F.lit(timeout))
    return (
        touches.withColumn("_interaction_order", _mapping(dict(INTERACTION_ORDER), F.col("interaction_type"), 9))
        .withColumn("_new_run", new_run)
        .withColumn("segment_start_micros", F.max(F.when(F.col("_new_run"), micros)).over(running))
        .withColumn("slice_no", F.floor((micros - F.col("segment_start_micros")) / F.lit(max_span)).cast("long"))
        .withColumn("_new_journey", F.col("_new_run") | (F.col("slice_no") > F.lag("slice_no").over(ordered)))
        .withColumn("journey_no", F.sum(F.col("_new_journey").cast("int")).over(running))
        .withColumn(
            "journey_id",
            F.sha2(
                F.concat_ws(
                    "|",
                    F.col("canonical_user_id").cast("string"),
                    F.last(F.when(F.col("_new_journey"), F.col("touchpoint_id")), ignorenulls=True).over(running),
                ),
                256,
            ),
        )
        .withColumn("row_no", F.row_number().over(ordered))
        .withColumn(
            "position", F.col("row_no") - F.max(F.when(F.col("_new_journey"), F.col("row_no"))).over(running) + 1
        )
        .withColumn("_state_key", F.col("journey_no") * STATE_SLOTS + trigger_rank(F.col("trigger")))
        .withColumn("state_rank", F.max("_state_key").over(running) - F.col("journey_no") * STATE_SLOTS)
        .withColumn(
            "prev_state_rank",
            F.when(F.col("_new_journey"), F.lit(STATE_RANK[STATES[0]])).otherwise(F.lag("state_rank").over(ordered)),
        )
        .withColumn("is_transition", F.col("state_rank") > F.col("prev_state_rank"))
        .withColumn("_transitions", F.sum(F.col("is_transition").cast("int")).over(running))
        .withColumn(
            # The journey's first touch always transitions (every touch trigger targets AWARE or above).
            "transition_seq",
            F.col("_transitions") - F.max(F.when(F.col("_new_journey"), F.col("_transitions") - 1)).over(running),
        )
        .withColumn("next_gap_micros", F.lead("touch_micros").over(ordered) - micros)
        .drop("_new_run", "_new_journey", "_state_key", "_transitions", "_interaction_order")
    )


def journey_touchpoints(assigned: DataFrame) -> DataFrame:
    """gold.journey_touchpoints rows (JOURNEY_TOUCHPOINTS_SCHEMA) from :func:`assign_journeys`."""
    return conform(
        assigned.withColumn("touch_date", F.to_date("touch_ts")).withColumn("state", state_name(F.col("state_rank"))),
        JOURNEY_TOUCHPOINTS_SCHEMA,
    )


def state_transitions(assigned: DataFrame) -> DataFrame:
    """gold.journey_state_transitions rows: one per rise of a journey's state (JOURNEY_STATE_TRANSITIONS_SCHEMA)."""
    return (
        assigned.where(F.col("is_transition"))
        .select(
            F.col("journey_id"),
            F.col("transition_seq").cast("int").alias("seq"),
            F.col("canonical_user_id"),
            state_name(F.col("prev_state_rank")).alias("from_state"),
            state_name(F.col("state_rank")).alias("to_state"),
            F.col("trigger"),
            F.col("touchpoint_id"),
            F.col("touch_ts").alias("transition_ts"),
            _mapping(dict(TRIGGER_CONFIDENCE), F.col("trigger"), DETERMINISTIC_CONFIDENCE).alias("confidence"),
        )
        .transform(lambda df: conform(df, JOURNEY_STATE_TRANSITIONS_SCHEMA))
    )


def summarize_journeys(assigned: DataFrame, config: JourneyConfig, as_of: datetime, run_id: str) -> DataFrame:
    """gold.user_journeys rows (USER_JOURNEYS_SCHEMA) from :func:`assign_journeys`, with status as of ``as_of``.

    ``abandon_reason`` is left null: the abandonment stage owns it and the ``abandoned`` status, which it sets
    as of the run's ``as_of`` over the statuses computed here.
    """
    timeout = config.journey_timeout_days * MICROS_PER_DAY
    max_span = config.max_journey_days * MICROS_PER_DAY
    last = F.col("row_no")  # max_by(x, row_no): the value at the journey's last touch
    journeys = assigned.groupBy("canonical_user_id", "journey_no").agg(
        F.first("journey_id").alias("journey_id"),
        F.min("touch_micros").alias("start_micros"),
        F.max("touch_micros").alias("last_micros"),
        F.count(F.lit(1)).alias("touchpoints"),
        # Sets, not COUNT(DISTINCT): distinct aggregates re-shuffle the touches; these sets are per journey (small).
        F.size(F.collect_set("session_id")).alias("sessions"),
        F.size(F.collect_set("device_key")).alias("devices"),
        F.max(F.when(F.col("is_conversion"), F.col("touch_ts"))).alias("conversion_ts"),
        F.max(F.when(F.col("is_conversion"), F.col("conversion_value"))).alias("conversion_value"),
        F.max(F.when(F.col("is_conversion"), F.col("transaction_id"))).alias("transaction_id"),
        F.round(F.sum("cost"), SUM_DIGITS).alias("spend"),
        F.round(F.coalesce(F.avg("engagement_score"), F.lit(0.0)), SUM_DIGITS).alias("engagement_score"),
        F.max("state_rank").alias("state_rank"),
        F.max(F.col("segment_start_micros") + (F.col("slice_no") + 1) * F.lit(max_span)).alias("max_end_micros"),
        F.max_by(F.col("next_gap_micros"), last).alias("next_gap_micros"),
        F.max(F.col("is_conversion").cast("int")).alias("converted"),
    )
    as_of_micros = F.unix_micros(as_of_literal(as_of))
    timeout_micros = F.col("last_micros") + F.lit(timeout)
    has_next = F.col("next_gap_micros").isNotNull()
    close_reason = (
        F.when(F.col("converted") == 1, F.lit(CLOSE_CONVERSION))
        .when(has_next & (F.col("next_gap_micros") >= F.lit(timeout)), F.lit(CLOSE_INACTIVITY))
        .when(has_next, F.lit(CLOSE_MAX_DURATION))
        .when(timeout_micros <= F.least(as_of_micros, F.col("max_end_micros")), F.lit(CLOSE_INACTIVITY))
        .when(F.col("max_end_micros") <= as_of_micros, F.lit(CLOSE_MAX_DURATION))
    )
    status = (
        F.when(F.col("converted") == 1, F.lit(CONVERTED_STATUS))
        .when(F.col("close_reason").isNotNull(), F.lit(TIMED_OUT))
        .otherwise(F.lit(OPEN))
    )
    end_ts = F.when(F.col("status") == CONVERTED_STATUS, F.col("conversion_ts")).when(
        F.col("status") != OPEN, F.timestamp_micros(F.col("last_micros"))
    )
    return (
        journeys.withColumn("close_reason", close_reason)
        .withColumn("status", status)
        .select(
            "journey_id",
            "canonical_user_id",
            F.col("journey_no").alias("journey_seq"),
            F.timestamp_micros("start_micros").alias("start_ts"),
            F.timestamp_micros("last_micros").alias("last_activity_ts"),
            end_ts.alias("end_ts"),
            F.timestamp_micros(timeout_micros).alias("timeout_at"),
            "status",
            state_name(F.col("state_rank")).alias("current_state"),
            "touchpoints",
            "sessions",
            "devices",
            "conversion_ts",
            "conversion_value",
            "transaction_id",
            "spend",
            "engagement_score",
            F.lit(None).alias("abandon_reason"),
            F.lit(run_id).alias("updated_run_id"),
            F.timestamp_micros("max_end_micros").alias("max_end_at"),
            "close_reason",
        )
        .transform(lambda df: conform(df, USER_JOURNEYS_SCHEMA))
    )


def expire_journeys(journeys: DataFrame, as_of: datetime, run_id: str) -> DataFrame:
    """Open (or abandoned: still resumable) journeys whose time ran out by ``as_of``, as timed_out rows
    (USER_JOURNEYS_SCHEMA).

    For journeys the run does not rebuild (no new touches): the same status rule as :func:`summarize_journeys`,
    so a run that only moves time forward agrees with a full rebuild. ``abandon_reason`` is kept: the
    abandonment stage judges it again as of the same ``as_of``.
    """
    now = as_of_literal(as_of)
    resumable = F.col("status").isin(OPEN, ABANDONED)
    expired = journeys.where(resumable & ((F.col("timeout_at") <= now) | (F.col("max_end_at") <= now)))
    reason = F.when(F.col("timeout_at") <= F.col("max_end_at"), F.lit(CLOSE_INACTIVITY)).otherwise(
        F.lit(CLOSE_MAX_DURATION)
    )
    return expired.withColumns(
        {
            "status": F.lit(TIMED_OUT),
            "close_reason": reason,
            "end_ts": F.col("last_activity_ts"),
            "updated_run_id": F.lit(run_id),
        }
    ).transform(lambda df: conform(df, USER_JOURNEYS_SCHEMA))


# ---- users -------------------------------------------------------------------------------------------------------


def summarize_users(journeys: DataFrame, activity: DataFrame, identifiers: DataFrame, run_id: str) -> DataFrame:
    """gold.users rows (USERS_SCHEMA) for the people in ``journeys``.

    Needs ``journeys`` (USER_JOURNEYS_SCHEMA, all journeys of each person), ``activity`` (canonical_user_id,
    device_key, activity_ts, ingest_run_id: one row per web event or ad touch of the person) and ``identifiers``
    (canonical_user_id, identifiers). active_runs counts distinct ingest batches, so rerunning a batch changes
    nothing.
    """
    per_journey = journeys.groupBy("canonical_user_id").agg(
        F.max_by("journey_id", "journey_seq").alias("current_journey_id"),
        F.max_by("current_state", "journey_seq").alias("current_state"),
        F.count(F.lit(1)).alias("journeys"),
        F.sum(F.when(F.col("status") == CONVERTED_STATUS, 1).otherwise(0)).alias("conversions"),
        F.round(
            F.sum(
                F.when(F.col("status") == CONVERTED_STATUS, F.coalesce("conversion_value", F.lit(0.0))).otherwise(0.0)
            ),
            SUM_DIGITS,
        ).alias("revenue"),
        F.round(F.sum("spend"), SUM_DIGITS).alias("spend"),
    )
    per_activity = activity.groupBy("canonical_user_id").agg(
        # Sets, not COUNT(DISTINCT) (which re-shuffles): a person's devices and ingest batches are few.
        F.size(F.collect_set("device_key")).alias("devices"),
        F.min("activity_ts").alias("first_seen_ts"),
        F.max("activity_ts").alias("last_seen_ts"),
        F.size(F.collect_set("ingest_run_id")).alias("active_runs"),
    )
    return (
        per_journey.join(per_activity, on="canonical_user_id", how="inner")
        .join(identifiers, on="canonical_user_id", how="left")
        .withColumn("identifiers", F.coalesce(F.col("identifiers"), F.lit(0)))
        .withColumn("updated_run_id", F.lit(run_id))
        .transform(lambda df: conform(df, USERS_SCHEMA))
    )
