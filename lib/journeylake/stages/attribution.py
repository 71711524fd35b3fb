"""Attribution stage: gold.journey_touchpoints + gold.user_journeys -> gold.attribution, gold.channel_history.

Every run recomputes all conversions: the data-driven models depend on every path, so a
new journey can move the credit of old conversions. both tables are replaced in full (one
commit each), after the credit invariants are checked. Cost
comes from bronze.ad_cost_daily when that table exists, else from the touches' own cost.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from journeylake import attribution as attr
from journeylake import markov
from journeylake.io.delta import read_table, table_exists, table_path, write_table
from journeylake.schemas.attribution import MODELS
from journeylake.stages import RunContext, StageResult, timed

STAGE = "attribution"
# Totals per model may differ from the conversion total by floating summation noise only.
TOTAL_RELATIVE_TOLERANCE = 1e-9
DUPLICATES_REPORTED = 5  # a failing run names this many duplicate touchpoint ids


def run(context: RunContext) -> StageResult:
    """Attribute every conversion with every model and write gold.attribution and gold.channel_history."""
    result = StageResult(stage=STAGE)
    with timed(result):
        spark, config, lake = context.spark, context.config.attribution, context.lake
        touchpoints_path = table_path(lake, "gold", "journey_touchpoints")
        journeys_path = table_path(lake, "gold", "user_journeys")
        missing = [p for p in (touchpoints_path, journeys_path) if not table_exists(spark, p)]
        if missing:
            result.failed = True
            result.message = f"input table(s) missing: {', '.join(missing)} (run the journeys stage first)"
            return result
        touchpoints = read_table(spark, touchpoints_path)
        journeys = read_table(spark, journeys_path)
        duplicates = attr.duplicate_touchpoints(touchpoints).limit(DUPLICATES_REPORTED).collect()
        if duplicates:
            result.failed = True
            result.message = "duplicate touchpoint_id in gold.journey_touchpoints: " + ", ".join(
                f"{row['touchpoint_id']} x{row['occurrences']}" for row in duplicates
            )
            return result
        cost_path = table_path(lake, "bronze", "ad_cost_daily")
        cost_daily = read_table(spark, cost_path) if table_exists(spark, cost_path) else None

        conversions = attr.conversions_from_journeys(journeys, touchpoints).persist()
        labelled = attr.label_touches(conversions, touchpoints, config).persist()

        transitions = attr.markov_transition_counts(
            attr.markov_path_touches(labelled, touchpoints, journeys), config.markov_order
        )
        markov_result = attr.markov_removal_effects(transitions)
        touches_by_channel = attr.eligible_touches_by_channel(labelled)
        markov_weights = attr.channel_weights_frame(
            labelled, markov_result.removal_effects, {c: c for c in touches_by_channel}
        )
        groups = markov.channel_buckets(touches_by_channel, config.shapley_max_channels)
        shapley = attr.shapley_from_sets(
            attr.channel_set_conversions(labelled, attr.channel_weights_frame(labelled, {}, groups))
        )
        shapley_weights = attr.channel_weights_frame(labelled, shapley, groups)

        attribution = attr.attribute_conversions(conversions, labelled, config, markov_weights, shapley_weights)
        attribution = attribution.localCheckpoint()
        try:
            # The invariants are checked before anything is written: a broken credit never reaches the table.
            _summarise(result, conversions, attribution, markov_result, shapley)
            if result.failed:
                return result
            written = {
                "gold.attribution": write_table(spark, lake, "gold.attribution", attribution),
                "gold.channel_history": write_table(
                    spark, lake, "gold.channel_history", attr.channel_history(attribution, touchpoints, cost_daily)
                ),
            }
            result.rows_out = {name: metrics.changed for name, metrics in written.items()}
        finally:
            labelled.unpersist()
            conversions.unpersist()
    return result


def _summarise(
    result: StageResult,
    conversions: DataFrame,
    attribution: DataFrame,
    markov_result: markov.MarkovResult,
    shapley: dict[str, float],
) -> None:
    """Details for meta.runs, and the invariant checks that fail the stage when broken."""
    totals = conversions.agg(F.count(F.lit(1)).alias("n"), F.sum("conversion_value").alias("value")).first()
    conversion_count = int(totals["n"]) if totals else 0
    conversion_value = float(totals["value"] or 0.0) if totals else 0.0
    # One row per model: bounded, safe to collect.
    by_model = {
        row["model"]: (float(row["credit"]), float(row["value"]))
        for row in attribution.where(F.col("included"))
        .groupBy("model")
        .agg(F.sum("credit").alias("credit"), F.sum("credited_value").alias("value"))
        .collect()
    }
    violations = attr.credit_sum_violations(attribution).count()
    result.details = {
        "conversions": conversion_count,
        "total_conversion_value": conversion_value,
        "models": list(MODELS),
        "credited_value_by_model": {m: by_model.get(m, (0.0, 0.0))[1] for m in MODELS},
        "credited_conversions_by_model": {m: by_model.get(m, (0.0, 0.0))[0] for m in MODELS},
        "credit_sum_violations": violations,
        "markov_conversion_probability": markov_result.conversion_probability,
        "markov_states": markov_result.states,
        "markov_removal_effects": markov_result.removal_effects,
        # The ChannelAttribution convention: total conversions x normalised removal effect.
        "markov_channel_conversions": markov.normalized_totals(markov_result.removal_effects, conversion_count),
        "shapley_values": shapley,
    }
    tolerance = TOTAL_RELATIVE_TOLERANCE * max(1.0, abs(conversion_value))
    off = [m for m in MODELS if conversion_count and abs(by_model.get(m, (0.0, 0.0))[1] - conversion_value) > tolerance]
    if violations or off:
        result.failed = True
        result.message = f"credit invariant broken: {violations} conversion/model sums off; model totals off: {off}"
