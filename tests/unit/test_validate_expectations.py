"""The suites run by Great Expectations on tiny hand-built frames: a clean world passes every suite,
and each domain expectation fails, by name, on the one corruption it guards against."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.expectations import ExpectationRunner, Outcome, SuiteFile, load_suite_files, suites_folder
from journeylake.io.runs import RUNS_SCHEMA
from journeylake.reconciliation import RECONCILIATION_SCHEMA, RECONCILIATION_SUMMARY_SCHEMA
from journeylake.schemas.abandonment import FUNNEL_DAILY_SCHEMA, JOURNEY_ABANDONMENTS_SCHEMA, RL_TRANSITIONS_SCHEMA
from journeylake.schemas.attribution import ATTRIBUTION_SCHEMA, CHANNEL_HISTORY_SCHEMA
from journeylake.schemas.bronze import BRONZE_EVENTS_SCHEMA, BRONZE_QUARANTINE_SCHEMA
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA, IDENTITY_MERGES_SCHEMA
from journeylake.schemas.journeys import (
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    SESSIONS_SCHEMA,
    USER_JOURNEYS_SCHEMA,
    USERS_SCHEMA,
)
from journeylake.stages.validate import LakeValidation, validate_tables

pytestmark = pytest.mark.unit

AS_OF = datetime(2024, 1, 20, 0, 0, 0)
T0 = datetime(2024, 1, 10, 10, 0, 0)
DAY = date(2024, 1, 10)

_DEFAULTS: dict[type[T.DataType], Any] = {
    T.StringType: "x",
    T.LongType: 1,
    T.IntegerType: 1,
    T.DoubleType: 0.0,
    T.BooleanType: False,
    T.TimestampType: T0,
    T.DateType: DAY,
}


def _default(field: T.StructField) -> Any:
    if field.nullable:
        return None
    if isinstance(field.dataType, T.ArrayType):
        return []
    if isinstance(field.dataType, T.MapType):
        return {}
    return _DEFAULTS[type(field.dataType)]


def _rows(schema: T.StructType, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as tuples in schema order; columns a row does not name get a valid default (null if nullable)."""
    for row in rows:
        unknown = set(row) - set(schema.names)
        assert not unknown, f"not in schema: {unknown}"
    return [tuple(row.get(f.name, _default(f)) for f in schema.fields) for row in rows]


def _ts(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def clean_world() -> dict[str, tuple[T.StructType, list[dict[str, Any]]]]:
    """One converted journey (two devices, one purchase) and one fresh open journey, consistent across tables."""
    events = [
        {"event_id": "e1", "source": "ga4", "event_date": DAY, "event_ts": _ts(0), "event_name": "page_view",
         "user_pseudo_id": "d1", "device_key": 1, "channel": "Direct"},
        {"event_id": "e2", "source": "ga4", "event_date": DAY, "event_ts": _ts(5), "event_name": "view_item",
         "user_pseudo_id": "d1", "device_key": 1, "channel": "Direct"},
        {"event_id": "e3", "source": "ga4", "event_date": DAY, "event_ts": _ts(60), "event_name": "purchase",
         "user_pseudo_id": "d2", "device_key": 2, "channel": "Organic Search", "revenue": 10.0,
         "transaction_id": "T1"},
    ]  # fmt: skip
    sessions = [
        {"session_id": "s1", "user_pseudo_id": "d1", "device_key": 1, "canonical_user_id": 100,
         "session_start_ts": _ts(0), "session_end_ts": _ts(5), "event_count": 2, "channel": "Direct"},
        {"session_id": "s2", "user_pseudo_id": "d2", "device_key": 2, "canonical_user_id": 100,
         "session_start_ts": _ts(60), "session_end_ts": _ts(60), "event_count": 1, "channel": "Organic Search"},
    ]  # fmt: skip
    journeys = [
        {"journey_id": "j1", "canonical_user_id": 100, "journey_seq": 1, "start_ts": _ts(0),
         "last_activity_ts": _ts(60), "end_ts": _ts(60), "timeout_at": _ts(60) + timedelta(days=14),
         "status": "converted", "current_state": "CONVERTED", "touchpoints": 3, "sessions": 2, "devices": 2,
         "conversion_value": 10.0, "transaction_id": "T1"},
        {"journey_id": "j2", "canonical_user_id": 200, "journey_seq": 1, "start_ts": AS_OF - timedelta(days=1),
         "last_activity_ts": AS_OF - timedelta(days=1), "timeout_at": AS_OF + timedelta(days=13),
         "status": "open", "current_state": "AWARE", "touchpoints": 1},
    ]  # fmt: skip
    touchpoints = [
        {"touchpoint_id": "e1", "journey_id": "j1", "canonical_user_id": 100, "position": 1, "source": "ga4",
         "channel": "Direct", "interaction_type": "visit", "session_id": "s1"},
        {"touchpoint_id": "e2", "journey_id": "j1", "canonical_user_id": 100, "position": 2, "source": "ga4",
         "channel": "Direct", "interaction_type": "engagement", "session_id": "s1"},
        {"touchpoint_id": "e3", "journey_id": "j1", "canonical_user_id": 100, "position": 3, "source": "ga4",
         "channel": "Organic Search", "interaction_type": "conversion", "is_conversion": True,
         "conversion_value": 10.0, "transaction_id": "T1"},
        {"touchpoint_id": "a1", "journey_id": "j2", "canonical_user_id": 200, "position": 1, "source": "ads",
         "channel": "Display", "interaction_type": "impression", "cost": 0.2},
    ]  # fmt: skip
    transitions = [
        {"journey_id": "j1", "seq": 1, "canonical_user_id": 100, "from_state": "UNAWARE", "to_state": "AWARE",
         "trigger": "visit", "confidence": 1.0},
        {"journey_id": "j1", "seq": 2, "canonical_user_id": 100, "from_state": "AWARE", "to_state": "CONVERTED",
         "trigger": "purchase", "confidence": 1.0},
    ]  # fmt: skip
    identity_map = [
        {"id_type": "device", "id_value": "d1", "canonical_user_id": 100, "confidence": 1.0,
         "method": "deterministic"},
        {"id_type": "device", "id_value": "d2", "canonical_user_id": 100, "confidence": 1.0,
         "method": "deterministic"},
        {"id_type": "login", "id_value": "u1", "canonical_user_id": 100, "confidence": 1.0,
         "method": "deterministic"},
        {"id_type": "device", "id_value": "d9", "canonical_user_id": 200, "confidence": 1.0, "method": "singleton"},
    ]  # fmt: skip
    users = [
        {"canonical_user_id": 100, "current_state": "CONVERTED", "revenue": 10.0, "identifiers": 3},
        {"canonical_user_id": 200, "current_state": "AWARE", "identifiers": 1},
    ]
    attribution = [
        {"conversion_id": "j1", "journey_id": "j1", "canonical_user_id": 100, "touchpoint_id": tp, "model": model,
         "channel": channel, "credit": credit, "credited_value": credit * 10.0, "conversion_value": 10.0,
         "included": included, "reason": reason}
        for tp, channel, model, credit, included, reason in [
            ("e1", "Direct", "linear", 0.5, True, "included"),
            ("e2", "Direct", "linear", 0.5, True, "included"),
            ("e3", "Organic Search", "linear", 0.0, False, "conversion_event"),
            ("e1", "Direct", "first_touch", 1.0, True, "included"),
            ("e2", "Direct", "first_touch", 0.0, False, "not_first"),
        ]
    ]  # fmt: skip
    channel_history = [
        {"date": DAY, "channel": "Direct", "model": "linear", "attributed_conversions": 1.0,
         "attributed_revenue": 10.0},
    ]  # fmt: skip
    abandonments = [
        {"journey_id": "j0", "canonical_user_id": 300, "reason": "timed_out", "journey_status": "timed_out",
         "state_at_abandonment": "AWARE", "penalty_amount": 1.5, "opportunity_cost": 2.0, "days_active": 3.0},
    ]  # fmt: skip
    funnel = [
        {"funnel_date": DAY, "channel": "Direct", "step": "session", "step_order": 1, "entered": 2, "completed": 1,
         "dropped": 1, "completion_rate": 0.5},
        {"funnel_date": DAY, "channel": "Direct", "step": "product_view", "step_order": 2, "entered": 1,
         "completed": 0, "dropped": 1, "completion_rate": 0.0},
    ]  # fmt: skip
    reconciliation = [
        {"transaction_id": "T1", "match_status": "matched", "ga4_revenue": 10.0, "backend_revenue": 10.0,
         "ga4_purchase_events": 1},
        {"transaction_id": "backend-order:7", "match_status": "missing_in_ga4", "backend_revenue": 25.0,
         "revenue_delta": -25.0, "ga4_purchase_events": 0},
    ]  # fmt: skip
    reconciliation_summary = [
        {"reconciliation_date": DAY, "channel": "Organic Search", "transactions": 2, "matched": 1,
         "revenue_mismatch": 0, "missing_in_ga4": 1, "missing_in_backend": 0, "duplicate_in_ga4": 0,
         "match_rate": 0.5, "ga4_revenue": 10.0, "backend_revenue": 35.0, "revenue_delta": -25.0},
    ]  # fmt: skip
    rl = [
        {"journey_id": "j1", "step": 1, "state": "UNAWARE", "next_state": "AWARE", "journey_status": "converted",
         "action_channel": "Direct", "action_interaction": "visit"},
        {"journey_id": "j1", "step": 2, "state": "AWARE", "done": True, "journey_status": "converted",
         "action_channel": "Organic Search", "action_interaction": "conversion"},
    ]  # fmt: skip
    ingest_details = {"input_rows": 5, "accepted": 3, "duplicates_removed": 1, "quarantined": 1}
    runs = [
        {"run_id": "r1", "stage": "ingest", "as_of": AS_OF, "status": "ok", "seconds": 2.0,
         "details_json": json.dumps(ingest_details), "recorded_at": AS_OF},
        {"run_id": "r1", "stage": "pipeline", "as_of": AS_OF, "status": "ok", "seconds": 9.0,
         "details_json": "{}", "recorded_at": AS_OF},
    ]  # fmt: skip
    quarantine = [{"source": "ga4", "raw_record": "{}", "reason": "missing event_timestamp"}]
    return {
        "bronze.events": (BRONZE_EVENTS_SCHEMA, events),
        "bronze.quarantine": (BRONZE_QUARANTINE_SCHEMA, quarantine),
        "silver.identity_map": (IDENTITY_MAP_SCHEMA, identity_map),
        "silver.identity_merges": (IDENTITY_MERGES_SCHEMA, []),
        "silver.sessions": (SESSIONS_SCHEMA, sessions),
        "gold.user_journeys": (USER_JOURNEYS_SCHEMA, journeys),
        "gold.journey_touchpoints": (JOURNEY_TOUCHPOINTS_SCHEMA, touchpoints),
        "gold.journey_state_transitions": (JOURNEY_STATE_TRANSITIONS_SCHEMA, transitions),
        "gold.users": (USERS_SCHEMA, users),
        "gold.attribution": (ATTRIBUTION_SCHEMA, attribution),
        "gold.channel_history": (CHANNEL_HISTORY_SCHEMA, channel_history),
        "gold.journey_abandonments": (JOURNEY_ABANDONMENTS_SCHEMA, abandonments),
        "gold.funnel_daily": (FUNNEL_DAILY_SCHEMA, funnel),
        "gold.reconciliation": (RECONCILIATION_SCHEMA, reconciliation),
        "gold.reconciliation_summary": (RECONCILIATION_SUMMARY_SCHEMA, reconciliation_summary),
        "gold.rl_transitions": (RL_TRANSITIONS_SCHEMA, rl),
        "meta.runs": (RUNS_SCHEMA, runs),
    }


def to_frames(
    spark: SparkSession, world: dict[str, tuple[T.StructType, list[dict[str, Any]]]], names: set[str]
) -> dict[str, DataFrame]:
    return {n: spark.createDataFrame(_rows(schema, rows), schema) for n, (schema, rows) in world.items() if n in names}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExpectationRunner]:
    # GX is slow to start: one context for the whole module.
    yield ExpectationRunner(tmp_path_factory.mktemp("expectations-report"))


@pytest.fixture(scope="module")
def suites() -> dict[str, SuiteFile]:
    return load_suite_files(suites_folder())


def run_checks(
    spark: SparkSession,
    runner: ExpectationRunner,
    suites: dict[str, SuiteFile],
    world: dict[str, tuple[T.StructType, list[dict[str, Any]]]],
    validate: set[str],
    inputs: Collection[str] = (),
    config: PipelineConfig | None = None,
    previous_identity_map: DataFrame | None = None,
) -> LakeValidation:
    """Validate the ``validate`` tables (with ``inputs`` present for their checks and bounds)."""
    return validate_tables(
        runner,
        {n: s for n, s in suites.items() if n in validate},
        to_frames(spark, world, set(validate) | set(inputs)),
        config=config or PipelineConfig(),
        as_of=AS_OF,
        previous_identity_map=previous_identity_map,
        run_name="test",
    )


def failed(outcome: LakeValidation) -> list[Outcome]:
    return [o for v in outcome.validations for o in v.outcomes if not o.success]


def failed_rules(outcome: LakeValidation) -> set[tuple[str, str, str, str]]:
    return {(o.table, o.rule, o.expectation_type, o.column) for o in failed(outcome)}


def test_clean_world_passes_every_suite(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    outcome = run_checks(spark, runner, suites, world, validate=set(suites), inputs=set(world))
    assert [o.label() + " " + (o.error or str(o.observed)) for o in failed(outcome)] == []
    assert sorted(v.table for v in outcome.validations) == sorted(suites)
    assert outcome.skipped_tables == []
    # Every expectation ran: the clean world has every input, so nothing was skipped...
    skipped = {v.table: v.skipped for v in outcome.validations if v.skipped}
    # ...except the stability check, which needs a previous version of the identity map.
    assert skipped == {
        "silver.identity_map": ["expect_column_values_to_be_in_set (chk_canonical_changed_without_merge): "
                                "column chk_canonical_changed_without_merge not present"]
    }  # fmt: skip
    index = runner.build_docs()
    assert index.name == "index.html"
    assert all(name in index.read_text() for name in ("gold.attribution", "silver.sessions", "meta.runs"))


def test_duplicate_journey_id_fails_the_key_expectation(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    journeys = world["gold.user_journeys"][1]
    journeys.append({**journeys[1], "journey_seq": 2})  # same journey_id, otherwise distinct
    outcome = run_checks(spark, runner, suites, world, {"gold.user_journeys"}, {"gold.journey_touchpoints"})
    assert failed_rules(outcome) == {
        ("gold.user_journeys", "key_unique", "expect_column_values_to_be_unique", "journey_id")
    }
    assert failed(outcome)[0].severity == "critical"


def test_credits_summing_to_point_nine_fail(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    world["gold.attribution"][1][1]["credit"] = 0.4  # linear: 0.5 + 0.4
    world["gold.attribution"][1][1]["credited_value"] = 4.0
    outcome = run_checks(spark, runner, suites, world, {"gold.attribution"})
    assert failed_rules(outcome) == {
        ("gold.attribution", "credits_sum_to_one", "expect_column_values_to_be_between", "chk_credit_sum")
    }
    assert failed(outcome)[0].unexpected_count == 2  # both included rows of (j1, linear)


def test_open_journey_idle_for_twenty_days_fails(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    open_journey = world["gold.user_journeys"][1][1]
    open_journey["start_ts"] = open_journey["last_activity_ts"] = AS_OF - timedelta(days=20)
    outcome = run_checks(spark, runner, suites, world, {"gold.user_journeys"}, {"gold.journey_touchpoints"})
    assert failed_rules(outcome) == {
        (
            "gold.user_journeys",
            "open_journey_idle_within_timeout",
            "expect_column_values_to_be_between",
            "chk_open_idle_seconds",
        )
    }


def test_open_journey_idle_exactly_the_timeout_passes(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    open_journey = world["gold.user_journeys"][1][1]
    open_journey["start_ts"] = open_journey["last_activity_ts"] = AS_OF - timedelta(days=14)
    outcome = run_checks(spark, runner, suites, world, {"gold.user_journeys"}, {"gold.journey_touchpoints"})
    assert failed(outcome) == []


def test_journey_longer_than_the_maximum_fails(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    world["gold.user_journeys"][1][0]["start_ts"] = _ts(60) - timedelta(days=90, seconds=1)
    outcome = run_checks(spark, runner, suites, world, {"gold.user_journeys"}, {"gold.journey_touchpoints"})
    assert failed_rules(outcome) == {
        (
            "gold.user_journeys",
            "journey_within_max_duration",
            "expect_column_values_to_be_between",
            "chk_active_span_seconds",
        )
    }


def test_overlapping_sessions_of_one_device_fail(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    events = world["bronze.events"][1]
    events.append({**events[1], "event_id": "e4", "event_ts": _ts(3)})  # a real event for the new session
    world["silver.sessions"][1].append(
        {**world["silver.sessions"][1][0], "session_id": "s3", "session_start_ts": _ts(3), "session_end_ts": _ts(3),
         "event_count": 1}
    )  # fmt: skip
    outcome = run_checks(spark, runner, suites, world, {"silver.sessions"}, {"bronze.events"})
    assert failed_rules(outcome) == {
        (
            "silver.sessions",
            "device_sessions_never_overlap",
            "expect_column_values_to_be_in_set",
            "chk_overlaps_earlier_session",
        )
    }


def test_event_counted_in_two_sessions_fails(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    world["silver.sessions"][1][1]["event_count"] = 2  # device 2 has one event
    outcome = run_checks(spark, runner, suites, world, {"silver.sessions"}, {"bronze.events"})
    assert {rule for _, rule, _, _ in failed_rules(outcome)} == {
        "every_event_in_exactly_one_session",
        "every_event_in_exactly_one_session_total",
    }


def test_oversized_identity_component_fails(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()  # canonical id 100 holds 3 identifiers
    config = with_overrides(PipelineConfig(), **{"identity.max_component_size": 2})
    outcome = run_checks(spark, runner, suites, world, {"silver.identity_map"}, config=config)
    assert failed_rules(outcome) == {
        (
            "silver.identity_map",
            "identity_component_within_cap",
            "expect_column_values_to_be_between",
            "chk_component_size",
        )
    }


def test_canonical_id_changed_without_a_merge_fails(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    previous = to_frames(spark, clean_world(), {"silver.identity_map"})["silver.identity_map"]
    world["silver.identity_map"][1][3]["canonical_user_id"] = 201  # untouched user d9 moved: 200 -> 201
    outcome = run_checks(
        spark,
        runner,
        suites,
        world,
        {"silver.identity_map"},
        {"silver.identity_merges"},
        previous_identity_map=previous,
    )
    assert failed_rules(outcome) == {
        (
            "silver.identity_map",
            "canonical_id_stable_without_merge",
            "expect_column_values_to_be_in_set",
            "chk_canonical_changed_without_merge",
        )
    }


def test_canonical_id_change_with_a_recorded_merge_passes(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    previous = to_frames(spark, clean_world(), {"silver.identity_map"})["silver.identity_map"]
    world["silver.identity_map"][1][3]["canonical_user_id"] = 100  # d9 merged into 100, and the merge recorded
    world["silver.identity_merges"][1].append(
        {"run_id": "r2", "old_canonical_user_id": 200, "new_canonical_user_id": 100, "change": "merge",
         "cause": "device_login", "as_of": AS_OF}
    )  # fmt: skip
    outcome = run_checks(
        spark,
        runner,
        suites,
        world,
        {"silver.identity_map"},
        {"silver.identity_merges"},
        previous_identity_map=previous,
    )
    assert failed(outcome) == []


def test_ga4_purchase_missing_from_the_reconciliation_fails(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    events = world["bronze.events"][1]
    events.append({**events[2], "event_id": "e9", "transaction_id": "T2"})  # a GA4 purchase never reconciled
    events.append({**events[2], "event_id": "e10", "transaction_id": "(not set)"})  # a placeholder: not expected
    outcome = run_checks(spark, runner, suites, world, {"gold.reconciliation"}, {"bronze.events"})
    assert failed_rules(outcome) == {
        (
            "gold.reconciliation",
            "reconciliation_counts_add_up",
            "expect_column_values_to_be_between",
            "chk_ga4_transactions_unreconciled",
        )
    }


def test_reconciliation_summary_counts_that_do_not_add_up_fail(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    world["gold.reconciliation_summary"][1][0]["transactions"] = 3  # statuses add up to 2
    outcome = run_checks(spark, runner, suites, world, {"gold.reconciliation_summary"})
    assert failed_rules(outcome) == {
        (
            "gold.reconciliation_summary",
            "reconciliation_status_counts_add_up",
            "expect_column_values_to_be_between",
            "chk_status_counts_unbalanced",
        )
    }


def test_ingest_input_not_accounted_for_fails(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    details = {"input_rows": 5, "accepted": 3, "duplicates_removed": 1, "quarantined": 0}  # one row lost
    world["meta.runs"][1][0]["details_json"] = json.dumps(details)
    outcome = run_checks(spark, runner, suites, world, {"meta.runs"})
    assert failed_rules(outcome) == {
        (
            "meta.runs",
            "ingest_input_equals_accepted_duplicates_quarantined",
            "expect_column_values_to_be_between",
            "chk_ingest_unaccounted_rows",
        )
    }


def test_more_sessions_than_events_breaks_the_row_count_bound(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    del world["bronze.events"][1][1:]  # one event left for two sessions
    outcome = run_checks(spark, runner, suites, world, {"silver.sessions"}, {"bronze.events"})
    assert ("silver.sessions", "row_count_bounds", "expect_table_row_count_to_be_between", "") in failed_rules(outcome)


def test_bounds_relative_to_absent_tables_are_skipped_not_failed(
    spark: SparkSession, runner: ExpectationRunner, suites: dict[str, SuiteFile]
) -> None:
    world = clean_world()
    outcome = run_checks(spark, runner, suites, world, {"silver.sessions"})  # no bronze.events
    assert failed(outcome) == []
    assert outcome.validations[0].skipped == [
        "expect_column_values_to_be_between (chk_device_unsessioned_events): "
        "column chk_device_unsessioned_events not present",
        "expect_column_values_to_be_between (chk_unsessioned_events): column chk_unsessioned_events not present",
        "expect_table_row_count_to_be_between (table): parameter rows_bronze_events not available",
    ]
