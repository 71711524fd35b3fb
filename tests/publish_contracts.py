"""The contract schema each published table is written with, shared by the unit and the emulator tests."""

from __future__ import annotations

from pyspark.sql import types as T

from journeylake.reconciliation import RECONCILIATION_SCHEMA, RECONCILIATION_SUMMARY_SCHEMA
from journeylake.schemas import abandonment as B
from journeylake.schemas import journeys as J
from journeylake.schemas.attribution import ATTRIBUTION_SCHEMA, CHANNEL_HISTORY_SCHEMA
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA

# The schemas the stages write (their final select), by published table name.
CONTRACT_SCHEMAS: dict[str, T.StructType] = {
    "identity_map": IDENTITY_MAP_SCHEMA,
    "sessions": J.SESSIONS_SCHEMA,
    "user_journeys": J.USER_JOURNEYS_SCHEMA,
    "journey_touchpoints": J.JOURNEY_TOUCHPOINTS_SCHEMA,
    "journey_state_transitions": J.JOURNEY_STATE_TRANSITIONS_SCHEMA,
    "users": J.USERS_SCHEMA,
    "attribution": ATTRIBUTION_SCHEMA,
    "channel_history": CHANNEL_HISTORY_SCHEMA,
    "journey_abandonments": B.JOURNEY_ABANDONMENTS_SCHEMA,
    "journey_scores": B.JOURNEY_SCORES_SCHEMA,
    "funnel_daily": B.FUNNEL_DAILY_SCHEMA,
    "cart_abandonment_daily": B.CART_ABANDONMENT_DAILY_SCHEMA,
    "competitor_exposures": B.COMPETITOR_EXPOSURES_OUT_SCHEMA,
    "competitor_impact": B.COMPETITOR_IMPACT_SCHEMA,
    "conversion_model": B.CONVERSION_MODEL_SCHEMA,
    "reconciliation": RECONCILIATION_SCHEMA,
    "reconciliation_summary": RECONCILIATION_SUMMARY_SCHEMA,
    "rl_transitions": B.RL_TRANSITIONS_SCHEMA,
    "journey_recommendations": B.JOURNEY_RECOMMENDATIONS_SCHEMA,
}
# Lookup tables without any date column; every other table must be partitioned.
UNPARTITIONED = {"competitor_impact", "conversion_model", "journey_recommendations"}
