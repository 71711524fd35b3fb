"""Abandonment detection, the abandonment penalty, the conversion-probability model, funnels and competitor impact.

Pure DataFrame -> DataFrame functions; the stage runner ``journeylake.stages.abandonment`` reads and writes.
Everything is relative to the run's ``as_of`` (never the wall clock), so a rerun with the same as-of agrees.

Abandonment rules (evaluated on journeys that are ``open`` or already ``timed_out``; ``idle`` = as_of - last
activity; a journey is *stalled* when idle >= ``journey.inactivity_hours`` or it has timed out):

- ``manual``: the journey id is listed in ``abandonment.manual_journey_ids``.
- ``competitor``: a competitor exposure tied to the journey (see :func:`tie_exposures`) at or before as_of, no state
  transition strictly after the latest such exposure, and the journey is stalled.
- ``budget``: on the journey's last active day D (UTC date of last activity) the journey had touches on campaigns
  present in the cost data for D, *every* such campaign's spend that day reached its daily budget
  (``cost >= daily_budget > 0``), and the journey is stalled (nothing came after D's capped delivery).
- ``fatigue``: at least ``abandonment.fatigue_min_impressions`` impressions since the journey's last response (any
  click, visit, engagement or conversion; since the start when there was none). No stall is required: impressions
  keep arriving, so the journey never looks idle.
- ``inactive``: current state CONSIDERING or INTENT and idle >= ``journey.inactivity_hours``.
- ``timed_out``: status ``timed_out`` already, or as_of >= timeout_at.

The primary reason is the first matched one in ``REASON_PRECEDENCE`` (see ``journeylake.schemas.abandonment``).

Abandonment is a status *as of now*, recomputed every run over every journey from the data and the run's as-of,
never a decision a run takes once: a journey abandoned for inactivity that the person resumes before its 14-day
timeout is open again and continues (journeys depend on the touches only), and a run over many days gives the
same statuses, reasons and penalties as daily runs ending at the same as-of. Journeys that timed out keep
status ``timed_out`` (and their end) with the reason that applies; the others become ``abandoned``, ending at a
time the data defines: for the reasons that need a stall (inactive, competitor, budget) when the stall began,
``last_activity_ts + inactivity_hours`` (or the timeout, when earlier); for fatigue and manual at the last
activity. Penalties and opportunity costs are priced with the conversion model of the run's as-of; what earlier
runs said stays in the Delta history of gold.journey_abandonments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window as W

from journeylake.config import AbandonmentConfig, JourneyConfig
from journeylake.schemas.abandonment import (
    ABANDONMENT_DETECTIONS_SCHEMA,
    BUDGET,
    CART_ABANDONMENT_DAILY_SCHEMA,
    COMPETITOR,
    COMPETITOR_EXPOSURES_OUT_SCHEMA,
    COMPETITOR_IMPACT_SCHEMA,
    CONVERSION_MODEL_SCHEMA,
    FATIGUE,
    FUNNEL_DAILY_SCHEMA,
    FUNNEL_STEPS,
    INACTIVE,
    JOURNEY_ABANDONMENTS_SCHEMA,
    JOURNEY_FEATURES_SCHEMA,
    JOURNEY_SCORES_SCHEMA,
    MANUAL,
    REASON_PRECEDENCE,
    TIMED_OUT_REASON,
)
from journeylake.schemas.journeys import (
    ABANDONED,
    CONSIDERING,
    CONVERTED,
    CONVERTED_STATUS,
    INTENT,
    OPEN,
    STATE_RANK,
    STATES,
    TIMED_OUT,
)

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
MICROS_PER_SECOND = 1_000_000.0

# States in which a quiet journey counts as abandoned (inactive) before it times out.
INACTIVITY_STATES = (CONSIDERING, INTENT)
# Reasons that need the journey to have stalled: the abandonment began when the stall did.
STALL_REASONS = (INACTIVE, COMPETITOR, BUDGET)
# The touch that is not a response: fatigue counts these since the last response.
IMPRESSION = "impression"
# Converted journeys whose transitions do not say where they came from are assumed to have been here.
STATE_BEFORE_CONVERSION_FALLBACK = INTENT
# Conversion-model buckets: upper bounds (exclusive for hours, inclusive for touches) and their labels.
RECENCY_BUCKET_BOUNDS_HOURS = (24.0, 72.0, 168.0)
RECENCY_BUCKET_LABELS = ("<1d", "1-3d", "3-7d", ">=7d")
TOUCH_BUCKET_MAX_TOUCHES = (1, 3, 7)
TOUCH_BUCKET_LABELS = ("<=1", "2-3", "4-7", ">=8")
# The model's overall row, used when a state is unknown.
ALL_STATES = "ALL"
MODEL_STATES = tuple(s for s in STATES if s != CONVERTED)
# Sessions without a source session id are grouped per device and day so their events are still counted.
UNASSIGNED_CHANNEL = "Unassigned"
# Exposure match statuses.
MATCHED, UNKNOWN_DEVICE, NO_JOURNEY, INVALID = "matched", "unknown_device", "no_journey", "invalid"


# ---- small column helpers ------------------------------------------------------------------------------------


def timestamp_literal(value: datetime) -> Column:
    """A naive-UTC ``datetime`` as a TIMESTAMP literal, parsed in the session time zone (UTC), not the host's."""
    return F.lit(value.strftime("%Y-%m-%d %H:%M:%S.%f")).cast(T.TimestampType())


def seconds_between(start: Column, end: Column) -> Column:
    """``end - start`` in seconds as a DOUBLE, exact to the microsecond."""
    return (F.unix_micros(end) - F.unix_micros(start)) / F.lit(MICROS_PER_SECOND)


def _map_literal(pairs: Sequence[tuple[str, float]]) -> Column:
    return F.create_map(*[item for key, value in pairs for item in (F.lit(key), F.lit(float(value)))])


def _bucket(value: Column, bounds: Sequence[float], labels: Sequence[str], inclusive: bool) -> Column:
    """The label of the first bound that ``value`` is under (``<=`` when inclusive), else the last label."""
    expression: Column | None = None
    for bound, label in zip(bounds, labels, strict=False):
        condition = value <= F.lit(bound) if inclusive else value < F.lit(bound)
        expression = F.when(condition, F.lit(label)) if expression is None else expression.when(condition, label)
    assert expression is not None
    return expression.otherwise(F.lit(labels[-1]))


def _state_rank(state: Column) -> Column:
    return _map_literal([(s, float(r)) for s, r in STATE_RANK.items()])[state]


# ---- competitor exposures -> users and journeys ----------------------------------------------------------------


def tie_exposures(exposures: DataFrame, identity_map: DataFrame, journeys: DataFrame) -> DataFrame:
    """Tie each competitor exposure to its canonical user and the journey that spans it.

    Needs ``exposures``: exposure_id, exposure_ts, competitor, channel, user_pseudo_id; ``identity_map``:
    id_type, id_value, canonical_user_id (device rows: id_value = user_pseudo_id); ``journeys``: journey_id,
    canonical_user_id, start_ts, end_ts, timeout_at, status.
    Returns one row per exposure (duplicates of an exposure_id collapse to the earliest; a missing id becomes a
    hash of the row): exposure_id, exposure_ts, competitor, channel, user_pseudo_id, canonical_user_id,
    journey_id, match_status (matched | unknown_device | no_journey | invalid).
    A journey spans ``[start_ts, end)`` where end is timeout_at for open and timed-out journeys (an exposure after
    the last activity still belongs to a journey that has not timed out) and end_ts otherwise.
    """
    exposure_key = F.coalesce(
        F.col("exposure_id"),
        F.sha2(
            F.concat_ws(
                "|",
                F.col("exposure_ts").cast("string"),
                F.col("competitor"),
                F.col("channel"),
                F.col("user_pseudo_id"),
            ),
            256,
        ),
    )
    by_id = W.partitionBy("exposure_id").orderBy(
        F.col("exposure_ts").asc_nulls_last(),
        F.col("competitor").asc_nulls_last(),
        F.col("channel").asc_nulls_last(),
        F.col("user_pseudo_id").asc_nulls_last(),
    )
    unique = (
        exposures.select(exposure_key.alias("exposure_id"), "exposure_ts", "competitor", "channel", "user_pseudo_id")
        .withColumn("_dup", F.row_number().over(by_id))
        .where(F.col("_dup") == 1)
        .drop("_dup")
    )
    devices = identity_map.where(F.col("id_type") == F.lit("device")).select(
        F.col("id_value").alias("user_pseudo_id"), "canonical_user_id"
    )
    with_user = unique.join(devices, on="user_pseudo_id", how="left")
    span_end = F.when(F.col("status").isin(OPEN, TIMED_OUT), F.col("timeout_at")).otherwise(
        F.coalesce(F.col("end_ts"), F.col("timeout_at"))
    )
    spans = journeys.select(
        F.col("journey_id"),
        F.col("canonical_user_id").alias("_j_user"),
        F.col("start_ts").alias("_j_start"),
        span_end.alias("_j_end"),
    )
    candidates = with_user.join(
        spans,
        on=(F.col("canonical_user_id") == F.col("_j_user"))
        & (F.col("exposure_ts") >= F.col("_j_start"))
        & (F.col("exposure_ts") < F.col("_j_end")),
        how="left",
    )
    # Journeys of one user do not overlap; should they, the latest-starting one is the deterministic choice.
    latest_journey = W.partitionBy("exposure_id").orderBy(
        F.col("_j_start").desc_nulls_last(), F.col("journey_id").desc_nulls_last()
    )
    match_status = (
        F.when(F.col("exposure_ts").isNull() | F.col("user_pseudo_id").isNull(), F.lit(INVALID))
        .when(F.col("canonical_user_id").isNull(), F.lit(UNKNOWN_DEVICE))
        .when(F.col("journey_id").isNull(), F.lit(NO_JOURNEY))
        .otherwise(F.lit(MATCHED))
    )
    return (
        candidates.withColumn("_pick", F.row_number().over(latest_journey))
        .where(F.col("_pick") == 1)
        .select(
            "exposure_id",
            "exposure_ts",
            "competitor",
            "channel",
            "user_pseudo_id",
            "canonical_user_id",
            "journey_id",
            match_status.alias("match_status"),
        )
    )


# ---- abandonment detection ------------------------------------------------------------------------------------


def _fatigue_impressions(touchpoints: DataFrame) -> DataFrame:
    """journey_id, trailing_impressions: impressions after the journey's last response (ordered by ts, position)."""
    order = F.struct(F.col("touch_ts"), F.col("position"))
    last_response = touchpoints.groupBy("journey_id").agg(
        F.max(F.when(F.col("interaction_type") != F.lit(IMPRESSION), order)).alias("_last_response")
    )
    return (
        touchpoints.join(last_response, on="journey_id", how="left")
        .groupBy("journey_id")
        .agg(
            F.count(
                F.when(
                    (F.col("interaction_type") == F.lit(IMPRESSION))
                    & (F.col("_last_response").isNull() | (order > F.col("_last_response"))),
                    F.lit(1),
                )
            ).alias("trailing_impressions")
        )
    )


def _budget_capped_journeys(journeys: DataFrame, touchpoints: DataFrame, cost_daily: DataFrame) -> DataFrame:
    """journey_id, budget_capped: the last active day's campaign touches were all on budget-capped campaigns."""
    last_day = journeys.select(F.col("journey_id").alias("_jid"), F.to_date("last_activity_ts").alias("_last_day"))
    # Split rows of one (date, channel, campaign) add up; the budget is a per-campaign setting, so take its max.
    spend = (
        cost_daily.where(F.col("cost_date").isNotNull() & F.col("campaign").isNotNull())
        .groupBy(
            F.col("cost_date").alias("_cost_date"),
            F.col("channel").alias("_cost_channel"),
            F.col("campaign").alias("_cost_campaign"),
        )
        .agg(F.sum("cost").alias("_spend"), F.max("daily_budget").alias("_budget"))
    )
    last_day_touches = touchpoints.where(F.col("campaign").isNotNull()).join(
        last_day,
        on=(F.col("journey_id") == F.col("_jid")) & (F.col("touch_date") == F.col("_last_day")),
        how="inner",
    )
    priced = last_day_touches.join(
        spend,
        on=(F.col("touch_date") == F.col("_cost_date"))
        & (F.col("channel") == F.col("_cost_channel"))
        & (F.col("campaign") == F.col("_cost_campaign")),
        how="inner",
    )
    is_capped = (F.col("_budget") > F.lit(0.0)) & (F.col("_spend") >= F.col("_budget"))
    return priced.groupBy("journey_id").agg(
        (F.count(F.lit(1)) == F.count(F.when(is_capped, F.lit(1)))).alias("budget_capped")
    )


def _competitor_lost(exposures_tied: DataFrame, transitions: DataFrame, as_of: Column) -> DataFrame:
    """journey_id, competitor_no_progress: no state transition strictly after the latest tied exposure."""
    latest = (
        exposures_tied.where((F.col("match_status") == F.lit(MATCHED)) & (F.col("exposure_ts") <= as_of))
        .groupBy("journey_id")
        .agg(F.max("exposure_ts").alias("_last_exposure"))
    )
    last_progress = transitions.groupBy("journey_id").agg(F.max("transition_ts").alias("_last_transition"))
    return latest.join(last_progress, on="journey_id", how="left").select(
        "journey_id",
        (F.col("_last_transition").isNull() | (F.col("_last_transition") <= F.col("_last_exposure"))).alias(
            "competitor_no_progress"
        ),
    )


def detect_abandonment(
    journeys: DataFrame,
    touchpoints: DataFrame,
    transitions: DataFrame,
    exposures_tied: DataFrame,
    cost_daily: DataFrame,
    as_of: datetime,
    journey_config: JourneyConfig,
    config: AbandonmentConfig,
) -> DataFrame:
    """Journeys that are abandoned (or timed out) at ``as_of``, with their primary reason (rules: module docstring).

    Needs ``journeys`` (USER_JOURNEYS_SCHEMA: journey_id, status, current_state, last_activity_ts, timeout_at,
    end_ts), ``touchpoints`` (journey_id, touch_ts, touch_date, position, channel, campaign, interaction_type),
    ``transitions`` (journey_id, transition_ts), ``exposures_tied`` (:func:`tie_exposures`) and ``cost_daily``
    (cost_date, channel, campaign, cost, daily_budget). Only ``open`` and ``timed_out`` journeys are candidates.
    Returns ABANDONMENT_DETECTIONS_SCHEMA: journey_id, reason, matched_reasons (precedence order),
    journey_status (abandoned | timed_out), ended_at (see the module docstring), detected_at (= as_of).
    ``abandoned`` journeys are judged as the open journeys they are (:func:`resumable`).
    """
    now = timestamp_literal(as_of)
    candidates = resumable(journeys).where(F.col("status").isin(OPEN, TIMED_OUT))
    idle_hours = seconds_between(F.col("last_activity_ts"), now) / F.lit(SECONDS_PER_HOUR)
    is_timed_out = (F.col("status") == F.lit(TIMED_OUT)) | (now >= F.col("timeout_at")) | (now >= F.col("max_end_at"))
    is_idle = idle_hours >= F.lit(float(journey_config.inactivity_hours))
    is_stalled = is_idle | is_timed_out

    flags = {
        MANUAL: F.col("journey_id").isin(*config.manual_journey_ids) if config.manual_journey_ids else F.lit(False),
        COMPETITOR: F.coalesce(F.col("competitor_no_progress"), F.lit(False)) & is_stalled,
        BUDGET: F.coalesce(F.col("budget_capped"), F.lit(False)) & is_stalled,
        FATIGUE: F.coalesce(F.col("trailing_impressions"), F.lit(0)) >= F.lit(config.fatigue_min_impressions),
        INACTIVE: F.col("current_state").isin(*INACTIVITY_STATES) & is_idle,
        TIMED_OUT_REASON: is_timed_out,
    }
    matched = F.array_compact(F.array(*[F.when(flags[r], F.lit(r)) for r in REASON_PRECEDENCE]))

    candidate_ids = candidates.select("journey_id")
    evidence = (
        candidates.join(
            _competitor_lost(exposures_tied.join(candidate_ids, on="journey_id", how="inner"), transitions, now),
            on="journey_id",
            how="left",
        )
        .join(
            _budget_capped_journeys(
                candidates, touchpoints.join(candidate_ids, on="journey_id", how="inner"), cost_daily
            ),
            on="journey_id",
            how="left",
        )
        .join(
            _fatigue_impressions(touchpoints.join(candidate_ids, on="journey_id", how="inner")),
            on="journey_id",
            how="left",
        )
    )
    # When the journey stopped: the data's time, never the as-of of whichever run noticed it.
    stall_began = F.least(
        F.col("last_activity_ts") + F.make_dt_interval(hours=F.lit(journey_config.inactivity_hours)),
        F.col("timeout_at"),
    )
    stopped_at = F.when(F.col("reason").isin(*STALL_REASONS), stall_began).otherwise(F.col("last_activity_ts"))
    return (
        evidence.withColumn("matched_reasons", matched)
        .where(F.size("matched_reasons") > 0)
        .withColumn("reason", F.element_at("matched_reasons", 1))
        .select(
            "journey_id",
            "reason",
            "matched_reasons",
            F.when(is_timed_out, F.lit(TIMED_OUT)).otherwise(F.lit(ABANDONED)).alias("journey_status"),
            F.when(is_timed_out, F.coalesce(F.col("end_ts"), F.col("last_activity_ts")))
            .otherwise(stopped_at)
            .alias("ended_at"),
            now.alias("detected_at"),
        )
        .select(*ABANDONMENT_DETECTIONS_SCHEMA.fieldNames())
    )


def resumable(journeys: DataFrame) -> DataFrame:
    """``journeys`` with the abandonment overlay taken off: ``abandoned`` journeys are ``open`` again (no reason, no
    end), as a person can still resume them; every other row is unchanged. Needs USER_JOURNEYS_SCHEMA columns."""
    overlaid = F.col("status") == F.lit(ABANDONED)
    return journeys.withColumns(
        {
            "status": F.when(overlaid, F.lit(OPEN)).otherwise(F.col("status")),
            "abandon_reason": F.when(overlaid, F.lit(None).cast("string")).otherwise(F.col("abandon_reason")),
            "end_ts": F.when(overlaid, F.lit(None).cast("timestamp")).otherwise(F.col("end_ts")),
        }
    )


def apply_abandonment(journeys: DataFrame, abandonments: DataFrame) -> DataFrame:
    """Journeys with recorded abandonments applied: status, abandon_reason and end_ts.

    Needs ``journeys`` (USER_JOURNEYS_SCHEMA) and ``abandonments`` (journey_id, reason, journey_status, ended_at;
    at most one row per journey). Converted journeys are never changed. Returns ``journeys``' columns.
    """
    updates = abandonments.select(
        "journey_id",
        F.col("reason").alias("_reason"),
        F.col("journey_status").alias("_status"),
        F.col("ended_at").alias("_ended_at"),
    )
    applies = F.col("_status").isNotNull() & (F.col("status") != F.lit(CONVERTED_STATUS))
    replaced = {
        "status": F.when(applies, F.col("_status")).otherwise(F.col("status")),
        "abandon_reason": F.when(applies, F.col("_reason")).otherwise(F.col("abandon_reason")),
        "end_ts": F.when(applies, F.col("_ended_at")).otherwise(F.col("end_ts")),
    }
    return journeys.join(updates, on="journey_id", how="left").select(
        *[replaced[c].alias(c) if c in replaced else F.col(c) for c in journeys.columns]
    )


def journey_status_updates(stored: DataFrame, applied: DataFrame) -> DataFrame:
    """The (journey_id, status, abandon_reason, end_ts) rows of gold.user_journeys that differ between ``stored``
    (the table as it is) and ``applied`` (the statuses as of now, :func:`apply_abandonment` over
    :func:`resumable` journeys): new abandonments, changed reasons, and journeys resumed since. A rerun returns
    none. Needs journey_id, status, abandon_reason, end_ts on both.
    """
    before = stored.select(
        "journey_id",
        F.col("status").alias("_s"),
        F.col("abandon_reason").alias("_r"),
        F.col("end_ts").alias("_e"),
    )
    differs = (
        ~F.col("status").eqNullSafe(F.col("_s"))
        | ~F.col("abandon_reason").eqNullSafe(F.col("_r"))
        | ~F.col("end_ts").eqNullSafe(F.col("_e"))
    )
    return (
        applied.select("journey_id", "status", "abandon_reason", "end_ts")
        .join(before, on="journey_id", how="inner")
        .where(differs)
        .select("journey_id", "status", "abandon_reason", "end_ts")
    )


# ---- penalty --------------------------------------------------------------------------------------------------


def with_penalty(df: DataFrame, config: AbandonmentConfig) -> DataFrame:
    """Add the abandonment penalty columns.

    Needs: spend, state_at_abandonment, days_active, reason, expected_value, conversion_probability.
    Adds (weights from ``config``)::

        cost_penalty      = cost_penalty_rate * spend
        state_penalty     = state_weight[state_at_abandonment] * expected_value
        time_factor       = 1 + time_factor_per_day * days_active
        reason_multiplier = reason_multipliers[reason]
        penalty_amount    = (cost_penalty + state_penalty) * time_factor * reason_multiplier
        opportunity_cost  = conversion_probability * expected_value

    The opportunity cost (the expected conversion value lost) is reported beside the penalty, not inside it:
    the state penalty already prices the lost progression, and adding both would count the value twice.
    A state or reason missing from the weights gets weight 0 and multiplier 1.
    """
    state_weight = F.coalesce(_map_literal(config.state_weights)[F.col("state_at_abandonment")], F.lit(0.0))
    multiplier = F.coalesce(_map_literal(config.reason_multipliers)[F.col("reason")], F.lit(1.0))
    return (
        df.withColumn("cost_penalty", F.lit(config.cost_penalty_rate) * F.col("spend"))
        .withColumn("state_penalty", state_weight * F.col("expected_value"))
        .withColumn("time_factor", F.lit(1.0) + F.lit(config.time_factor_per_day) * F.col("days_active"))
        .withColumn("reason_multiplier", multiplier)
        .withColumn(
            "penalty_amount",
            (F.col("cost_penalty") + F.col("state_penalty")) * F.col("time_factor") * F.col("reason_multiplier"),
        )
        .withColumn("opportunity_cost", F.col("conversion_probability") * F.col("expected_value"))
    )


def journey_abandonments(
    detections: DataFrame,
    journeys: DataFrame,
    scores: DataFrame,
    expected_value: DataFrame,
    config: AbandonmentConfig,
) -> DataFrame:
    """gold.journey_abandonments rows for ``detections``.

    Needs ``detections`` (ABANDONMENT_DETECTIONS_SCHEMA), ``journeys`` as they were before the detection
    (USER_JOURNEYS_SCHEMA), ``scores`` (journey_id, conversion_probability; :func:`score_journeys` of the journeys
    at detection) and ``expected_value`` (one row: expected_value). Returns JOURNEY_ABANDONMENTS_SCHEMA; a journey
    without a score gets probability 0 (so no opportunity cost is invented).
    """
    joined = (
        detections.join(journeys, on="journey_id", how="inner")
        .join(scores.select("journey_id", "conversion_probability"), on="journey_id", how="left")
        .join(expected_value.select("expected_value"), how="cross")
        .select(
            "journey_id",
            "canonical_user_id",
            "reason",
            "matched_reasons",
            "journey_status",
            F.col("current_state").alias("state_at_abandonment"),
            "start_ts",
            "last_activity_ts",
            "ended_at",
            "detected_at",
            (seconds_between(F.col("start_ts"), F.col("last_activity_ts")) / F.lit(SECONDS_PER_DAY)).alias(
                "days_active"
            ),
            "touchpoints",
            "spend",
            F.coalesce(F.col("conversion_probability"), F.lit(0.0)).alias("conversion_probability"),
            "expected_value",
        )
    )
    return with_penalty(joined, config).select(*JOURNEY_ABANDONMENTS_SCHEMA.fieldNames())


# ---- conversion probability -----------------------------------------------------------------------------------


def expected_conversion_value(journeys: DataFrame, default_value: float) -> DataFrame:
    """One row: expected_value = mean conversion_value of converted journeys (value > 0), else ``default_value``.

    Needs ``journeys``: status, conversion_value.
    """
    converted = journeys.where((F.col("status") == F.lit(CONVERTED_STATUS)) & (F.col("conversion_value") > F.lit(0.0)))
    return converted.agg(F.coalesce(F.avg("conversion_value"), F.lit(float(default_value))).alias("expected_value"))


def journey_features(journeys: DataFrame, touchpoints: DataFrame, transitions: DataFrame, as_of: datetime) -> DataFrame:
    """Conversion-model features of every journey, taken where its outcome was (or is being) decided.

    Needs ``journeys`` (USER_JOURNEYS_SCHEMA, abandonment applied), ``touchpoints`` (journey_id, touch_ts,
    is_conversion) and ``transitions`` (journey_id, seq, from_state, to_state, transition_ts).
    Returns JOURNEY_FEATURES_SCHEMA where

    - model_state: the current state; for converted journeys the state they converted from (the from_state of
      the transition into CONVERTED, INTENT when there is none);
    - recency_hours: idle time before the outcome: open at as_of - last activity; abandoned at end_ts - last
      activity (its detecting as-of, the same measure an open journey has); timed out at timeout_at - last
      activity; converted at conversion_ts - the last non-conversion touch (the quiet spell they came back from);
    - touch_count: non-conversion touches;
    - converted: 1 converted, 0 timed out or abandoned, null open.
    """
    touches = touchpoints.groupBy("journey_id").agg(
        F.count(F.when(~F.col("is_conversion"), F.lit(1))).cast("int").alias("_touches"),
        F.max(F.when(~F.col("is_conversion"), F.col("touch_ts"))).alias("_last_pre_touch"),
    )
    converted_from = (
        transitions.where(F.col("to_state") == F.lit(CONVERTED))
        .groupBy("journey_id")
        .agg(F.max_by("from_state", F.struct("transition_ts", "seq")).alias("_converted_from"))
    )
    now = timestamp_literal(as_of)
    status = F.col("status")
    model_state = F.when(
        status == F.lit(CONVERTED_STATUS),
        F.coalesce(F.col("_converted_from"), F.lit(STATE_BEFORE_CONVERSION_FALLBACK)),
    ).otherwise(F.col("current_state"))
    outcome_at = (
        F.when(status == F.lit(OPEN), now)
        .when(status == F.lit(CONVERTED_STATUS), F.coalesce(F.col("conversion_ts"), F.col("end_ts")))
        .when(status == F.lit(TIMED_OUT), F.col("timeout_at"))
        .otherwise(F.coalesce(F.col("end_ts"), now))
    )
    quiet_since = F.when(
        status == F.lit(CONVERTED_STATUS), F.coalesce(F.col("_last_pre_touch"), F.col("start_ts"))
    ).otherwise(F.col("last_activity_ts"))
    recency = F.greatest(F.lit(0.0), seconds_between(quiet_since, outcome_at) / F.lit(SECONDS_PER_HOUR))
    touch_count = F.coalesce(F.col("_touches"), F.lit(0))
    converted = (
        F.when(status == F.lit(CONVERTED_STATUS), F.lit(1))
        .when(status.isin(TIMED_OUT, ABANDONED), F.lit(0))
        .otherwise(F.lit(None).cast("int"))
    )
    return (
        journeys.join(touches, on="journey_id", how="left")
        .join(converted_from, on="journey_id", how="left")
        .select(
            "journey_id",
            "canonical_user_id",
            "status",
            model_state.alias("model_state"),
            recency.alias("recency_hours"),
            touch_count.cast("int").alias("touch_count"),
        )
        .select(
            "*",
            _bucket(F.col("recency_hours"), RECENCY_BUCKET_BOUNDS_HOURS, RECENCY_BUCKET_LABELS, inclusive=False).alias(
                "recency_bucket"
            ),
            _bucket(
                F.col("touch_count"), [float(b) for b in TOUCH_BUCKET_MAX_TOUCHES], TOUCH_BUCKET_LABELS, inclusive=True
            ).alias("touch_bucket"),
            converted.alias("converted"),
        )
        .select(*JOURNEY_FEATURES_SCHEMA.fieldNames())
    )


def fit_conversion_model(spark: SparkSession, features: DataFrame, config: AbandonmentConfig) -> DataFrame:
    """Empirical conversion probabilities from completed journeys, smoothed toward coarser levels.

    Needs ``features`` (:func:`journey_features`). With alpha = ``config.conversion_smoothing_alpha`` (a count of
    pseudo-journeys) and prior = ``config.prior_conversion_rate``::

        p_all           = (conversions + alpha * prior) / (journeys + alpha)
        p_state         = (conversions_s + alpha * p_all) / (journeys_s + alpha)
        p_state_buckets = (conversions_b + alpha * p_state) / (journeys_b + alpha)

    so a small bucket stays near its state's rate and an empty one equals it. Returns CONVERSION_MODEL_SCHEMA:
    one ALL row, one row per non-converted state (bucket columns null, even for states never seen) and one per
    observed (state, recency bucket, touch bucket). The table is tiny (at most 4 x 4 x 4 rows).
    """
    alpha = F.lit(float(config.conversion_smoothing_alpha))
    completed = features.where(F.col("converted").isNotNull())
    overall = completed.agg(
        F.count(F.lit(1)).alias("journeys"), F.coalesce(F.sum("converted"), F.lit(0)).cast("long").alias("conversions")
    ).withColumn(
        "p_all",
        (F.col("conversions") + alpha * F.lit(float(config.prior_conversion_rate))) / (F.col("journeys") + alpha),
    )
    p_all = overall.select("p_all")
    states = spark.createDataFrame([(s,) for s in MODEL_STATES], "model_state string")
    by_state = completed.groupBy("model_state").agg(
        F.count(F.lit(1)).alias("journeys"), F.sum("converted").cast("long").alias("conversions")
    )
    state_rows = (
        states.join(by_state, on="model_state", how="full")
        .join(p_all, how="cross")
        .select(
            "model_state",
            F.coalesce(F.col("journeys"), F.lit(0)).cast("long").alias("journeys"),
            F.coalesce(F.col("conversions"), F.lit(0)).cast("long").alias("conversions"),
            "p_all",
        )
        .withColumn("p_state", (F.col("conversions") + alpha * F.col("p_all")) / (F.col("journeys") + alpha))
    )
    bucket_rows = (
        completed.groupBy("model_state", "recency_bucket", "touch_bucket")
        .agg(F.count(F.lit(1)).alias("journeys"), F.sum("converted").cast("long").alias("conversions"))
        .join(state_rows.select("model_state", "p_state"), on="model_state", how="inner")
        .select(
            "model_state",
            "recency_bucket",
            "touch_bucket",
            "journeys",
            "conversions",
            ((F.col("conversions") + alpha * F.col("p_state")) / (F.col("journeys") + alpha)).alias(
                "conversion_probability"
            ),
        )
    )
    no_bucket = F.lit(None).cast("string")
    return (
        overall.select(
            F.lit(ALL_STATES).alias("model_state"),
            no_bucket.alias("recency_bucket"),
            no_bucket.alias("touch_bucket"),
            "journeys",
            "conversions",
            F.col("p_all").alias("conversion_probability"),
        )
        .unionByName(
            state_rows.select(
                "model_state",
                no_bucket.alias("recency_bucket"),
                no_bucket.alias("touch_bucket"),
                "journeys",
                "conversions",
                F.col("p_state").alias("conversion_probability"),
            )
        )
        .unionByName(bucket_rows)
        .select(*CONVERSION_MODEL_SCHEMA.fieldNames())
    )


def score_journeys(features: DataFrame, model: DataFrame, expected_value: DataFrame, as_of: datetime) -> DataFrame:
    """Conversion probability of each journey in ``features``: its bucket's, else its state's, else overall.

    Needs ``features`` (:func:`journey_features`), ``model`` (:func:`fit_conversion_model`) and ``expected_value``
    (one row). Returns JOURNEY_SCORES_SCHEMA; model_support is the number of completed journeys behind the
    probability used (0 when it fell back to the state or overall rate through an empty bucket).
    """
    buckets = model.where(F.col("recency_bucket").isNotNull()).select(
        "model_state",
        "recency_bucket",
        "touch_bucket",
        F.col("journeys").alias("_b_support"),
        F.col("conversion_probability").alias("_p_bucket"),
    )
    state_level = model.where(F.col("recency_bucket").isNull() & (F.col("model_state") != F.lit(ALL_STATES)))
    states = state_level.select("model_state", F.col("conversion_probability").alias("_p_state"))
    overall = model.where(F.col("model_state") == F.lit(ALL_STATES)).select(
        F.col("conversion_probability").alias("_p_all")
    )
    probability = F.coalesce(F.col("_p_bucket"), F.col("_p_state"), F.col("_p_all"))
    return (
        features.join(buckets, on=["model_state", "recency_bucket", "touch_bucket"], how="left")
        .join(states, on="model_state", how="left")
        .join(overall, how="cross")
        .join(expected_value.select("expected_value"), how="cross")
        .select(
            "journey_id",
            "canonical_user_id",
            "model_state",
            "recency_bucket",
            "touch_bucket",
            F.coalesce(F.col("_b_support"), F.lit(0)).cast("long").alias("model_support"),
            probability.alias("conversion_probability"),
            "expected_value",
            (probability * F.col("expected_value")).alias("expected_conversion_value"),
            timestamp_literal(as_of).alias("scored_as_of"),
        )
        .select(*JOURNEY_SCORES_SCHEMA.fieldNames())
    )


# ---- funnel ---------------------------------------------------------------------------------------------------


def session_funnel(events: DataFrame) -> DataFrame:
    """One row per session with the funnel events it had.

    Needs ``events`` (bronze.events): event_id, event_ts, event_seq, event_name, device_key, source_session_id,
    channel. A session is (device_key, source_session_id); events without a session id are grouped per device and
    UTC day so they still count. Returns session_key, funnel_date (UTC date of the first event), channel (first
    non-null channel, else Unassigned), and one boolean ``has_<event_name>`` per funnel event.
    """
    session_key = F.when(
        F.col("source_session_id").isNotNull(),
        F.concat_ws("|", F.col("device_key").cast("string"), F.col("source_session_id")),
    ).otherwise(
        F.concat_ws("|", F.col("device_key").cast("string"), F.lit("day"), F.to_date("event_ts").cast("string"))
    )
    event_order = F.struct("event_ts", "event_seq", "event_id")
    flags = [F.max(F.col("event_name") == F.lit(event)).alias(f"has_{event}") for _, event in FUNNEL_STEPS if event]
    return (
        events.withColumn("session_key", session_key)
        .groupBy("session_key")
        .agg(
            F.to_date(F.min("event_ts")).alias("funnel_date"),
            F.min_by("channel", F.when(F.col("channel").isNotNull(), event_order)).alias("_channel"),
            *flags,
        )
        .select(
            "session_key",
            "funnel_date",
            F.coalesce(F.col("_channel"), F.lit(UNASSIGNED_CHANNEL)).alias("channel"),
            *[F.col(f"has_{event}") for _, event in FUNNEL_STEPS if event],
        )
    )


def funnel_daily(sessions: DataFrame) -> DataFrame:
    """Closed funnel per day and channel: session -> product_view -> add_to_cart -> checkout -> purchase.

    Needs ``sessions`` (:func:`session_funnel`). A session reaches a step when it reached the previous step and
    had the step's event (order inside the session is not required: GA4 batches events). Per (day, channel, step):
    entered = sessions that reached the step, completed = those that reached the next step (purchase, the goal:
    all of them), dropped = entered - completed. Returns FUNNEL_DAILY_SCHEMA.
    """
    reached: list[Column] = []
    for _, event in FUNNEL_STEPS:
        has = F.lit(True) if event is None else F.col(f"has_{event}")
        reached.append(has if not reached else reached[-1] & has)
    steps = F.array(
        *[
            F.struct(
                F.lit(name).alias("step"),
                F.lit(order).alias("step_order"),
                reached[order - 1].alias("reached"),
                (reached[order] if order < len(FUNNEL_STEPS) else reached[order - 1]).alias("reached_next"),
            )
            for order, (name, _) in enumerate(FUNNEL_STEPS, start=1)
        ]
    )
    counted = (
        sessions.select("funnel_date", "channel", F.explode(steps).alias("s"))
        .groupBy("funnel_date", "channel", F.col("s.step").alias("step"), F.col("s.step_order").alias("step_order"))
        .agg(
            F.count(F.when(F.col("s.reached"), F.lit(1))).alias("entered"),
            F.count(F.when(F.col("s.reached_next"), F.lit(1))).alias("completed"),
        )
    )
    return counted.select(
        "funnel_date",
        "channel",
        "step",
        "step_order",
        "entered",
        "completed",
        (F.col("entered") - F.col("completed")).alias("dropped"),
        F.when(F.col("entered") > 0, F.col("completed") / F.col("entered")).alias("completion_rate"),
    ).select(*FUNNEL_DAILY_SCHEMA.fieldNames())


def cart_abandonment_daily(sessions: DataFrame) -> DataFrame:
    """Sessions with an add_to_cart and no purchase, per day and channel.

    Needs ``sessions`` (:func:`session_funnel`). Returns CART_ABANDONMENT_DAILY_SCHEMA.
    """
    carts = sessions.where(F.col("has_add_to_cart"))
    return (
        carts.groupBy("funnel_date", "channel")
        .agg(
            F.count(F.lit(1)).alias("cart_sessions"),
            F.count(F.when(F.col("has_purchase"), F.lit(1))).alias("purchased_sessions"),
        )
        .select(
            "funnel_date",
            "channel",
            "cart_sessions",
            "purchased_sessions",
            (F.col("cart_sessions") - F.col("purchased_sessions")).alias("abandoned_carts"),
            ((F.col("cart_sessions") - F.col("purchased_sessions")) / F.col("cart_sessions")).alias(
                "cart_abandonment_rate"
            ),
        )
        .select(*CART_ABANDONMENT_DAILY_SCHEMA.fieldNames())
    )


# ---- competitor impact ----------------------------------------------------------------------------------------


def _initial_states(journeys: DataFrame, transitions: DataFrame) -> DataFrame:
    """journey_id, initial_state: the from_state of the first transition, else the current state."""
    first = transitions.groupBy("journey_id").agg(
        F.min_by("from_state", F.struct("transition_ts", "seq")).alias("_first_from")
    )
    return journeys.join(first, on="journey_id", how="left").select(
        "journey_id", F.coalesce(F.col("_first_from"), F.col("current_state")).alias("initial_state")
    )


def competitor_exposure_outcomes(exposures_tied: DataFrame, journeys: DataFrame, transitions: DataFrame) -> DataFrame:
    """Each tied exposure with the journey's state at exposure and what happened after it.

    Needs ``exposures_tied`` (:func:`tie_exposures`), ``journeys`` (journey_id, status, conversion_ts,
    current_state) and ``transitions`` (journey_id, seq, from_state, to_state, transition_ts). Adds to the tied
    columns: state_at_exposure (the to_state of the last transition at or before the exposure, else the journey's
    initial state), progressed_after (a transition strictly after the exposure to a later state), converted_after
    (converted strictly after the exposure). The three are null for unmatched exposures.
    """
    matched = exposures_tied.where(F.col("match_status") == F.lit(MATCHED)).select(
        "exposure_id", "journey_id", "exposure_ts"
    )
    before = F.col("transition_ts") <= F.col("exposure_ts")
    per_exposure = (
        matched.join(transitions.select("journey_id", "seq", "to_state", "transition_ts"), on="journey_id", how="left")
        .groupBy("exposure_id", "journey_id", "exposure_ts")
        .agg(
            F.max_by(F.col("to_state"), F.when(before, F.struct("transition_ts", "seq"))).alias("_state_then"),
            F.max(F.when(F.col("transition_ts") > F.col("exposure_ts"), _state_rank(F.col("to_state")))).alias(
                "_best_rank_after"
            ),
        )
        .join(_initial_states(journeys, transitions), on="journey_id", how="left")
        .join(journeys.select("journey_id", "status", "conversion_ts"), on="journey_id", how="left")
    )
    state_then = F.coalesce(F.col("_state_then"), F.col("initial_state"))
    outcomes = per_exposure.select(
        "exposure_id",
        state_then.alias("state_at_exposure"),
        F.coalesce(F.col("_best_rank_after") > _state_rank(state_then), F.lit(False)).alias("progressed_after"),
        (
            (F.col("status") == F.lit(CONVERTED_STATUS))
            & F.coalesce(F.col("conversion_ts") > F.col("exposure_ts"), F.lit(False))
        ).alias("converted_after"),
    )
    return exposures_tied.join(outcomes, on="exposure_id", how="left")


def competitor_impact(exposure_outcomes: DataFrame, journeys: DataFrame, transitions: DataFrame) -> DataFrame:
    """Conversion and progression rates of exposed versus comparable unexposed journeys, per state.

    Needs ``exposure_outcomes`` (:func:`competitor_exposure_outcomes`), ``journeys`` (journey_id, status,
    current_state) and ``transitions``. Only completed journeys (not open) count, so outcomes are known.
    Exposed in state s: journeys whose *first* exposure found them in s; their rates are the shares that
    converted / progressed past s after it. Unexposed in state s: journeys with no matched exposure that were ever
    in s (initial state, any to_state, or current state); their rates are the shares that converted / reached a
    state later than s. Deltas are exposed - unexposed. Returns COMPETITOR_IMPACT_SCHEMA (states with no journey
    on either side are omitted; a side without journeys has null rates).
    """
    completed = journeys.where(F.col("status") != F.lit(OPEN))
    first_exposure = (
        exposure_outcomes.where(F.col("match_status") == F.lit(MATCHED))
        .groupBy("journey_id")
        .agg(
            F.min_by(
                F.struct("state_at_exposure", "progressed_after", "converted_after"),
                F.struct("exposure_ts", "exposure_id"),
            ).alias("f")
        )
        .join(completed.select("journey_id"), on="journey_id", how="inner")
    )
    exposed = first_exposure.groupBy(F.col("f.state_at_exposure").alias("state")).agg(
        F.count(F.lit(1)).alias("exposed_journeys"),
        F.avg(F.col("f.converted_after").cast("double")).alias("exposed_conversion_rate"),
        F.avg(F.col("f.progressed_after").cast("double")).alias("exposed_progression_rate"),
    )
    visited = (
        transitions.select("journey_id", "from_state")
        .unionByName(transitions.select("journey_id", F.col("to_state").alias("from_state")))
        .groupBy("journey_id")
        .agg(F.collect_set("from_state").alias("_visited"))
    )
    unexposed_journeys = completed.join(first_exposure.select("journey_id"), on="journey_id", how="left_anti").join(
        visited, on="journey_id", how="left"
    )
    states_visited = F.array_distinct(
        F.concat(F.coalesce(F.col("_visited"), F.array().cast("array<string>")), F.array(F.col("current_state")))
    )
    max_rank = F.aggregate(
        F.transform(states_visited, _state_rank), F.lit(-1.0), lambda acc, rank: F.greatest(acc, rank)
    )
    per_state = unexposed_journeys.select(
        F.explode(states_visited).alias("state"),
        (F.col("status") == F.lit(CONVERTED_STATUS)).cast("double").alias("_converted"),
        max_rank.alias("_max_rank"),
    ).where(F.col("state") != F.lit(CONVERTED))
    unexposed = per_state.groupBy("state").agg(
        F.count(F.lit(1)).alias("unexposed_journeys"),
        F.avg("_converted").alias("unexposed_conversion_rate"),
        F.avg((F.col("_max_rank") > _state_rank(F.col("state"))).cast("double")).alias("unexposed_progression_rate"),
    )
    return (
        exposed.join(unexposed, on="state", how="full")
        .select(
            "state",
            F.coalesce(F.col("exposed_journeys"), F.lit(0)).cast("long").alias("exposed_journeys"),
            F.coalesce(F.col("unexposed_journeys"), F.lit(0)).cast("long").alias("unexposed_journeys"),
            "exposed_conversion_rate",
            "unexposed_conversion_rate",
            (F.col("exposed_conversion_rate") - F.col("unexposed_conversion_rate")).alias("conversion_rate_delta"),
            "exposed_progression_rate",
            "unexposed_progression_rate",
            (F.col("exposed_progression_rate") - F.col("unexposed_progression_rate")).alias("progression_rate_delta"),
        )
        .select(*COMPETITOR_IMPACT_SCHEMA.fieldNames())
    )


def competitor_exposures_table(exposure_outcomes: DataFrame, impact: DataFrame) -> DataFrame:
    """gold.competitor_exposures: each exposure with the impact estimate of the state it was seen in.

    Needs ``exposure_outcomes`` (:func:`competitor_exposure_outcomes`) and ``impact`` (:func:`competitor_impact`).
    Returns COMPETITOR_EXPOSURES_OUT_SCHEMA.
    """
    rates = impact.select(
        F.col("state").alias("state_at_exposure"),
        "exposed_conversion_rate",
        "unexposed_conversion_rate",
        "conversion_rate_delta",
        "exposed_progression_rate",
        "unexposed_progression_rate",
        "progression_rate_delta",
    )
    return exposure_outcomes.join(rates, on="state_at_exposure", how="left").select(
        *COMPETITOR_EXPOSURES_OUT_SCHEMA.fieldNames()
    )
