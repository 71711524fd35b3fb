"""Multi-touch attribution of converted journeys: heuristic and data-driven models, per touch.

Pure DataFrame -> DataFrame functions; the stage runner (:mod:`journeylake.stages.attribution`)
reads the tables and writes the results.

Conventions (documented once, here):

* One conversion per converted journey; ``conversion_id`` is the ``journey_id``. Its time is
  the journey's ``conversion_ts``, else its first conversion touch, else its last activity;
  a missing value counts as 0.0. The conversion type is ``purchase`` for now; it selects
  the lookback window (``lookback_days_by_conversion`` overrides ``lookback_days``).
* Touches belong only to their own journey's conversion, so a touch is never credited
  twice. As in ChannelAttribution, the conversion event itself is not a marketing touch:
  touches with interaction type ``conversion`` (or flagged ``is_conversion``) are listed
  with reason ``conversion_event`` and never credited.
* A touch is eligible when ``conversion_ts - touch_ts <= lookback`` (a touch exactly at the
  edge is eligible) and it is not after the conversion. Eligible touches are ordered by
  (position, touch_ts, touchpoint_id).
* Every model emits one row per touch of the journey. Included rows share credit 1; a
  conversion with no eligible touch gets one synthetic ``(none)`` row per model with
  credit 1 and reason ``no_eligible_touch``, so every conversion's credits sum to 1 and
  its credited values to its value.
* Markov and Shapley assign a conversion's credit to the distinct channels (Shapley:
  channel groups, rare channels bucketed) on its eligible path in proportion to their
  global removal effect (Shapley value), then equally over that channel's touches; when
  all of them weigh 0 the conversion falls back to linear. Channel totals in the usual
  convention (total conversions x normalised removal effect) come from
  :func:`journeylake.markov.normalized_totals`; summing this table's per-conversion
  credits gives totals that reconcile with every conversion instead.
* Markov transitions come from the eligible paths of conversions (ending in conversion)
  and the whole marketing path of every non-converted journey (ending in null).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake import markov
from journeylake.config import AttributionConfig
from journeylake.schemas.attribution import (
    ATTRIBUTION_SCHEMA,
    CHANNEL_HISTORY_SCHEMA,
    CHANNEL_SET_CONVERSIONS_SCHEMA,
    CHANNEL_WEIGHTS_SCHEMA,
    CONVERSIONS_SCHEMA,
    FIRST_TOUCH,
    LABELLED_TOUCHES_SCHEMA,
    LAST_NON_DIRECT,
    LAST_TOUCH,
    LINEAR,
    MARKOV,
    MARKOV_TRANSITIONS_SCHEMA,
    MODELS,
    NO_TOUCH_CHANNEL,
    NO_TOUCH_ID,
    POSITION_BASED,
    REASON_AFTER_CONVERSION,
    REASON_CONVERSION_EVENT,
    REASON_DIRECT_EXCLUDED,
    REASON_INCLUDED,
    REASON_NO_ELIGIBLE_TOUCH,
    REASON_NOT_FIRST,
    REASON_NOT_LAST,
    REASON_OUTSIDE_LOOKBACK,
    SHAPLEY,
    STATE_KIND_CHANNELS,
    STATE_KIND_CONVERSION,
    STATE_KIND_NULL,
    STATE_KIND_START,
    TIME_DECAY,
)
from journeylake.schemas.journeys import CONVERTED_STATUS

PURCHASE = "purchase"
CONVERSION_INTERACTION = "conversion"
# GA4's default channel group name for direct traffic, and the source value GA4 uses.
DIRECT_CHANNELS = ("direct", "(direct)")
MICROS_PER_DAY = 86_400 * 1_000_000
TWO_TOUCH_SHARE = 0.5  # position based: a two-touch path is split 50/50 whatever the weights
CREDIT_TOLERANCE = 1e-9  # credits of a conversion and model must sum to 1 within this
NOT_SET_CHANNEL = "(not set)"

_TOUCH_ORDER = ("position", "touch_ts", "touchpoint_id")


def conform(df: DataFrame, schema: T.StructType) -> DataFrame:
    """Select exactly ``schema``'s columns, in order, cast to its types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _validate(config: AttributionConfig) -> None:
    if config.lookback_days <= 0 or any(days <= 0 for _, days in config.lookback_days_by_conversion):
        raise ValueError("attribution lookback days must be positive")
    if config.half_life_days <= 0:
        raise ValueError(f"attribution.half_life_days must be positive, got {config.half_life_days}")
    first, last = config.position_first_weight, config.position_last_weight
    if first < 0 or last < 0 or first + last > 1:
        raise ValueError(f"position weights must be >= 0 and sum to <= 1, got first={first} last={last}")
    if config.markov_order < 1:
        raise ValueError(f"attribution.markov_order must be >= 1, got {config.markov_order}")


def is_conversion_event(touch_interaction: Column, touch_is_conversion: Column) -> Column:
    return (touch_interaction == F.lit(CONVERSION_INTERACTION)) | F.coalesce(touch_is_conversion, F.lit(False))


def is_direct(channel: Column) -> Column:
    return F.lower(F.trim(channel)).isin(*DIRECT_CHANNELS)


def lookback_micros(conversion_type: Column, config: AttributionConfig) -> Column:
    """The lookback window of each conversion type, in microseconds."""
    days: Column = F.lit(config.lookback_days)
    for conversion_kind, override in config.lookback_days_by_conversion:
        days = F.when(conversion_type == F.lit(conversion_kind), F.lit(override)).otherwise(days)
    return days.cast("long") * F.lit(MICROS_PER_DAY)


# ---- conversions and eligible touches -------------------------------------------------------------


def duplicate_touchpoints(touchpoints_df: DataFrame) -> DataFrame:
    """touchpoint_id values that occur more than once (they would break the attribution key).

    Needs touchpoints (touchpoint_id); returns touchpoint_id, occurrences.
    """
    return (
        touchpoints_df.groupBy("touchpoint_id")
        .agg(F.count(F.lit(1)).alias("occurrences"))
        .where(F.col("occurrences") > 1)
        .select("touchpoint_id", "occurrences")
    )


def conversions_from_journeys(journeys_df: DataFrame, touchpoints_df: DataFrame) -> DataFrame:
    """One conversion per converted journey.

    Needs journeys (journey_id, canonical_user_id, status, conversion_ts, conversion_value,
    last_activity_ts) and touchpoints (journey_id, touch_ts, interaction_type, is_conversion).
    Returns CONVERSIONS_SCHEMA.
    """
    conversion_touch_ts = (
        touchpoints_df.where(is_conversion_event(F.col("interaction_type"), F.col("is_conversion")))
        .groupBy("journey_id")
        .agg(F.min("touch_ts").alias("conversion_touch_ts"))
    )
    converted = journeys_df.where(F.col("status") == F.lit(CONVERTED_STATUS)).join(
        conversion_touch_ts, on="journey_id", how="left"
    )
    conversion_ts = F.coalesce(F.col("conversion_ts"), F.col("conversion_touch_ts"), F.col("last_activity_ts"))
    return conform(
        converted.select(
            F.col("journey_id").alias("conversion_id"),
            "journey_id",
            "canonical_user_id",
            F.lit(PURCHASE).alias("conversion_type"),
            conversion_ts.alias("conversion_ts"),
            F.to_date(conversion_ts).alias("conversion_date"),
            F.coalesce(F.col("conversion_value"), F.lit(0.0)).alias("conversion_value"),
        ),
        CONVERSIONS_SCHEMA,
    )


def label_touches(conversions_df: DataFrame, touchpoints_df: DataFrame, config: AttributionConfig) -> DataFrame:
    """Every touch of every converted journey, with its eligibility for credit and its rank.

    Needs CONVERSIONS_SCHEMA and touchpoints (touchpoint_id, journey_id, touch_ts, position,
    channel, interaction_type, is_conversion). Returns LABELLED_TOUCHES_SCHEMA.
    """
    _validate(config)
    touches = touchpoints_df.select(
        "journey_id",
        "touchpoint_id",
        "touch_ts",
        "position",
        F.coalesce(F.col("channel"), F.lit(NOT_SET_CHANNEL)).alias("channel"),
        is_conversion_event(F.col("interaction_type"), F.col("is_conversion")).alias("is_conversion_event"),
    )
    joined = conversions_df.join(touches, on="journey_id", how="inner").withColumn(
        "age_micros", F.unix_micros(F.col("conversion_ts")) - F.unix_micros(F.col("touch_ts"))
    )
    exclusion_reason = (
        F.when(F.col("is_conversion_event"), F.lit(REASON_CONVERSION_EVENT))
        .when(F.col("age_micros") < 0, F.lit(REASON_AFTER_CONVERSION))
        .when(F.col("age_micros") > lookback_micros(F.col("conversion_type"), config), F.lit(REASON_OUTSIDE_LOOKBACK))
        .otherwise(F.lit(REASON_INCLUDED))
    )
    labelled = joined.withColumn("exclusion_reason", exclusion_reason).withColumn(
        "eligible", F.col("exclusion_reason") == F.lit(REASON_INCLUDED)
    )
    by_eligibility = W.partitionBy("conversion_id", "eligible")
    ordered = by_eligibility.orderBy(*_TOUCH_ORDER)
    whole = by_eligibility.rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    rank = F.row_number().over(ordered)
    count = F.count(F.lit(1)).over(whole)
    return conform(
        labelled.select(
            "*",
            is_direct(F.col("channel")).alias("is_direct"),
            F.when(F.col("eligible"), rank).alias("eligible_rank"),
            F.when(F.col("eligible"), count - rank + 1).alias("eligible_rank_desc"),
            F.when(F.col("eligible"), count).alias("eligible_count"),
        ),
        LABELLED_TOUCHES_SCHEMA,
    )


# ---- heuristic models ------------------------------------------------------------------------------


def _model_rows(labelled: DataFrame, model: str, credit: Column, reason: Column) -> DataFrame:
    """ATTRIBUTION_SCHEMA rows of ``model``: ``credit`` for eligible touches, 0 for the others.

    ``reason`` applies to eligible touches; ineligible ones keep their exclusion reason.
    """
    eligible = F.col("eligible")
    final_reason = F.when(eligible, reason).otherwise(F.col("exclusion_reason"))
    final_credit = F.when(eligible & (final_reason == F.lit(REASON_INCLUDED)), credit).otherwise(F.lit(0.0))
    return conform(
        labelled.select(
            "*",
            F.lit(model).alias("model"),
            final_credit.alias("credit"),
            (final_credit * F.col("conversion_value")).alias("credited_value"),
            (final_reason == F.lit(REASON_INCLUDED)).alias("included"),
            final_reason.alias("reason"),
        ),
        ATTRIBUTION_SCHEMA,
    )


def first_touch_credits(labelled: DataFrame) -> DataFrame:
    """The first eligible touch gets all the credit. Needs LABELLED_TOUCHES_SCHEMA; returns ATTRIBUTION_SCHEMA."""
    is_first = F.col("eligible_rank") == 1
    reason = F.when(is_first, F.lit(REASON_INCLUDED)).otherwise(F.lit(REASON_NOT_FIRST))
    return _model_rows(labelled, FIRST_TOUCH, F.lit(1.0), reason)


def last_touch_credits(labelled: DataFrame) -> DataFrame:
    """The last eligible touch gets all the credit. Needs LABELLED_TOUCHES_SCHEMA; returns ATTRIBUTION_SCHEMA."""
    is_last = F.col("eligible_rank_desc") == 1
    reason = F.when(is_last, F.lit(REASON_INCLUDED)).otherwise(F.lit(REASON_NOT_LAST))
    return _model_rows(labelled, LAST_TOUCH, F.lit(1.0), reason)


def last_non_direct_credits(labelled: DataFrame) -> DataFrame:
    """The last eligible non-Direct touch gets all the credit; the last touch when the whole path is Direct.

    Needs LABELLED_TOUCHES_SCHEMA; returns ATTRIBUTION_SCHEMA.
    """
    by_conversion = W.partitionBy("conversion_id", "eligible")
    has_non_direct = F.max((~F.col("is_direct")).cast("int")).over(
        by_conversion.rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    )
    rank_desc_by_directness = F.row_number().over(
        W.partitionBy("conversion_id", "eligible", "is_direct").orderBy(*[F.col(c).desc() for c in _TOUCH_ORDER])
    )
    with_flags = labelled.select(
        "*",
        (has_non_direct == 1).alias("has_non_direct"),
        rank_desc_by_directness.alias("rank_desc_by_directness"),
    )
    credited = F.when(F.col("has_non_direct"), ~F.col("is_direct") & (F.col("rank_desc_by_directness") == 1)).otherwise(
        F.col("eligible_rank_desc") == 1
    )
    reason = (
        F.when(credited, F.lit(REASON_INCLUDED))
        .when(F.col("has_non_direct") & F.col("is_direct"), F.lit(REASON_DIRECT_EXCLUDED))
        .otherwise(F.lit(REASON_NOT_LAST))
    )
    return _model_rows(with_flags, LAST_NON_DIRECT, F.lit(1.0), reason)


def linear_credits(labelled: DataFrame) -> DataFrame:
    """Equal credit per eligible touch, repeats included. Needs LABELLED_TOUCHES_SCHEMA; returns ATTRIBUTION_SCHEMA."""
    return _model_rows(labelled, LINEAR, F.lit(1.0) / F.col("eligible_count"), F.lit(REASON_INCLUDED))


def time_decay_credits(labelled: DataFrame, half_life_days: float) -> DataFrame:
    """Credit proportional to 2^(-age / half_life), age = conversion_ts - touch_ts (continuous).

    Weights are taken relative to the youngest eligible touch (which weighs 1), so a short
    half-life cannot underflow every weight to 0. Needs LABELLED_TOUCHES_SCHEMA; returns
    ATTRIBUTION_SCHEMA.
    """
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    whole = W.partitionBy("conversion_id", "eligible").rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    half_life_micros = F.lit(half_life_days * MICROS_PER_DAY)
    youngest = F.min("age_micros").over(whole)
    with_weight = labelled.withColumn(
        "decay_weight", F.pow(F.lit(2.0), -(F.col("age_micros") - youngest) / half_life_micros)
    )
    credit = F.col("decay_weight") / F.sum("decay_weight").over(whole)
    return _model_rows(with_weight, TIME_DECAY, credit, F.lit(REASON_INCLUDED))


def position_based_credits(labelled: DataFrame, first_weight: float, last_weight: float) -> DataFrame:
    """First and last eligible touches get their weights, the middle ones share the rest equally.

    One touch gets 1; two touches get 0.5 each. Needs LABELLED_TOUCHES_SCHEMA; returns
    ATTRIBUTION_SCHEMA.
    """
    if first_weight < 0 or last_weight < 0 or first_weight + last_weight > 1:
        raise ValueError(f"position weights must be >= 0 and sum to <= 1, got {first_weight}, {last_weight}")
    count = F.col("eligible_count")
    middle = (F.lit(1.0 - first_weight - last_weight)) / (count - 2)
    credit = (
        F.when(count == 1, F.lit(1.0))
        .when(count == 2, F.lit(TWO_TOUCH_SHARE))
        .when(F.col("eligible_rank") == 1, F.lit(first_weight))
        .when(F.col("eligible_rank_desc") == 1, F.lit(last_weight))
        .otherwise(middle)
    )
    return _model_rows(labelled, POSITION_BASED, credit, F.lit(REASON_INCLUDED))


# ---- data-driven models ----------------------------------------------------------------------------


def weighted_channel_credits(labelled: DataFrame, weights_df: DataFrame, model: str) -> DataFrame:
    """Credit over the distinct channel groups on the path in proportion to their weight, equal within a group.

    Needs LABELLED_TOUCHES_SCHEMA and CHANNEL_WEIGHTS_SCHEMA (channels missing from it weigh
    0 and form their own group). When every group on a path weighs 0 the conversion falls
    back to linear. Returns ATTRIBUTION_SCHEMA.
    """
    weighted = labelled.join(F.broadcast(weights_df), on="channel", how="left").select(
        *LABELLED_TOUCHES_SCHEMA.fieldNames(),
        F.coalesce(F.col("channel_group"), F.col("channel")).alias("channel_group"),
        F.coalesce(F.col("weight"), F.lit(0.0)).alias("weight"),
    )
    group_touches = F.count(F.lit(1)).over(
        W.partitionBy("conversion_id", "eligible", "channel_group").rowsBetween(
            W.unboundedPreceding, W.unboundedFollowing
        )
    )
    with_touch_weight = weighted.withColumn("touch_weight", F.col("weight") / group_touches)
    # Summing weight / touches-of-its-group over the path's touches adds each distinct group's weight once.
    path_weight = F.sum("touch_weight").over(
        W.partitionBy("conversion_id", "eligible").rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    )
    credit = F.when(path_weight > 0, F.col("touch_weight") / path_weight).otherwise(
        F.lit(1.0) / F.col("eligible_count")
    )
    return _model_rows(with_touch_weight, model, credit, F.lit(REASON_INCLUDED))


def markov_path_touches(labelled: DataFrame, touchpoints_df: DataFrame, journeys_df: DataFrame) -> DataFrame:
    """The touches of every Markov path: eligible touches of conversions, marketing touches of the rest.

    Needs LABELLED_TOUCHES_SCHEMA, touchpoints (journey_id, touchpoint_id, touch_ts,
    position, channel, interaction_type, is_conversion) and journeys (journey_id, status).
    Returns path_id, touchpoint_id, touch_ts, position, channel, converted.
    """
    converting = labelled.where(F.col("eligible")).select(
        F.col("conversion_id").alias("path_id"),
        "touchpoint_id",
        "touch_ts",
        "position",
        "channel",
        F.lit(True).alias("converted"),
    )
    open_journeys = journeys_df.where(F.col("status") != F.lit(CONVERTED_STATUS)).select("journey_id")
    non_converting = (
        touchpoints_df.join(open_journeys, on="journey_id", how="inner")
        .where(~is_conversion_event(F.col("interaction_type"), F.col("is_conversion")))
        .select(
            F.col("journey_id").alias("path_id"),
            "touchpoint_id",
            "touch_ts",
            "position",
            F.coalesce(F.col("channel"), F.lit(NOT_SET_CHANNEL)).alias("channel"),
            F.lit(False).alias("converted"),
        )
    )
    return converting.unionByName(non_converting)


def markov_transition_counts(path_touches: DataFrame, order: int) -> DataFrame:
    """Transition counts between order-k states, aggregated over all paths.

    A state is the array of the last min(i, order) channels after the i-th touch; every
    path starts in START and ends in CONVERSION or NULL. Needs the columns of
    :func:`markov_path_touches`; returns MARKOV_TRANSITIONS_SCHEMA (small: at most states^2 rows).
    """
    if order < 1:
        raise ValueError(f"Markov order must be >= 1, got {order}")
    ordered = W.partitionBy("path_id").orderBy(*_TOUCH_ORDER)
    state = F.collect_list("channel").over(ordered.rowsBetween(-(order - 1), W.currentRow))
    path_length = F.count(F.lit(1)).over(
        W.partitionBy("path_id").rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    )
    with_state = path_touches.select(
        "path_id",
        "converted",
        state.alias("state"),
        F.row_number().over(ordered).alias("step"),
        path_length.alias("path_length"),
    )
    with_previous = with_state.withColumn(
        "previous_state", F.lag("state", 1).over(W.partitionBy("path_id").orderBy("step"))
    )
    empty_state = F.array().cast(T.ArrayType(T.StringType()))
    into_state = with_previous.select(
        F.when(F.col("step") == 1, F.lit(STATE_KIND_START)).otherwise(F.lit(STATE_KIND_CHANNELS)).alias("from_kind"),
        F.when(F.col("step") == 1, empty_state).otherwise(F.col("previous_state")).alias("from_state"),
        F.lit(STATE_KIND_CHANNELS).alias("to_kind"),
        F.col("state").alias("to_state"),
    )
    into_end = with_previous.where(F.col("step") == F.col("path_length")).select(
        F.lit(STATE_KIND_CHANNELS).alias("from_kind"),
        F.col("state").alias("from_state"),
        F.when(F.col("converted"), F.lit(STATE_KIND_CONVERSION)).otherwise(F.lit(STATE_KIND_NULL)).alias("to_kind"),
        empty_state.alias("to_state"),
    )
    counts = (
        into_state.unionByName(into_end)
        .groupBy("from_kind", "from_state", "to_kind", "to_state")
        .agg(F.count(F.lit(1)).cast("double").alias("transitions"))
    )
    return conform(counts, MARKOV_TRANSITIONS_SCHEMA)


def _node(kind: str, state: list[str]) -> markov.Node:
    return {
        STATE_KIND_START: markov.START,
        STATE_KIND_CONVERSION: markov.CONVERSION,
        STATE_KIND_NULL: markov.NULL,
    }.get(kind, tuple(state))


def markov_removal_effects(transitions_df: DataFrame) -> markov.MarkovResult:
    """Solve the absorbing chain of the collected transition counts (driver side).

    Collecting is safe: the frame has at most (states)^2 rows, bounded by the channel
    vocabulary and the order, never by the number of events.
    """
    transitions: dict[tuple[markov.Node, markov.Node], float] = {}
    for row in transitions_df.collect():
        edge = (_node(row["from_kind"], row["from_state"]), _node(row["to_kind"], row["to_state"]))
        transitions[edge] = transitions.get(edge, 0.0) + row["transitions"]
    return markov.removal_effects(transitions)


def channel_weights_frame(labelled: DataFrame, weights: Mapping[str, float], groups: Mapping[str, str]) -> DataFrame:
    """A small CHANNEL_WEIGHTS_SCHEMA frame from driver-side weights per group and channel -> group."""
    rows = [(channel, group, float(weights.get(group, 0.0))) for channel, group in sorted(groups.items())]
    return labelled.sparkSession.createDataFrame(rows, CHANNEL_WEIGHTS_SCHEMA)


def eligible_touches_by_channel(labelled: DataFrame) -> dict[str, float]:
    """Eligible touches per channel, collected: one row per channel of a small vocabulary."""
    rows = labelled.where(F.col("eligible")).groupBy("channel").agg(F.count(F.lit(1)).alias("touches")).collect()
    return {row["channel"]: float(row["touches"]) for row in rows}


def channel_set_conversions(labelled: DataFrame, groups_df: DataFrame) -> DataFrame:
    """Conversions per distinct set of channel groups on the eligible path.

    Needs LABELLED_TOUCHES_SCHEMA and (channel, channel_group); returns
    CHANNEL_SET_CONVERSIONS_SCHEMA, at most 2^groups rows.
    """
    grouped = labelled.where(F.col("eligible")).join(
        F.broadcast(groups_df.select("channel", "channel_group")), on="channel", how="left"
    )
    sets = grouped.groupBy("conversion_id").agg(
        F.array_sort(F.collect_set(F.coalesce(F.col("channel_group"), F.col("channel")))).alias("channel_set")
    )
    counts = sets.groupBy("channel_set").agg(F.count(F.lit(1)).cast("double").alias("conversions"))
    return conform(counts, CHANNEL_SET_CONVERSIONS_SCHEMA)


def shapley_from_sets(sets_df: DataFrame) -> dict[str, float]:
    """Simplified Shapley values of the collected channel-set counts (at most 2^shapley_max_channels rows)."""
    counts = {frozenset(row["channel_set"]): row["conversions"] for row in sets_df.collect()}
    return markov.shapley_values(counts)


# ---- all models ------------------------------------------------------------------------------------


def no_eligible_touch_rows(conversions_df: DataFrame, labelled: DataFrame) -> DataFrame:
    """One synthetic row per model for conversions without any eligible touch (credit 1, value in full).

    Needs CONVERSIONS_SCHEMA and LABELLED_TOUCHES_SCHEMA; returns ATTRIBUTION_SCHEMA.
    """
    with_touch = labelled.where(F.col("eligible")).select("conversion_id")
    without = conversions_df.join(with_touch, on="conversion_id", how="left_anti")
    return conform(
        without.select(
            "*",
            F.lit(NO_TOUCH_ID).alias("touchpoint_id"),
            F.lit(None).cast("timestamp").alias("touch_ts"),
            F.lit(None).cast("int").alias("position"),
            F.lit(NO_TOUCH_CHANNEL).alias("channel"),
            F.explode(F.array(*[F.lit(m) for m in MODELS])).alias("model"),
            F.lit(1.0).alias("credit"),
            F.col("conversion_value").alias("credited_value"),
            F.lit(True).alias("included"),
            F.lit(REASON_NO_ELIGIBLE_TOUCH).alias("reason"),
        ),
        ATTRIBUTION_SCHEMA,
    )


def attribute_conversions(
    conversions_df: DataFrame,
    labelled: DataFrame,
    config: AttributionConfig,
    markov_weights: DataFrame,
    shapley_weights: DataFrame,
) -> DataFrame:
    """Every model's rows for every conversion. Returns ATTRIBUTION_SCHEMA (key conversion_id, touchpoint_id, model)."""
    _validate(config)
    frames = [
        first_touch_credits(labelled),
        last_touch_credits(labelled),
        last_non_direct_credits(labelled),
        linear_credits(labelled),
        time_decay_credits(labelled, config.half_life_days),
        position_based_credits(labelled, config.position_first_weight, config.position_last_weight),
        weighted_channel_credits(labelled, markov_weights, MARKOV),
        weighted_channel_credits(labelled, shapley_weights, SHAPLEY),
        no_eligible_touch_rows(conversions_df, labelled),
    ]
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def credit_sum_violations(attribution_df: DataFrame) -> DataFrame:
    """(conversion_id, model) groups whose included credits do not sum to 1 or values to the conversion value.

    Needs ATTRIBUTION_SCHEMA; returns conversion_id, model, credit_sum, value_sum, conversion_value.
    """
    sums = (
        attribution_df.where(F.col("included"))
        .groupBy("conversion_id", "model")
        .agg(
            F.sum("credit").alias("credit_sum"),
            F.sum("credited_value").alias("value_sum"),
            F.first("conversion_value").alias("conversion_value"),
        )
    )
    value_tolerance = F.greatest(F.lit(1.0), F.abs(F.col("conversion_value"))) * F.lit(CREDIT_TOLERANCE)
    return sums.where(
        (F.abs(F.col("credit_sum") - 1.0) > CREDIT_TOLERANCE)
        | (F.abs(F.col("value_sum") - F.col("conversion_value")) > value_tolerance)
    ).select("conversion_id", "model", "credit_sum", "value_sum", "conversion_value")


# ---- channel history -------------------------------------------------------------------------------


def channel_history(attribution_df: DataFrame, touchpoints_df: DataFrame, cost_daily_df: DataFrame | None) -> DataFrame:
    """Per day, channel and model: touches, attributed conversions and revenue, cost, ROAS and CPA.

    Touches and touch costs are counted on the touch date (marketing touches only);
    attributed conversions and revenue on the conversion date. Cost comes from the daily
    cost source (cost_date, channel, cost) when given, else from the touches' own cost; a
    cost row without a channel counts as channel "(not set)" and one without a date is
    not datable and left out. Needs ATTRIBUTION_SCHEMA and touchpoints (touch_date,
    channel, interaction_type, is_conversion, cost). Returns CHANNEL_HISTORY_SCHEMA.
    """
    touches = (
        touchpoints_df.where(~is_conversion_event(F.col("interaction_type"), F.col("is_conversion")))
        .groupBy(
            F.col("touch_date").alias("date"), F.coalesce(F.col("channel"), F.lit(NOT_SET_CHANNEL)).alias("channel")
        )
        .agg(F.count(F.lit(1)).alias("touches"), F.sum(F.coalesce(F.col("cost"), F.lit(0.0))).alias("cost"))
    )
    if cost_daily_df is None:
        costs = touches.select("date", "channel", "cost")
    else:
        costs = (
            cost_daily_df.where(F.col("cost_date").isNotNull())
            .groupBy(
                F.col("cost_date").alias("date"),
                F.coalesce(F.col("channel"), F.lit(NOT_SET_CHANNEL)).alias("channel"),
            )
            .agg(F.sum(F.coalesce(F.col("cost"), F.lit(0.0))).alias("cost"))
        )
    attributed = (
        attribution_df.where(F.col("included"))
        .groupBy(F.col("conversion_date").alias("date"), "channel", "model")
        .agg(
            F.sum("credit").alias("attributed_conversions"),
            F.sum("credited_value").alias("attributed_revenue"),
        )
    )
    days_and_channels = (
        touches.select("date", "channel")
        .unionByName(costs.select("date", "channel"))
        .unionByName(attributed.select("date", "channel"))
        .distinct()
    )
    grid = days_and_channels.select("date", "channel", F.explode(F.array(*[F.lit(m) for m in MODELS])).alias("model"))
    joined = (
        grid.join(touches.select("date", "channel", "touches"), on=["date", "channel"], how="left")
        .join(costs, on=["date", "channel"], how="left")
        .join(attributed, on=["date", "channel", "model"], how="left")
    )
    cost = F.coalesce(F.col("cost"), F.lit(0.0))
    conversions = F.coalesce(F.col("attributed_conversions"), F.lit(0.0))
    revenue = F.coalesce(F.col("attributed_revenue"), F.lit(0.0))
    return conform(
        joined.select(
            "date",
            "channel",
            "model",
            F.coalesce(F.col("touches"), F.lit(0)).alias("touches"),
            conversions.alias("attributed_conversions"),
            revenue.alias("attributed_revenue"),
            cost.alias("cost"),
            F.when(cost != 0, revenue / cost).alias("roas"),
            F.when(conversions != 0, cost / conversions).alias("cpa"),
        ),
        CHANNEL_HISTORY_SCHEMA,
    )
