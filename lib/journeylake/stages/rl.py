"""Stage: reinforcement-learning export (gold.rl_transitions) and next-channel recommendations.

Runs after the abandonment stage: it reads gold.user_journeys (with abandonments applied),
gold.journey_touchpoints, gold.journey_state_transitions, gold.competitor_exposures and
gold.journey_abandonments, and writes gold.rl_transitions (key journey_id, step) and
gold.journey_recommendations (key journey_id, open journeys only), both recomputed and replaced in full: the
rewards depend on the penalties priced as of now, and the recommendations on every completed episode.
"""

from __future__ import annotations

from journeylake.io.delta import read_table, read_table_or_empty, table_exists, table_path, write_table
from journeylake.rl import journey_recommendations, rl_transitions
from journeylake.schemas.abandonment import COMPETITOR_EXPOSURES_OUT_SCHEMA, JOURNEY_ABANDONMENTS_SCHEMA
from journeylake.schemas.journeys import JOURNEY_STATE_TRANSITIONS_SCHEMA, JOURNEY_TOUCHPOINTS_SCHEMA
from journeylake.stages import RunContext, StageResult, timed
from journeylake.stages.abandonment import MissingInputError


def run(context: RunContext) -> StageResult:
    result = StageResult(stage="rl")
    with timed(result):
        spark, lake = context.spark, context.lake
        journeys_path = table_path(lake, "gold", "user_journeys")
        if not table_exists(spark, journeys_path):
            raise MissingInputError(f"gold.user_journeys not found at {journeys_path}: run the journeys stage first")
        journeys = read_table(spark, journeys_path)
        touchpoints = read_table_or_empty(
            spark, table_path(lake, "gold", "journey_touchpoints"), JOURNEY_TOUCHPOINTS_SCHEMA
        )
        transitions = read_table_or_empty(
            spark, table_path(lake, "gold", "journey_state_transitions"), JOURNEY_STATE_TRANSITIONS_SCHEMA
        )
        exposures = read_table_or_empty(
            spark, table_path(lake, "gold", "competitor_exposures"), COMPETITOR_EXPOSURES_OUT_SCHEMA
        )
        abandonments = read_table_or_empty(
            spark, table_path(lake, "gold", "journey_abandonments"), JOURNEY_ABANDONMENTS_SCHEMA
        )

        # Materialized once: written, then the recommendations are computed from the same rows (not re-read).
        rows = rl_transitions(
            journeys, touchpoints, transitions, exposures, abandonments, context.as_of
        ).localCheckpoint()
        recommendations = journey_recommendations(rows, journeys)
        written = {
            "gold.rl_transitions": write_table(spark, lake, "gold.rl_transitions", rows),
            "gold.journey_recommendations": write_table(spark, lake, "gold.journey_recommendations", recommendations),
        }
        result.rows_out = {name: metrics.changed for name, metrics in written.items()}
    return result
