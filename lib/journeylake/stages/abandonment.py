"""Stage: abandonment detection and penalties, conversion scores, funnels and competitor impact.

Reads gold.user_journeys, gold.journey_touchpoints, gold.journey_state_transitions, bronze.events,
bronze.competitor_exposures, bronze.ad_cost_daily and silver.identity_map (the last four may be absent).
Writes gold.journey_abandonments (one row per journey, recorded once: the penalty is priced when the
abandonment is detected), gold.journey_scores (open journeys' conversion probability at as-of),
gold.conversion_model, gold.funnel_daily, gold.cart_abandonment_daily, gold.competitor_exposures and
gold.competitor_impact, and finally sets status / abandon_reason / end_ts of the abandoned journeys in
gold.user_journeys. Everything is relative to ``context.as_of``; a rerun with the same as-of changes nothing.

Write order makes a killed run safe to rerun: the abandonment records are written first, and the journey updates
are derived from *all* records (not only this run's), so a record whose journey update was lost is applied by the
rerun.
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
    score_journeys,
    session_funnel,
    tie_exposures,
)
from journeylake.io.delta import merge_table, overwrite_table, read_table, read_table_or_empty, table_exists, table_path
from journeylake.io.table_sync import sync_table, update_columns
from journeylake.schemas.abandonment import JOURNEY_ABANDONMENTS_SCHEMA
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
        journeys = read_table(spark, journeys_path).select(*_columns(USER_JOURNEYS_SCHEMA))
        touchpoints = _optional(spark, lake, "gold", "journey_touchpoints", JOURNEY_TOUCHPOINTS_SCHEMA)
        transitions = _optional(spark, lake, "gold", "journey_state_transitions", JOURNEY_STATE_TRANSITIONS_SCHEMA)
        exposures = _optional(spark, lake, "bronze", "competitor_exposures", COMPETITOR_EXPOSURES_SCHEMA)
        cost_daily = _optional(spark, lake, "bronze", "ad_cost_daily", AD_COST_DAILY_SCHEMA)
        identity = _optional(spark, lake, "silver", "identity_map", IDENTITY_DEVICE_COLUMNS)
        events = read_table_or_empty(spark, table_path(lake, "bronze", "events"), BRONZE_EVENTS_SCHEMA).select(
            *FUNNEL_EVENT_COLUMNS
        )
        abandonments_path = table_path(lake, "gold", "journey_abandonments")
        recorded = read_table_or_empty(spark, abandonments_path, JOURNEY_ABANDONMENTS_SCHEMA)

        # 1. Detect among journeys not recorded yet; a recorded abandonment is priced once, when first seen.
        exposures_tied = tie_exposures(exposures, identity, journeys).cache()
        candidates = journeys.join(recorded.select("journey_id"), on="journey_id", how="left_anti")
        detections = detect_abandonment(
            candidates, touchpoints, transitions, exposures_tied, cost_daily, as_of, config.journey, config.abandonment
        ).cache()
        update_columns_of = ["journey_id", "reason", "journey_status", "ended_at"]
        journeys_after = apply_abandonment(
            journeys, recorded.select(*update_columns_of).unionByName(detections.select(*update_columns_of))
        ).cache()

        # 2. Conversion model from completed journeys (this run's abandonments included, so a rerun fits the same).
        features = journey_features(journeys_after, touchpoints, transitions, as_of)
        model = fit_conversion_model(spark, features, config.abandonment).cache()
        expected_value = expected_conversion_value(journeys_after, config.abandonment.default_conversion_value)
        scores = score_journeys(features, model, expected_value, as_of).cache()

        new_abandonments = journey_abandonments(detections, journeys, scores, expected_value, config.abandonment)
        merge_table(spark, new_abandonments, abandonments_path, keys=["journey_id"])

        open_ids = journeys_after.where(F.col("status") == F.lit(OPEN)).select("journey_id")
        open_scores = scores.join(open_ids, on="journey_id", how="inner").cache()
        sync_table(spark, open_scores, _gold(lake, "journey_scores"), ["journey_id"])
        # At most 4 x 4 x 4 + 5 rows, recomputed in full: a plain overwrite is the cheapest idempotent write.
        overwrite_table(model, _gold(lake, "conversion_model"))

        # 3. Funnels from bronze events, independent of sessionization.
        sessions = session_funnel(events).cache()
        funnel = funnel_daily(sessions).cache()
        sync_table(spark, funnel, _gold(lake, "funnel_daily"), ["funnel_date", "channel", "step"])
        sync_table(
            spark, cart_abandonment_daily(sessions), _gold(lake, "cart_abandonment_daily"), ["funnel_date", "channel"]
        )

        # 4. Competitor exposures and their impact.
        outcomes = competitor_exposure_outcomes(exposures_tied, journeys_after, transitions).cache()
        impact = competitor_impact(outcomes, journeys_after, transitions).cache()
        overwrite_table(impact, _gold(lake, "competitor_impact"))  # one row per state
        sync_table(
            spark, competitor_exposures_table(outcomes, impact), _gold(lake, "competitor_exposures"), ["exposure_id"]
        )

        # 5. Last: the journey rows, from every recorded abandonment (see the module docstring).
        updates = journey_status_updates(journeys, read_table(spark, abandonments_path)).cache()
        status_changes = updates.count()
        if status_changes:
            update_columns(spark, updates, journeys_path, keys=["journey_id"])

        reasons = {
            row["reason"]: int(row["n"]) for row in detections.groupBy("reason").agg(F.count("*").alias("n")).collect()
        }
        result.rows_in = {
            "gold.user_journeys": journeys_after.count(),
            "bronze.competitor_exposures": exposures_tied.count(),
        }
        result.rows_out = {
            "gold.journey_abandonments (new)": sum(reasons.values()),
            "gold.user_journeys (status updates)": status_changes,
            "gold.journey_scores": open_scores.count(),
            "gold.funnel_daily": funnel.count(),
            "gold.competitor_exposures": result.rows_in["bronze.competitor_exposures"],
        }
        # Bounded: one row per reason (six at most).
        result.details["new_abandonments_by_reason"] = reasons
        result.details["exposures_by_match_status"] = {
            row["match_status"]: int(row["n"])
            for row in exposures_tied.groupBy("match_status").agg(F.count("*").alias("n")).collect()
        }
        for frame in (
            exposures_tied,
            detections,
            journeys_after,
            model,
            scores,
            open_scores,
            sessions,
            funnel,
            outcomes,
            impact,
            updates,
        ):
            frame.unpersist()
    return result


def _gold(lake: str, table: str) -> str:
    return table_path(lake, "gold", table)
