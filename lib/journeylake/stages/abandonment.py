"""Stage: abandonment detection and penalties, conversion scores, funnels and competitor impact.

Reads gold.user_journeys, gold.journey_touchpoints, gold.journey_state_transitions, bronze.events,
bronze.competitor_exposures, bronze.ad_cost_daily and silver.identity_map (the last four may be absent).
Writes gold.journey_abandonments (one row per journey abandoned or timed out as of now, with its reason and
penalty), gold.journey_scores (open journeys' conversion probability at as-of), gold.conversion_model,
gold.funnel_daily, gold.cart_abandonment_daily, gold.competitor_exposures and gold.competitor_impact, and finally
sets status / abandon_reason / end_ts in gold.user_journeys where they differ from now's.

Everything is a function of the lake's data and ``context.as_of`` (see :mod:`journeylake.abandonment`): a rerun
with the same as-of changes nothing, and daily runs end in the tables one run over the same input gives. Write
order makes a killed run safe to rerun: the journey statuses are written last and derived from the data again by
the rerun.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake.abandonment import (
    apply_abandonment,
    cart_abandonment_daily,
    competitor_exposure_outcomes,
    competitor_exposures_table,
    competitor_impact,
    detect_abandonment,
    expected_conversion_value,
    fit_conversion_model,
    funnel_daily,
    journey_abandonments,
    journey_features,
    journey_status_updates,
    resumable,
    score_journeys,
    session_funnel,
    tie_exposures,
)
from journeylake.io.delta import (
    SYNC,
    UPDATE,
    WriteMetrics,
    merge_table,
    read_table,
    read_table_or_empty,
    table_exists,
    table_path,
    write_table,
)
from journeylake.schemas.bronze import BRONZE_EVENTS_SCHEMA
from journeylake.schemas.journeys import (
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    OPEN,
    USER_JOURNEYS_SCHEMA,
)
from journeylake.schemas.sources import AD_COST_DAILY_SCHEMA, COMPETITOR_EXPOSURES_SCHEMA
from journeylake.stages import RunContext, StageResult, timed

IDENTITY_DEVICE_COLUMNS = T.StructType(
    [
        T.StructField("id_type", T.StringType(), False),
        T.StructField("id_value", T.StringType(), False),
        T.StructField("canonical_user_id", T.LongType(), False),
    ]
)
FUNNEL_EVENT_COLUMNS = ("event_id", "event_ts", "event_seq", "event_name", "device_key", "source_session_id", "channel")


class MissingInputError(RuntimeError):
    """A table this stage cannot run without is not in the lake."""


def _columns(schema: T.StructType) -> list[str]:
    return schema.fieldNames()


def _optional(spark: SparkSession, lake: str, layer: str, table: str, schema: T.StructType) -> DataFrame:
    """The table's ``schema`` columns, or an empty frame when the source was not ingested."""
    return read_table_or_empty(spark, table_path(lake, layer, table), schema).select(*_columns(schema))


def run(context: RunContext) -> StageResult:
    result = StageResult(stage="abandonment")
    with timed(result):
        spark, lake, as_of = context.spark, context.lake, context.as_of
        config = context.config
        journeys_path = table_path(lake, "gold", "user_journeys")
        if not table_exists(spark, journeys_path):
            raise MissingInputError(f"gold.user_journeys not found at {journeys_path}: run the journeys stage first")
        # Materialized: gold.user_journeys is read here and updated at the end of this stage.
        stored = read_table(spark, journeys_path).select(*_columns(USER_JOURNEYS_SCHEMA)).localCheckpoint()
        touchpoints = _optional(spark, lake, "gold", "journey_touchpoints", JOURNEY_TOUCHPOINTS_SCHEMA)
        transitions = _optional(spark, lake, "gold", "journey_state_transitions", JOURNEY_STATE_TRANSITIONS_SCHEMA)
        exposures = _optional(spark, lake, "bronze", "competitor_exposures", COMPETITOR_EXPOSURES_SCHEMA)
        cost_daily = _optional(spark, lake, "bronze", "ad_cost_daily", AD_COST_DAILY_SCHEMA)
        identity = _optional(spark, lake, "silver", "identity_map", IDENTITY_DEVICE_COLUMNS)
        events = read_table_or_empty(spark, table_path(lake, "bronze", "events"), BRONZE_EVENTS_SCHEMA).select(
            *FUNNEL_EVENT_COLUMNS
        )

        # 1. Every journey's status as of now: the overlay is recomputed from the data, never carried over.
        journeys = resumable(stored)
        exposures_tied = tie_exposures(exposures, identity, journeys).localCheckpoint()
        detections = detect_abandonment(
            journeys, touchpoints, transitions, exposures_tied, cost_daily, as_of, config.journey, config.abandonment
        ).localCheckpoint()
        journeys_after = apply_abandonment(
            journeys, detections.select("journey_id", "reason", "journey_status", "ended_at")
        ).localCheckpoint()

        # 2. Conversion model from completed journeys, and the scores and prices it gives, as of now.
        features = journey_features(journeys_after, touchpoints, transitions, as_of)
        model = fit_conversion_model(spark, features, config.abandonment).localCheckpoint()
        expected_value = expected_conversion_value(journeys_after, config.abandonment.default_conversion_value)
        scores = score_journeys(features, model, expected_value, as_of).localCheckpoint()

        written: dict[str, WriteMetrics] = {}
        abandonments = journey_abandonments(detections, journeys, scores, expected_value, config.abandonment)
        written["gold.journey_abandonments"] = write_table(spark, lake, "gold.journey_abandonments", abandonments)
        open_ids = journeys_after.where(F.col("status") == F.lit(OPEN)).select("journey_id")
        written["gold.journey_scores"] = write_table(
            spark, lake, "gold.journey_scores", scores.join(open_ids, on="journey_id", how="inner")
        )
        # At most 4 x 4 x 4 + 5 rows, recomputed in full: a plain overwrite is the cheapest idempotent write.
        written["gold.conversion_model"] = write_table(spark, lake, "gold.conversion_model", model)

        # 3. Funnels from bronze events, independent of sessionization.
        sessions = session_funnel(events).localCheckpoint()
        written["gold.funnel_daily"] = write_table(spark, lake, "gold.funnel_daily", funnel_daily(sessions))
        written["gold.cart_abandonment_daily"] = write_table(
            spark, lake, "gold.cart_abandonment_daily", cart_abandonment_daily(sessions)
        )

        # 4. Competitor exposures and their impact.
        outcomes = competitor_exposure_outcomes(exposures_tied, journeys_after, transitions).localCheckpoint()
        impact = competitor_impact(outcomes, journeys_after, transitions).localCheckpoint()
        written["gold.competitor_impact"] = write_table(
            spark, lake, "gold.competitor_impact", impact
        )  # one row per state
        written["gold.competitor_exposures"] = write_table(
            # SYNC: an exposure gone from bronze (a fix, a deletion request) leaves gold too.
            spark,
            lake,
            "gold.competitor_exposures",
            competitor_exposures_table(outcomes, impact),
            mode=SYNC,
        )

        # 5. Last: the statuses in gold.user_journeys, where they differ from now's (a killed run's rerun redoes it).
        updates = journey_status_updates(stored, journeys_after)
        written["gold.user_journeys"] = merge_table(spark, updates, journeys_path, ["journey_id"], mode=UPDATE)

        # Bounded: one row per reason (six at most) and per match status (four).
        reasons = {
            row["reason"]: int(row["n"]) for row in detections.groupBy("reason").agg(F.count("*").alias("n")).collect()
        }
        result.rows_out = {name: metrics.changed for name, metrics in written.items()}
        result.details["abandonments_by_reason"] = reasons
        result.details["exposures_by_match_status"] = {
            row["match_status"]: int(row["n"])
            for row in exposures_tied.groupBy("match_status").agg(F.count("*").alias("n")).collect()
        }
        result.message = "abandoned or timed out as of now: " + " ".join(f"{k}={v}" for k, v in sorted(reasons.items()))
    return result
