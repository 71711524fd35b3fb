"""The attribution stage end to end on a tiny lake: tables, invariants in details, idempotent rerun."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from test_attribution import T0, frames, journey, touch

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.delta import overwrite_table, read_table, table_path
from journeylake.schemas.attribution import ATTRIBUTION_SCHEMA, CHANNEL_HISTORY_SCHEMA, MODELS
from journeylake.stages import RunContext
from journeylake.stages.attribution import run

pytestmark = pytest.mark.integration


def _context(spark: SparkSession, lake: Path) -> RunContext:
    config = with_overrides(PipelineConfig(), **{"lake.root": str(lake)})
    return RunContext(spark=spark, config=config, run_id="test-run", as_of=T0)


def test_stage_writes_both_tables_and_a_rerun_changes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    touches = [
        touch("a1", "j1", T0 - timedelta(days=3), 1, "Email"),
        touch("a2", "j1", T0 - timedelta(days=1), 2, "Paid Search", cost=2.0),
        touch("a3", "j1", T0, 3, "Direct", interaction="conversion"),
        touch("b1", "j2", T0 - timedelta(days=2), 1, "Email"),
        touch("b2", "j2", T0 - timedelta(days=1), 2, "Display"),
    ]
    journeys = [journey("j1", value=120.0), journey("j2", status="open", conversion_ts=None, value=None)]
    touchpoints_df, journeys_df = frames(spark, touches, journeys)
    overwrite_table(touchpoints_df, table_path(tmp_path, "gold", "journey_touchpoints"))
    overwrite_table(journeys_df, table_path(tmp_path, "gold", "user_journeys"))

    result = run(_context(spark, tmp_path))
    assert not result.failed, result.message
    attribution_path = table_path(tmp_path, "gold", "attribution")
    attribution = read_table(spark, attribution_path)
    assert attribution.schema.fieldNames() == ATTRIBUTION_SCHEMA.fieldNames()
    # one conversion x 3 touches x 8 models
    assert result.rows_out["gold.attribution"] == 3 * len(MODELS) == attribution.count()
    assert result.details["conversions"] == 1
    assert result.details["credited_value_by_model"] == pytest.approx(dict.fromkeys(MODELS, 120.0))
    assert result.details["credit_sum_violations"] == 0
    # Markov: Email -> Paid Search -> conversion, Email -> Display -> null.
    # P(conv) = 1/2; removing Email leaves nothing (RE 1); removing Paid Search leaves nothing (RE 1);
    # removing Display changes nothing (RE 0).
    assert result.details["markov_removal_effects"] == pytest.approx({"Display": 0.0, "Email": 1.0, "Paid Search": 1.0})
    markov_credit = {r["touchpoint_id"]: r["credit"] for r in attribution.where(F.col("model") == "markov").collect()}
    assert markov_credit == pytest.approx({"a1": 0.5, "a2": 0.5, "a3": 0.0})

    history = read_table(spark, table_path(tmp_path, "gold", "channel_history"))
    assert history.schema.fieldNames() == CHANNEL_HISTORY_SCHEMA.fieldNames()
    # Touches and cost count on the touch's day, credit on the conversion's day (a2 was the day before).
    paid = history.where((F.col("channel") == "Paid Search") & (F.col("model") == "last_touch")).orderBy("date")
    assert [
        (r["date"], r["touches"], r["attributed_conversions"], r["attributed_revenue"], r["cost"], r["roas"])
        for r in paid.collect()
    ] == [
        ((T0 - timedelta(days=1)).date(), 1, 0.0, 0.0, 2.0, 0.0),
        (T0.date(), 0, 1.0, 120.0, 0.0, None),
    ]

    version = spark.sql(f"DESCRIBE HISTORY delta.`{attribution_path}`").agg(F.max("version")).first()[0]
    before = spark.createDataFrame(attribution.collect(), attribution.schema)  # the rows, not the lazy read
    rerun = run(_context(spark, tmp_path))
    assert not rerun.failed, rerun.message
    # Attribution is a derived snapshot (the catalog says OVERWRITE): the rerun rewrites it with the same rows.
    assert rerun.rows_out["gold.attribution"] == 3 * len(MODELS)
    assert spark.sql(f"DESCRIBE HISTORY delta.`{attribution_path}`").agg(F.max("version")).first()[0] == version + 1
    assert_df_equality(read_table(spark, attribution_path), before, ignore_row_order=True, ignore_nullable=True)


def test_stage_fails_clearly_without_its_inputs_or_with_duplicate_touches(spark: SparkSession, tmp_path: Path) -> None:
    missing = run(_context(spark, tmp_path))
    assert missing.failed
    assert "journey_touchpoints" in missing.message

    touches = [touch("a1", "j1", T0 - timedelta(days=1), 1, "Email")] * 2
    touchpoints_df, journeys_df = frames(spark, touches, [journey("j1")])
    overwrite_table(touchpoints_df, table_path(tmp_path, "gold", "journey_touchpoints"))
    overwrite_table(journeys_df, table_path(tmp_path, "gold", "user_journeys"))
    duplicated = run(_context(spark, tmp_path))
    assert duplicated.failed
    assert "duplicate touchpoint_id" in duplicated.message and "a1 x2" in duplicated.message
