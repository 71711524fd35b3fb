"""Sessions per device, as GA4 defines them, derived from the events themselves.

A device's events, in time order, form one session until either

- the gap since the device's previous event is *more than* ``[session].session_timeout_minutes`` (a gap of exactly
  the timeout continues the session: GA4 ends a session after 30 minutes of inactivity, and an event at minute 30
  is not yet inactive; the real sample has no gap of exactly 30 minutes, so the choice cannot change its
  agreement), or
- a ``session_start`` marker arrives (sources that log one, like GA4, start every session with it).

Sessions are not split at midnight nor on a change of campaign (GA4 does neither; Universal Analytics did). The
source's own session id (``ga_session_id``) is not used to build sessions, only kept for checks, so the same rule
serves sources without session ids.

Ordering is deterministic on ties: ``(event_ts_micros, session_start first, event_seq, event_id)``. GA4 logs
``session_start`` with the same microsecond as the session's first ``page_view``/``first_visit``; putting the
marker first keeps those events in the session it opens.

The session's channel is that of its first event with a non-direct source (``session_start`` carries no source in
the real export, and a later page_view of the same visit may), else Direct.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F
from pyspark.sql.window import WindowSpec

from journeylake.config import SessionConfig
from journeylake.schemas.journeys import SESSIONS_SCHEMA

SESSION_START_EVENT = "session_start"
PAGE_VIEW_EVENT = "page_view"
SCROLL_EVENT = "scroll"
PURCHASE_EVENT = "purchase"
# Events where the visitor acts on the page (beyond viewing and scrolling): the "interaction pattern" of the score.
INTERACTION_EVENTS = (
    "click",
    "select_item",
    "select_promotion",
    "view_search_results",
    "view_item",
    "add_to_cart",
    "begin_checkout",
    "add_shipping_info",
    "add_payment_info",
    "sign_up",
    "purchase",
)

DIRECT_SOURCE = "(direct)"
DIRECT_MEDIUMS = ("(none)",)
DIRECT_CHANNEL = "Direct"
UNASSIGNED_CHANNEL = "Unassigned"

MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
MILLIS_PER_SECOND = 1000.0
REVENUE_DIGITS = 6

# Engagement score in [0, 1]: a weighted sum of four components, each saturating at 1.
#   dwell        min(engagement_seconds / 60, 1)      weight 0.4  (a minute of foreground time is "fully dwelt")
#   scroll depth min(scroll_events / 2, 1)            weight 0.2  (GA4 logs scroll at 90% depth, once per page)
#   breadth      min(page_views / 5, 1)               weight 0.2
#   interaction  min(interaction_events / 3, 1)       weight 0.2  (INTERACTION_EVENTS)
SCORE_DWELL_WEIGHT, SCORE_DWELL_SATURATION_SECONDS = 0.4, 60.0
SCORE_SCROLL_WEIGHT, SCORE_SCROLL_SATURATION = 0.2, 2.0
SCORE_PAGES_WEIGHT, SCORE_PAGES_SATURATION = 0.2, 5.0
SCORE_INTERACTION_WEIGHT, SCORE_INTERACTION_SATURATION = 0.2, 3.0

# Columns sessionize_events adds.
SESSION_COLUMNS = ("session_id", "session_start_micros", "is_session_start")


MARKER_RANK = "_marker_rank"  # 0 for session_start, 1 otherwise: the marker sorts first on a tie


def _marker_rank() -> Column:
    return F.when(F.col("event_name") == SESSION_START_EVENT, 0).otherwise(1)


def _device_window() -> WindowSpec:
    # Partitioned by the person first: the stage shuffles events once by canonical_user_id, and a device belongs
    # to exactly one person, so (person, device) groups are the device's events without a second shuffle. The
    # order uses plain columns only (MARKER_RANK is materialized first), so the chained window operators share
    # one sort.
    return W.partitionBy("canonical_user_id", "device_key").orderBy(
        F.col("event_ts_micros").asc(), F.col(MARKER_RANK).asc(), F.col("event_seq").asc_nulls_last(), F.col("event_id")
    )


def sessionize_events(events: DataFrame, config: SessionConfig) -> DataFrame:
    """Assign every event to a session of its device.

    Needs: canonical_user_id, device_key, user_pseudo_id, event_id, event_ts_micros, event_name, event_seq
    (other columns pass through). Returns the input columns plus ``session_id`` (sha2 of user_pseudo_id and the
    session's first event_id), ``session_start_micros`` and ``is_session_start`` (the event opens its session).
    Every event is in exactly one session.
    """
    timeout_micros = config.session_timeout_minutes * MICROS_PER_MINUTE
    ordered = _device_window()
    running = ordered.rowsBetween(W.unboundedPreceding, W.currentRow)
    gap = F.col("event_ts_micros") - F.lag("event_ts_micros").over(ordered)
    starts = gap.isNull() | (gap > timeout_micros) | (F.col("event_name") == SESSION_START_EVENT)
    return (
        events.withColumn(MARKER_RANK, _marker_rank())
        .withColumn("is_session_start", starts)
        .withColumn(
            "session_start_micros",
            F.max(F.when(F.col("is_session_start"), F.col("event_ts_micros"))).over(running),
        )
        .withColumn(
            "_first_event_id",
            F.last(F.when(F.col("is_session_start"), F.col("event_id")), ignorenulls=True).over(running),
        )
        .withColumn("session_id", F.sha2(F.concat_ws("|", F.col("user_pseudo_id"), F.col("_first_event_id")), 256))
        .select(*events.columns, *SESSION_COLUMNS)
    )


def is_direct(source: Column, medium: Column) -> Column:
    """True when the event carries no campaign information (no source, ``(direct)`` or medium ``(none)``)."""
    return source.isNull() | (F.lower(F.trim(source)) == DIRECT_SOURCE) | F.lower(F.trim(medium)).isin(*DIRECT_MEDIUMS)


def engagement_score(
    engagement_seconds: Column, scroll_events: Column, page_views: Column, interactions: Column
) -> Column:
    """The documented 0..1 engagement score (see the module constants)."""

    def part(value: Column, saturation: float) -> Column:
        return F.least(value.cast("double") / F.lit(saturation), F.lit(1.0))

    return (
        F.lit(SCORE_DWELL_WEIGHT) * part(engagement_seconds, SCORE_DWELL_SATURATION_SECONDS)
        + F.lit(SCORE_SCROLL_WEIGHT) * part(scroll_events, SCORE_SCROLL_SATURATION)
        + F.lit(SCORE_PAGES_WEIGHT) * part(page_views, SCORE_PAGES_SATURATION)
        + F.lit(SCORE_INTERACTION_WEIGHT) * part(interactions, SCORE_INTERACTION_SATURATION)
    )


def event_order_key() -> Column:
    """A struct that sorts like the device window's order, for min_by within a session."""
    return F.struct(
        F.col("event_ts_micros"),
        _marker_rank(),
        F.col("event_seq").isNull(),  # nulls last, as in the device window
        F.col("event_seq"),
        F.col("event_id"),
    )


def _count_where(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("int")


def summarize_sessions(sessionized: DataFrame, config: SessionConfig) -> DataFrame:
    """One row per session (the silver.sessions contract, ``SESSIONS_SCHEMA``).

    Needs the output of :func:`sessionize_events` with: event_ts, event_name, traffic_source, traffic_medium,
    traffic_campaign, channel, page_location, engagement_time_msec, revenue, is_duplicate_purchase,
    device_category, ga_session_id. A session is engaged (GA4) when its engagement time reaches
    ``engaged_min_seconds``, or it converts, or it has ``engaged_min_page_views`` page views.
    """
    key = event_order_key()
    name = F.col("event_name")
    is_purchase = (name == PURCHASE_EVENT) & ~F.coalesce(F.col("is_duplicate_purchase"), F.lit(False))
    non_direct = ~is_direct(F.col("traffic_source"), F.col("traffic_medium"))
    campaign_of_first_non_direct = F.min_by(
        F.struct(
            F.coalesce(F.col("channel"), F.lit(UNASSIGNED_CHANNEL)).alias("channel"),
            F.col("traffic_source"),
            F.col("traffic_medium"),
            F.col("traffic_campaign"),
        ),
        F.when(non_direct, key),
    )
    sessions = sessionized.groupBy("canonical_user_id", "device_key", "session_id").agg(
        F.first("user_pseudo_id").alias("user_pseudo_id"),
        F.min("event_ts").alias("session_start_ts"),
        F.max("event_ts").alias("session_end_ts"),
        F.min("session_start_micros").alias("session_start_micros"),
        F.min_by(F.col("event_id"), key).alias("first_event_id"),
        F.min_by(F.col("ga_session_id"), F.when(F.col("ga_session_id").isNotNull(), key)).alias("ga_session_id"),
        F.count(F.lit(1)).cast("int").alias("event_count"),
        _count_where(name == PAGE_VIEW_EVENT).alias("page_views"),
        _count_where(name == SCROLL_EVENT).alias("scroll_events"),
        _count_where(name.isin(*INTERACTION_EVENTS)).alias("interaction_events"),
        (F.sum(F.coalesce(F.col("engagement_time_msec"), F.lit(0))) / F.lit(MILLIS_PER_SECOND)).alias(
            "engagement_seconds"
        ),
        _count_where(is_purchase).alias("conversions"),
        # Rounded: a sum of doubles depends on row order in its last bits (see journeylake.journeys.SUM_DIGITS).
        F.round(
            F.sum(F.when(is_purchase, F.coalesce(F.col("revenue"), F.lit(0.0))).otherwise(0.0)), REVENUE_DIGITS
        ).alias("revenue"),
        campaign_of_first_non_direct.alias("_campaign"),
        F.min_by(
            F.col("page_location"), F.when((name == PAGE_VIEW_EVENT) & F.col("page_location").isNotNull(), key)
        ).alias("_landing_page_view"),
        F.min_by(F.col("page_location"), F.when(F.col("page_location").isNotNull(), key)).alias("_first_page"),
        F.min_by(F.col("device_category"), F.when(F.col("device_category").isNotNull(), key)).alias("device_category"),
    )
    engaged = (
        (F.col("engagement_seconds") >= F.lit(float(config.engaged_min_seconds)))
        | (F.col("conversions") > 0)
        | (F.col("page_views") >= F.lit(config.engaged_min_page_views))
    )
    has_campaign = F.col("_campaign").isNotNull()
    return sessions.select(
        "session_id",
        "user_pseudo_id",
        "device_key",
        "canonical_user_id",
        "session_start_ts",
        "session_end_ts",
        "session_start_micros",
        F.to_date("session_start_ts").alias("session_date"),
        "first_event_id",
        "ga_session_id",
        "event_count",
        "page_views",
        "scroll_events",
        "interaction_events",
        "engagement_seconds",
        "conversions",
        "revenue",
        engaged.alias("is_engaged"),
        engagement_score(
            F.col("engagement_seconds"), F.col("scroll_events"), F.col("page_views"), F.col("interaction_events")
        ).alias("engagement_score"),
        F.when(has_campaign, F.col("_campaign.channel")).otherwise(F.lit(DIRECT_CHANNEL)).alias("channel"),
        F.when(has_campaign, F.col("_campaign.traffic_source")).otherwise(F.lit(DIRECT_SOURCE)).alias("traffic_source"),
        F.when(has_campaign, F.col("_campaign.traffic_medium"))
        .otherwise(F.lit(DIRECT_MEDIUMS[0]))
        .alias("traffic_medium"),
        F.when(has_campaign, F.col("_campaign.traffic_campaign")).alias("campaign"),
        F.coalesce(F.col("_landing_page_view"), F.col("_first_page")).alias("landing_page"),
        "device_category",
    ).select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SESSIONS_SCHEMA.fields])
