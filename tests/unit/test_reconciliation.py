"""Reconciliation rules on hand-built purchases and orders: one test per status and boundary."""

from __future__ import annotations

from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from journeylake.reconciliation import (
    BACKEND_ONLY_PREFIX,
    backend_transactions,
    duplicate_backend_transactions,
    ga4_transactions,
    reconcile,
    reconciliation_summary,
    unmatchable_purchases,
)
from journeylake.schemas.sources import BACKEND_ORDERS_SCHEMA

pytestmark = pytest.mark.unit

EVENTS_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("event_name", T.StringType()),
        T.StructField("transaction_id", T.StringType()),
        T.StructField("revenue", T.DoubleType()),
        T.StructField("event_ts", T.TimestampType()),
        T.StructField("user_pseudo_id", T.StringType()),
        T.StructField("channel", T.StringType()),
    ]
)
DAY1 = datetime(2021, 1, 5, 10, 0, 0)
DAY2 = datetime(2021, 1, 6, 9, 0, 0)


def _events(spark: SparkSession) -> DataFrame:
    rows = [
        ("e1", "purchase", "T-MATCH", 100.0, DAY1, "dev-a", "Paid Search"),
        ("e2", "purchase", "T-MISMATCH", 50.0, DAY1, "dev-a", "Paid Search"),
        # Exactly at the tolerance: 0.01 apart counts as a mismatch; 0.005 is rounding.
        ("e3", "purchase", "T-CENT", 20.0, DAY1, "dev-b", "Email"),
        ("e4", "purchase", "T-HALFCENT", 20.0, DAY1, "dev-b", "Email"),
        ("e5", "purchase", "T-DUP", 30.0, DAY2, "dev-b", "Email"),
        ("e6", "purchase", "T-DUP", 30.0, DAY2, "dev-b", "Email"),  # a reload logged the purchase twice
        ("e7", "purchase", "T-GA4-ONLY", 10.0, DAY2, "dev-c", None),
        ("e8", "purchase", "(not set)", 5.0, DAY2, "dev-c", None),  # placeholder: never matched
        ("e9", "purchase", None, 5.0, DAY2, "dev-c", None),
        ("e10", "page_view", "T-MATCH", None, DAY1, "dev-a", None),  # not a purchase
    ]
    return spark.createDataFrame(rows, EVENTS_SCHEMA)


def _orders(spark: SparkSession) -> DataFrame:
    rows = [
        (1, 11, "T-MATCH", DAY1, "paid", 100.0, "USD"),
        (2, 11, "T-MISMATCH", DAY1, "paid", 45.0, "USD"),
        (3, 12, "T-CENT", DAY1, "paid", 20.01, "USD"),
        (4, 12, "T-HALFCENT", DAY1, "paid", 20.005, "USD"),
        (5, 12, "T-DUP", DAY2, "paid", 30.0, "USD"),
        (6, 13, None, DAY2, "paid", 70.0, "USD"),  # the shop never passed a GA4 id
        (7, 13, "T-BACKEND-ONLY", DAY2, "refunded", 15.0, "USD"),
    ]
    return spark.createDataFrame(rows, BACKEND_ORDERS_SCHEMA)


def _reconciled(spark: SparkSession) -> dict[str, dict[str, object]]:
    users = spark.createDataFrame([("dev-a", 1001), ("dev-b", 1002)], "user_pseudo_id string, canonical_user_id long")
    result = reconcile(ga4_transactions(_events(spark)), backend_transactions(_orders(spark)), users)
    return {row["transaction_id"]: row.asDict() for row in result.collect()}


def test_every_transaction_gets_exactly_one_status(spark: SparkSession) -> None:
    rows = _reconciled(spark)
    statuses = {tid: row["match_status"] for tid, row in rows.items()}
    assert statuses == {
        "T-MATCH": "matched",
        "T-MISMATCH": "revenue_mismatch",
        "T-CENT": "revenue_mismatch",
        "T-HALFCENT": "matched",
        "T-DUP": "duplicate_in_ga4",
        "T-GA4-ONLY": "missing_in_backend",
        f"{BACKEND_ONLY_PREFIX}6": "missing_in_ga4",
        "T-BACKEND-ONLY": "missing_in_ga4",
    }


def test_revenue_delta_and_duplicate_revenue_counted_once(spark: SparkSession) -> None:
    rows = _reconciled(spark)
    assert rows["T-MISMATCH"]["revenue_delta"] == pytest.approx(5.0)
    assert rows["T-DUP"]["ga4_revenue"] == 30.0  # not 60: the repeat is the same purchase
    assert rows["T-DUP"]["ga4_purchase_events"] == 2
    assert rows["T-GA4-ONLY"]["revenue_delta"] == pytest.approx(10.0)
    assert rows["T-BACKEND-ONLY"]["revenue_delta"] == pytest.approx(-15.0)
    assert rows["T-BACKEND-ONLY"]["channel"] == "(unknown)"


def test_canonical_user_comes_from_the_purchasing_device(spark: SparkSession) -> None:
    rows = _reconciled(spark)
    assert rows["T-MATCH"]["canonical_user_id"] == 1001
    assert rows["T-GA4-ONLY"]["canonical_user_id"] is None  # device not in the identity map
    assert rows["T-MATCH"]["backend_user_id"] == 11


def test_placeholder_and_null_transaction_ids_are_reported_not_matched(spark: SparkSession) -> None:
    assert sorted(r["event_id"] for r in unmatchable_purchases(_events(spark)).collect()) == ["e8", "e9"]


def test_two_orders_claiming_one_transaction_are_detected(spark: SparkSession) -> None:
    orders = _orders(spark).unionByName(
        spark.createDataFrame([(8, 14, "T-MATCH", DAY2, "paid", 1.0, "USD")], BACKEND_ORDERS_SCHEMA)
    )
    duplicates = duplicate_backend_transactions(backend_transactions(orders)).collect()
    assert [(r["transaction_id"], r["orders"]) for r in duplicates] == [("T-MATCH", 2)]


def test_summary_counts_add_up_and_match_rate(spark: SparkSession) -> None:
    users = spark.createDataFrame([], "user_pseudo_id string, canonical_user_id long")
    result = reconcile(ga4_transactions(_events(spark)), backend_transactions(_orders(spark)), users)
    summary = {(str(r["reconciliation_date"]), r["channel"]): r for r in reconciliation_summary(result).collect()}
    day1 = summary[("2021-01-05", "Paid Search")]
    assert (day1["transactions"], day1["matched"], day1["revenue_mismatch"]) == (2, 1, 1)
    assert day1["match_rate"] == pytest.approx(0.5)
    for row in summary.values():
        statuses = ["matched", "revenue_mismatch", "missing_in_ga4", "missing_in_backend", "duplicate_in_ga4"]
        assert sum(row[s] for s in statuses) == row["transactions"]
