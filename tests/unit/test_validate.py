"""The check columns behind the domain expectations, on tiny frames with their boundary cases."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from journeylake.config import PipelineConfig, with_overrides
from journeylake.io.expectations import SuiteError, _skip_reason, load_suite_files, suites_folder
from journeylake.io.runs import RUNS_SCHEMA
from journeylake.reconciliation import RECONCILIATION_SCHEMA, RECONCILIATION_SUMMARY_SCHEMA
from journeylake.schemas.abandonment import FUNNEL_DAILY_SCHEMA, JOURNEY_ABANDONMENTS_SCHEMA, RL_TRANSITIONS_SCHEMA
from journeylake.schemas.attribution import ATTRIBUTION_SCHEMA, CHANNEL_HISTORY_SCHEMA
from journeylake.schemas.bronze import BRONZE_EVENTS_SCHEMA, BRONZE_QUARANTINE_SCHEMA
from journeylake.schemas.identity import IDENTITY_MAP_SCHEMA
from journeylake.schemas.journeys import (
    JOURNEY_STATE_TRANSITIONS_SCHEMA,
    JOURNEY_TOUCHPOINTS_SCHEMA,
    SESSIONS_SCHEMA,
    USER_JOURNEYS_SCHEMA,
    USERS_SCHEMA,
)
from journeylake.validate import (
    VALIDATED_TABLES,
    attribution_credit_checks,
    event_checks,
    expectation_parameters,
    funnel_checks,
    identity_component_checks,
    identity_stability_checks,
    ingest_accounting_checks,
    ingest_input_rows_total,
    journey_timing_checks,
    reconciliation_checks,
    reconciliation_summary_checks,
    session_event_coverage_checks,
    session_overlap_checks,
)

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 10, 0, 0)
AS_OF = datetime(2024, 1, 20, 0, 0, 0)
FOURTEEN_DAYS = 14 * 86_400


def _ts(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _pick(df: DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return sorted((tuple(r) for r in df.select(*columns).collect()), key=str)


# ---- sessions ------------------------------------------------------------------------------


SESSIONS = "session_id string, device_key long, session_start_ts timestamp, session_end_ts timestamp, event_count long"


def test_session_overlap_flags_only_sessions_starting_before_an_earlier_end(spark: SparkSession) -> None:
    sessions = spark.createDataFrame(
        [
            ("a1", 1, _ts(0), _ts(10), 2),  # first of device 1: no earlier session
            ("a2", 1, _ts(10), _ts(20), 2),  # touches a1's end exactly: not an overlap
            ("a3", 1, _ts(19), _ts(25), 2),  # starts before a2 ends
            ("b1", 2, _ts(0), _ts(100), 2),  # a long session ...
            ("b2", 2, _ts(30), _ts(40), 1),  # ... covering this one
            ("b3", 2, _ts(50), _ts(60), 1),  # and this one (b2 ended, b1 not: still an overlap)
            ("c1", 3, _ts(5), _ts(6), 1),  # other device at the same time: independent
        ],
        SESSIONS,
    )
    flagged = session_overlap_checks(sessions)
    assert _pick(flagged, "session_id", "chk_overlaps_earlier_session") == [
        ("a1", None),
        ("a2", False),
        ("a3", True),
        ("b1", None),
        ("b2", True),
        ("b3", True),
        ("c1", None),
    ]
    assert flagged.columns == [*sessions.columns, "chk_overlaps_earlier_session"]


def test_session_overlap_tie_on_start_is_deterministic(spark: SparkSession) -> None:
    # Two sessions of one device starting at the same instant overlap whatever the order.
    sessions = spark.createDataFrame(
        [("x2", 1, _ts(0), _ts(5), 1), ("x1", 1, _ts(0), _ts(5), 1)],
        SESSIONS,
    )
    assert _pick(session_overlap_checks(sessions), "session_id", "chk_overlaps_earlier_session") == [
        ("x1", None),
        ("x2", True),
    ]


def test_event_coverage_balances_events_against_session_counts(spark: SparkSession) -> None:
    sessions = spark.createDataFrame(
        [
            ("s1", 1, _ts(0), _ts(1), 2),  # device 1: 2 events, counted 2: balanced
            ("s2", 2, _ts(0), _ts(1), 2),  # device 2: 1 event counted in two sessions
            ("s3", 2, _ts(5), _ts(6), 1),
        ],
        SESSIONS,
    )
    events = spark.createDataFrame([(1,), (1,), (2,), (3,)], "device_key long")  # device 3 has no session
    checked = session_event_coverage_checks(sessions, events)
    assert _pick(checked, "session_id", "chk_device_unsessioned_events", "chk_unsessioned_events") == [
        ("s1", 0, -1),  # 4 events - 5 counted: the total sees both faults
        ("s2", -2, -1),
        ("s3", -2, -1),
    ]


# ---- journeys ------------------------------------------------------------------------------


JOURNEYS = "journey_id string, status string, start_ts timestamp, last_activity_ts timestamp"


def test_journey_timing_idle_only_for_open_journeys_and_exact_timeout(spark: SparkSession) -> None:
    journeys = spark.createDataFrame(
        [
            ("open_at_timeout", "open", AS_OF - timedelta(days=20), AS_OF - timedelta(days=14)),
            ("open_past", "open", AS_OF - timedelta(days=21), AS_OF - timedelta(days=20)),
            ("closed_old", "timed_out", AS_OF - timedelta(days=50), AS_OF - timedelta(days=40)),
            ("open_fresh", "open", AS_OF, AS_OF),
        ],
        JOURNEYS,
    )
    checked = journey_timing_checks(journeys, AS_OF)
    assert _pick(checked, "journey_id", "chk_open_idle_seconds", "chk_active_span_seconds") == [
        ("closed_old", None, 10 * 86_400),
        ("open_at_timeout", FOURTEEN_DAYS, 6 * 86_400),  # exactly the timeout: the suite's bound still passes
        ("open_fresh", 0, 0),
        ("open_past", 20 * 86_400, 86_400),
    ]


# ---- attribution ---------------------------------------------------------------------------


def test_credit_sum_counts_included_rows_per_conversion_and_model(spark: SparkSession) -> None:
    attribution = spark.createDataFrame(
        [
            ("c1", "t1", "linear", 0.5, True),
            ("c1", "t2", "linear", 0.4, True),
            ("c1", "t3", "linear", 0.0, False),  # excluded: no sum on its row, not part of the sum
            ("c1", "t1", "last_touch", 1.0, True),
            ("c2", "t9", "linear", 1.0, None),  # unknown inclusion counts as excluded
        ],
        "conversion_id string, touchpoint_id string, model string, credit double, included boolean",
    )
    checked = attribution_credit_checks(attribution)
    assert _pick(checked, "conversion_id", "touchpoint_id", "model", "chk_credit_sum") == [
        ("c1", "t1", "last_touch", 1.0),
        ("c1", "t1", "linear", pytest.approx(0.9)),
        ("c1", "t2", "linear", pytest.approx(0.9)),
        ("c1", "t3", "linear", None),
        ("c2", "t9", "linear", None),
    ]


def test_credit_sum_without_included_column_counts_every_row(spark: SparkSession) -> None:
    attribution = spark.createDataFrame(
        [("c1", "t1", "linear", 0.5), ("c1", "t2", "linear", 0.5)],
        "conversion_id string, touchpoint_id string, model string, credit double",
    )
    assert _pick(attribution_credit_checks(attribution), "chk_credit_sum") == [(1.0,), (1.0,)]


# ---- identity ------------------------------------------------------------------------------


MAP = "id_type string, id_value string, canonical_user_id long"
MERGES = "old_canonical_user_id long, new_canonical_user_id long"


def test_component_size_counts_identifiers_per_canonical_id(spark: SparkSession) -> None:
    identity_map = spark.createDataFrame(
        [("device", "d1", 1), ("device", "d2", 1), ("login", "d1", 1), ("device", "d3", 2)], MAP
    )
    assert _pick(identity_component_checks(identity_map), "id_value", "canonical_user_id", "chk_component_size") == [
        ("d1", 1, 3),
        ("d1", 1, 3),
        ("d2", 1, 3),
        ("d3", 2, 1),
    ]


def test_canonical_change_needs_a_recorded_merge(spark: SparkSession) -> None:
    previous = spark.createDataFrame(
        [("device", "same", 1), ("device", "merged", 2), ("device", "moved", 3), ("device", "gone", 4)], MAP
    )
    current = spark.createDataFrame(
        [("device", "same", 1), ("device", "merged", 1), ("device", "moved", 1), ("device", "new", 9)], MAP
    )
    merges = spark.createDataFrame([(2, 1), (2, 1)], MERGES)  # recorded twice (two runs): still one merge
    checked = identity_stability_checks(current, previous, merges)
    assert checked.count() == 4  # the duplicated merge record does not duplicate identifiers
    assert _pick(checked, "id_value", "chk_canonical_changed_without_merge") == [
        ("merged", False),
        ("moved", True),
        ("new", None),
        ("same", False),
    ]


# ---- meta.runs, reconciliation, funnel, events -------------------------------------------


RUNS = "run_id string, stage string, details_json string"


def test_ingest_accounting_balance_and_missing_numbers(spark: SparkSession) -> None:
    balanced = {"input_rows": 10, "accepted": 7, "duplicates_removed": 2, "quarantined": 1}
    short = {"input_rows": 10, "accepted": 7, "duplicates_removed": 2, "quarantined": 0}
    missing = {"input_rows": 10, "accepted": 10}
    runs = spark.createDataFrame(
        [
            ("r1", "ingest", json.dumps(balanced)),
            ("r2", "ingest", json.dumps(short)),
            ("r3", "ingest", json.dumps(missing)),
            ("r1", "sessions", json.dumps({"input_rows": 1})),  # other stages are not ingest accounting
        ],
        RUNS,
    )
    checked = ingest_accounting_checks(runs)
    assert _pick(checked, "run_id", "stage", "chk_ingest_accounting_recorded", "chk_ingest_unaccounted_rows") == [
        ("r1", "ingest", True, 0),
        ("r1", "sessions", None, None),
        ("r2", "ingest", True, 1),
        ("r3", "ingest", False, None),
    ]
    assert ingest_input_rows_total(runs).collect()[0]["input_rows_total"] == 30


def test_ingest_input_total_is_null_without_ingest_runs(spark: SparkSession) -> None:
    runs = spark.createDataFrame([("r1", "pipeline", "{}")], RUNS)
    assert ingest_input_rows_total(runs).collect()[0]["input_rows_total"] is None


def test_reconciliation_counts_distinct_ga4_purchases_against_rows_with_a_ga4_side(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [
            ("purchase", "T1"),
            ("purchase", "T1"),  # a duplicate purchase event is one transaction
            ("purchase", None),  # no transaction id: nothing to reconcile
            ("purchase", "(not set)"),  # a placeholder: not reconcilable either
            ("page_view", "T9"),
            ("purchase", "T2"),
        ],
        "event_name string, transaction_id string",
    )
    reconciliation = spark.createDataFrame(
        [("T1", "matched"), ("T5", "missing_in_ga4")],
        "transaction_id string, match_status string",
    )
    checked = reconciliation_checks(reconciliation, events)
    assert _pick(checked, "transaction_id", "chk_ga4_transactions_unreconciled") == [("T1", 1), ("T5", 1)]


def test_reconciliation_summary_status_counts_add_up(spark: SparkSession) -> None:
    statuses = (
        "matched long, revenue_mismatch long, missing_in_ga4 long, missing_in_backend long, duplicate_in_ga4 long"
    )
    summary = spark.createDataFrame(
        [("Direct", 10, 5, 1, 2, 1, 1), ("Email", 4, 1, 0, 0, 0, 1)], f"channel string, transactions long, {statuses}"
    )
    assert _pick(reconciliation_summary_checks(summary), "channel", "chk_status_counts_unbalanced") == [
        ("Direct", 0),
        ("Email", 2),
    ]


def test_funnel_balance(spark: SparkSession) -> None:
    funnel = spark.createDataFrame(
        [("view", 10, 6, 4), ("cart", 5, 3, 1)], "step string, entered long, completed long, dropped long"
    )
    assert _pick(funnel_checks(funnel), "step", "chk_funnel_unbalanced") == [("cart", 1), ("view", 0)]


def test_event_date_must_be_the_utc_date_of_the_event_time(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [
            ("e1", date(2024, 1, 1), datetime(2024, 1, 1, 23, 59, 59)),
            ("e2", date(2024, 1, 1), datetime(2024, 1, 2, 0, 0, 0)),  # one second past midnight's boundary
            ("e3", None, datetime(2024, 1, 2, 0, 0, 0)),
        ],
        "event_id string, event_date date, event_ts timestamp",
    )
    expected = spark.createDataFrame(
        [
            ("e1", date(2024, 1, 1), datetime(2024, 1, 1, 23, 59, 59), True),
            ("e2", date(2024, 1, 1), datetime(2024, 1, 2, 0, 0, 0), False),
            ("e3", None, datetime(2024, 1, 2, 0, 0, 0), False),
        ],
        "event_id string, event_date date, event_ts timestamp, chk_event_date_matches_ts boolean",
    )
    assert_df_equality(
        event_checks(events), expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True
    )


def test_expectation_parameters_from_counts_and_config() -> None:
    config = with_overrides(PipelineConfig(), **{"identity.max_component_size": 7, "journey.journey_timeout_days": 2})
    parameters = expectation_parameters({"bronze.events": 5, "silver.sessions": 2}, config, None)
    assert parameters == {
        "rows_bronze_events": 5,
        "rows_silver_sessions": 2,
        "identity_max_component_size": 7,
        "journey_timeout_seconds": 2 * 86_400,
        "max_journey_seconds": 90 * 86_400,
    }
    assert expectation_parameters({}, config, 12)["ingest_input_rows_total"] == 12


# ---- suite files ---------------------------------------------------------------------------


SUITES_DIR = suites_folder()
# Tables whose contract is a declared StructType; their suites restate it (columns, types, not-nulls).
CONTRACT_SCHEMAS: dict[str, T.StructType] = {
    "bronze.events": BRONZE_EVENTS_SCHEMA,
    "bronze.quarantine": BRONZE_QUARANTINE_SCHEMA,
    "silver.identity_map": IDENTITY_MAP_SCHEMA,
    "silver.sessions": SESSIONS_SCHEMA,
    "gold.user_journeys": USER_JOURNEYS_SCHEMA,
    "gold.journey_touchpoints": JOURNEY_TOUCHPOINTS_SCHEMA,
    "gold.journey_state_transitions": JOURNEY_STATE_TRANSITIONS_SCHEMA,
    "gold.users": USERS_SCHEMA,
    "gold.attribution": ATTRIBUTION_SCHEMA,
    "gold.channel_history": CHANNEL_HISTORY_SCHEMA,
    "gold.journey_abandonments": JOURNEY_ABANDONMENTS_SCHEMA,
    "gold.funnel_daily": FUNNEL_DAILY_SCHEMA,
    "gold.rl_transitions": RL_TRANSITIONS_SCHEMA,
    "gold.reconciliation": RECONCILIATION_SCHEMA,
    "gold.reconciliation_summary": RECONCILIATION_SUMMARY_SCHEMA,
    "meta.runs": RUNS_SCHEMA,
}


def test_every_validated_table_has_one_suite_with_severities() -> None:
    suites = load_suite_files(SUITES_DIR)
    assert sorted(suites) == sorted(VALIDATED_TABLES)
    for suite in suites.values():
        severities = {e["meta"]["severity"] for e in suite.expectations}
        assert severities <= {"critical", "warning"}


@pytest.mark.parametrize(("table", "schema"), sorted(CONTRACT_SCHEMAS.items()))
def test_suites_of_declared_tables_match_their_schema_constants(table: str, schema: T.StructType) -> None:
    # The suite JSON restates the schema for review; this keeps the two from drifting apart.
    suite = load_suite_files(SUITES_DIR)[table]
    by_type: dict[str, list[dict[str, object]]] = {}
    for expectation in suite.expectations:
        by_type.setdefault(expectation["type"], []).append(expectation["kwargs"])
    assert by_type["expect_table_columns_to_match_set"][0]["column_set"] == schema.names
    declared_types = {k["column"]: k["type_"] for k in by_type["expect_column_values_to_be_of_type"]}
    assert declared_types == {f.name: type(f.dataType).__name__ for f in schema.fields}
    not_null = {k["column"] for k in by_type["expect_column_values_to_not_be_null"]}
    assert not_null == {f.name for f in schema.fields if not f.nullable}


def _write_suite(folder: Path, name: str, expectations: list[dict[str, object]]) -> None:
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "expectations": expectations}))


def test_suite_without_severity_is_rejected(tmp_path: Path) -> None:
    _write_suite(tmp_path, "gold.x", [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}])
    with pytest.raises(SuiteError, match=r"meta\.severity"):
        load_suite_files(tmp_path)


def test_suite_with_disagreeing_severities_is_rejected(tmp_path: Path) -> None:
    expectation = {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "a"},
        "meta": {"severity": "warning"},
        "severity": "critical",
    }
    _write_suite(tmp_path, "gold.x", [expectation])
    with pytest.raises(SuiteError, match="disagrees"):
        load_suite_files(tmp_path)


def test_suite_with_unknown_expectation_is_rejected_not_dropped(tmp_path: Path) -> None:
    expectation = {"type": "expect_column_to_be_nice", "kwargs": {"column": "a"}, "meta": {"severity": "critical"}}
    _write_suite(tmp_path, "gold.x", [expectation])
    with pytest.raises(SuiteError, match="not a valid Great Expectations expectation"):
        load_suite_files(tmp_path)


def test_suite_name_must_match_file_name(tmp_path: Path) -> None:
    (tmp_path / "gold.x.json").write_text(json.dumps({"name": "gold.y", "expectations": [{}]}))
    with pytest.raises(SuiteError, match="must equal the file name"):
        load_suite_files(tmp_path)


def test_skip_reasons_for_absent_checks_optional_columns_and_parameters() -> None:
    columns = {"a", "chk_present"}
    check = {"type": "t", "kwargs": {"column": "chk_absent"}, "meta": {}}
    optional = {"type": "t", "kwargs": {"column": "b"}, "meta": {"if_column_present": True}}
    required = {"type": "t", "kwargs": {"column": "b"}, "meta": {}}
    parameter = {"type": "t", "kwargs": {"max_value": {"$PARAMETER": "rows_x"}}, "meta": {}}
    assert _skip_reason(check, columns, {}) == "column chk_absent not present"
    assert _skip_reason(optional, columns, {}) == "column b not present"
    assert _skip_reason(required, columns, {}) == ""  # a missing contract column must fail, not skip
    assert _skip_reason(parameter, columns, {}) == "parameter rows_x not available"
    assert _skip_reason(parameter, columns, {"rows_x": 3}) == ""
